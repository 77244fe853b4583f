// Disk faults under the ledger (issue #5): a disk that fills up, and fsync failures. Appends must fail
// cleanly with a clear error, nothing acknowledged is damaged, and the store takes appends again once space
// returns — in the same process, without a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "di/ledger/event_store.h"
#include "full_disk_file_system.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::Delivery;
using di::testing::FullDiskFileSystem;
using di::testing::TempDir;

// Adds the ids of `events`, which the store acknowledged, to `ids`.
void Acknowledge(const std::vector<nlohmann::json>& events, std::vector<std::string>* ids) {
  for (const auto& event : events) ids->push_back(event["id"].get<std::string>());
}

struct FaultyStore {
  std::shared_ptr<FullDiskFileSystem> file_system = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = FullDiskFileSystem::NewEnv(file_system);
  std::unique_ptr<EventStore> store;

  explicit FaultyStore(const std::string& path) {
    EventStoreOptions options;
    options.env_for_testing = env.get();
    Status status = EventStore::Open(options, path, &store);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }

  // Appends BaseWorld() (on a healthy disk) and adds its ids to `acknowledged`. Fails the test fatally when the
  // store did not open or refuses the world.
  void AppendBaseWorld(std::vector<std::string>* acknowledged) {
    ASSERT_TRUE(store);
    const std::vector<nlohmann::json> world = di::testing::BaseWorld();
    ASSERT_TRUE(AppendJson(*store, world).ok());
    Acknowledge(world, acknowledged);
  }
};

std::vector<nlohmann::json> Deliveries(int first, int count) {
  std::vector<nlohmann::json> events;
  for (int i = first; i < first + count; ++i) {
    const int day = 1 + i % 28, month = 1 + (i / 28) % 12;
    char date[16];
    std::snprintf(date, sizeof(date), "2022-%02d-%02d", month, day);
    events.push_back(Delivery("d" + std::to_string(i), "D-" + std::to_string(i), date, 30, 350));
  }
  return events;
}

// Every acknowledged event is there, in order, the chain verifies, and nothing else is.
void ExpectExactly(EventStore& store, const std::vector<std::string>& acknowledged_ids) {
  EXPECT_EQ(store.Head().position, acknowledged_ids.size());
  for (size_t i = 0; i < acknowledged_ids.size(); ++i) {
    StoredEvent event;
    ASSERT_TRUE(store.GetByEventId(acknowledged_ids[i], &event).ok()) << acknowledged_ids[i];
    EXPECT_EQ(event.position, i + 1) << acknowledged_ids[i];
  }
  VerifyReport report;
  ASSERT_TRUE(store.Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events_checked, acknowledged_ids.size());
}

TEST(DiskFault, AFullDiskFailsAppendsCleanlyAndTheStoreWorksAgainWhenSpaceReturns) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  std::vector<std::string> acknowledged;
  {
    FaultyStore faulty(path);
    ASSERT_NO_FATAL_FAILURE(faulty.AppendBaseWorld(&acknowledged));
    // A little space left: some batches fit, then the disk is full.
    faulty.file_system->SetSpaceLeft(60000);
    int next = 0, refused = 0;
    Status last_failure;
    for (int attempt = 0; attempt < 40 && refused < 3; ++attempt) {
      const std::vector<nlohmann::json> batch = Deliveries(next, 50);
      Status status = AppendJson(*faulty.store, batch);
      if (status.ok()) {
        Acknowledge(batch, &acknowledged);
        next += 50;
      } else {
        ++refused;
        last_failure = status;
        EXPECT_EQ(faulty.store->Head().position, acknowledged.size()) << "a refused append moved the head";
      }
    }
    ASSERT_GT(refused, 0) << "the disk never filled up";
    EXPECT_EQ(last_failure.code(), StatusCode::kIOError) << last_failure.ToString();
    EXPECT_NE(last_failure.message().find("No space left"), std::string::npos) << last_failure.ToString();
    EXPECT_GT(faulty.file_system->refused_writes(), 0);
    // Reads still work while the disk is full, and show exactly what was acknowledged.
    ExpectExactly(*faulty.store, acknowledged);

    // Space returns: appends succeed again in the same process (the writer resumes RocksDB itself before the
    // next write; RocksDB's own recovery is off, see event_store_open.cc). Bounded wait.
    faulty.file_system->SetUnlimited();
    const std::vector<nlohmann::json> after = Deliveries(next, 50);
    Status status;
    const auto freed = std::chrono::steady_clock::now();
    for (int attempt = 0; attempt < 300; ++attempt) {
      status = AppendJson(*faulty.store, after);
      if (status.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(status.ok()) << status.ToString();
    std::printf("appends work again %.1f s after space returned\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count());
    Acknowledge(after, &acknowledged);
    ExpectExactly(*faulty.store, acknowledged);
  }
  // And after a restart on a healthy disk: the same events, nothing lost, nothing extra.
  auto reopened = di::testing::OpenStore(path);
  ExpectExactly(*reopened, acknowledged);
  EXPECT_TRUE(AppendJson(*reopened, Deliveries(5000, 10)).ok());
}

// After a failed fsync the kernel may have dropped the dirty pages, so the store refuses further writes
// until it is reopened (then the log on disk is the truth). The failed batch was never acknowledged; after
// the reopen the client's retry appends it exactly once.
TEST(DiskFault, AFailingFsyncIsNeverAcknowledgedAndARestartRecovers) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  std::vector<std::string> acknowledged;
  {
    FaultyStore faulty(path);
    ASSERT_NO_FATAL_FAILURE(faulty.AppendBaseWorld(&acknowledged));
    faulty.file_system->SetSyncsFail(true);
    const std::vector<nlohmann::json> failing = Deliveries(0, 20);
    Status status = AppendJson(*faulty.store, failing);
    ASSERT_FALSE(status.ok()) << "an append whose fsync failed was acknowledged";
    EXPECT_EQ(status.code(), StatusCode::kIOError) << status.ToString();
    EXPECT_EQ(faulty.store->Head().position, acknowledged.size());
    faulty.file_system->SetSyncsFail(false);
    // Until reopened, appends are refused with what to do; reads go on.
    status = AppendJson(*faulty.store, failing);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("reopen the store"), std::string::npos) << status.ToString();
    ExpectExactly(*faulty.store, acknowledged);
  }
  auto reopened = di::testing::OpenStore(path);
  // The failed batch may or may not have reached the disk; either way it is there whole or not at all.
  const uint64_t head = reopened->Head().position;
  ASSERT_TRUE(head == acknowledged.size() || head == acknowledged.size() + 20) << head;
  // The client retries the same batch (same ids): it is there exactly once.
  const std::vector<nlohmann::json> failing = Deliveries(0, 20);
  Status status = AppendJson(*reopened, failing);
  ASSERT_TRUE(status.ok()) << status.ToString();
  Acknowledge(failing, &acknowledged);
  ExpectExactly(*reopened, acknowledged);
}

}  // namespace
}  // namespace di::ledger
