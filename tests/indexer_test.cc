// The indexer (ledger/src/event_store_indexer.cc): the event id, stream, type and effective-date indexes and the
// entity records are written behind the log. While a group is not indexed yet the writer must still decide as if
// it were (a used id, a delivery that exists, a voided delivery, a stream's version), a read that uses an index
// must wait for it, and what a crash loses of the indexes must come back from the log at the next open, byte for
// byte what the indexer would have written.
#include <rocksdb/db.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "entities.capnp.h"
#include "id_filter.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::MakeEvent;
using di::testing::OpenStore;
using di::testing::TempDir;
using di::testing::WithRawStore;
using nlohmann::json;

// Holds the indexer at its write while closed (EventStoreOptions::before_index_write_for_testing).
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --waiting_;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Until the indexer is held here.
  void AwaitHeld() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

json Voided(const std::string& event_id, const std::string& delivery_id) {
  return MakeEvent(event_id, "delivery_voided", "2021-03-01", {{"delivery_id", delivery_id}, {"reason", "twice"}});
}

uint64_t PositionOf(EventStore& store, const std::string& event_id) {
  StoredEvent event;
  const Status status = store.GetByEventId(event_id, &event);
  EXPECT_TRUE(status.ok()) << event_id << ": " << status.ToString();
  return event.position;
}

TEST(IndexerTest, WhileAGroupIsNotIndexedTheWriterDecidesAsIfItWereAndReadsWaitForIt) {
  TempDir dir;
  auto gate = std::make_shared<Gate>();
  EventStoreOptions options;
  options.before_index_write_for_testing = [gate] { gate->Pass(); };
  options.index_in_group_max_events = 0;  // every group through the indexer
  auto store = OpenStore(dir.path(), options);
  std::future<uint64_t> read;
  // Whatever fails below, the indexer is let go before the read and the store are destroyed (they wait for it).
  struct OpenAtExit {
    std::shared_ptr<Gate> gate;
    ~OpenAtExit() { gate->Open(); }
  } open_at_exit{gate};
  ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
  const uint64_t base = store->Head().position;

  gate->Close();
  AppendResult first;
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 120), Delivery("d2", "D-2", "2021-02-02")},
                         &first)
                  .ok());
  gate->AwaitHeld();  // D-1 and D-2 are durable in the log, not in any index

  // A read that uses an index waits for it: not answered while the indexer is held.
  read = std::async(std::launch::async, [&] { return PositionOf(*store, "d1"); });
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);

  // The writer decides from the groups it has not seen indexed.
  AppendResult retry;
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 120)}, &retry).ok());
  EXPECT_EQ(retry.appended, 0u);
  EXPECT_EQ(retry.positions, std::vector<uint64_t>{base + 1});
  EXPECT_EQ(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 121)}).code(), StatusCode::kDuplicateId);
  Status reused = AppendJson(*store, {Delivery("d3", "D-1", "2021-02-03")});
  EXPECT_EQ(reused.code(), StatusCode::kInvalidArgument) << reused.ToString();
  EXPECT_EQ(reused.field(), "data.delivery_id");
  json stale = Delivery("d3", "D-3", "2021-02-03");
  stale["expected_version"] = 1;  // grant/G-1 is at 3 (granted, D-1, D-2)
  Status conflict = AppendJson(*store, {stale});
  EXPECT_EQ(conflict.code(), StatusCode::kConflict);
  EXPECT_NE(conflict.message().find("is at version 3"), std::string::npos) << conflict.ToString();
  // A record changed by an unindexed group is read in its changed state: D-2 voided, then voided again.
  ASSERT_TRUE(AppendJson(*store, {Voided("v1", "D-2")}).ok());
  Status twice = AppendJson(*store, {Voided("v2", "D-2")});
  EXPECT_EQ(twice.code(), StatusCode::kInvalidArgument) << twice.ToString();
  EXPECT_EQ(store->Head().position, base + 3);

  gate->Open();
  EXPECT_EQ(read.get(), base + 1);
  EXPECT_EQ(PositionOf(*store, "v1"), base + 3);
  uint64_t version = 0;
  ASSERT_TRUE(store->GetStreamVersion("grant/G-1", &version).ok());
  EXPECT_EQ(version, 4u);
  uint64_t delivered = 0;
  ASSERT_TRUE(store->ReadByType(EventType::SERVICE_DELIVERED, 1, 0, [&](const StoredEvent&) {
                       ++delivered;
                       return true;
                     }).ok());
  EXPECT_EQ(delivered, 2u);

  // After a restart the entity records say the same: D-2 is voided, D-1 is used.
  store.reset();
  store = OpenStore(dir.path());
  EXPECT_EQ(AppendJson(*store, {Voided("v2", "D-2")}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AppendJson(*store, {Delivery("d3", "D-1", "2021-02-03")}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(AppendJson(*store, {Voided("v3", "D-1")}).ok());
}

// Every key of every index family and of `meta`'s "indexed", as RocksDB holds them.
using FamilyContents = std::map<std::string, std::map<std::string, std::string>>;
constexpr const char* kIndexFamilies[] = {"event_id", "stream", "type", "effective", "entity"};

FamilyContents ReadIndexes(const std::string& path) {
  FamilyContents contents;
  WithRawStore(path, [&](rocksdb::DB* db, const std::vector<std::string>& names,
                         const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    for (size_t i = 0; i < names.size(); ++i) {
      const bool index = std::find(std::begin(kIndexFamilies), std::end(kIndexFamilies), names[i]) !=
                         std::end(kIndexFamilies);
      if (!index && names[i] != "meta") continue;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (!index && it->key() != "indexed") continue;
        contents[names[i]][it->key().ToString()] = it->value().ToString();
      }
    }
  });
  return contents;
}

std::string BigEndian(uint64_t value) {
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((value >> shift) & 0xff));
  return bytes;
}

// What a crash between the log's write and the indexer's leaves: the indexes of the events after `keep` gone
// (the keys that name a later position, the entity records `lost_entities`), the marker at `keep`.
void LoseIndexesAfter(const std::string& path, uint64_t keep, const std::vector<std::string>& lost_entities) {
  WithRawStore(path, [&](rocksdb::DB* db, const std::vector<std::string>& names,
                         const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& name = names[i];
      if (name == "meta") batch.Put(handles[i], "indexed", BigEndian(keep));
      if (name == "entity") {
        for (const std::string& key : lost_entities) batch.Delete(handles[i], key);
      }
      if (name != "event_id" && name != "stream" && name != "type" && name != "effective") continue;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        // event_id and stream hold the position in the value, type and effective at the end of the key.
        const std::string_view where = (name == "event_id" || name == "stream") ? it->value().ToStringView()
                                                                                : it->key().ToStringView();
        std::string position_bytes(where.substr(where.size() - 8));
        uint64_t position = 0;
        for (char c : position_bytes) position = (position << 8) | static_cast<uint8_t>(c);
        if (position > keep) batch.Delete(handles[i], it->key());
      }
    }
    rocksdb::WriteOptions synced;
    synced.sync = true;
    ASSERT_TRUE(db->Write(synced, &batch).ok());
  });
}

TEST(IndexerTest, AnOpenRebuildsFromTheLogWhatACrashLostOfTheIndexesByteForByte) {
  TempDir dir;
  uint64_t keep = 0;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
    keep = store->Head().position;
    ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01"), Delivery("d2", "D-2", "2021-02-02")}).ok());
    ASSERT_TRUE(AppendJson(*store, {Voided("v1", "D-2"), Delivery("d3", "D-3", "2021-02-03")}).ok());
  }
  const FamilyContents written = ReadIndexes(dir.path());
  ASSERT_EQ(written.at("meta").at("indexed"), BigEndian(keep + 4));
  // Entity keys: kind byte (schema::EntityKind::DELIVERY) + id.
  std::vector<std::string> deliveries;
  for (const char* id : {"D-1", "D-2", "D-3"}) {
    deliveries.push_back(std::string(1, static_cast<char>(schema::EntityKind::DELIVERY)) + id);
    ASSERT_EQ(written.at("entity").count(deliveries.back()), 1u) << id;
  }
  LoseIndexesAfter(dir.path(), keep, deliveries);
  ASSERT_NE(ReadIndexes(dir.path()), written);

  {
    // Read-only, nothing can be rebuilt: the reads that use an index take the events past it from the log, and
    // answer exactly as if nothing had been lost.
    EventStoreOptions read_only;
    read_only.read_only = true;
    std::unique_ptr<EventStore> store;
    ASSERT_TRUE(EventStore::Open(read_only, dir.path(), &store).ok());
    EXPECT_EQ(PositionOf(*store, "d1"), keep + 1);
    EXPECT_EQ(PositionOf(*store, "d3"), keep + 4);
    EXPECT_EQ(PositionOf(*store, "e-g1"), keep);
    StoredEvent missing;
    EXPECT_EQ(store->GetByEventId("d9", &missing).code(), StatusCode::kNotFound);
    uint64_t version = 0;
    ASSERT_TRUE(store->GetStreamVersion("grant/G-1", &version).ok());
    EXPECT_EQ(version, 5u);  // granted, D-1, D-2, the void of D-2, D-3
    std::vector<uint64_t> stream, deliveries_by_type, by_date;
    ASSERT_TRUE(store->ReadStream("grant/G-1", 2, 0, [&](const StoredEvent& event) {
                       stream.push_back(event.position);
                       return true;
                     }).ok());
    EXPECT_EQ(stream, (std::vector<uint64_t>{keep + 1, keep + 2, keep + 3, keep + 4}));
    ASSERT_TRUE(store->ReadTypePositions(EventType::SERVICE_DELIVERED, 1, [&](uint64_t position) {
                       deliveries_by_type.push_back(position);
                       return true;
                     }).ok());
    EXPECT_EQ(deliveries_by_type, (std::vector<uint64_t>{keep + 1, keep + 2, keep + 4}));
    // By effective date: the log's tail merged into the index's order (date, position).
    ASSERT_TRUE(store->ReadByEffectiveDate(DaysFromCivil(2020, 12, 20), DaysFromCivil(2021, 3, 1), 0,
                                           [&](const StoredEvent& event) {
                                             by_date.push_back(event.position);
                                             return true;
                                           })
                    .ok());
    EXPECT_EQ(by_date, (std::vector<uint64_t>{keep, keep + 1, keep + 2, keep + 4, keep + 3}));
    by_date.clear();
    ASSERT_TRUE(store->ReadByEffectiveDate(DaysFromCivil(2020, 12, 20), DaysFromCivil(2021, 3, 1), 2,
                                           [&](const StoredEvent& event) {
                                             by_date.push_back(event.position);
                                             return true;
                                           })
                    .ok());
    EXPECT_EQ(by_date, (std::vector<uint64_t>{keep, keep + 1}));
    // `stats` too: the latest date (v1's) is only in the log past the indexes.
    StoreStats stats;
    ASSERT_TRUE(store->GetStats(&stats).ok());
    EXPECT_EQ(stats.last_effective_date, DaysFromCivil(2021, 3, 1));
    EXPECT_EQ(stats.head.position, keep + 4);
  }
  {
    auto store = OpenStore(dir.path());  // read-write: rebuilt before it takes an append
    EXPECT_EQ(PositionOf(*store, "d3"), keep + 4);
    EXPECT_EQ(AppendJson(*store, {Voided("v2", "D-2")}).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ReadIndexes(dir.path()), written);
}

TEST(IndexerTest, AStoreFromBeforeTheIndexerIsTakenAsFullyIndexed) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
  }
  const FamilyContents written = ReadIndexes(dir.path());
  WithRawStore(dir.path(), [&](rocksdb::DB* db, const std::vector<std::string>& names,
                               const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "meta") {
        ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[i], "indexed").ok());
      }
    }
  });
  auto store = OpenStore(dir.path());
  EXPECT_EQ(PositionOf(*store, "e-g1"), BaseWorld().size());
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01")}).ok());
  EXPECT_EQ(PositionOf(*store, "d1"), BaseWorld().size() + 1);
  store.reset();
  EXPECT_EQ(ReadIndexes(dir.path()).at("meta").at("indexed"), BigEndian(BaseWorld().size() + 1));
}

// A small group appended while the indexer is idle carries its indexes in its own write; a larger one, or any
// group with index_in_group_max_events = 0, goes through the indexer. Both answer the same.
TEST(IndexerTest, ASmallGroupCarriesItsIndexesInItsOwnWrite) {
  for (const size_t in_group : {size_t{8}, size_t{0}}) {
    SCOPED_TRACE("index_in_group_max_events " + std::to_string(in_group));
    TempDir dir;
    auto indexer_writes = std::make_shared<std::atomic<int>>(0);
    EventStoreOptions options;
    options.index_in_group_max_events = in_group;
    options.before_index_write_for_testing = [indexer_writes] { ++*indexer_writes; };
    auto store = OpenStore(dir.path(), options);
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());  // 12 events: more than 8
    EXPECT_EQ(PositionOf(*store, "e-g1"), BaseWorld().size());
    const int after_world = indexer_writes->load();
    EXPECT_EQ(after_world, 1);
    std::vector<json> eight;
    for (int i = 0; i < 8; ++i) {
      eight.push_back(Delivery("d" + std::to_string(i), "D-" + std::to_string(i), "2021-02-0" + std::to_string(1 + i)));
    }
    ASSERT_TRUE(AppendJson(*store, {eight.begin(), eight.begin() + 1}).ok());
    ASSERT_TRUE(AppendJson(*store, {eight.begin() + 1, eight.end()}).ok());
    EXPECT_EQ(PositionOf(*store, "d7"), BaseWorld().size() + 8);
    EXPECT_EQ(AppendJson(*store, {Delivery("d9", "D-7", "2021-02-09")}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(indexer_writes->load(), in_group == 0 ? after_world + 2 : after_world);
    store.reset();
    EXPECT_EQ(ReadIndexes(dir.path()).at("meta").at("indexed"), BigEndian(BaseWorld().size() + 8));
  }
}

TEST(IdFilterTest, NeverSaysAbsentForAnAddedKeyAndRarelyMaybeForAnother) {
  constexpr uint64_t kKeys = 100000;
  IdFilter filter(kKeys);
  for (uint64_t i = 0; i < kKeys; ++i) filter.Add("delivery:D-" + std::to_string(i));
  for (uint64_t i = 0; i < kKeys; ++i) ASSERT_TRUE(filter.MayContain("delivery:D-" + std::to_string(i))) << i;
  uint64_t maybe = 0;
  for (uint64_t i = kKeys; i < 2 * kKeys; ++i) maybe += filter.MayContain("delivery:D-" + std::to_string(i));
  // Sized at 10 bits a key: ~1 % false positives at capacity (a blocked filter's rate is a little above the
  // classic one's); 3 % would mean the hashing is broken.
  EXPECT_LT(maybe, kKeys * 3 / 100) << maybe << " of " << kKeys;
  EXPECT_GE(filter.bytes(), kKeys * IdFilter::kBitsPerKey / 8);
}

// With the filter loaded at open, the ids and the records the store held before it are still known: the
// filter must have been loaded from them, or "absent" would let a used id or a used delivery id in again.
TEST(IdFilterTest, IdsAndRecordsFromBeforeTheOpenAreStillRefused) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
    ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 120)}).ok());
  }
  EventStoreOptions options;
  options.wait_for_id_filter = true;
  auto store = OpenStore(dir.path(), options);
  AppendResult retry;
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 120)}, &retry).ok());
  EXPECT_EQ(retry.appended, 0u);
  EXPECT_EQ(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01", 121)}).code(), StatusCode::kDuplicateId);
  const Status reused = AppendJson(*store, {Delivery("d2", "D-1", "2021-02-02")});
  EXPECT_EQ(reused.code(), StatusCode::kInvalidArgument) << reused.ToString();
  EXPECT_EQ(reused.field(), "data.delivery_id");
  // And what is new is still taken, then known.
  ASSERT_TRUE(AppendJson(*store, {Delivery("d2", "D-2", "2021-02-02")}).ok());
  EXPECT_EQ(AppendJson(*store, {Delivery("d3", "D-2", "2021-02-03")}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace di::ledger
