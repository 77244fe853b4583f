// The funding journal (issue #15) against the naive fold it replaces, which stays as the oracle: on seeded region
// histories and fuzzy histories (cap boundaries, late deliveries, corrections and voids of claimed deliveries,
// amendments, suspensions, budget amendments, new rules), folded event by event, at random known-at positions:
//   * the journal's cells as of random valid dates == ComputeFunding on the model as known then (every cell, to the
//     cent, and the same rows);
//   * incremental == rebuild: a journal reset on the model as known then has the same cells;
//   * the changes between two known-at positions A < B, grouped as the report asks, give the naive report at A and at
//     B for every row, move only the rows whose figures differ, and name only events recorded in (A, B].
// The journal on disk (JournalStore, followed by a JournalProjector that resumes half way), with a small image stride:
//   * the funding report as known at random positions and valid dates, from an image and the records after it ==
//     ComputeFunding on the model as known then, document for document (rows, totals, budgets, errors);
//   * a store the log does not confirm is cleared and recomputed.
// A failing seed reproduces: every choice comes from the seed and is printed in the trace.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "di/projections/funding_changes.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_entitlements.h"
#include "di/projections/journal_funding.h"
#include "di/projections/journal_indicators.h"
#include "di/projections/journal_reconciliation.h"
#include "di/projections/journal_store.h"
#include "di/projections/replay.h"
#include "di/workload/fuzzy_history.h"
#include "di/workload/region_history.h"
#include "test_util.h"
#include "world.h"

namespace di::projections {
namespace {

using di::testing::OpenStore;
using di::testing::TempDir;

ledger::EventStoreOptions Unsynced() {  // these stores are never crashed: fsync would only add time
  ledger::EventStoreOptions options;
  options.sync = false;
  return options;
}

// Appends what the ledger accepts of `history`, one event at a time (the fuzzy generator's invalid events are
// refused and leave nothing behind).
void AppendAccepted(ledger::EventStore& store, const std::vector<nlohmann::json>& history) {
  for (const nlohmann::json& json : history) {
    std::vector<ledger::NewEvent> batch(1);
    if (!ledger::EventFromJson(json, &batch[0]).ok()) continue;
    ledger::AppendResult result;
    (void)store.Append(batch, &result);  // a refusal is expected for the generator's invalid events
  }
}

std::vector<nlohmann::json> RegionHistory(uint64_t seed) {
  std::vector<nlohmann::json> history = {di::testing::DefaultRulesEvent("default")};
  workload::SimulateOptions options;
  options.seed = seed;
  options.persons = 24;
  std::stringstream lines;
  workload::WriteSimulatedHistory(options, lines);
  for (std::string line; std::getline(lines, line);) history.push_back(nlohmann::json::parse(line));
  return history;
}

std::string Describe(const FundingRowKey& key) {
  return key.project_id + "|" + key.territory_id + "|" + key.municipality_id + "|" + key.service + "|" +
         key.provider_id + "|" + key.mode + "|" + key.month;
}

std::string Describe(const FundingFigures& f) {
  return nlohmann::json(FundingFiguresToJson(f)).dump();
}

// The naive report's rows (every dimension, the provider and the mode too) as cells.
std::map<FundingRowKey, FundingFigures> NaiveCells(const LedgerModel& model, int32_t valid_date) {
  FundingReport report;
  FundingQuery every_dimension;
  every_dimension.group_by = {"project", "territory", "municipality", "service", "provider", "mode", "month"};
  EXPECT_TRUE(ComputeFunding(model, valid_date, every_dimension, &report).ok());
  std::map<FundingRowKey, FundingFigures> cells;
  for (const FundingRow& row : report.rows) cells[row.Key()] = row.figures;
  return cells;
}

// The journal's cells that are rows (a contribution is in them); a cell with money and no row is a defect.
std::map<FundingRowKey, FundingFigures> RowCells(const FundingCells& cells) {
  std::map<FundingRowKey, FundingFigures> rows;
  for (const auto& [key, cell] : cells.ToMap()) {
    EXPECT_GE(cell.presence, 0) << Describe(key);
    if (cell.presence > 0) rows[key] = cell.figures;
    else EXPECT_EQ(cell.figures, FundingFigures{}) << "money in a cell that is no row: " << Describe(key);
  }
  return rows;
}

void ExpectSameCells(const std::map<FundingRowKey, FundingFigures>& expected,
                     const std::map<FundingRowKey, FundingFigures>& actual, const std::string& what) {
  if (expected == actual) return;
  std::set<FundingRowKey> keys;
  for (const auto& [key, figures] : expected) keys.insert(key);
  for (const auto& [key, figures] : actual) keys.insert(key);
  int shown = 0;
  for (const FundingRowKey& key : keys) {
    auto e = expected.find(key), a = actual.find(key);
    const std::string want = e == expected.end() ? "(no row)" : Describe(e->second);
    const std::string got = a == actual.end() ? "(no row)" : Describe(a->second);
    if (want != got && shown++ < 5) ADD_FAILURE() << what << ": " << Describe(key) << "\n  naive:   " << want << "\n  journal: " << got;
  }
}

// A pair (A, B) in progress: what was known at A.
struct OpenPair {
  uint64_t position = 0;
  int32_t valid_date = 0;
  FundingQuery query;
  FundingCells journal_cells;
  FundingReport naive;
  size_t changes_before = 0;
};

FundingQuery RandomQuery(std::mt19937_64& random, const LedgerModel& model) {
  FundingQuery query;
  for (const char* dimension : {"project", "territory", "municipality", "service", "provider", "mode", "month"}) {
    if (random() % 2) query.group_by.push_back(dimension);
  }
  if (random() % 4 == 0 && !model.municipalities().empty()) {
    auto it = model.municipalities().begin();
    std::advance(it, static_cast<long>(random() % model.municipalities().size()));
    query.municipality_id = it->first;
  }
  return query;
}

void CheckChanges(const OpenPair& pair, const LedgerModel& model, const std::vector<FundingChange>& changes) {
  FundingChangesQuery query;
  query.funding = pair.query;
  query.from_position = pair.position;
  query.to_position = model.last_position();
  query.valid_date = pair.valid_date;
  const std::vector<FundingChange> between(changes.begin() + static_cast<long>(pair.changes_before), changes.end());
  FundingChangesReport report;
  ASSERT_TRUE(AssembleFundingChanges(pair.journal_cells, between, query, &report).ok());
  FundingReport naive;
  ASSERT_TRUE(ComputeFunding(model, pair.valid_date, pair.query, &naive).ok());
  EXPECT_EQ(report.totals_from, pair.naive.totals) << Describe(report.totals_from) << " " << Describe(pair.naive.totals);
  EXPECT_EQ(report.totals_to, naive.totals) << Describe(report.totals_to) << " " << Describe(naive.totals);
  std::map<FundingRowKey, FundingFigures> at_from, at_to;
  for (const FundingRow& row : pair.naive.rows) at_from[row.Key()] = row.figures;
  for (const FundingRow& row : naive.rows) at_to[row.Key()] = row.figures;
  std::set<FundingRowKey> moved;
  for (const ChangedRow& row : report.rows) {
    moved.insert(row.key);
    EXPECT_EQ(row.at_from, at_from[row.key]) << Describe(row.key);
    EXPECT_EQ(row.at_to, at_to[row.key]) << Describe(row.key);
    for (const RowMove& move : row.moves) {
      EXPECT_GT(move.position, pair.position) << Describe(row.key);
      EXPECT_LE(move.position, model.last_position()) << Describe(row.key);
    }
  }
  // Every row whose figures differ between A and B is listed with its moves.
  std::set<FundingRowKey> keys;
  for (const auto& [key, figures] : at_from) keys.insert(key);
  for (const auto& [key, figures] : at_to) keys.insert(key);
  for (const FundingRowKey& key : keys) {
    if (at_from[key] != at_to[key]) {
      EXPECT_TRUE(moved.count(key)) << "not listed as changed: " << Describe(key);
    }
  }
}

// Up to `count` persons of `model` to ask entitlements about: mostly grant holders (their caps), now and then anyone
// (a parent without a grant, a person not enrolled yet).
std::vector<std::string> RandomPersons(std::mt19937_64& random, const LedgerModel& model, int count) {
  std::vector<std::string> holders, anyone;
  for (const auto& [id, person] : model.persons()) {
    anyone.push_back(id);
    if (!model.GrantsOfPerson(id).empty()) holders.push_back(id);
  }
  std::vector<std::string> chosen;
  for (int i = 0; i < count && !anyone.empty(); ++i) {
    const std::vector<std::string>& from = holders.empty() || random() % 5 == 0 ? anyone : holders;
    chosen.push_back(from[random() % from.size()]);
  }
  return chosen;
}

// A reconciliation query: every claim, or one claim, project or claiming municipality of `model`'s.
ReconciliationQuery RandomReconciliationQuery(std::mt19937_64& random, const LedgerModel& model) {
  ReconciliationQuery query;
  auto pick = [&](const auto& map) {
    auto it = map.begin();
    std::advance(it, static_cast<long>(random() % map.size()));
    return it->first;
  };
  switch (random() % 4) {
    case 1: if (!model.claims().empty()) query.claim_id = pick(model.claims()); break;
    case 2: if (!model.projects().empty()) query.project_id = pick(model.projects()); break;
    case 3: if (!model.municipalities().empty()) query.municipality_id = pick(model.municipalities()); break;
    default: break;
  }
  return query;
}

// A reconciliation as a document (or the error), and how many lines it has.
std::string ReconciliationDocument(const Status& status, const std::vector<ClaimReconciliation>& claims,
                                   int32_t valid_date, uint64_t position, size_t* lines = nullptr) {
  if (lines != nullptr) {
    for (const ClaimReconciliation& claim : claims) *lines += claim.lines.size();
  }
  return status.ok() ? ReconciliationToJson(claims, valid_date, position).dump() : status.ToString();
}

// The naive line facts of a delivery: the model's facts and DecideEligibility's decision (`decisions`: every live
// delivery's, by id).
ClaimLineFacts NaiveLineFacts(const LedgerModel& model, const std::map<std::string, const DeliveryDecision*>& decisions,
                              const std::string& delivery_id) {
  ClaimLineFacts facts = DeliveryLineFacts(model, delivery_id);
  if (auto decision = decisions.find(delivery_id); decision != decisions.end()) {
    facts.decided = true;
    facts.outcome = OutcomeOf(*decision->second);
  }
  return facts;
}

// An indicators query: every project and municipality, or one of `model`'s projects or municipalities.
std::pair<std::string, std::string> RandomIndicatorsQuery(std::mt19937_64& random, const LedgerModel& model) {
  std::pair<std::string, std::string> query;  // project, municipality
  if (random() % 3 == 1 && !model.projects().empty()) {
    auto it = model.projects().begin();
    std::advance(it, static_cast<long>(random() % model.projects().size()));
    query.first = it->first;
  }
  if (random() % 3 == 2 && !model.municipalities().empty()) {
    auto it = model.municipalities().begin();
    std::advance(it, static_cast<long>(random() % model.municipalities().size()));
    query.second = it->first;
  }
  return query;
}

std::string IndicatorsDocument(const Status& status, const IndicatorsReport& report) {
  return status.ok() ? IndicatorsToJson(report).dump() : status.ToString();
}

// Every person's member facts as the naive fold gives them (the first day receiving from deciding every delivery).
std::map<std::string, IndicatorMember> NaiveMembers(const LedgerModel& model) {
  const std::map<std::string, int32_t> receiving = FirstReceivingOf(model);
  std::map<std::string, IndicatorMember> members;
  for (const auto& [id, person] : model.persons()) {
    IndicatorMember member = MemberFactsOf(model, person);
    if (auto first = receiving.find(id); first != receiving.end()) member.first_receiving = first->second;
    members.emplace(id, std::move(member));
  }
  return members;
}

// Entitlements as ComputeEntitlements gives them on `model`, as a document (or the error).
std::string NaiveEntitlements(const LedgerModel& model, const std::string& person, int32_t valid_date,
                              bool explain = false) {
  Entitlements naive;
  const Status status = ComputeEntitlements(model, person, valid_date, &naive, explain);
  return status.ok() ? EntitlementsToJson(naive).dump() : status.ToString();
}

// Folds the store event by event into a model and a journal, checking at `samples` random positions.
void CheckJournalOnStore(ledger::EventStore& store, uint64_t seed, int samples) {
  std::mt19937_64 random(seed * 7919 + 17);
  const uint64_t head = store.Head().position;
  ASSERT_GT(head, 10u);
  std::set<uint64_t> sample_positions = {head};
  while (static_cast<int>(sample_positions.size()) < samples) sample_positions.insert(1 + random() % head);
  const int32_t first_day = ledger::DaysFromCivil(2015, 6, 1), last_day = ledger::DaysFromCivil(2024, 1, 31);
  auto random_day = [&] { return first_day + static_cast<int32_t>(random() % (last_day - first_day + 1)); };
  LedgerModel model;
  FundingJournal journal;
  std::vector<FundingChange> changes;
  std::optional<OpenPair> pair;
  Status undecodable = Status::Ok();
  int sample = 0;
  Status status = store.ReadLog(1, 0, [&](const ledger::StoredEvent& event) {
    if (!ApplyOrReport(event, &model, &undecodable)) return false;
    journal.Follow(model, event, &changes);
    if (!sample_positions.count(event.position)) return true;
    ++sample;
    const int32_t valid_dates[] = {random_day(), random_day(), last_day};
    for (int32_t valid_date : valid_dates) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", known at " + std::to_string(event.position) + ", valid at " +
                   ledger::FormatDate(valid_date));
      const FundingCells cells = journal.CellsAsOf(valid_date);
      ExpectSameCells(NaiveCells(model, valid_date), RowCells(cells), "journal != naive");
      if (sample % 3 == 0) {
        FundingJournal rebuilt;
        rebuilt.Reset(model);
        ExpectSameCells(RowCells(cells), RowCells(rebuilt.CellsAsOf(valid_date)), "incremental != rebuild");
      }
    }
    {
      // The report from the journal == the naive report, document for document (rows, totals, budgets).
      const int32_t valid_date = valid_dates[0];
      FundingQuery query = RandomQuery(random, model);
      query.explain = random() % 2 == 0;  // the events per row from the model's facts, none decided
      FundingReport naive, from_journal;
      EXPECT_TRUE(ComputeFunding(model, valid_date, query, &naive).ok());
      EXPECT_TRUE(ComputeFundingFromJournal(journal, model, valid_date, query, &from_journal).ok());
      EXPECT_EQ(FundingToJson(from_journal).dump(), FundingToJson(naive).dump())
          << "seed " << seed << ", known at " << event.position << ", valid at " << ledger::FormatDate(valid_date)
          << (query.explain ? ", explained" : "");
    }
    {
      // Every delivery's line facts from the journal == the model's facts and deciding every delivery; and the
      // reconciliation from them == the naive one.
      const EligibilityResult every = DecideEligibility(model, ledger::kNoDate);
      for (const DeliveryDecision& decision : every.decisions) {
        ClaimLineFacts from_journal = LineFactsFromJournal(journal, model, decision.delivery_id);
        EXPECT_TRUE(from_journal.decided) << decision.delivery_id;
        EXPECT_EQ(from_journal.outcome, OutcomeOf(decision)) << decision.delivery_id;
      }
      for (const auto& [id, delivery] : model.deliveries()) {
        DecisionOutcome outcome;
        if (delivery.voided) {
          EXPECT_FALSE(journal.DecisionOf(id, &outcome)) << id << " is voided";
        }
      }
      const int32_t valid_date = random() % 3 ? random_day() : last_day;
      const ReconciliationQuery query = RandomReconciliationQuery(random, model);
      std::vector<ClaimReconciliation> naive, from_journal;
      const Status naive_status = ComputeReconciliation(model, valid_date, query, &naive);
      const Status journal_status = ComputeReconciliationFromJournal(journal, model, valid_date, query, &from_journal);
      EXPECT_EQ(ReconciliationDocument(journal_status, from_journal, valid_date, event.position),
                ReconciliationDocument(naive_status, naive, valid_date, event.position))
          << "seed " << seed << ", reconciliation known at " << event.position << ", valid at "
          << ledger::FormatDate(valid_date);
    }
    {
      // Every person's first day receiving services from the journal == deciding every delivery; the indicators
      // from the journal == the naive ones.
      const std::map<std::string, int32_t> receiving = FirstReceivingOf(model);
      for (const auto& [id, person] : model.persons()) {
        auto first = receiving.find(id);
        EXPECT_EQ(journal.FirstReceivingOf(id), first == receiving.end() ? ledger::kNoDate : first->second) << id;
      }
      const int32_t valid_date = random() % 3 ? random_day() : last_day;
      const auto [project, municipality] = RandomIndicatorsQuery(random, model);
      IndicatorsReport naive, from_journal;
      const Status naive_status = ComputeIndicators(model, valid_date, project, municipality, &naive);
      const Status journal_status =
          ComputeIndicatorsFromJournal(journal, model, valid_date, project, municipality, &from_journal);
      EXPECT_EQ(IndicatorsDocument(journal_status, from_journal), IndicatorsDocument(naive_status, naive))
          << "seed " << seed << ", indicators known at " << event.position << ", valid at "
          << ledger::FormatDate(valid_date);
    }
    // Entitlements from the journal's usage (explained: and its decisions) == deciding the family's deliveries.
    for (const std::string& person : RandomPersons(random, model, 4)) {
      const int32_t valid_date = random_day();
      const bool explain = random() % 2 == 0;
      Entitlements from_journal;
      const Status status = ComputeEntitlementsFromJournal(journal, model, person, valid_date, &from_journal, explain);
      EXPECT_EQ(status.ok() ? EntitlementsToJson(from_journal).dump() : status.ToString(),
                NaiveEntitlements(model, person, valid_date, explain))
          << "seed " << seed << ", person " << person << ", known at " << event.position << ", valid at "
          << ledger::FormatDate(valid_date) << (explain ? ", explained" : "");
    }
    if (pair) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", changes of (" + std::to_string(pair->position) + ", " +
                   std::to_string(event.position) + "] valid at " + ledger::FormatDate(pair->valid_date));
      CheckChanges(*pair, model, changes);
    }
    pair.emplace();
    pair->position = event.position;
    pair->valid_date = random() % 3 ? random_day() : last_day;
    pair->query = RandomQuery(random, model);
    pair->journal_cells = journal.CellsAsOf(pair->valid_date);
    EXPECT_TRUE(ComputeFunding(model, pair->valid_date, pair->query, &pair->naive).ok());
    pair->changes_before = changes.size();
    return !::testing::Test::HasFailure();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_TRUE(undecodable.ok()) << undecodable.ToString();
  EXPECT_EQ(sample, samples);
}

class FundingJournalRegionTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(FundingJournalRegionTest, EqualsTheNaiveFoldAtRandomKnownAtAndValidDates) {
  TempDir dir;
  auto store = OpenStore(dir.path(), Unsynced());
  AppendAccepted(*store, RegionHistory(GetParam()));
  CheckJournalOnStore(*store, GetParam(), 10);
}
INSTANTIATE_TEST_SUITE_P(Seeds, FundingJournalRegionTest, ::testing::Values(1, 2, 3));

class FundingJournalFuzzyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(FundingJournalFuzzyTest, EqualsTheNaiveFoldAtRandomKnownAtAndValidDates) {
  TempDir dir;
  auto store = OpenStore(dir.path(), Unsynced());
  workload::FuzzyHistoryOptions options;
  options.persons = 10 + static_cast<int>(GetParam() % 16);
  AppendAccepted(*store, workload::FuzzyHistory(GetParam(), options));
  CheckJournalOnStore(*store, GetParam(), 16);
}
INSTANTIATE_TEST_SUITE_P(Seeds, FundingJournalFuzzyTest, ::testing::Range<uint64_t>(1, 9));

// Projects the journal store in two runs (the second resumes from what the first wrote), then compares the report as
// known at random positions with the naive fold's.
void CheckJournalStoreOnStore(ledger::EventStore& store, const std::string& journal_dir, uint64_t seed, int samples) {
  std::mt19937_64 random(seed * 104729 + 3);
  const uint64_t head = store.Head().position;
  ASSERT_GT(head, 10u);
  JournalStoreOptions options;
  options.image_stride = 17 + random() % 60;
  options.batch_events = 1 + random() % 40;
  SCOPED_TRACE("seed " + std::to_string(seed) + ", image stride " + std::to_string(options.image_stride) +
               ", batches of " + std::to_string(options.batch_events));
  std::unique_ptr<JournalStore> journal;
  ASSERT_TRUE(JournalStore::Open(journal_dir, options, &journal).ok());
  {
    JournalProjector first(journal.get());
    ASSERT_TRUE(first.CatchUp(store, nullptr, head / 2).ok());
    ASSERT_EQ(journal->position(), head / 2);
  }
  JournalProjector resumed(journal.get());
  ASSERT_TRUE(resumed.CatchUp(store, nullptr, kKnownNow).ok());
  ASSERT_EQ(journal->position(), head);
  FundingCells cells;
  FundingContext context;
  Status beyond = journal->CellsAsKnownAt(head + 1, 0, &cells, &context);
  EXPECT_EQ(beyond.code(), ledger::StatusCode::kInvalidArgument);
  EXPECT_EQ(beyond.field(), "known_at");

  std::set<uint64_t> sample_positions = {head, head / 2, 1};
  while (static_cast<int>(sample_positions.size()) < samples) sample_positions.insert(1 + random() % head);
  LedgerModel at_head;  // the scopes of entitlements come from a current model, as the server's live one
  ASSERT_TRUE(LoadModel(store, nullptr, kKnownNow, &at_head).ok());
  const int32_t first_day = ledger::DaysFromCivil(2015, 6, 1), last_day = ledger::DaysFromCivil(2024, 1, 31);
  LedgerModel model;
  FundingJournal in_memory;
  std::vector<FundingChange> changes;
  Status undecodable = Status::Ok();
  size_t reconciled_lines = 0;  // the reconciliations compared are not all empty
  size_t explained_positions = 0;  // nor the explained funding reports
  Status status = store.ReadLog(1, 0, [&](const ledger::StoredEvent& event) {
    if (!ApplyOrReport(event, &model, &undecodable)) return false;
    in_memory.Follow(model, event, &changes);
    if (!sample_positions.count(event.position)) return true;
    {
      const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
      EXPECT_TRUE(journal->CellsAsKnownAt(event.position, valid_date, &cells, &context).ok());
      ExpectSameCells(RowCells(in_memory.CellsAsOf(valid_date)), RowCells(cells),
                      "store != journal at " + std::to_string(event.position));
    }
    for (int i = 0; i < 3; ++i) {
      const int32_t valid_date = i == 2 ? last_day : first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
      FundingQuery query = RandomQuery(random, model);
      query.explain = i != 1;  // the events per row: the line facts and the claims as the store knows them then
      FundingReport naive, from_store;
      const Status naive_status = ComputeFunding(model, valid_date, query, &naive);
      const Status store_status =
          ComputeFundingFromStore(store, *journal, event.position, valid_date, query, &from_store);
      EXPECT_EQ(store_status.ToString(), naive_status.ToString());
      EXPECT_EQ(FundingToJson(from_store).dump(), FundingToJson(naive).dump())
          << "known at " << event.position << ", valid at " << ledger::FormatDate(valid_date)
          << (query.explain ? ", explained" : "");
      for (const FundingRow& row : from_store.rows) explained_positions += row.positions.size();
    }
    {
      // The store's list of claims as known then == the model's.
      std::vector<ClaimHead> heads;
      EXPECT_TRUE(journal->ClaimsAsKnownAt(event.position, &heads).ok());
      std::vector<ClaimHead> expected;
      for (const auto& [id, claim] : model.claims()) {
        expected.push_back(ClaimHead{id, claim.project_id, claim.municipality_id, claim.positions.front()});
      }
      EXPECT_TRUE(heads == expected) << "claims known at " << event.position;
    }
    // Reconciliation from the store (the claims folded, the lines' facts read) == the naive one; and the line facts
    // of random deliveries as known then == the model's and its decisions.
    for (int i = 0; i < 2; ++i) {
      const int32_t valid_date = i == 1 ? last_day : first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
      const ReconciliationQuery query = RandomReconciliationQuery(random, model);
      std::vector<ClaimReconciliation> naive, from_store;
      const Status naive_status = ComputeReconciliation(model, valid_date, query, &naive);
      const Status store_status =
          ComputeReconciliationFromStore(store, *journal, event.position, valid_date, query, &from_store);
      EXPECT_EQ(ReconciliationDocument(store_status, from_store, valid_date, event.position, &reconciled_lines),
                ReconciliationDocument(naive_status, naive, valid_date, event.position))
          << "reconciliation known at " << event.position << ", valid at " << ledger::FormatDate(valid_date);
    }
    {
      // Every delivery's line facts as known then (corrections that change no figure but the delivery's positions
      // included) == the model's facts and its decision.
      const EligibilityResult every = DecideEligibility(model, ledger::kNoDate);
      std::map<std::string, const DeliveryDecision*> decisions;
      for (const DeliveryDecision& decision : every.decisions) decisions[decision.delivery_id] = &decision;
      for (const auto& [delivery_id, delivery] : at_head.deliveries()) {
        ClaimLineFacts from_store;
        EXPECT_TRUE(journal->LineAsKnownAt(event.position, delivery_id, &from_store).ok());
        EXPECT_EQ(from_store, NaiveLineFacts(model, decisions, delivery_id))
            << "delivery " << delivery_id << " known at " << event.position;
      }
    }
    {
      // Every person's member facts as known then == the naive fold's (a person only referenced, never enrolled,
      // may have none); the indicators from the store == the naive ones.
      std::vector<IndicatorMember> stored;
      EXPECT_TRUE(journal->MembersAsKnownAt(event.position, &stored).ok());
      const std::map<std::string, IndicatorMember> naive_members = NaiveMembers(model);
      std::set<std::string> stored_ids;
      for (const IndicatorMember& member : stored) {
        stored_ids.insert(member.person_id);
        auto naive = naive_members.find(member.person_id);
        if (naive == naive_members.end()) {
          ADD_FAILURE() << member.person_id << " is not known at " << event.position;
          continue;
        }
        EXPECT_TRUE(naive->second == member) << member.person_id << " known at " << event.position;
      }
      for (const auto& [id, member] : naive_members) {
        if (member.enrolled) {
          EXPECT_TRUE(stored_ids.count(id)) << id << " known at " << event.position;
        }
      }
      for (int i = 0; i < 2; ++i) {
        const int32_t valid_date =
            i == 1 ? last_day : first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
        const auto [project, municipality] = RandomIndicatorsQuery(random, model);
        IndicatorsReport naive, from_store;
        const Status naive_status = ComputeIndicators(model, valid_date, project, municipality, &naive);
        const Status store_status = ComputeIndicatorsFromStore(store, *journal, event.position, valid_date, project,
                                                               municipality, &from_store);
        EXPECT_EQ(IndicatorsDocument(store_status, from_store), IndicatorsDocument(naive_status, naive))
            << "indicators known at " << event.position << ", valid at " << ledger::FormatDate(valid_date);
      }
    }
    // Entitlements from the store (the family's facts folded, the usage and, explained, the decisions read) ==
    // deciding the family's deliveries.
    for (const std::string& person : RandomPersons(random, at_head, 5)) {
      const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
      const bool explain = random() % 2 == 0;
      Entitlements from_store;
      ScopedLoadStats stats;
      // The scope the store keeps (what the CLI reads) is the head model's.
      PersonScope scope;
      bool found = false;
      EXPECT_TRUE(journal->ReadScope(person, &scope, &found).ok());
      const PersonScope expected_scope = ScopeStreamsOf(at_head, person);
      if (at_head.FindPerson(person)->enrolled) {
        EXPECT_TRUE(found) << person;
        EXPECT_EQ(scope.streams, expected_scope.streams) << person;
      }
      const Status status = ComputeEntitlementsFromStore(store, *journal, found ? scope : expected_scope,
                                                         event.position, valid_date, &from_store, &stats, explain);
      const std::string naive =
          model.FindPerson(person) == nullptr ? "" : NaiveEntitlements(model, person, valid_date, explain);
      if (naive.empty()) continue;  // not known yet: the server and the CLI answer with a note before asking
      EXPECT_EQ(status.ok() ? EntitlementsToJson(from_store).dump() : status.ToString(), naive)
          << "person " << person << ", known at " << event.position << ", valid at " << ledger::FormatDate(valid_date)
          << (explain ? ", explained" : "");
    }
    return !::testing::Test::HasFailure();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_TRUE(undecodable.ok()) << undecodable.ToString();
  EXPECT_GT(reconciled_lines, 0u);
  EXPECT_GT(explained_positions, 0u);
  // What changed between two positions, from the store's records == from a journal reset at A and following to B.
  for (int i = 0; i < 4; ++i) {
    FundingChangesQuery query;
    query.from_position = random() % head;
    query.to_position = query.from_position + random() % (head - query.from_position + 1);
    query.valid_date = i == 0 ? last_day : first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
    query.funding = RandomQuery(random, model);
    query.funding.municipality_id.clear();  // the report validates it against the model as known then
    SCOPED_TRACE("changes of (" + std::to_string(query.from_position) + ", " + std::to_string(query.to_position) + "]");
    FundingChangesReport from_store, followed;
    ASSERT_TRUE(ComputeFundingChangesFromStore(store, *journal, query, &from_store).ok());
    ASSERT_TRUE(ComputeFundingChanges(store, nullptr, query, &followed).ok());
    EXPECT_EQ(FundingChangesToJson(from_store).dump(), FundingChangesToJson(followed).dump());
    // As of the last day, a few hundred events of a region's history always move some figure.
    if (i == 0 && query.to_position - query.from_position > 300) {
      EXPECT_FALSE(followed.events.empty());
    }
  }
}

class JournalStoreRegionTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(JournalStoreRegionTest, AnswersAsKnownAtAnyPositionLikeTheNaiveFold) {
  TempDir dir;
  auto store = OpenStore(dir.path() + "/store", Unsynced());
  AppendAccepted(*store, RegionHistory(GetParam()));
  CheckJournalStoreOnStore(*store, dir.path() + "/journal", GetParam(), 12);
}
INSTANTIATE_TEST_SUITE_P(Seeds, JournalStoreRegionTest, ::testing::Values(4, 5));

class JournalStoreFuzzyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(JournalStoreFuzzyTest, AnswersAsKnownAtAnyPositionLikeTheNaiveFold) {
  TempDir dir;
  auto store = OpenStore(dir.path() + "/store", Unsynced());
  workload::FuzzyHistoryOptions options;
  options.persons = 10 + static_cast<int>(GetParam() % 16);
  AppendAccepted(*store, workload::FuzzyHistory(GetParam(), options));
  CheckJournalStoreOnStore(*store, dir.path() + "/journal", GetParam(), 16);
}
INSTANTIATE_TEST_SUITE_P(Seeds, JournalStoreFuzzyTest, ::testing::Range<uint64_t>(11, 17));

TEST(JournalStoreTest, AStoreTheLogDoesNotConfirmIsClearedAndRecomputed) {
  TempDir dir;
  auto region = OpenStore(dir.path() + "/region", Unsynced());
  AppendAccepted(*region, RegionHistory(7));
  auto other = OpenStore(dir.path() + "/other", Unsynced());
  AppendAccepted(*other, RegionHistory(8));
  std::unique_ptr<JournalStore> journal;
  ASSERT_TRUE(JournalStore::Open(dir.path() + "/journal", {}, &journal).ok());
  ASSERT_TRUE(JournalProjector(journal.get()).CatchUp(*region, nullptr, kKnownNow).ok());
  ASSERT_EQ(journal->position(), region->Head().position);
  bool cleared = false;
  ASSERT_TRUE(journal->Confirm(*region, &cleared).ok());
  EXPECT_FALSE(cleared);
  // The same directory read against another log: its hash at the journal's position differs.
  ASSERT_TRUE(journal->Confirm(*other, &cleared).ok());
  EXPECT_TRUE(cleared);
  EXPECT_EQ(journal->position(), 0u);
  ASSERT_TRUE(JournalProjector(journal.get()).CatchUp(*other, nullptr, kKnownNow).ok());
  LedgerModel model;
  ASSERT_TRUE(LoadModel(*other, nullptr, kKnownNow, &model).ok());
  const int32_t valid_date = ledger::DaysFromCivil(2024, 1, 31);
  FundingCells cells;
  FundingContext context;
  ASSERT_TRUE(journal->CellsAsKnownAt(model.last_position(), valid_date, &cells, &context).ok());
  FundingReport naive, from_store;
  ASSERT_TRUE(ComputeFunding(model, valid_date, {}, &naive).ok());
  ASSERT_TRUE(ComputeFundingFromCells(cells, context, valid_date, model.last_position(), {}, &from_store).ok());
  EXPECT_EQ(FundingToJson(from_store).dump(), FundingToJson(naive).dump());
  EXPECT_GT(naive.rows.size(), 10u);
}

}  // namespace
}  // namespace di::projections
