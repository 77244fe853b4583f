// Damage below the ledger: a flipped byte in an SST file or in the write-ahead log must be detected and
// reported (RocksDB block checksums, WAL record checksums, the ledger's own chain), never read as data and
// never crash the process. (Tampering with values through RocksDB — a re-hashed forgery, a deleted key — is
// in durability_test.cc; this file damages the files themselves, like a bad disk.)
#include <rocksdb/db.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "di/ledger/event_store.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::TempDir;

std::vector<nlohmann::json> ManyDeliveries(int count) {
  std::vector<nlohmann::json> events = di::testing::BaseWorld();
  for (int i = 0; i < count; ++i) {
    const int day = 1 + i % 28, month = 1 + (i / 28) % 12;
    char date[16];
    std::snprintf(date, sizeof(date), "2022-%02d-%02d", month, day);
    events.push_back(di::testing::Delivery("d" + std::to_string(i), "D-" + std::to_string(i), date, 30, 350));
  }
  return events;
}

// Fills a store, then (optionally) flushes every column family to SST files with a raw RocksDB handle.
uint64_t FillStore(const std::string& path, bool flush_to_sst) {
  uint64_t head = 0;
  {
    auto store = di::testing::OpenStore(path);
    const std::vector<nlohmann::json> events = ManyDeliveries(3000);
    for (size_t begin = 0; begin < events.size(); begin += 500) {
      std::vector<nlohmann::json> batch(events.begin() + begin, events.begin() + std::min(events.size(), begin + 500));
      EXPECT_TRUE(di::testing::AppendJson(*store, batch).ok());
    }
    head = store->Head().position;
  }
  if (flush_to_sst) {
    di::testing::WithRawStore(path, [](rocksdb::DB* raw, const std::vector<std::string>&,
                                       const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
      EXPECT_TRUE(raw->Flush(rocksdb::FlushOptions(), handles).ok());
    });
  }
  return head;
}

// The largest file of the directory with this extension.
std::string LargestFile(const std::string& dir, const std::string& extension) {
  std::string largest;
  uintmax_t size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == extension && entry.file_size() > size) {
      size = entry.file_size();
      largest = entry.path().string();
    }
  }
  return largest;
}

void FlipByte(const std::string& path, uintmax_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good()) << path;
  file.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&byte, 1);
}

// What a user sees: opening fails with a corruption/IO status naming the problem, or the store opens and
// `verify` (or a read) reports corruption. Reading past the damage as if nothing happened is the failure.
void ExpectDamageReported(const std::string& path, uint64_t head_before) {
  std::unique_ptr<EventStore> store;
  EventStoreOptions options;
  options.create_if_missing = false;
  Status opened = EventStore::Open(options, path, &store);
  if (!opened.ok()) {
    EXPECT_TRUE(opened.code() == StatusCode::kCorruption || opened.code() == StatusCode::kIOError) << opened.ToString();
    EXPECT_FALSE(opened.message().empty());
    return;
  }
  VerifyReport report;
  Status verified = store->Verify(&report);
  const bool reported = !verified.ok() || report.first_bad_position != 0;
  EXPECT_TRUE(reported) << "a damaged file went unnoticed: verify says OK over " << report.events_checked
                        << " events (head before the damage " << head_before << ", now " << store->Head().position << ")";
  if (!verified.ok()) EXPECT_EQ(verified.code(), StatusCode::kCorruption) << verified.ToString();
}

TEST(StorageCorruption, AFlippedByteInAnSstFileIsReportedNotRead) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  const uint64_t head = FillStore(path, /*flush_to_sst=*/true);
  const std::string sst = LargestFile(path, ".sst");
  ASSERT_FALSE(sst.empty());
  FlipByte(sst, std::filesystem::file_size(sst) / 3);  // inside a data block, away from the footer
  ExpectDamageReported(path, head);
}

TEST(StorageCorruption, AFlippedByteInTheMiddleOfTheWriteAheadLogIsReportedNotSilentlyTruncated) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  const uint64_t head = FillStore(path, /*flush_to_sst=*/false);
  const std::string wal = LargestFile(path, ".log");
  ASSERT_FALSE(wal.empty());
  FlipByte(wal, std::filesystem::file_size(wal) / 2);
  ExpectDamageReported(path, head);
}

// The logical records of a RocksDB write-ahead log, each with the offset it starts at (db/log_format.h: 32 KiB
// blocks; each physical record a 7-byte header (checksum 4, length 2, type 1) and its payload; a logical record
// is one FULL (1) or FIRST (2) .. MIDDLE (3) .. LAST (4); a block's last < 7 bytes are padding).
std::vector<std::pair<uint64_t, std::string>> WalRecords(const std::string& wal) {
  std::ifstream in(wal, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr uint64_t kBlock = 32768, kHeader = 7;
  std::vector<std::pair<uint64_t, std::string>> records;
  uint64_t offset = 0;
  while (offset + kHeader <= bytes.size()) {
    if (kBlock - offset % kBlock < kHeader) {
      offset += kBlock - offset % kBlock;  // the block's trailer
      continue;
    }
    const uint64_t length = static_cast<uint8_t>(bytes[offset + 4]) | (static_cast<uint8_t>(bytes[offset + 5]) << 8);
    const int type = static_cast<uint8_t>(bytes[offset + 6]);
    if (type == 0 && length == 0) break;  // preallocated zeros
    if (type == 1 || type == 2) records.emplace_back(offset, "");
    if (!records.empty()) records.back().second.append(bytes, offset + kHeader, length);
    offset += kHeader + length;
  }
  return records;
}

// The other side of the same setting: a WAL whose last group's record was cut short (a crash or power loss while
// writing it; that batch was never acknowledged) opens, without that batch, and verifies.
TEST(StorageCorruption, ATornLastRecordOfTheWriteAheadLogIsDroppedAndTheStoreOpens) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  const uint64_t head = FillStore(path, /*flush_to_sst=*/false);
  const std::string wal = LargestFile(path, ".log");
  ASSERT_FALSE(wal.empty());
  // The last group's record is not the WAL's last: the indexer writes the indexes of a group after it (and may
  // write the previous group's after it too; event_store_indexer.cc). Its record is the first that holds the last
  // event's id; cut inside it, as a crash while writing it would (everything after it goes too).
  const auto records = WalRecords(wal);
  const auto last_group = std::find_if(records.begin(), records.end(), [](const auto& record) {
    return record.second.find("d2999") != std::string::npos;  // ManyDeliveries(3000)'s last id
  });
  ASSERT_NE(last_group, records.end());
  std::filesystem::resize_file(wal, last_group->first + 100);
  auto store = di::testing::OpenStore(path);
  const uint64_t last_batch = head % 500 == 0 ? 500 : head % 500;  // FillStore appends in batches of 500
  EXPECT_EQ(store->Head().position, head - last_batch) << "exactly the last (torn) batch is gone";
  VerifyReport report;
  ASSERT_TRUE(store->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events_checked, head - last_batch);
  // And it takes appends again, continuing the chain.
  EXPECT_TRUE(di::testing::AppendJson(*store, {di::testing::Delivery("again", "D-again", "2022-12-30")}).ok());
  EXPECT_EQ(store->Head().position, head - last_batch + 1);
}

}  // namespace
}  // namespace di::ledger
