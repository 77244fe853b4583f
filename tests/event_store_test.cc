// EventStore behaviour on a real RocksDB in a temp dir: atomic batches, idempotent retries, expected
// versions, reads by log / stream / type / effective date, and persistence across reopen.
#include "di/ledger/event_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "di/ledger/audit.h"
#include "di/ledger/civil_date.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

class EventStoreTest : public di::testing::BaseWorldStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(BaseWorldStoreTest::SetUp());
    base_events_ = BaseWorld().size();
  }
  std::vector<StoredEvent> ReadAll() {
    std::vector<StoredEvent> events;
    EXPECT_TRUE(store_->ReadLog(1, 0, [&](const StoredEvent& e) {
                        events.push_back(StoredEvent{e.position, e.hash,
                                                     CanonicalMessage<schema::RecordedEvent>(
                                                         CopyToWords(e.body.bytes()))});
                        return true;
                      }).ok());
    return events;
  }

  uint64_t base_events_ = 0;
};

TEST_F(EventStoreTest, PositionsStartAtOneAndAreDense) {
  const auto events = ReadAll();
  ASSERT_EQ(events.size(), base_events_);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].position, i + 1);
    EXPECT_EQ(events[i].reader().getPosition(), i + 1);
  }
  EXPECT_EQ(store_->Head().position, base_events_);
}

TEST_F(EventStoreTest, StreamsAreDerivedFromTheEntity) {
  StoredEvent event;
  ASSERT_TRUE(store_->GetByEventId("e-parent", &event).ok());
  EXPECT_STREQ(event.reader().getStream().cStr(), "person/P-P1");
  ASSERT_TRUE(store_->GetByEventId("e-ap1-decided", &event).ok());
  EXPECT_STREQ(event.reader().getStream().cStr(), "person/P-C1");  // found through the application
  EXPECT_EQ(event.reader().getStreamVersion(), 3u);                 // enrolled, applied, decided
  ASSERT_TRUE(store_->GetByEventId("e-g1", &event).ok());
  EXPECT_STREQ(event.reader().getStream().cStr(), "grant/G-1");
}

TEST_F(EventStoreTest, IdenticalRetryReturnsOriginalPositionsAndAppendsNothing) {
  AppendResult first, retry;
  const std::vector<json> batch = {Delivery("d1", "D-1", "2021-02-01"), Delivery("d2", "D-2", "2021-02-02")};
  ASSERT_TRUE(AppendJson(*store_, batch, &first).ok());
  EXPECT_EQ(first.appended, 2u);
  ASSERT_TRUE(AppendJson(*store_, batch, &retry).ok());
  EXPECT_EQ(retry.appended, 0u);
  EXPECT_EQ(retry.positions, first.positions);
  EXPECT_EQ(store_->Head().position, base_events_ + 2);
}

TEST_F(EventStoreTest, RetryMixedWithNewEventsAppendsOnlyTheNew) {
  AppendResult first, second;
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01")}, &first).ok());
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01"), Delivery("d2", "D-2", "2021-02-02")},
                         &second)
                  .ok());
  EXPECT_EQ(second.appended, 1u);
  EXPECT_EQ(second.positions[0], first.positions[0]);
  EXPECT_EQ(second.positions[1], first.positions[0] + 1);
}

TEST_F(EventStoreTest, SameIdWithDifferentContentIsRejected) {
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01", 120)}).ok());
  Status status = AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01", 121)});
  EXPECT_EQ(status.code(), StatusCode::kDuplicateId);
  EXPECT_EQ(status.event_id(), "d1");
  EXPECT_EQ(status.field(), "id");
  EXPECT_EQ(store_->Head().position, base_events_ + 1);
}

TEST_F(EventStoreTest, SameIdTwiceInOneBatch) {
  AppendResult result;
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01"), Delivery("d1", "D-1", "2021-02-01")},
                         &result)
                  .ok());
  EXPECT_EQ(result.appended, 1u);
  EXPECT_EQ(result.positions[0], result.positions[1]);
  Status status =
      AppendJson(*store_, {Delivery("d9", "D-9", "2021-02-01"), Delivery("d9", "D-10", "2021-02-01")});
  EXPECT_EQ(status.code(), StatusCode::kDuplicateId);
}

TEST_F(EventStoreTest, OneBadEventAppendsNothingOfItsBatch) {
  const uint64_t head = store_->Head().position;
  json bad = Delivery("d3", "D-3", "2021-02-03");
  bad["data"]["grant_id"] = "G-404";
  Status status = AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01"), Delivery("d2", "D-2", "2021-02-02"), bad});
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.event_id(), "d3");
  EXPECT_EQ(status.field(), "data.grant_id");
  EXPECT_EQ(store_->Head().position, head);
  StoredEvent event;
  EXPECT_EQ(store_->GetByEventId("d1", &event).code(), StatusCode::kNotFound);
  // The same good events can be appended afterwards: nothing of the failed batch lingers.
  AppendResult result;
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01")}, &result).ok());
  EXPECT_EQ(result.positions[0], head + 1);
}

TEST_F(EventStoreTest, ExpectedVersionConflictAppendsNothing) {
  uint64_t version = 0;
  ASSERT_TRUE(store_->GetStreamVersion("grant/G-1", &version).ok());
  EXPECT_EQ(version, 1u);
  json stale = Delivery("d1", "D-1", "2021-02-01");
  stale["expected_version"] = 0;
  Status status = AppendJson(*store_, {stale});
  EXPECT_EQ(status.code(), StatusCode::kConflict);
  EXPECT_NE(status.message().find("'grant/G-1' is at version 1, expected 0"), std::string::npos);
  EXPECT_EQ(store_->Head().position, base_events_);

  json current = Delivery("d1", "D-1", "2021-02-01");
  current["expected_version"] = 1;
  json next = Delivery("d2", "D-2", "2021-02-02");
  next["expected_version"] = 2;  // counts the event before it in the same batch
  ASSERT_TRUE(AppendJson(*store_, {current, next}).ok());
  ASSERT_TRUE(store_->GetStreamVersion("grant/G-1", &version).ok());
  EXPECT_EQ(version, 3u);
}

TEST_F(EventStoreTest, ExpectedVersionZeroMeansNewStream) {
  json grant = BaseWorld().back();
  grant["id"] = "e-g2";
  grant["data"]["grant_id"] = "G-2";
  grant["expected_version"] = 0;
  EXPECT_TRUE(AppendJson(*store_, {grant}).ok());
  json again = grant;
  again["id"] = "e-g2-again";
  again["data"]["grant_id"] = "G-3";
  again["expected_version"] = 1;
  EXPECT_EQ(AppendJson(*store_, {again}).code(), StatusCode::kConflict);
}

TEST_F(EventStoreTest, RetryIgnoresExpectedVersion) {
  json event = Delivery("d1", "D-1", "2021-02-01");
  event["expected_version"] = 1;
  AppendResult first, retry;
  ASSERT_TRUE(AppendJson(*store_, {event}, &first).ok());
  ASSERT_TRUE(AppendJson(*store_, {event}, &retry).ok());  // the stream is at 2 now: still a retry
  EXPECT_EQ(retry.positions, first.positions);
}

TEST_F(EventStoreTest, EmptyAndOversizedBatchesAreRejected) {
  std::vector<NewEvent> empty;
  AppendResult result;
  EXPECT_EQ(store_->Append(empty, &result).code(), StatusCode::kInvalidArgument);
  TempDir small_dir;
  EventStoreOptions options;
  options.max_batch_events = 2;
  auto small = OpenStore(small_dir.path(), options);
  Status status = AppendJson(*small, {BaseWorld()[0], BaseWorld()[1], BaseWorld()[2]});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("at most 2"), std::string::npos);
}

TEST_F(EventStoreTest, ReadsByStreamTypeAndEffectiveDate) {
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-03-01"), Delivery("d2", "D-2", "2021-01-15"),
                                   Delivery("d3", "D-3", "2021-02-10")})
                  .ok());
  std::vector<std::string> ids;
  auto collect = [&](const StoredEvent& event) {
    ids.push_back(event.reader().getEvent().getId().cStr());
    return true;
  };
  ASSERT_TRUE(store_->ReadStream("grant/G-1", 2, 0, collect).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"d1", "d2", "d3"}));
  ids.clear();
  ASSERT_TRUE(store_->ReadStream("grant/G-1", 1, 2, collect).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"e-g1", "d1"}));
  ids.clear();
  ASSERT_TRUE(store_->ReadByType(EventType::SERVICE_DELIVERED, 0, 0, collect).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"d1", "d2", "d3"}));
  ids.clear();
  ASSERT_TRUE(store_->ReadByType(EventType::PERSON_ENROLLED, 0, 0, collect).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"e-child", "e-parent", "e-adult"}));
  ids.clear();
  // Ordered by effective date, whatever the recording order.
  ASSERT_TRUE(store_->ReadByEffectiveDate(DaysFromCivil(2021, 1, 1), DaysFromCivil(2021, 2, 28), 0, collect).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"d2", "d3"}));
  ids.clear();
  ASSERT_TRUE(store_->ReadStream("grant/G-404", 1, 0, collect).ok());
  EXPECT_TRUE(ids.empty());
  // A stream name that is a prefix of another must not leak into it.
  ASSERT_TRUE(store_->ReadStream("grant/G", 1, 0, collect).ok());
  EXPECT_TRUE(ids.empty());
}

// The index-only reads give exactly the positions the event reads visit, and the batched log read gives exactly
// the events ReadLog gives at those positions, across MultiGet's slices of 256 keys.
TEST_F(EventStoreTest, IndexOnlyReadsAndBatchedLogReadsAgreeWithEventReads) {
  std::vector<nlohmann::json> deliveries;
  for (int i = 0; i < 600; ++i) {
    const std::string day = "2021-" + std::string(i % 12 < 9 ? "0" : "") + std::to_string(i % 12 + 1) + "-0" +
                            std::to_string(i % 9 + 1);
    deliveries.push_back(Delivery("dd" + std::to_string(i), "D-" + std::to_string(i), day, 30));
  }
  ASSERT_TRUE(AppendJson(*store_, deliveries).ok());
  const auto log = ReadAll();
  ASSERT_EQ(log.size(), base_events_ + 600);

  std::vector<uint64_t> by_event, by_index;
  ASSERT_TRUE(store_->ReadStream("grant/G-1", 2, 0, [&](const StoredEvent& e) {
                        by_event.push_back(e.position);
                        return true;
                      }).ok());
  ASSERT_TRUE(store_->ReadStreamPositions("grant/G-1", 2, [&](uint64_t position) {
                        by_index.push_back(position);
                        return true;
                      }).ok());
  ASSERT_EQ(by_index.size(), 600u);
  EXPECT_EQ(by_index, by_event);
  // A visitor that says stop is not called again.
  std::vector<uint64_t> first_three;
  ASSERT_TRUE(store_->ReadStreamPositions("grant/G-1", 1, [&](uint64_t position) {
                        first_three.push_back(position);
                        return first_three.size() < 3;
                      }).ok());
  EXPECT_EQ(first_three.size(), 3u);
  // Unknown streams and prefixes of stream names hold nothing.
  for (const char* stream : {"grant/G-404", "grant/G"}) {
    ASSERT_TRUE(store_->ReadStreamPositions(stream, 1, [&](uint64_t) {
                          ADD_FAILURE() << stream;
                          return true;
                        }).ok());
  }
  std::vector<uint64_t> by_type;
  ASSERT_TRUE(store_->ReadTypePositions(EventType::SERVICE_DELIVERED, by_index[100], [&](uint64_t position) {
                        by_type.push_back(position);
                        return true;
                      }).ok());
  EXPECT_EQ(by_type, std::vector<uint64_t>(by_index.begin() + 100, by_index.end()));

  // Every other delivery, plus the first event: 301 positions, more than one slice.
  std::vector<uint64_t> wanted = {1};
  for (size_t i = 0; i < by_index.size(); i += 2) wanted.push_back(by_index[i]);
  std::vector<StoredEvent> events;
  ASSERT_TRUE(store_->ReadPositions(wanted, &events).ok());
  ASSERT_EQ(events.size(), wanted.size());
  for (size_t i = 0; i < wanted.size(); ++i) {
    const StoredEvent& expected = log[wanted[i] - 1];
    EXPECT_EQ(events[i].position, wanted[i]);
    EXPECT_EQ(events[i].hash, expected.hash);
    EXPECT_EQ(events[i].body.bytes(), expected.body.bytes()) << wanted[i];
  }
  events.clear();
  ASSERT_TRUE(store_->ReadPositions(std::vector<uint64_t>{}, &events).ok());
  EXPECT_TRUE(events.empty());
  // A position the log does not hold is damage to report, not an empty answer.
  const Status missing = store_->ReadPositions(std::vector<uint64_t>{2, store_->Head().position + 1}, &events);
  EXPECT_EQ(missing.code(), StatusCode::kCorruption);
  EXPECT_NE(missing.message().find(std::to_string(store_->Head().position + 1)), std::string::npos)
      << missing.ToString();
}

// The batched log read checks each value as ReadLog does: a damaged body is refused with its position.
TEST(EventStoreDamageTest, BatchedLogReadRefusesADamagedValueNamingItsPosition) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
  }
  di::testing::RewriteLogValue(dir.path(), 5, [](std::string* value) {
    std::fill(value->begin() + 32, value->end(), '\xff');
  });
  auto store = OpenStore(dir.path());
  std::vector<StoredEvent> events;
  const Status status = store->ReadPositions(std::vector<uint64_t>{3, 4, 5, 6}, &events);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("position 5"), std::string::npos) << status.ToString();
}

TEST_F(EventStoreTest, HashChainLinksEveryEvent) {
  const auto events = ReadAll();
  VerifyReport report;
  ASSERT_TRUE(store_->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events_checked, events.size());
  EXPECT_EQ(report.head.hash, events.back().hash);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_NE(events[i].hash, events[i - 1].hash);
}

TEST_F(EventStoreTest, RecordedTimeNeverDecreases) {
  TempDir dir;
  int64_t now = 2'000'000'000'000'000;
  EventStoreOptions options;
  options.clock_micros = [&] { return now; };
  auto store = OpenStore(dir.path(), options);
  ASSERT_TRUE(AppendJson(*store, {BaseWorld()[0]}).ok());
  now -= 5'000'000;  // the wall clock steps back
  ASSERT_TRUE(AppendJson(*store, {BaseWorld()[1]}).ok());
  StoredEvent first, second;
  ASSERT_TRUE(store->GetByEventId(BaseWorld()[0]["id"], &first).ok());
  ASSERT_TRUE(store->GetByEventId(BaseWorld()[1]["id"], &second).ok());
  EXPECT_EQ(second.reader().getRecordedAtMicros(), first.reader().getRecordedAtMicros());
}

TEST_F(EventStoreTest, ReopenKeepsEverything) {
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01")}).ok());
  const LogHead head = store_->Head();
  store_.reset();
  store_ = OpenStore(dir_.path());
  EXPECT_EQ(store_->Head().position, head.position);
  EXPECT_EQ(store_->Head().hash, head.hash);
  // The reference index survived too: a second delivery with the same delivery id is refused.
  Status status = AppendJson(*store_, {Delivery("d2", "D-1", "2021-02-02")});
  EXPECT_EQ(status.field(), "data.delivery_id");
  StoreStats stats;
  ASSERT_TRUE(store_->GetStats(&stats).ok());
  for (const auto& [type, count] : stats.events_by_type) {
    if (type == EventType::SERVICE_DELIVERED) EXPECT_EQ(count, 1u);
    if (type == EventType::PERSON_ENROLLED) EXPECT_EQ(count, 3u);
  }
  EXPECT_EQ(stats.first_effective_date, DaysFromCivil(2015, 12, 8));
  EXPECT_GT(stats.disk_bytes, 0u);
}

TEST(EventStoreOpenTest, MissingStoreIsNotFoundWithoutCreate) {
  TempDir dir;
  EventStoreOptions options;
  options.create_if_missing = false;
  std::unique_ptr<EventStore> store;
  Status status = EventStore::Open(options, dir.Sub("nothing-here"), &store);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("di-ledger init"), std::string::npos);
}

// A read-only open (verify, stats and export use it, so they work on a full disk) reads the store as it is on
// disk, the write-ahead log included, writes nothing to its directory, and refuses appends: it has no writer.
TEST_F(EventStoreTest, ReadOnlyOpenReadsEverythingWritesNothingAndRefusesAppends) {
  ASSERT_TRUE(AppendJson(*store_, {Delivery("d1", "D-1", "2021-02-01")}).ok());
  const LogHead head = store_->Head();
  store_.reset();
  auto listing = [&] {
    std::map<std::string, uintmax_t> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      files[entry.path().filename().string()] = entry.file_size();
    }
    return files;
  };
  const std::map<std::string, uintmax_t> before = listing();
  {
    EventStoreOptions options;
    options.read_only = true;
    std::unique_ptr<EventStore> store;
    Status status = EventStore::Open(options, dir_.path(), &store);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(store->Head().position, head.position);
    EXPECT_EQ(store->Head().hash, head.hash);
    StoredEvent event;
    ASSERT_TRUE(store->GetByEventId("d1", &event).ok());
    EXPECT_EQ(event.position, head.position);
    VerifyReport report;
    ASSERT_TRUE(store->Verify(&report).ok());
    EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
    EXPECT_EQ(report.events_checked, head.position);

    status = AppendJson(*store, {Delivery("d2", "D-2", "2021-02-02")});
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    EXPECT_NE(status.message().find("read-only"), std::string::npos) << status.ToString();
    SigningKey key;
    ASSERT_TRUE(SigningKey::Generate(&key).ok());
    CheckpointResult checkpoint;
    status = store->AppendCheckpoint(key, &checkpoint);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    EXPECT_EQ(store->Head().position, head.position);
  }
  EXPECT_EQ(listing(), before) << "a read-only open wrote to the store's directory";

  // Read-only never creates a store, whatever create_if_missing says.
  EventStoreOptions options;
  options.read_only = true;
  options.create_if_missing = true;
  std::unique_ptr<EventStore> missing;
  EXPECT_EQ(EventStore::Open(options, dir_.Sub("nothing-here"), &missing).code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("nothing-here")));

  // The store opens read-write as before.
  store_ = OpenStore(dir_.path());
  EXPECT_EQ(store_->Head().position, head.position);
  EXPECT_TRUE(AppendJson(*store_, {Delivery("d2", "D-2", "2021-02-02")}).ok());
}

}  // namespace
}  // namespace di::ledger
