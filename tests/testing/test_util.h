// Shared test helpers: temporary directories and a minimal valid world of events to build on.
#ifndef DI_TESTS_TEST_UTIL_H_
#define DI_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "di/ledger/event_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb
#include "di/ledger/json_codec.h"

namespace di::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// {"id", "type", "effective_date", "actor": "test", "data"}: one event in canonical JSON.
nlohmann::json MakeEvent(const std::string& id, const std::string& type, const std::string& date, nlohmann::json data);

// Parses JSON text into a NewEvent; fails the test on error.
ledger::NewEvent Event(const nlohmann::json& json);
std::vector<ledger::NewEvent> Events(const std::vector<nlohmann::json>& jsons);

// Opens a store in `dir` (created), asserting success.
std::unique_ptr<ledger::EventStore> OpenStore(const std::string& dir, ledger::EventStoreOptions options = {});

// A test on a real store that holds BaseWorld() when the test body starts: SetUp opens it in a fresh temp dir,
// at dir_.Sub(store_dir) (dir_ itself when store_dir is empty) beside whatever else the test writes in dir_,
// and appends the world, failing the test fatally if either goes wrong. A derived SetUp calls this one first
// (ASSERT_NO_FATAL_FAILURE) and builds on store_.
class BaseWorldStoreTest : public ::testing::Test {
 protected:
  explicit BaseWorldStoreTest(const std::string& store_dir = "");
  void SetUp() override;

  TempDir dir_;
  const std::string store_path_;
  std::unique_ptr<ledger::EventStore> store_;
};

// A small valid world, in order: project PR-1, municipalities M-1 and M-2, provider PV-1, a child P-C1
// (FT, born 2018-03-15, residence M-1) with a parent P-P1, an adult P-A1 with assessment AS-1 and plan PL-1,
// application AP-1 (child_care for P-C1, granted), grant G-1 (child_care, P-C1, M-1, 2021-01-01..2023-08-31).
std::vector<nlohmann::json> BaseWorld();

// A delivery of `minutes` child care on `date` under G-1 with the given event and delivery id.
nlohmann::json Delivery(const std::string& event_id, const std::string& delivery_id, const std::string& date,
                        int64_t minutes = 120, int64_t cost_cents = 1400);

// The lines of tests/data/catalog_samples.jsonl, the catalogue's sample events: one of every type.
std::vector<std::string> SampleLines();

// `event` as a line of a migration (`import --keep-recorded-at`): recorded at `recorded_at` (UTC) in the system
// it comes from.
nlohmann::json Migrated(nlohmann::json event, const std::string& recorded_at);

// Appends `jsons` as one batch; returns the status.
ledger::Status AppendJson(ledger::EventStore& store, const std::vector<nlohmann::json>& jsons,
                          ledger::AppendResult* result = nullptr);

// A program run to completion through the shell: its exit code (-1 if it did not exit normally) and its
// standard output and standard error together.
struct CommandOutput {
  int exit_code = -1;
  std::string text;
};
CommandOutput RunCommand(const std::string& command_line);
// The di-ledger binary of this build with `arguments`.
CommandOutput RunCli(const std::string& arguments);

// `di-ledger token <arguments>` of this build: the token it prints once and its tokens-file entry. Fails the test
// (EXPECT) when the command fails or does not print both.
MadeToken MakeToken(const std::string& arguments);

// The command line of `di-ledger serve` of this build (for ChildProcess::Start): `arguments`, then `more`.
std::vector<std::string> ServeCommand(const std::vector<std::string>& arguments,
                                      const std::vector<std::string>& more = {});

// Opens the store at `data_dir` as plain RocksDB with every column family (handles in the order of `names`),
// bypassing the ledger, and calls `use`. The store must not be open.
using RawStoreUse = std::function<void(rocksdb::DB* db, const std::vector<std::string>& names,
                                       const std::vector<rocksdb::ColumnFamilyHandle*>& handles)>;
void WithRawStore(const std::string& data_dir, const RawStoreUse& use);

// Rewrites the `log` value stored at `position` directly in RocksDB, bypassing the ledger (what a tamperer or a
// bad disk does), and syncs it. The store must not be open.
void RewriteLogValue(const std::string& data_dir, uint64_t position, const std::function<void(std::string*)>& change);

}  // namespace di::testing

#endif  // DI_TESTS_TEST_UTIL_H_
