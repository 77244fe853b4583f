// Online backup (RocksDB BackupEngine) while another thread appends; restore; verify after restore.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "di/ledger/backup.h"
#include "di/ledger/merkle.h"
#include "test_util.h"
#include "world.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::NumberedDeliveries;
using di::testing::OpenStore;

Hash HashAt(EventStore& store, uint64_t position) {
  Hash hash{};
  EXPECT_TRUE(store.ReadLog(position, 1, [&](const StoredEvent& event) {
                     hash = event.hash;
                     return false;
                   }).ok());
  return hash;
}

class BackupTest : public di::testing::BaseWorldStoreTest {
 protected:
  BackupTest() : BaseWorldStoreTest("data") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(BaseWorldStoreTest::SetUp());
    ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(0, 500)).ok());
  }
};

TEST_F(BackupTest, BackupWhileAppendingRestoresExactlyTheBackedUpHead) {
  // The appender runs for a bounded number of batches, and at least until the backup is done.
  std::atomic<bool> backup_done{false};
  std::atomic<int> batches{0};
  std::thread appender([&] {
    for (int batch = 0; batch < 2000 && (!backup_done || batch < 20); ++batch) {
      ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(1000 + batch * 5, 5)).ok());
      ++batches;
    }
  });
  while (batches < 3) std::this_thread::yield();  // the backup starts with appends in flight
  BackupResult backup;
  const Status status = store_->CreateBackup(dir_.Sub("backups"), &backup);
  backup_done = true;
  appender.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  // In the XML report: how far the appender got during the backup (the property holds either way).
  RecordProperty("head_before", std::to_string(backup.head_before.position));
  RecordProperty("head_backed_up", std::to_string(backup.head.position));
  RecordProperty("head_after", std::to_string(backup.head_after.position));
  EXPECT_EQ(backup.backup_id, 1u);
  EXPECT_GT(backup.file_count, 0u);
  EXPECT_LE(backup.head_before.position, backup.head.position);
  EXPECT_LE(backup.head.position, backup.head_after.position);
  EXPECT_LT(backup.head.position, store_->Head().position);  // appends went on after the backup
  EXPECT_EQ(backup.head.hash, HashAt(*store_, backup.head.position));

  RestoreResult restored;
  ASSERT_TRUE(RestoreBackup(dir_.Sub("backups"), 0, dir_.Sub("restored"), &restored).ok());
  EXPECT_EQ(restored.backup_id, 1u);
  EXPECT_EQ(restored.head.position, backup.head.position);
  EXPECT_EQ(restored.head.hash, backup.head.hash);
  EXPECT_EQ(restored.events_verified, backup.head.position);
  EXPECT_EQ(restored.head_before.position, backup.head_before.position);

  // The restored store is a working store: same Merkle root as the original at that size, and it appends.
  auto copy = OpenStore(dir_.Sub("restored"));
  Hash original_root, restored_root;
  ASSERT_TRUE(store_->GetMerkleRoot(backup.head.position, &original_root).ok());
  ASSERT_TRUE(copy->GetMerkleRoot(backup.head.position, &restored_root).ok());
  EXPECT_EQ(restored_root, original_root);
  ASSERT_TRUE(AppendJson(*copy, NumberedDeliveries(100000, 2)).ok());
  VerifyReport report;
  ASSERT_TRUE(copy->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
}

TEST_F(BackupTest, LaterBackupsAreIncrementalAndEachRestores) {
  BackupResult first, second;
  ASSERT_TRUE(store_->CreateBackup(dir_.Sub("backups"), &first).ok());
  EXPECT_EQ(first.head.position, store_->Head().position);  // nothing appended meanwhile: exact
  EXPECT_EQ(first.head.position, first.head_before.position);
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(500, 200)).ok());
  ASSERT_TRUE(store_->CreateBackup(dir_.Sub("backups"), &second).ok());
  EXPECT_EQ(second.backup_id, 2u);
  std::vector<BackupInfo> backups;
  ASSERT_TRUE(ListBackups(dir_.Sub("backups"), &backups).ok());
  ASSERT_EQ(backups.size(), 2u);
  EXPECT_NE(backups[1].metadata.find("\"head_before\""), std::string::npos);

  RestoreResult restored;
  ASSERT_TRUE(RestoreBackup(dir_.Sub("backups"), 1, dir_.Sub("one"), &restored).ok());
  EXPECT_EQ(restored.head.position, first.head.position);
  EXPECT_EQ(restored.head.hash, first.head.hash);
  ASSERT_TRUE(RestoreBackup(dir_.Sub("backups"), 0, dir_.Sub("two"), &restored).ok());
  EXPECT_EQ(restored.backup_id, 2u);
  EXPECT_EQ(restored.head.position, second.head.position);
  EXPECT_EQ(restored.head.hash, store_->Head().hash);
  EXPECT_EQ(RestoreBackup(dir_.Sub("backups"), 9, dir_.Sub("nine"), &restored).code(), StatusCode::kNotFound);
}

TEST_F(BackupTest, RestoreRefusesADirectoryHoldingAStore) {
  BackupResult backup;
  ASSERT_TRUE(store_->CreateBackup(dir_.Sub("backups"), &backup).ok());
  RestoreResult restored;
  const Status status = RestoreBackup(dir_.Sub("backups"), 0, dir_.Sub("data"), &restored);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Head().position, backup.head.position);
}

TEST_F(BackupTest, DamagedBackupFileIsDetectedBeforeUse) {
  BackupResult backup;
  ASSERT_TRUE(store_->CreateBackup(dir_.Sub("backups"), &backup).ok());
  // Flip bytes in the middle of the largest backed-up file.
  std::filesystem::path largest;
  uintmax_t largest_size = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.Sub("backups"))) {
    if (entry.is_regular_file() && entry.file_size() > largest_size && entry.path().string().find("/meta") == std::string::npos) {
      largest = entry.path();
      largest_size = entry.file_size();
    }
  }
  ASSERT_GT(largest_size, 100u);
  {
    std::fstream file(largest, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(largest_size / 2));
    file.write("\xde\xad\xbe\xef", 4);
  }
  RestoreResult restored;
  const Status status = RestoreBackup(dir_.Sub("backups"), 0, dir_.Sub("restored"), &restored);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
}

int RunCli(const std::string& arguments, std::string* text) {
  const di::testing::CommandOutput output = di::testing::RunCli(arguments);
  *text += output.text;
  return output.exit_code;
}

TEST_F(BackupTest, CliBackupRestoreVerify) {
  const LogHead head = store_->Head();
  store_.reset();  // the CLI opens the store itself
  std::string text;
  ASSERT_EQ(RunCli("backup --data " + dir_.Sub("data") + " --to " + dir_.Sub("backups"), &text), 0) << text;
  EXPECT_NE(text.find("positions 1.." + std::to_string(head.position) + ", head hash " + HashToHex(head.hash)),
            std::string::npos)
      << text;
  text.clear();
  ASSERT_EQ(RunCli("restore --from " + dir_.Sub("backups") + " --data " + dir_.Sub("restored"), &text), 0) << text;
  EXPECT_NE(text.find("head position " + std::to_string(head.position) + " hash " + HashToHex(head.hash)),
            std::string::npos)
      << text;
  text.clear();
  ASSERT_EQ(RunCli("verify --data " + dir_.Sub("restored"), &text), 0) << text;
  text.clear();
  EXPECT_EQ(RunCli("restore --from " + dir_.Sub("backups") + " --data " + dir_.Sub("data"), &text), 1) << text;
  text.clear();
  ASSERT_EQ(RunCli("backup --list --data " + dir_.Sub("data") + " --to " + dir_.Sub("backups"), &text), 0) << text;
  EXPECT_NE(text.find("head_before"), std::string::npos) << text;
}

}  // namespace
}  // namespace di::ledger
