// Projection checkpoints: the answers must not depend on the path that built the model.
//   * a snapshot decodes to a model that re-encodes byte for byte and gives identical reports;
//   * incremental (snapshot at P1 + fold to P2) == rebuild (fold 1..P2), byte for byte;
//   * rebuild twice == the same digests; LoadModel with checkpoints == the naive full replay for random
//     known-at positions;
//   * a restart resumes from the newest snapshot and folds only what came after;
//   * stale snapshots (another store, a store restored to an earlier head) and damaged ones are discarded;
//   * the family-scoped eligibility behind `entitlements` equals deciding every delivery;
//   * a person-scoped model answers entitlements as the full model as known then, also under family-wide caps.
#include <rocksdb/db.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "di/ledger/civil_date.h"
#include "di/projections/checkpoint.h"
#include "di/projections/default_rules.h"
#include "di/projections/eligibility.h"
#include "di/projections/entitlements.h"
#include "di/projections/person_scope.h"
#include "di/projections/replay.h"
#include "projection_answers.h"
#include "test_util.h"
#include "world.h"

namespace di::projections {
namespace {

using di::testing::AllAnswers;
using di::testing::OpenStore;
using di::testing::SimulatedRegionEvents;
using di::testing::TempDir;

void Append(ledger::EventStore& store, const std::vector<ledger::NewEvent>& events, size_t begin, size_t end) {
  for (size_t first = begin; first < end; first += 1000) {
    std::vector<ledger::NewEvent> batch;
    for (size_t i = first; i < std::min(end, first + 1000); ++i) {
      ledger::NewEvent copy;
      copy.event = ledger::CanonicalMessage<schema::Event>(ledger::CopyToWords(events[i].event.bytes()));
      batch.push_back(std::move(copy));
    }
    ledger::AppendResult result;
    ledger::Status status = store.Append(batch, &result);
    ASSERT_TRUE(status.ok()) << status.ToString() << " (events " << first << ".." << std::min(end, first + 1000) << ")";
  }
}

std::string PersonId(uint64_t number) {
  std::string digits = std::to_string(number);
  return "P-" + std::string(6 - digits.size(), '0') + digits;
}

CheckpointOptions SmallInterval(uint64_t interval) {
  CheckpointOptions options;
  options.interval_events = interval;
  options.max_snapshots = 6;
  return options;
}

class CheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { history_ = new std::vector<ledger::NewEvent>(SimulatedRegionEvents(21, 25)); }
  static void TearDownTestSuite() {
    delete history_;
    history_ = nullptr;
  }
  static const std::vector<ledger::NewEvent>& history() { return *history_; }

  static std::vector<ledger::NewEvent>* history_;
};
std::vector<ledger::NewEvent>* CheckpointTest::history_ = nullptr;

TEST_F(CheckpointTest, SnapshotRoundTripIsByteIdenticalAndAnswersTheSame) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  const uint64_t head = store->Head().position;
  ASSERT_GT(head, 5000u);
  for (uint64_t position : {uint64_t{1}, uint64_t{2}, head / 3, head / 2 + 7, head}) {
    SCOPED_TRACE("position " + std::to_string(position));
    LedgerModel folded;
    ASSERT_TRUE(ReplayInto(*store, position, &folded).ok());
    const std::string snapshot = folded.EncodeSnapshot();
    LedgerModel decoded;
    ASSERT_TRUE(decoded.DecodeSnapshot(snapshot).ok());
    EXPECT_EQ(decoded.last_position(), position);
    EXPECT_EQ(decoded.EncodeSnapshot(), snapshot);
    EXPECT_EQ(decoded.rules() != nullptr, folded.rules() != nullptr);
    for (int32_t valid : {ledger::DaysFromCivil(2019, 6, 30), ledger::DaysFromCivil(2023, 12, 31)}) {
      EXPECT_EQ(AllAnswers(decoded, valid, PersonId(3)), AllAnswers(folded, valid, PersonId(3)));
    }
  }
}

TEST_F(CheckpointTest, DamagedSnapshotBytesAreRefusedNotMisread) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, 3000);
  LedgerModel folded;
  ASSERT_TRUE(ReplayInto(*store, kKnownNow, &folded).ok());
  const std::string snapshot = folded.EncodeSnapshot();
  LedgerModel decoded;
  EXPECT_FALSE(decoded.DecodeSnapshot(snapshot.substr(0, snapshot.size() - 1)).ok()) << "truncated";
  EXPECT_FALSE(decoded.DecodeSnapshot(snapshot + "x").ok()) << "trailing bytes";
  EXPECT_FALSE(decoded.DecodeSnapshot("DIMODEL2" + snapshot.substr(8)).ok()) << "another magic";
  EXPECT_FALSE(decoded.DecodeSnapshot("").ok());
  EXPECT_EQ(decoded.last_position(), 0u) << "a failed decode leaves an empty model";
  // Every single-byte truncation point fails cleanly (no crash, no partial model).
  std::mt19937_64 random(5);
  for (int i = 0; i < 200; ++i) {
    const size_t cut = random() % snapshot.size();
    EXPECT_FALSE(decoded.DecodeSnapshot(snapshot.substr(0, cut)).ok()) << "cut at " << cut;
  }
}

TEST_F(CheckpointTest, IncrementalEqualsRebuildByteForByte) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  const uint64_t head = store->Head().position;
  std::mt19937_64 random(77);
  for (int round = 0; round < 6; ++round) {
    const uint64_t first = 1 + random() % head;
    const uint64_t second = first + random() % (head - first + 1);
    SCOPED_TRACE("fold to " + std::to_string(first) + ", snapshot, fold on to " + std::to_string(second));
    LedgerModel incremental;
    ASSERT_TRUE(ReplayInto(*store, first, &incremental).ok());
    LedgerModel resumed;
    ASSERT_TRUE(resumed.DecodeSnapshot(incremental.EncodeSnapshot()).ok());
    ASSERT_TRUE(FoldForward(*store, nullptr, second, &resumed).ok());
    LedgerModel rebuilt;
    ASSERT_TRUE(ReplayInto(*store, second, &rebuilt).ok());
    EXPECT_EQ(resumed.EncodeSnapshot(), rebuilt.EncodeSnapshot());
  }
}

TEST_F(CheckpointTest, RebuildTwiceGivesTheSameSnapshotsAndAgreesWithTheIncrementalPath) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(dir.Sub("projections"), SmallInterval(2000), &checkpoints).ok());
  CheckpointInfo first, second;
  LoadReport report;
  ASSERT_TRUE(Rebuild(*store, *checkpoints, &first, &report).ok());
  EXPECT_EQ(report.events_folded, store->Head().position);
  std::vector<CheckpointInfo> first_list, second_list;
  ASSERT_TRUE(checkpoints->List(&first_list).ok());
  ASSERT_TRUE(Rebuild(*store, *checkpoints, &second).ok());
  ASSERT_TRUE(checkpoints->List(&second_list).ok());
  EXPECT_EQ(first.snapshot_digest, second.snapshot_digest);
  ASSERT_EQ(first_list.size(), second_list.size());
  for (size_t i = 0; i < first_list.size(); ++i) {
    EXPECT_EQ(first_list[i].position, second_list[i].position);
    EXPECT_EQ(first_list[i].snapshot_digest, second_list[i].snapshot_digest);
  }
  EXPECT_LE(first_list.size(), 6u) << "thinned to max_snapshots";
  // The incremental path: an empty checkpoint store, models loaded at rising known-at positions (each
  // resuming from the snapshots the previous ones wrote), ends at the same state as the rebuild.
  TempDir other;
  std::unique_ptr<CheckpointStore> incremental;
  ASSERT_TRUE(CheckpointStore::Open(other.path(), SmallInterval(2000), &incremental).ok());
  const uint64_t head = store->Head().position;
  for (uint64_t known_at : {head / 5, head / 2, head - 1, head}) {
    LedgerModel model;
    ASSERT_TRUE(LoadModel(*store, incremental.get(), known_at, &model).ok());
  }
  LedgerModel from_snapshots;
  LoadReport resumed;
  ASSERT_TRUE(LoadModel(*store, incremental.get(), kKnownNow, &from_snapshots, &resumed).ok());
  EXPECT_GT(resumed.snapshot_position, 0u);
  EXPECT_EQ(SnapshotDigest(from_snapshots.EncodeSnapshot()), first.snapshot_digest);
}

TEST_F(CheckpointTest, CheckpointedAnswersEqualTheNaiveReplayForRandomAsOfPairs) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(dir.Sub("projections"), SmallInterval(1500), &checkpoints).ok());
  const uint64_t head = store->Head().position;
  std::mt19937_64 random(2024);
  const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2023, 12, 31);
  uint64_t resumed_from_snapshot = 0;
  for (int pair = 0; pair < 10; ++pair) {
    const uint64_t known_at = pair == 0 ? kKnownNow : 1 + random() % head;
    const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
    const std::string person = PersonId(1 + random() % 25);
    SCOPED_TRACE("known_at " + std::to_string(known_at) + " valid " + ledger::FormatDate(valid_date) + " " + person);
    LedgerModel fast, naive;
    LoadReport report;
    ASSERT_TRUE(LoadModel(*store, checkpoints.get(), known_at, &fast, &report).ok());
    ASSERT_TRUE(ReplayInto(*store, known_at, &naive).ok());
    if (report.snapshot_position != 0) ++resumed_from_snapshot;
    EXPECT_EQ(fast.last_position(), naive.last_position());
    EXPECT_EQ(AllAnswers(fast, valid_date, person), AllAnswers(naive, valid_date, person));
  }
  EXPECT_GT(resumed_from_snapshot, 5u) << "the fast path was hardly exercised";
}

TEST_F(CheckpointTest, RestartResumesFromTheNewestSnapshotAndFoldsOnlyTheTail) {
  TempDir dir;
  const size_t split = history().size() * 2 / 3;
  {
    auto store = OpenStore(dir.path());
    Append(*store, history(), 0, split);
    std::unique_ptr<CheckpointStore> checkpoints;
    ASSERT_TRUE(CheckpointStore::Open(dir.Sub("projections"), SmallInterval(1000), &checkpoints).ok());
    LedgerModel model;
    LoadReport report;
    ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &model, &report).ok());
    EXPECT_EQ(report.snapshot_position, 0u);
    EXPECT_GT(report.snapshots_written, 1u);
  }
  const uint64_t first_head = split;  // positions are dense from 1
  {
    auto store = OpenStore(dir.path());
    Append(*store, history(), split, history().size());
  }
  auto store = OpenStore(dir.path());
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(dir.Sub("projections"), SmallInterval(1000), &checkpoints).ok());
  LedgerModel resumed;
  LoadReport report;
  const uint64_t head = store->Head().position;
  ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &resumed, &report).ok());
  // The newest snapshot is at the last multiple of 1000 at or below the new head (written while folding
  // before the restart or at the first head); only what follows it is folded.
  EXPECT_GE(report.snapshot_position, first_head - first_head % 1000);
  EXPECT_EQ(report.events_folded, head - report.snapshot_position);
  EXPECT_LT(report.events_folded, head - first_head + 1000);
  LedgerModel naive;
  ASSERT_TRUE(ReplayInto(*store, kKnownNow, &naive).ok());
  EXPECT_EQ(resumed.EncodeSnapshot(), naive.EncodeSnapshot());
}

TEST_F(CheckpointTest, SnapshotsOfAnotherHistoryOrBeyondTheHeadAreDiscarded) {
  // Chain hashes include the recording time, so stores that share a history are copies of one store:
  // A at 1000 events is copied to B (an operator's copy) and to C; then each goes its own way.
  TempDir dir_a, dir_b, dir_c;
  {
    auto store_a = OpenStore(dir_a.path());
    Append(*store_a, history(), 0, 1000);
  }
  std::filesystem::copy(dir_a.path(), dir_b.path(), std::filesystem::copy_options::recursive);
  {
    auto store_a = OpenStore(dir_a.path());
    Append(*store_a, history(), 1000, 2200);
  }
  std::filesystem::copy(dir_a.path(), dir_c.path(), std::filesystem::copy_options::recursive);
  auto store_a = OpenStore(dir_a.path());
  Append(*store_a, history(), 2200, 4000);
  // B: one event A does not have at position 1001, then A's events 1001.. one place later.
  auto store_b = OpenStore(dir_b.path());
  std::vector<ledger::NewEvent> divergence;
  divergence.push_back(di::testing::Event(
      {{"id", "rules-again"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"}, {"actor", "test"},
       {"data", {{"rule_set_id", "MK313"}, {"title", "again"},
                 {"document", nlohmann::json::parse(DefaultRulesDocument())}}}}));
  Append(*store_b, divergence, 0, 1);
  Append(*store_b, history(), 1000, 4000);
  // C: A as it was at 2200 events, as if restored from a backup taken then.
  auto store_c = OpenStore(dir_c.path());

  TempDir checkpoints_dir;
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(checkpoints_dir.path(), SmallInterval(500), &checkpoints).ok());
  LedgerModel model;
  ASSERT_TRUE(LoadModel(*store_a, checkpoints.get(), kKnownNow, &model).ok());  // A's snapshots up to 4000
  std::vector<CheckpointInfo> listed;
  ASSERT_TRUE(checkpoints->List(&listed).ok());
  ASSERT_EQ(listed.size(), 6u);
  EXPECT_EQ(listed.front().position, 1000u) << "thinning keeps the spread: 1000, 2000, 2500, 3000, 3500, 4000";

  // Against C, the snapshots beyond its head (2200) are discarded; 2000 is confirmed and used.
  LedgerModel on_c;
  LoadReport c_report;
  ASSERT_TRUE(LoadModel(*store_c, checkpoints.get(), kKnownNow, &on_c, &c_report).ok());
  EXPECT_EQ(c_report.snapshot_position, 2000u);
  LedgerModel naive_c;
  ASSERT_TRUE(ReplayInto(*store_c, kKnownNow, &naive_c).ok());
  EXPECT_EQ(on_c.EncodeSnapshot(), naive_c.EncodeSnapshot());
  // ...and once the restored store records new events, A's later snapshots name other events there.
  Append(*store_c, history(), 2200, 3100);
  LoadReport c_later;
  ASSERT_TRUE(LoadModel(*store_c, checkpoints.get(), kKnownNow, &on_c, &c_later).ok());
  EXPECT_EQ(c_later.snapshot_position, 2000u);
  EXPECT_EQ(c_later.snapshots_discarded, 2u) << "A's 3000 and 2500: C recorded other events there";
  ASSERT_TRUE(ReplayInto(*store_c, kKnownNow, &(naive_c = LedgerModel())).ok());
  EXPECT_EQ(on_c.EncodeSnapshot(), naive_c.EncodeSnapshot());

  // Against B, the 2000 snapshot names another event: discarded; 1000 (the shared past) is used.
  LedgerModel on_b;
  LoadReport b_report;
  ASSERT_TRUE(LoadModel(*store_b, checkpoints.get(), 3500, &on_b, &b_report).ok());
  EXPECT_EQ(b_report.snapshot_position, 1000u);
  EXPECT_GE(b_report.snapshots_discarded, 1u);
  LedgerModel naive_b;
  ASSERT_TRUE(ReplayInto(*store_b, 3500, &naive_b).ok());
  EXPECT_EQ(on_b.EncodeSnapshot(), naive_b.EncodeSnapshot());
}

TEST_F(CheckpointTest, ADamagedSnapshotInTheDatabaseIsDiscardedAndTheAnswerStaysRight) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, 3000);
  const std::string path = dir.Sub("projections");
  {
    std::unique_ptr<CheckpointStore> checkpoints;
    ASSERT_TRUE(CheckpointStore::Open(path, SmallInterval(1000), &checkpoints).ok());
    LedgerModel model;
    ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &model).ok());
  }
  {
    // Flip one byte inside the newest snapshot's bytes, behind the checkpoint store's back.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    std::string key = it->key().ToString(), value = it->value().ToString();
    value[64 + value.size() / 2 - 32] ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(path, SmallInterval(1000), &checkpoints).ok());
  LedgerModel model;
  LoadReport report;
  ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &model, &report).ok());
  EXPECT_EQ(report.snapshots_discarded, 1u);
  EXPECT_EQ(report.snapshot_position, 2000u);
  LedgerModel naive;
  ASSERT_TRUE(ReplayInto(*store, kKnownNow, &naive).ok());
  EXPECT_EQ(model.EncodeSnapshot(), naive.EncodeSnapshot());
}

// List reads each snapshot's small "info/" record, not the snapshot. A database from before those records (only
// "snapshot/" keys, no marker) gets them when opened, with the same figures, and only then: once the marker is
// there, an open reads no snapshot. Clear and thinning remove both keys.
TEST_F(CheckpointTest, SnapshotInfoRecordsAreAddedToOlderDatabasesAndRemovedWithTheirSnapshots) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, 3500);
  const std::string path = dir.Sub("projections");
  std::vector<CheckpointInfo> listed;
  {
    std::unique_ptr<CheckpointStore> checkpoints;
    ASSERT_TRUE(CheckpointStore::Open(path, SmallInterval(1000), &checkpoints).ok());
    LedgerModel model;
    ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &model).ok());
    ASSERT_TRUE(checkpoints->List(&listed).ok());
  }
  ASSERT_GE(listed.size(), 3u);
  auto count_keys = [&](std::string_view prefix) {
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    size_t count = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) count += it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
    return count;
  };
  EXPECT_EQ(count_keys("info/"), listed.size());
  EXPECT_EQ(count_keys("snapshot/"), listed.size());
  auto delete_behind_the_back = [&](const std::string& from, const std::string& to) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->DeleteRange(rocksdb::WriteOptions(), db->DefaultColumnFamily(), from, to).ok());
  };
  // Info records gone but the marker there: the open trusts the marker and does not scan the snapshots.
  delete_behind_the_back("info/", "info0");
  EXPECT_EQ(count_keys("info/"), 0u);
  EXPECT_EQ(count_keys("meta/info-records"), 1u);
  {
    std::unique_ptr<CheckpointStore> checkpoints;
    ASSERT_TRUE(CheckpointStore::Open(path, SmallInterval(1000), &checkpoints).ok());
    std::vector<CheckpointInfo> none;
    ASSERT_TRUE(checkpoints->List(&none).ok());
    EXPECT_TRUE(none.empty());
  }
  // The format before info records: no marker either.
  delete_behind_the_back("meta/", "meta0");
  EXPECT_EQ(count_keys("meta/info-records"), 0u);
  std::unique_ptr<CheckpointStore> checkpoints;
  ASSERT_TRUE(CheckpointStore::Open(path, SmallInterval(1000), &checkpoints).ok());
  std::vector<CheckpointInfo> relisted;
  ASSERT_TRUE(checkpoints->List(&relisted).ok());
  ASSERT_EQ(relisted.size(), listed.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(relisted[i].position, listed[i].position);
    EXPECT_EQ(relisted[i].event_hash, listed[i].event_hash);
    EXPECT_EQ(relisted[i].snapshot_digest, listed[i].snapshot_digest);
    EXPECT_EQ(relisted[i].snapshot_bytes, listed[i].snapshot_bytes);
    EXPECT_GT(listed[i].snapshot_bytes, 0u);
  }
  // Thinning to 2 removes the info of what it drops; Clear removes everything.
  LedgerModel model;
  ASSERT_TRUE(LoadModel(*store, checkpoints.get(), kKnownNow, &model).ok());
  ledger::Hash head_hash{};
  ASSERT_TRUE(store->ReadLog(model.last_position(), 1, [&](const ledger::StoredEvent& event) {
                      head_hash = event.hash;
                      return false;
                    }).ok());
  CheckpointOptions two = SmallInterval(1000);
  two.max_snapshots = 2;
  std::unique_ptr<CheckpointStore> thinning;
  checkpoints.reset();
  ASSERT_TRUE(CheckpointStore::Open(path, two, &thinning).ok());
  ASSERT_TRUE(thinning->Save(model, head_hash, nullptr).ok());
  std::vector<CheckpointInfo> thinned;
  ASSERT_TRUE(thinning->List(&thinned).ok());
  EXPECT_EQ(thinned.size(), 2u);
  ASSERT_TRUE(thinning->Clear().ok());
  thinning.reset();
  EXPECT_EQ(count_keys("info/"), 0u);
  EXPECT_EQ(count_keys("snapshot/"), 0u);
}

TEST_F(CheckpointTest, FamilyScopedEligibilityEqualsDecidingEveryDelivery) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  LedgerModel model;
  ASSERT_TRUE(ReplayInto(*store, kKnownNow, &model).ok());
  for (int32_t valid : {ledger::DaysFromCivil(2018, 2, 28), ledger::DaysFromCivil(2021, 7, 4), ledger::kNoDate}) {
    const EligibilityResult all = DecideEligibility(model, valid);
    std::map<std::string, const DeliveryDecision*> by_delivery;
    for (const DeliveryDecision& decision : all.decisions) by_delivery[decision.delivery_id] = &decision;
    size_t compared = 0, scoped_persons = 0;
    for (const auto& [person_id, person] : model.persons()) {
      const std::set<std::string> scope = ScopeOfPerson(model, person_id);
      if (scope.size() > 1) ++scoped_persons;
      const EligibilityResult scoped = DecideEligibility(model, valid, &scope);
      for (const DeliveryDecision& decision : scoped.decisions) {
        const DeliveryDecision& reference = *by_delivery.at(decision.delivery_id);
        ASSERT_EQ(decision.eligible_quantity, reference.eligible_quantity) << decision.delivery_id;
        ASSERT_EQ(decision.eligible_cost_cents, reference.eligible_cost_cents) << decision.delivery_id;
        ASSERT_EQ(decision.reason, reference.reason) << decision.delivery_id;
        ++compared;
      }
    }
    EXPECT_GT(compared, all.decisions.size() / 2);
    EXPECT_GT(scoped_persons, 0u) << "no family with more than one member: the scope was not exercised";
  }
}

// The default rules with two family-wide caps (scope "family", docs/rules.md §3.4), so that a person's
// answer depends on the grants of the other members of the family:
//   * respite-year per family instead of per child, the Kurzeme reading (KU 11) mk313.json names;
//   * rehabilitation-family-year, a cap the rule set does not have: 12 sessions a calendar year for the
//     child's and the parent's rehabilitation together (child-rehab-* and parent-rehab-* rules).
// Respite alone is not enough in a small history: siblings who both receive respite are rare (no family in the
// fixture's history; none in 40 simulated 25-person histories, seeds 1..40), while a child in rehabilitation
// whose parent also attends it is common.
constexpr const char* kPooledRehabilitationCap = "rehabilitation-family-year";
constexpr const char* kFamilyRespiteCap = "respite-year";

std::string FamilyCapRulesDocument() {
  nlohmann::json document = nlohmann::json::parse(DefaultRulesDocument());
  const nlohmann::json pooled = {
      {"id", kPooledRehabilitationCap}, {"quantity", 12}, {"period", "year"}, {"scope", "family"}};
  int respite_caps = 0, rehabilitation_rules = 0;
  for (nlohmann::json& rule : document["rules"]) {
    const nlohmann::json& services = rule["services"];
    if (rule.contains("caps")) {
      for (nlohmann::json& cap : rule["caps"]) {
        if (cap["id"] == kFamilyRespiteCap) {
          cap["scope"] = "family";
          ++respite_caps;
        }
      }
    }
    if (services.size() == 1 &&
        (services[0] == "child_rehabilitation" || services[0] == "parent_rehabilitation")) {
      rule["caps"].push_back(pooled);  // creates the array on a rule without caps
      ++rehabilitation_rules;
    }
  }
  EXPECT_EQ(respite_caps, 1);
  EXPECT_EQ(rehabilitation_rules, 6) << "child-rehab-{unlimited,100,v0}, parent-rehab-{unlimited,2021,v0}";
  return document.dump();
}

// What ScopeStreamsOf would give if it left out the grants of the person's family: every member's person
// stream, the person's own grants only.
PersonScope OwnGrantsOnlyScope(const LedgerModel& current, const std::string& person_id) {
  PersonScope scope;
  scope.person_id = person_id;
  for (const std::string& member : current.FamilyMembers(person_id)) scope.streams.push_back("person/" + member);
  for (const std::string& grant_id : current.GrantsOfPerson(person_id)) scope.streams.push_back("grant/" + grant_id);
  return scope;
}

struct ScopedComparison {
  size_t compared = 0;         // (known-at, valid date, person) triples where the person is known
  size_t with_deliveries = 0;  // ... whose explanation decides at least one delivery
  // Only with `check_family_reach`:
  std::set<std::string> pooled_persons;  // compared persons with another family member holding grants
  size_t answers_needing_family_grants = 0;  // triples the person's own grants alone answer otherwise
  std::set<std::string> persons_needing_family_grants;
  // Deliveries of the person decided less eligible than on the own grants alone, cut short by a family cap.
  std::map<std::string, std::set<std::string>> deliveries_cut_by_family_cap;  // cap id -> delivery ids
};

// A person-scoped model (the rules, the family's person streams and their grant streams, up to the known-at
// position) answers a person's entitlements exactly as the full model as known then: for every person, at
// known-at positions spread over the history (mid-batch ones included), at valid dates before, inside and after
// their grants, with the explanation (every delivery decision, verdict, reason and position) compared too.
// `check_family_reach` also answers from the person's own grants alone (OwnGrantsOnlyScope) and counts where
// that answer differs, i.e. where leaving out the family's grants would have made the comparison fail.
void CompareScopedEntitlements(ledger::EventStore& store, bool check_family_reach,
                               const std::vector<std::string>& family_cap_ids, ScopedComparison* out) {
  LedgerModel head;
  ASSERT_TRUE(ReplayInto(store, kKnownNow, &head).ok());
  const uint64_t last = store.Head().position;
  std::mt19937_64 random(7);
  std::vector<uint64_t> known_ats = {1, 2, last};
  for (int i = 0; i < 10; ++i) known_ats.push_back(1 + random() % last);
  std::vector<int32_t> valid_dates;
  for (const char* date : {"2016-03-01", "2019-06-15", "2021-07-01", "2023-08-31"}) {
    valid_dates.emplace_back();
    ASSERT_TRUE(ledger::ParseDate(date, &valid_dates.back()));
  }
  for (uint64_t known_at : known_ats) {
    LedgerModel full;
    ASSERT_TRUE(ReplayInto(store, known_at, &full).ok());
    for (const auto& [person_id, person] : head.persons()) {
      LedgerModel scoped, own_grants_only;
      const Status loaded = LoadScopedModel(store, ScopeStreamsOf(head, person_id), known_at, &scoped);
      ASSERT_TRUE(loaded.ok()) << loaded.ToString();
      bool pooled = false;
      if (check_family_reach) {
        ASSERT_TRUE(LoadScopedModel(store, OwnGrantsOnlyScope(head, person_id), known_at, &own_grants_only).ok());
        for (const std::string& member : head.FamilyMembers(person_id)) {
          if (member != person_id && !head.GrantsOfPerson(member).empty()) pooled = true;
        }
      }
      for (int32_t valid : valid_dates) {
        Entitlements expected, actual;
        const Status full_status = ComputeEntitlements(full, person_id, valid, &expected, /*explain=*/true);
        const Status scoped_status = ComputeEntitlements(scoped, person_id, valid, &actual, /*explain=*/true);
        ASSERT_EQ(full_status.code(), scoped_status.code()) << person_id << " at " << known_at;
        if (!full_status.ok()) continue;  // not enrolled yet as known then: both say so
        expected.known_at_position = actual.known_at_position = known_at;
        const std::string expected_json = EntitlementsToJson(expected).dump();
        ASSERT_EQ(expected_json, EntitlementsToJson(actual).dump())
            << person_id << " valid " << ledger::FormatDate(valid) << " known at " << known_at;
        ++out->compared;
        if (!expected.deliveries.empty()) ++out->with_deliveries;
        if (!check_family_reach) continue;
        if (pooled) out->pooled_persons.insert(person_id);
        Entitlements own;
        ASSERT_TRUE(ComputeEntitlements(own_grants_only, person_id, valid, &own, /*explain=*/true).ok());
        own.known_at_position = known_at;
        if (EntitlementsToJson(own).dump() == expected_json) continue;
        EXPECT_TRUE(pooled) << person_id << ": only another member's grants can change the answer";
        ++out->answers_needing_family_grants;
        out->persons_needing_family_grants.insert(person_id);
        std::map<std::string, int64_t> own_eligible;
        for (const DeliveryDecision& decision : own.deliveries) {
          own_eligible[decision.delivery_id] = decision.eligible_quantity;
        }
        for (const DeliveryDecision& decision : expected.deliveries) {
          const auto found = own_eligible.find(decision.delivery_id);
          if (found == own_eligible.end() || decision.eligible_quantity >= found->second) continue;
          for (const std::string& cap_id : family_cap_ids) {
            if (decision.reason.find("cap " + cap_id + " of ") != std::string::npos) {
              out->deliveries_cut_by_family_cap[cap_id].insert(decision.delivery_id);
              break;
            }
          }
        }
      }
    }
  }
}

// (The default rules have no family-wide cap, so here the other members' grants never change an answer; the
// family scope itself is checked on the live model by FamilyScopedEligibilityEqualsDecidingEveryDelivery and,
// for scoped models, by the next test. A scope without the rules, or without the person's own grants, fails
// this test.)
TEST_F(CheckpointTest, PersonScopedModelsAnswerEntitlementsAsTheFullModelAsKnownThen) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Append(*store, history(), 0, history().size());
  ScopedComparison comparison;
  ASSERT_NO_FATAL_FAILURE(CompareScopedEntitlements(*store, /*check_family_reach=*/false, {}, &comparison));
  EXPECT_GT(comparison.compared, 300u);
  EXPECT_GT(comparison.with_deliveries, 100u)
      << "the comparison must cover decided deliveries, not only empty answers";
}

// The same comparison under rules with family-wide caps (FamilyCapRulesDocument) on the fixture's history
// (its first event, the rules, replaced): a scope that left out the grants of the person's family members
// fails here. The counts make sure it can: answers that differ without the family's grants, and deliveries a
// family cap cut short because of another member's usage.
TEST_F(CheckpointTest, PersonScopedModelsAnswerAsTheFullModelUnderFamilyWideCaps) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const nlohmann::json rules = {
      {"id", "rules"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"}, {"actor", "test"},
      {"data", {{"rule_set_id", "MK313"}, {"title", "family-wide caps"},
                {"document", nlohmann::json::parse(FamilyCapRulesDocument())}}}};
  std::vector<ledger::NewEvent> first;
  first.push_back(di::testing::Event(rules));
  Append(*store, first, 0, 1);
  Append(*store, history(), 1, history().size());  // history()[0] is the default rules (SimulatedRegionEvents)
  ScopedComparison comparison;
  ASSERT_NO_FATAL_FAILURE(CompareScopedEntitlements(*store, /*check_family_reach=*/true,
                                                    {kPooledRehabilitationCap, kFamilyRespiteCap}, &comparison));
  EXPECT_GT(comparison.compared, 300u);
  EXPECT_GT(comparison.with_deliveries, 100u);
  // Measured on this history (seed 21, 25 persons): 1216 triples compared, 503 with deliveries; 12 persons with
  // another member holding grants; 16 answers from 3 persons (P-000004, P-000019, P-000020) differ without the
  // family's grants; 54 of their deliveries cut short by rehabilitation-family-year, none by respite-year (no two
  // members of one family receive respite here). The bounds are about half of that.
  EXPECT_GE(comparison.pooled_persons.size(), 6u) << "too few families with more than one member holding grants";
  EXPECT_GE(comparison.answers_needing_family_grants, 8u)
      << "too few answers depend on the family's grants: leaving them out of the scope would hardly fail";
  EXPECT_GE(comparison.persons_needing_family_grants.size(), 2u);
  EXPECT_GE(comparison.deliveries_cut_by_family_cap[kPooledRehabilitationCap].size(), 20u)
      << "the family-wide cap hardly ever bound because of another member's usage";
}

// Snapshots thin out as the log grows: the stride doubles so that at most max_snapshots strides fit below the
// position, and every multiple of a larger stride is a multiple of the smaller ones.
TEST(SnapshotStrideTest, DoublesSoThatAtMostMaxSnapshotsStridesFitBelowThePosition) {
  CheckpointOptions options;
  options.interval_events = 50000;
  options.max_snapshots = 12;
  EXPECT_EQ(SnapshotStride(options, 1), 50000u);
  EXPECT_EQ(SnapshotStride(options, 600000), 50000u);   // 12 strides: the last one at the interval
  EXPECT_EQ(SnapshotStride(options, 649999), 50000u);
  EXPECT_EQ(SnapshotStride(options, 650000), 100000u);  // 13 would not fit
  EXPECT_EQ(SnapshotStride(options, 1200000), 100000u);
  EXPECT_EQ(SnapshotStride(options, 10000000), 800000u);
  for (uint64_t position = 1; position < 20000000; position = position * 3 + 11) {
    const uint64_t stride = SnapshotStride(options, position);
    EXPECT_LE(position / stride, options.max_snapshots) << position;
    EXPECT_EQ(stride % options.interval_events, 0u) << position;
    if (stride > options.interval_events) EXPECT_GT(position / (stride / 2), options.max_snapshots) << position;
  }
  // A whole rebuild of 10 M events writes O(max_snapshots * log) snapshots, not 200.
  uint64_t written = 0;
  for (uint64_t position = options.interval_events; position <= 10000000; position += options.interval_events) {
    if (position % SnapshotStride(options, position) == 0) ++written;
  }
  EXPECT_LE(written, 12u * 6u);
  EXPECT_GE(written, 12u);
}

}  // namespace
}  // namespace di::projections
