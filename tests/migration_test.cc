// Migration of history kept in an older system (issue #13 §2): an importer asserts each event's recorded time
// (`import --keep-recorded-at`), the store keeps it if it neither goes back in time nor lies in the future, flags
// the event as asserted, and the hash chain, the export and its offline verification cover the flag. Queries as
// known before anything (or before what they name) was recorded answer empty, and say why.
// Real RocksDB in temp dirs; a fixed clock, so "the future" is well defined.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "chain_oracle.h"
#include "di/ledger/audit.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/ledger/sha256.h"
#include "di/projections/replay.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::Migrated;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

int64_t Utc(const std::string& text) {
  int64_t micros = 0;
  EXPECT_TRUE(ParseUtcMicros(text, &micros)) << text;
  return micros;
}

// The store's clock in these tests: migrated history lies before it, "now" is this.
const int64_t kNow = Utc("2025-01-01T00:00:00Z");

EventStoreOptions FixedClock() {
  EventStoreOptions options;
  options.clock_micros = [] { return kNow; };
  return options;
}

// Parses `jsons` as `import --keep-recorded-at` does and appends them as one batch.
Status AppendMigrated(EventStore& store, const std::vector<json>& jsons, AppendResult* result = nullptr) {
  std::vector<NewEvent> batch;
  EventJsonOptions options;
  options.keep_recorded_at = true;
  for (const json& line : jsons) {
    NewEvent event;
    if (Status status = EventFromJson(line, &event, options); !status.ok()) return status;
    batch.push_back(std::move(event));
  }
  AppendResult ignored;
  return store.Append(batch, result != nullptr ? result : &ignored);
}

// The base world of test_util, recorded a minute apart from 2021-01-04 09:00 UTC.
std::vector<json> MigratedWorld() {
  std::vector<json> lines;
  int minute = 0;
  for (json& event : BaseWorld()) {
    char time[32];
    std::snprintf(time, sizeof(time), "2021-01-04T09:%02d:00Z", minute++);
    lines.push_back(Migrated(std::move(event), time));
  }
  return lines;
}

StoredEvent ById(EventStore& store, const std::string& id) {
  StoredEvent event;
  EXPECT_TRUE(store.GetByEventId(id, &event).ok()) << id;
  return event;
}

std::vector<int64_t> RecordedTimes(EventStore& store) {
  std::vector<int64_t> times;
  EXPECT_TRUE(store.ReadLog(1, 0, [&](const StoredEvent& event) {
                     times.push_back(event.reader().getRecordedAtMicros());
                     return true;
                   }).ok());
  return times;
}

void ExpectVerifies(EventStore& store) {
  VerifyReport report;
  ASSERT_TRUE(store.Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
}

TEST(MigrationTest, KeptRecordedTimesAreRecordedAsAssertedAndReadBack) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  const std::vector<json> world = MigratedWorld();
  AppendResult result;
  ASSERT_TRUE(AppendMigrated(*store, world, &result).ok());
  EXPECT_EQ(result.appended, world.size());
  for (const json& line : world) {
    const StoredEvent event = ById(*store, line["id"]);
    EXPECT_EQ(event.reader().getRecordedAtMicros(), Utc(line["recorded_at"])) << line["id"];
    EXPECT_TRUE(event.reader().getRecordedAtAsserted()) << line["id"];
    const json exported = json::parse(StoredEventToJson(event).dump());
    EXPECT_EQ(exported["recorded_at_asserted"], true);
    EXPECT_EQ(Utc(exported["recorded_at"]), Utc(line["recorded_at"]));
  }
  EXPECT_EQ(store->Head().recorded_at_micros, Utc(world.back()["recorded_at"]));

  // The ledger's own observation afterwards: now, and not flagged (the key is absent, not false).
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01")}).ok());
  const StoredEvent observed = ById(*store, "d1");
  EXPECT_EQ(observed.reader().getRecordedAtMicros(), kNow);
  EXPECT_FALSE(observed.reader().getRecordedAtAsserted());
  EXPECT_FALSE(StoredEventToJson(observed).contains("recorded_at_asserted"));
  ExpectVerifies(*store);

  store.reset();
  store = OpenStore(dir.path(), FixedClock());
  EXPECT_EQ(store->Head().recorded_at_micros, kNow);
  EXPECT_TRUE(ById(*store, world[3]["id"]).reader().getRecordedAtAsserted());
  ExpectVerifies(*store);
}

TEST(MigrationTest, TimesGoingBackWithinABatchAreRefusedAndAppendNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  std::vector<json> world = MigratedWorld();
  world[4]["recorded_at"] = "2021-01-04T09:02:30Z";  // before world[3] (09:03)
  const Status status = AppendMigrated(*store, world);
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.field(), "recorded_at");
  EXPECT_EQ(status.event_id(), world[4]["id"]);
  EXPECT_NE(status.message().find("before the recorded_at of the event before it in the batch"), std::string::npos)
      << status.message();
  EXPECT_EQ(store->Head().position, 0u);
}

TEST(MigrationTest, ATimeBeforeTheLogHeadIsRefusedAndEqualIsTaken) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  const std::vector<json> world = MigratedWorld();
  ASSERT_TRUE(AppendMigrated(*store, world).ok());
  const LogHead head = store->Head();
  // Correct within its batch, wrong against the log: the writer refuses it, nothing of the batch is appended.
  const Status status = AppendMigrated(*store, {Migrated(Delivery("d1", "D-1", "2021-01-02"), "2021-01-03T12:00:00Z"),
                                                Migrated(Delivery("d2", "D-2", "2021-01-02"), "2021-02-01T12:00:00Z")});
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.field(), "recorded_at");
  EXPECT_EQ(status.event_id(), "d1");
  EXPECT_NE(status.message().find("before the recorded_at of the event before it in the log"), std::string::npos)
      << status.message();
  EXPECT_EQ(store->Head().position, head.position);
  EXPECT_EQ(store->Head().hash, head.hash);
  StoredEvent absent;
  EXPECT_EQ(store->GetByEventId("d2", &absent).code(), StatusCode::kNotFound);

  // The same time as the event before it does not go back: taken.
  ASSERT_TRUE(AppendMigrated(*store, {Migrated(Delivery("d3", "D-3", "2021-01-02"), world.back()["recorded_at"])}).ok());
  EXPECT_EQ(ById(*store, "d3").reader().getRecordedAtMicros(), head.recorded_at_micros);
}

TEST(MigrationTest, ATimeAfterTheClockIsRefusedAndTheClockItselfIsTaken) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  std::vector<json> world = MigratedWorld();
  world.back()["recorded_at"] = FormatUtcMicros(kNow + 1);
  const Status status = AppendMigrated(*store, world);
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.field(), "recorded_at");
  EXPECT_EQ(status.event_id(), world.back()["id"]);
  EXPECT_NE(status.message().find("after the ledger's clock"), std::string::npos) << status.message();
  EXPECT_EQ(store->Head().position, 0u);
  world.back()["recorded_at"] = FormatUtcMicros(kNow);
  ASSERT_TRUE(AppendMigrated(*store, world).ok());
  EXPECT_EQ(store->Head().recorded_at_micros, kNow);
}

TEST(MigrationTest, KeepingRecordedTimesRequiresOneOnEveryLine) {
  EventJsonOptions keep;
  keep.keep_recorded_at = true;
  NewEvent event;
  Status status = EventFromJson(BaseWorld()[0], &event, keep);
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field(), "recorded_at");
  EXPECT_EQ(status.event_id(), "e-project");
  EXPECT_NE(status.message().find("is required"), std::string::npos) << status.message();
  for (const json& bad : {json("2021-01-04"), json(1609750800000000), json("2021-01-04T25:00:00Z")}) {
    json line = BaseWorld()[0];
    line["recorded_at"] = bad;
    status = EventFromJson(line, &event, keep);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(status.field(), "recorded_at") << bad;
  }
  // Without the option the ledger-assigned keys are ignored, whatever they hold (an export re-imported).
  json line = BaseWorld()[0];
  line["recorded_at"] = "yesterday";
  line["recorded_at_asserted"] = true;
  ASSERT_TRUE(EventFromJson(line, &event).ok());
  EXPECT_FALSE(event.asserted_recorded_at_micros.has_value());
  line["recorded_at"] = "2021-01-04T09:00:00.5Z";
  ASSERT_TRUE(EventFromJson(line, &event, keep).ok());
  EXPECT_EQ(event.asserted_recorded_at_micros, Utc("2021-01-04T09:00:00Z") + 500000);
}

TEST(MigrationTest, ObservedAndAssertedEventsInOneBatchStayInOrder) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  ASSERT_TRUE(AppendMigrated(*store, MigratedWorld()).ok());
  EventJsonOptions keep;
  keep.keep_recorded_at = true;
  auto asserted = [&](json line) {
    NewEvent event;
    EXPECT_TRUE(EventFromJson(line, &event, keep).ok());
    return event;
  };
  // Observed (now) and then asserted (before now): the asserted one would go back in time.
  std::vector<NewEvent> batch;
  batch.push_back(asserted(Migrated(Delivery("d1", "D-1", "2021-02-01"), "2021-02-02T10:00:00Z")));
  batch.push_back(di::testing::Event(Delivery("d2", "D-2", "2021-02-01")));
  batch.push_back(asserted(Migrated(Delivery("d3", "D-3", "2021-02-01"), "2021-02-03T10:00:00Z")));
  AppendResult result;
  const uint64_t head = store->Head().position;
  Status status = store->Append(batch, &result);
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.event_id(), "d3");
  EXPECT_EQ(status.field(), "recorded_at");
  EXPECT_EQ(store->Head().position, head);

  batch.pop_back();
  ASSERT_TRUE(store->Append(batch, &result).ok());
  EXPECT_EQ(ById(*store, "d1").reader().getRecordedAtMicros(), Utc("2021-02-02T10:00:00Z"));
  EXPECT_EQ(ById(*store, "d2").reader().getRecordedAtMicros(), kNow);
  EXPECT_FALSE(ById(*store, "d2").reader().getRecordedAtAsserted());
  ExpectVerifies(*store);
}

// The order is checked in the writer against the real predecessor: a migrator racing with live appends either
// lands before them or is refused, and the log never goes back in time.
TEST(MigrationTest, ConcurrentAppendsNeverMakeRecordedTimesDecrease) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  ASSERT_TRUE(AppendMigrated(*store, MigratedWorld()).ok());
  constexpr int kBatches = 60;
  std::vector<Status> migrated(kBatches);
  std::atomic<bool> go{false};
  std::thread migrator([&] {
    while (!go) std::this_thread::yield();
    for (int i = 0; i < kBatches; ++i) {
      char time[32];
      std::snprintf(time, sizeof(time), "2021-02-01T%02d:%02d:00Z", 10 + i / 60, i % 60);
      migrated[i] = AppendMigrated(
          *store, {Migrated(Delivery("m" + std::to_string(i), "D-M" + std::to_string(i), "2021-01-20"), time)});
    }
  });
  std::thread live([&] {
    while (!go) std::this_thread::yield();
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(AppendJson(*store, {Delivery("o" + std::to_string(i), "D-O" + std::to_string(i), "2021-01-21")}).ok());
    }
  });
  go = true;
  migrator.join();
  live.join();

  const std::vector<int64_t> times = RecordedTimes(*store);
  for (size_t i = 1; i < times.size(); ++i) ASSERT_LE(times[i - 1], times[i]) << "position " << i + 1;
  for (int i = 0; i < kBatches; ++i) {
    StoredEvent event;
    const Status found = store->GetByEventId("m" + std::to_string(i), &event);
    if (migrated[i].ok()) {
      ASSERT_TRUE(found.ok());
      EXPECT_TRUE(event.reader().getRecordedAtAsserted());
      EXPECT_LT(event.reader().getRecordedAtMicros(), kNow);
    } else {
      EXPECT_EQ(migrated[i].code(), StatusCode::kInvalidArgument) << migrated[i].ToString();
      EXPECT_EQ(migrated[i].field(), "recorded_at");
      EXPECT_EQ(found.code(), StatusCode::kNotFound) << "a refused batch appended nothing";
    }
  }
  EXPECT_EQ(store->Head().recorded_at_micros, kNow);  // the live appends came last, at the latest
  ExpectVerifies(*store);
}

TEST(MigrationTest, ARetryMustAssertTheTimeThatWasRecorded) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  std::vector<json> world = MigratedWorld();
  AppendResult first, retry;
  ASSERT_TRUE(AppendMigrated(*store, world, &first).ok());
  ASSERT_TRUE(AppendMigrated(*store, world, &retry).ok());  // a migration run again after a failure
  EXPECT_EQ(retry.appended, 0u);
  EXPECT_EQ(retry.positions, first.positions);
  ASSERT_TRUE(AppendJson(*store, {BaseWorld()[2]}, &retry).ok());  // not asserting anything: a plain retry
  EXPECT_EQ(retry.positions[0], first.positions[2]);

  world[2]["recorded_at"] = "2021-01-04T09:02:01Z";
  const Status status = AppendMigrated(*store, world);
  ASSERT_EQ(status.code(), StatusCode::kDuplicateId) << status.ToString();
  EXPECT_EQ(status.event_id(), world[2]["id"]);
  EXPECT_NE(status.message().find("with recorded_at 2021-01-04T09:02:00.000000Z, not 2021-01-04T09:02:01.000000Z"),
            std::string::npos)
      << status.message();
  EXPECT_EQ(store->Head().position, world.size());
}

// Verify checks the writer's promise on its own: a log whose recorded times go back fails at that position, even
// with every chain hash recomputed (what a tamperer who rewrites a time without a signed checkpoint could do).
TEST(MigrationTest, VerifyFindsARecordedTimeThatGoesBack) {
  TempDir dir;
  const uint64_t last = MigratedWorld().size();
  Hash before_last{};
  {
    auto store = OpenStore(dir.path(), FixedClock());
    ASSERT_TRUE(AppendMigrated(*store, MigratedWorld()).ok());
    before_last = ById(*store, MigratedWorld()[last - 2]["id"]).hash;
  }
  di::testing::RewriteLogValue(dir.path(), last, [&](std::string* value) {
    const CanonicalMessage<schema::RecordedEvent> body(CopyToWords(value->substr(32)));
    capnp::MallocMessageBuilder message;
    message.setRoot(body.reader());
    auto recorded = message.getRoot<schema::RecordedEvent>();
    recorded.setRecordedAtMicros(Utc("2021-01-04T08:00:00Z"));
    const kj::Array<capnp::word> words = capnp::canonicalize(recorded.asReader());
    const std::string_view bytes(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
    const Hash hash = di::testing::ChainHashOracle(before_last, bytes);
    value->assign(reinterpret_cast<const char*>(hash.data()), hash.size());
    value->append(bytes);
  });
  auto store = OpenStore(dir.path(), FixedClock());
  VerifyReport report;
  ASSERT_TRUE(store->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, last);
  EXPECT_NE(report.problem.find("recorded_at 2021-01-04T08:00:00.000000Z is before the previous event's"),
            std::string::npos)
      << report.problem;
}

// EVOLUTION RULES of events.capnp: a field added later must not change an old event's bytes. Golden values from
// the schema before `recordedAtAsserted` existed (git show <before>:ledger/schema/events.capnp, then `capnp
// convert text:canonical` of this record, and its chain hash after 32 zero bytes with sha256sum).
TEST(MigrationTest, ObservedEventsKeepTheBytesAndHashOfTheSchemaBeforeTheFlag) {
  capnp::MallocMessageBuilder event_message;
  auto event = event_message.initRoot<schema::Event>();
  event.setId("e-move");
  event.setEffectiveDate(DaysFromCivil(2021, 7, 1));
  event.setActor("test");
  auto moved = event.initPayload().initResidenceChanged();
  moved.setPersonId("P-C1");
  moved.setMunicipalityId("M-2");
  // Built as the store builds it (event_store_writer.cc, CanonicalRecordedEvent), the flag left alone.
  capnp::MallocMessageBuilder message;
  auto recorded = message.initRoot<schema::RecordedEvent>();
  recorded.setPosition(7);
  recorded.setRecordedAtMicros(1626307200123456);
  recorded.setStream("person/P-C1");
  recorded.setStreamVersion(3);
  recorded.setEvent(event.asReader());
  const kj::Array<capnp::word> words = capnp::canonicalize(recorded.asReader());
  const std::string_view bytes(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
  std::string hex;
  for (unsigned char byte : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  EXPECT_EQ(hex,
            "000000000300020007000000000000004082f5261ec70500030000000000000005000000620000000800000001000400706572736f"
            "6e2f502d4331000000000079490000090000000d0000003a0000000d0000002a000000000000000000000008000000000002006"
            "52d6d6f766500007465737400000000050000002a0000000500000022000000502d4331000000004d2d320000000000");
  EXPECT_EQ(HashToHex(ChainHash(Hash{}, bytes)), "c8b9210bf1aa55d1bc5fa70d28305bbe61f9175eacb36c0f5125bad6b14bb2bd");

  // Flagged, the record is another one (one more data word), so its hash is another one too.
  recorded.setRecordedAtAsserted(true);
  const kj::Array<capnp::word> flagged = capnp::canonicalize(recorded.asReader());
  EXPECT_EQ(flagged.size(), words.size() + 1);
}

// ---- Export and offline verification --------------------------------------------------------------------

SigningKey TestKey() {
  std::array<uint8_t, 32> seed;
  seed.fill(7);
  SigningKey key;
  EXPECT_TRUE(SigningKey::FromSeed(seed, &key).ok());
  return key;
}

std::vector<std::string> ExportLines(EventStore& store) {
  std::vector<std::string> lines;
  EXPECT_TRUE(store.ReadLog(1, 0, [&](const StoredEvent& event) {
                     lines.push_back(StoredEventToJson(event).dump());
                     return true;
                   }).ok());
  return lines;
}

ExportVerifyReport VerifyLines(const std::vector<std::string>& lines, const PublicKey& key) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  std::istringstream input(text);
  ExportVerifyReport report;
  EXPECT_TRUE(VerifyExport(input, key, &report).ok());
  return report;
}

TEST(MigrationTest, ExportsWithAndWithoutMigratedEventsVerifyAndTheFlagIsCovered) {
  ASSERT_GE(sodium_init(), 0);
  const SigningKey key = TestKey();
  TempDir dir;
  auto store = OpenStore(dir.Sub("migrated"), FixedClock());
  ASSERT_TRUE(AppendMigrated(*store, MigratedWorld()).ok());
  CheckpointResult checkpoint;
  ASSERT_TRUE(store->AppendCheckpoint(key, &checkpoint).ok());
  ASSERT_TRUE(AppendJson(*store, {Delivery("d1", "D-1", "2021-02-01")}).ok());
  ASSERT_TRUE(store->AppendCheckpoint(key, &checkpoint).ok());
  std::vector<std::string> lines = ExportLines(*store);
  ExportVerifyReport report = VerifyLines(lines, key.public_key());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events, lines.size());
  EXPECT_EQ(report.head_hash, store->Head().hash);

  // An export whose line drops the flag (or adds it) is another history: the chain breaks at that line.
  const std::string flag = "\"recorded_at_asserted\":true,";
  std::vector<std::string> unflagged = lines;
  ASSERT_NE(unflagged[4].find(flag), std::string::npos);
  unflagged[4].erase(unflagged[4].find(flag), flag.size());
  report = VerifyLines(unflagged, key.public_key());
  EXPECT_EQ(report.first_bad_position, 5u);
  EXPECT_NE(report.problem.find("hash mismatch"), std::string::npos) << report.problem;
  std::vector<std::string> flagged = lines;
  const size_t stream_key = flagged.back().find("\"stream\"");
  ASSERT_EQ(flagged.back().find(flag), std::string::npos);
  flagged.back().insert(stream_key, flag);
  report = VerifyLines(flagged, key.public_key());
  EXPECT_EQ(report.first_bad_position, flagged.size());

  // A store without migrated events exports as before and verifies.
  auto plain = OpenStore(dir.Sub("plain"), FixedClock());
  ASSERT_TRUE(AppendJson(*plain, BaseWorld()).ok());
  ASSERT_TRUE(plain->AppendCheckpoint(key, &checkpoint).ok());
  const std::vector<std::string> plain_lines = ExportLines(*plain);
  for (const std::string& line : plain_lines) EXPECT_EQ(line.find("recorded_at_asserted"), std::string::npos);
  report = VerifyLines(plain_lines, key.public_key());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
}

// ---- Known at a time before what a query names was recorded ---------------------------------------------

TEST(MigrationTest, KnownAtBeforeTheFirstEventOrBeforeASubjectExplainsTheEmptyAnswer) {
  TempDir dir;
  auto store = OpenStore(dir.path(), FixedClock());
  ASSERT_TRUE(AppendMigrated(*store, MigratedWorld()).ok());
  using projections::QuerySubject;
  uint64_t position = 0;
  std::string note;

  // Before the first event: nothing was known; a municipality recorded later is no reason for a 404.
  ASSERT_TRUE(projections::ResolveKnownAt(*store, "2020-12-31", &position).ok());
  EXPECT_EQ(position, 0u);
  ASSERT_TRUE(projections::ExplainNotYetKnown(*store, {{"municipality", "M-2"}}, "2020-12-31", position, &note).ok());
  EXPECT_NE(note.find("known at '2020-12-31' is before the first recorded event (position 1, recorded at "
                      "2021-01-04T09:00:00.000000Z); nothing was known yet"),
            std::string::npos)
      << note;
  // An id the store never recorded stays an error, whatever the known-at.
  const Status typo = projections::ExplainNotYetKnown(*store, {{"municipality", "M-22"}}, "2020-12-31", position, &note);
  EXPECT_EQ(typo.code(), StatusCode::kNotFound);
  EXPECT_NE(typo.message().find("no municipality 'M-22'"), std::string::npos);

  // After e-m1 (09:01) and before e-m2 (09:02): M-1 is known, M-2 not yet.
  ASSERT_TRUE(projections::ResolveKnownAt(*store, "2021-01-04T09:01:30Z", &position).ok());
  EXPECT_EQ(position, 2u);
  ASSERT_TRUE(projections::ExplainNotYetKnown(*store, {{"municipality", "M-1"}}, "2021-01-04T09:01:30Z", position, &note)
                  .ok());
  EXPECT_EQ(note, "");
  ASSERT_TRUE(projections::ExplainNotYetKnown(*store, {{"project", ""}, {"municipality", "M-2"}},
                                              "2021-01-04T09:01:30Z", position, &note)
                  .ok());
  EXPECT_EQ(note,
            "municipality 'M-2' was not known yet as known at '2021-01-04T09:01:30Z' (position 2): it was first "
            "recorded at position 3, recorded at 2021-01-04T09:02:00.000000Z");
  // Known now: no note.
  ASSERT_TRUE(projections::ExplainNotYetKnown(*store, {{"municipality", "M-2"}}, "", projections::kKnownNow, &note).ok());
  EXPECT_EQ(note, "");
}

}  // namespace
}  // namespace di::ledger
