// Shared by the fuzz targets: a small store in a temporary directory that is thrown away and recreated
// every so many executions, so that a long run neither grows the store without bound nor fills the disk.
#ifndef DI_TESTS_FUZZ_FUZZ_UTIL_H_
#define DI_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "test_util.h"

namespace di::fuzzing {

// A store seeded with `world` (appended as one batch). Reset() replaces it by a fresh one.
class ScratchStore {
 public:
  explicit ScratchStore(std::vector<nlohmann::json> world);
  ledger::EventStore& store() { return *store_; }
  // Drops the store and its directory and opens a new one with the world appended.
  void Reset();

 private:
  std::vector<nlohmann::json> world_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<ledger::EventStore> store_;
};

// Splits `data` at '\n' into at most `max_lines` lines (the rest goes into the last one).
std::vector<std::string> SplitLines(const uint8_t* data, size_t size, size_t max_lines);

}  // namespace di::fuzzing

#endif  // DI_TESTS_FUZZ_FUZZ_UTIL_H_
