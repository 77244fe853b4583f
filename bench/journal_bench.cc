// journal_bench: the funding journal (issue #15) side by side with the naive fold it replaces, in the same run.
//
// Workload: `simulate --persons N --years Y` imported into a store (bench/simulated_store.h; --reuse keeps it).
//   fold      events/s of the LedgerModel fold alone, and of the fold with the funding journal following it
//             (every event re-deciding what it can change); the ratio is the journal's cost per event.
//   reset     one FundingJournal::Reset on the whole model (what a server does at start).
//   funding   the funding report as known now, Q random (valid date, grouping) pairs: ComputeFunding on the model
//             (decides every delivery) vs ComputeFundingFromJournal (sums the journal's cells); p50/p99, ratio.
//   changes   the changes between two random positions a month of the history apart: ComputeFundingChanges (a
//             journal folded from the checkpoint nearest A) and ComputeFundingChangesFromStore (the store's records),
//             vs what a user would do without them: two past-known-at funding reports (LoadModel + ComputeFunding at
//             each end); p50/p99, ratio.
//   store     the journal on disk (journal_store.h) projected from the log by a JournalProjector: events/s, and its
//             size per event.
//   past      the funding report as known at Q random past positions: LoadModel from the nearest checkpoint +
//             ComputeFunding (today's path) vs the journal store (an image and at most a stride of records);
//             p50/p99, ratio.
//   entitlements  a person's entitlements (random grant holders and valid dates, 20 Q of them): as known now,
//             ComputeEntitlements (decides the family's deliveries) vs ComputeEntitlementsFromJournal (the journal's
//             usage); as known at a random past position, the person-scoped load (the family's streams folded, its
//             deliveries decided) vs ComputeEntitlementsFromStore (the family's facts folded, the usage read).
//   reconciliation  claims' reconciliation (Q questions: one random claim, or a random municipality's claims): as known
//             now, ComputeReconciliation (decides every delivery of the region) vs ComputeReconciliationFromJournal
//             (each line's decision from the journal); as known at a random past position, LoadModel from the nearest
//             checkpoint + ComputeReconciliation vs ComputeReconciliationFromStore (the claims folded, the lines read).
//   indicators  the indicators (Q questions: all, or one municipality): as known now, ComputeIndicators (decides every
//             delivery) vs ComputeIndicatorsFromJournal; as known at a random past position, LoadModel +
//             ComputeIndicators vs ComputeIndicatorsFromStore (each person's facts read, projects and municipalities
//             folded).
//   explain   the explained answers as known at a random past position (Q questions): a municipality's funding with
//             the events per row (LoadModel + ComputeFunding vs the store's line facts and the claims folded), a
//             person's entitlements with the decisions (person-scoped load deciding the family vs the store's).
//   memory    peak RSS.
//
//   build/bench/journal_bench [--persons 300] [--years 8] [--queries 20] [--image-stride 16384] [--dir /tmp/x]
//                             [--reuse] [--only fold|now|store|past|changes|entitlements|reconciliation|indicators|explain]
//   --only fold|now: the model + journal fold alone (now: then the journal's funding as known now); --only store: the
//   journal store projected alone (kept for the other --only rows with --reuse); --only past|changes: that row from a store kept by an earlier --reuse
//   run, not compared with anything (to profile one row).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "di/ledger/civil_date.h"
#include "di/projections/checkpoint.h"
#include "di/projections/funding_changes.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_entitlements.h"
#include "di/projections/journal_funding.h"
#include "di/projections/journal_indicators.h"
#include "di/projections/journal_reconciliation.h"
#include "di/projections/journal_store.h"
#include "di/projections/person_scope.h"
#include "di/projections/replay.h"
#include "simulated_store.h"

namespace di::bench {
namespace {

struct Timings {
  std::vector<double> seconds;
  void Add(Clock::time_point since) { seconds.push_back(SecondsSince(since)); }
  double P(double fraction) const {
    std::vector<double> sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    return Percentile(sorted, fraction);
  }
};

void PrintRow(const char* what, const Timings& ours, const Timings& before) {
  std::printf("| %s | %.1f / %.1f ms | %.1f / %.1f ms | %.1fx |\n", what, before.P(0.5) * 1e3, before.P(0.99) * 1e3,
              ours.P(0.5) * 1e3, ours.P(0.99) * 1e3, ours.P(0.5) > 0 ? before.P(0.5) / ours.P(0.5) : 0.0);
}

// Folds the whole log: the model alone, or the model and a journal following it. Returns events/s.
double Fold(ledger::EventStore& store, bool with_journal, projections::LedgerModel* model,
            projections::FundingJournal* journal) {
  std::vector<projections::FundingChange> changes;
  ledger::Status undecodable = ledger::Status::Ok();
  const auto started = Clock::now();
  Check(store.ReadLog(1, 0,
                      [&](const ledger::StoredEvent& event) {
                        if (!projections::ApplyOrReport(event, model, &undecodable)) return false;
                        if (with_journal) journal->Follow(*model, event, &changes);
                        changes.clear();
                        return true;
                      }),
        "fold");
  Check(undecodable, "decode");
  return static_cast<double>(model->last_position()) / SecondsSince(started);
}

projections::FundingQuery RandomGrouping(std::mt19937_64& random) {
  static const std::vector<std::vector<std::string>> kGroupings = {
      {"month"}, {"territory"}, {"territory", "month"}, {"service", "month"}, {}};
  projections::FundingQuery query;
  query.group_by = kGroupings[random() % kGroupings.size()];
  return query;
}

// The entitlements rows: Q random grant holders of `model` (the head) at random valid dates, as known now (with a
// `journal` following `model`) and as known at random past positions, each answer compared with today's path.
void EntitlementRows(ledger::EventStore& store, projections::JournalStore& journal_store,
                     const projections::LedgerModel& model, const projections::FundingJournal* journal, int queries,
                     int32_t first_day, int32_t last_day, std::mt19937_64& random) {
  std::vector<std::string> holders;
  for (const auto& [id, grant] : model.grants()) holders.push_back(grant.person_id);
  std::sort(holders.begin(), holders.end());
  holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
  if (holders.empty()) Fail("no grant holder to ask about");
  struct Question {
    std::string person;
    uint64_t known_at = 0;
    int32_t valid_date = 0;
    std::string answer;
  };
  std::vector<Question> questions(static_cast<size_t>(queries));
  for (Question& question : questions) {
    question.person = holders[random() % holders.size()];
    question.known_at = 1 + random() % model.last_position();
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
  }
  auto json = [](const projections::Entitlements& entitlements) {
    return projections::EntitlementsToJson(entitlements).dump();
  };
  std::printf("| entitlements of a person (%d questions, p50 / p99) | today | journal | today/journal |\n|---|---|---|---|\n",
              queries);
  if (journal != nullptr) {
    Timings ours, today;
    for (Question& question : questions) {
      projections::Entitlements entitlements;
      const auto started = Clock::now();
      Check(projections::ComputeEntitlementsFromJournal(*journal, model, question.person, question.valid_date,
                                                        &entitlements),
            "entitlements from the journal");
      ours.Add(started);
      question.answer = json(entitlements);
    }
    for (const Question& question : questions) {
      projections::Entitlements entitlements;
      const auto started = Clock::now();
      Check(projections::ComputeEntitlements(model, question.person, question.valid_date, &entitlements),
            "entitlements");
      today.Add(started);
      if (json(entitlements) != question.answer) Fail("the journal's entitlements differ");
    }
    PrintRow("as known now: the family's deliveries decided vs the journal's usage", ours, today);
  }
  Timings ours, today;
  uint64_t facts_events = 0, scoped_events = 0, facts_log_ns = 0, facts_fold_ns = 0;
  for (Question& question : questions) {
    projections::Entitlements entitlements;
    projections::ScopedLoadStats stats;
    const auto started = Clock::now();
    const projections::PersonScope scope = projections::ScopeStreamsOf(model, question.person);
    const ledger::Status status = projections::ComputeEntitlementsFromStore(store, journal_store, scope, question.known_at,
                                                                            question.valid_date, &entitlements, &stats);
    ours.Add(started);
    facts_events += stats.events;
    facts_log_ns += stats.log_nanoseconds;
    facts_fold_ns += stats.fold_nanoseconds;
    question.answer = status.ok() ? json(entitlements) : status.ToString();
  }
  for (const Question& question : questions) {
    projections::Entitlements entitlements;
    projections::LedgerModel scoped;
    projections::ScopedLoadStats stats;
    const auto started = Clock::now();
    const projections::PersonScope scope = projections::ScopeStreamsOf(model, question.person);
    Check(projections::LoadScopedModel(store, scope, question.known_at, &scoped, &stats), "scoped load");
    const ledger::Status status =
        projections::ComputeEntitlements(scoped, question.person, question.valid_date, &entitlements);
    entitlements.known_at_position = question.known_at;
    today.Add(started);
    scoped_events += stats.events;
    // A person not enrolled yet as known then: both say so (the server answers with a note before asking).
    if ((status.ok() ? json(entitlements) : status.ToString()) != question.answer) {
      Fail("the journal store's entitlements differ for " + question.person);
    }
  }
  PrintRow("as known at a random past position: person-scoped load vs the journal store", ours, today);
  std::printf("events folded per question: %.0f (person-scoped) vs %.0f (the family's facts: read in %.0f us, folded "
              "in %.0f us on average)\n\n",
              static_cast<double>(scoped_events) / queries, static_cast<double>(facts_events) / queries,
              static_cast<double>(facts_log_ns) / 1e3 / queries, static_cast<double>(facts_fold_ns) / 1e3 / queries);
}

// One row: `ours(i)` answers question i on the journal's path, all of them first, then `today(i)` on today's path,
// each answer compared with the journal's (one path's garbage does not land in the other's timings).
void CompareRow(const char* what, int questions, const std::function<std::string(int)>& ours,
                const std::function<std::string(int)>& today) {
  Timings ours_timings, today_timings;
  std::vector<std::string> answers;
  for (int i = 0; i < questions; ++i) {
    const auto started = Clock::now();
    answers.push_back(ours(i));
    ours_timings.Add(started);
  }
  for (int i = 0; i < questions; ++i) {
    const auto started = Clock::now();
    const std::string answer = today(i);
    today_timings.Add(started);
    if (answer != answers[static_cast<size_t>(i)]) Fail(std::string("the journal's answer differs: ") + what);
  }
  PrintRow(what, ours_timings, today_timings);
}

// The reconciliation rows: Q questions (a random claim of `model`, the head, or a random claiming municipality's
// claims) as known now (with a `journal` following `model`) and as known at random past positions.
void ReconciliationRows(ledger::EventStore& store, projections::CheckpointStore* checkpoints,
                        projections::JournalStore& journal_store, const projections::LedgerModel& model,
                        const projections::FundingJournal* journal, int queries, int32_t first_day, int32_t last_day,
                        std::mt19937_64& random) {
  if (model.claims().empty()) Fail("no claim to reconcile");
  std::vector<const projections::ClaimFacts*> claims;
  for (const auto& [id, claim] : model.claims()) claims.push_back(&claim);
  struct Question {
    uint64_t known_at = 0;
    int32_t valid_date = 0;
    projections::ReconciliationQuery query;
  };
  std::vector<Question> questions(static_cast<size_t>(queries));
  for (Question& question : questions) {
    const projections::ClaimFacts& claim = *claims[random() % claims.size()];
    if (random() % 2) {
      question.query.claim_id = claim.id;
    } else {
      question.query.municipality_id = claim.municipality_id;
    }
    question.known_at = 1 + random() % model.last_position();
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
  }
  auto json = [](const ledger::Status& status, const std::vector<projections::ClaimReconciliation>& answer,
                 int32_t valid_date, uint64_t known_at) {
    return status.ok() ? projections::ReconciliationToJson(answer, valid_date, known_at).dump() : status.ToString();
  };
  std::printf("| reconciliation (%d questions: one claim or a municipality's claims; p50 / p99) | today | journal | "
              "today/journal |\n|---|---|---|---|\n",
              queries);
  size_t lines = 0;
  if (journal != nullptr) {
    CompareRow(
        "as known now: every delivery decided vs the journal's decisions", queries,
        [&](int i) {
          const Question& question = questions[static_cast<size_t>(i)];
          std::vector<projections::ClaimReconciliation> answer;
          const ledger::Status status = projections::ComputeReconciliationFromJournal(
              *journal, model, question.valid_date, question.query, &answer);
          for (const auto& claim : answer) lines += claim.lines.size();
          return json(status, answer, question.valid_date, model.last_position());
        },
        [&](int i) {
          const Question& question = questions[static_cast<size_t>(i)];
          std::vector<projections::ClaimReconciliation> answer;
          const ledger::Status status =
              projections::ComputeReconciliation(model, question.valid_date, question.query, &answer);
          return json(status, answer, question.valid_date, model.last_position());
        });
  }
  uint64_t folded = 0;
  CompareRow(
      "as known at a random past position: LoadModel + every delivery decided vs the journal store", queries,
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        std::vector<projections::ClaimReconciliation> answer;
        projections::ScopedLoadStats stats;
        const ledger::Status status = projections::ComputeReconciliationFromStore(
            store, journal_store, question.known_at, question.valid_date, question.query, &answer, &stats);
        folded += stats.events;
        return json(status, answer, question.valid_date, question.known_at);
      },
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::LedgerModel then;
        Check(projections::LoadModel(store, checkpoints, question.known_at, &then), "load");
        std::vector<projections::ClaimReconciliation> answer;
        const ledger::Status status = projections::ComputeReconciliation(then, question.valid_date, question.query, &answer);
        return json(status, answer, question.valid_date, question.known_at);
      });
  std::printf("events folded per past question: %.0f (the claims and budgets); %.0f lines per question known now\n\n",
              static_cast<double>(folded) / queries, static_cast<double>(lines) / queries);
}

// The indicators rows: Q questions (every project and municipality, or one municipality's territory) as known now
// and as known at random past positions.
void IndicatorRows(ledger::EventStore& store, projections::CheckpointStore* checkpoints,
                   projections::JournalStore& journal_store, const projections::LedgerModel& model,
                   const projections::FundingJournal* journal, int queries, int32_t first_day, int32_t last_day,
                   std::mt19937_64& random) {
  std::vector<std::string> municipalities;
  for (const auto& [id, municipality] : model.municipalities()) municipalities.push_back(id);
  struct Question {
    uint64_t known_at = 0;
    int32_t valid_date = 0;
    std::string municipality_id;
  };
  std::vector<Question> questions(static_cast<size_t>(queries));
  for (Question& question : questions) {
    if (random() % 2 && !municipalities.empty()) question.municipality_id = municipalities[random() % municipalities.size()];
    question.known_at = 1 + random() % model.last_position();
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
  }
  auto json = [](const ledger::Status& status, const projections::IndicatorsReport& report) {
    return status.ok() ? projections::IndicatorsToJson(report).dump() : status.ToString();
  };
  std::printf("| indicators (%d questions: all, or one municipality; p50 / p99) | today | journal | today/journal |\n"
              "|---|---|---|---|\n",
              queries);
  if (journal != nullptr) {
    CompareRow(
        "as known now: every delivery decided vs the journal's first days", queries,
        [&](int i) {
          const Question& question = questions[static_cast<size_t>(i)];
          projections::IndicatorsReport report;
          const ledger::Status status = projections::ComputeIndicatorsFromJournal(
              *journal, model, question.valid_date, "", question.municipality_id, &report);
          return json(status, report);
        },
        [&](int i) {
          const Question& question = questions[static_cast<size_t>(i)];
          projections::IndicatorsReport report;
          const ledger::Status status =
              projections::ComputeIndicators(model, question.valid_date, "", question.municipality_id, &report);
          return json(status, report);
        });
  }
  CompareRow(
      "as known at a random past position: LoadModel + every delivery decided vs the journal store", queries,
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::IndicatorsReport report;
        const ledger::Status status = projections::ComputeIndicatorsFromStore(
            store, journal_store, question.known_at, question.valid_date, "", question.municipality_id, &report);
        return json(status, report);
      },
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::LedgerModel then;
        Check(projections::LoadModel(store, checkpoints, question.known_at, &then), "load");
        projections::IndicatorsReport report;
        const ledger::Status status =
            projections::ComputeIndicators(then, question.valid_date, "", question.municipality_id, &report);
        return json(status, report);
      });
  std::printf("\n");
}

// The explained rows (--explain: the events or decisions behind the figures), as known at random past positions:
// a random municipality's funding by service and month with the events per row (LoadModel + ComputeFunding vs the
// store's line facts and the claims folded), and a random grant holder's entitlements with the decisions (the
// person-scoped load deciding the family's deliveries vs the store's decisions).
void ExplainRows(ledger::EventStore& store, projections::CheckpointStore* checkpoints,
                 projections::JournalStore& journal_store, const projections::LedgerModel& model, int queries,
                 int32_t first_day, int32_t last_day, std::mt19937_64& random) {
  std::vector<std::string> municipalities, holders;
  for (const auto& [id, grant] : model.grants()) {
    municipalities.push_back(grant.municipality_id);
    holders.push_back(grant.person_id);
  }
  for (auto* ids : {&municipalities, &holders}) {
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
  }
  if (holders.empty()) Fail("no grant to explain");
  struct Question {
    uint64_t known_at = 0;
    int32_t valid_date = 0;
    std::string municipality, person;
  };
  std::vector<Question> questions(static_cast<size_t>(queries));
  for (Question& question : questions) {
    question.known_at = 1 + random() % model.last_position();
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
    question.municipality = municipalities[random() % municipalities.size()];
    question.person = holders[random() % holders.size()];
  }
  auto funding_query = [&](const Question& question) {
    projections::FundingQuery query;
    query.municipality_id = question.municipality;
    query.group_by = {"service", "month"};
    query.explain = true;
    return query;
  };
  auto funding_json = [](const ledger::Status& status, const projections::FundingReport& report) {
    return status.ok() ? projections::FundingToJson(report).dump() : status.ToString();
  };
  std::printf("| explained, as known at a random past position (%d questions, p50 / p99) | today | journal | "
              "today/journal |\n|---|---|---|---|\n",
              queries);
  size_t positions = 0;
  CompareRow(
      "a municipality's funding by service and month, events per row: LoadModel + ComputeFunding vs the store", queries,
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::FundingReport report;
        const ledger::Status status = projections::ComputeFundingFromStore(
            store, journal_store, question.known_at, question.valid_date, funding_query(question), &report);
        for (const auto& row : report.rows) positions += row.positions.size();
        return funding_json(status, report);
      },
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::LedgerModel then;
        Check(projections::LoadModel(store, checkpoints, question.known_at, &then), "load");
        projections::FundingReport report;
        const ledger::Status status =
            projections::ComputeFunding(then, question.valid_date, funding_query(question), &report);
        return funding_json(status, report);
      });
  auto entitlements_json = [](const ledger::Status& status, const projections::Entitlements& entitlements) {
    return status.ok() ? projections::EntitlementsToJson(entitlements).dump() : status.ToString();
  };
  size_t decisions = 0;
  CompareRow(
      "a person's entitlements with the decisions: person-scoped load, deliveries decided vs the store", queries,
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::Entitlements entitlements;
        const ledger::Status status = projections::ComputeEntitlementsFromStore(
            store, journal_store, projections::ScopeStreamsOf(model, question.person), question.known_at,
            question.valid_date, &entitlements, nullptr, /*explain=*/true);
        decisions += entitlements.deliveries.size();
        return entitlements_json(status, entitlements);
      },
      [&](int i) {
        const Question& question = questions[static_cast<size_t>(i)];
        projections::LedgerModel scoped;
        Check(projections::LoadScopedModel(store, projections::ScopeStreamsOf(model, question.person),
                                           question.known_at, &scoped),
              "scoped load");
        projections::Entitlements entitlements;
        const ledger::Status status = projections::ComputeEntitlements(scoped, question.person, question.valid_date,
                                                                       &entitlements, /*explain=*/true);
        entitlements.known_at_position = question.known_at;
        return entitlements_json(status, entitlements);
      });
  std::printf("%.0f event positions per funding answer, %.0f decisions per entitlements answer\n\n",
              static_cast<double>(positions) / queries, static_cast<double>(decisions) / queries);
}

// --only past|changes: the journal store kept by an earlier run (--reuse) answers Q random past positions (funding),
// or Q changes over a month of events; nothing else runs, nothing is compared (to profile the store's answers).
int StoreOnly(const std::string& only, ledger::EventStore& store, const std::string& dir, int queries, int years,
              const projections::JournalStoreOptions& journal_options) {
  const uint64_t head = store.Head().position;
  std::unique_ptr<projections::JournalStore> journal_store;
  Check(projections::JournalStore::Open(dir + "/journal", journal_options, &journal_store), "journal store");
  if (journal_store->position() != head) Fail("--only needs a journal store projected up to the head (--reuse)");
  std::mt19937_64 random(1);
  const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2016 + years, 1, 1);
  const uint64_t month = std::max<uint64_t>(1, head / (static_cast<uint64_t>(years) * 12));
  Timings timings;
  for (int i = 0; i < queries; ++i) {
    const auto started = Clock::now();
    if (only == "past") {
      const uint64_t known_at = 1 + random() % head;
      const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
      const projections::FundingQuery query = RandomGrouping(random);
      projections::FundingCells cells;
      projections::FundingContext context;
      projections::FundingReport report;
      Check(journal_store->CellsAsKnownAt(known_at, valid_date, &cells, &context), "journal store");
      Check(projections::ComputeFundingFromCells(cells, context, valid_date, known_at, query, &report), "funding");
    } else if (only == "changes") {
      projections::FundingChangesQuery query;
      query.from_position = 1 + random() % (head - month);
      query.to_position = query.from_position + month;
      query.valid_date = last_day;
      query.funding = RandomGrouping(random);
      projections::FundingChangesReport report;
      Check(projections::ComputeFundingChangesFromStore(store, *journal_store, query, &report), "changes");
    } else {
      Fail("--only takes fold, now, past, changes, entitlements, reconciliation, indicators or explain");
    }
    timings.Add(started);
  }
  std::printf("%s from the journal store: %.1f / %.1f ms (p50 / p99)\n", only.c_str(), timings.P(0.5) * 1e3,
              timings.P(0.99) * 1e3);
  return 0;
}

int Run(int argc, char** argv) {
  int persons = 300, years = 8, queries = 20;
  projections::JournalStoreOptions journal_options;
  std::string dir;
  bool reuse = false;
  std::string only;
  Flags flags(argc, argv);
  while (flags.Next()) {
    if (flags.Is("--persons")) persons = flags.Int();
    else if (flags.Is("--years")) years = flags.Int();
    else if (flags.Is("--queries")) queries = flags.Int();
    else if (flags.Is("--dir")) dir = flags.Value();
    else if (flags.Is("--image-stride")) journal_options.image_stride = static_cast<uint64_t>(flags.Int());
    else if (flags.Is("--reuse")) reuse = true;
    else if (flags.Is("--only")) only = flags.Value();
    else flags.Unknown();
  }
  WorkDir work("journal-bench", &dir);
  const std::string path = dir + "/store";
  if (!reuse || !std::filesystem::exists(path + ".complete")) BuildSimulatedStore(path, persons, years);
  std::unique_ptr<ledger::EventStore> store;
  Check(ledger::EventStore::Open({}, path, &store), "open");
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  Check(projections::CheckpointStore::Open(dir + "/projections", {}, &checkpoints), "checkpoints");
  const uint64_t head = store->Head().position;
  std::printf("%s\n%llu events\n\n", flags.command_line().c_str(), static_cast<unsigned long long>(head));

  const bool fold_only = only == "fold" || only == "now";
  if (only == "store") {
    // The journal store projected from the log alone (what --only entitlements, reconciliation and indicators read).
    std::filesystem::remove_all(dir + "/journal");
    std::unique_ptr<projections::JournalStore> journal_store;
    Check(projections::JournalStore::Open(dir + "/journal", journal_options, &journal_store), "journal store");
    const auto projected = Clock::now();
    Check(projections::JournalProjector(journal_store.get()).CatchUp(*store, nullptr, projections::kKnownNow),
          "project the journal store");
    std::printf("model + journal written to the journal store (image stride %llu): %.0f events/s; %.0f bytes/event\n",
                static_cast<unsigned long long>(journal_options.image_stride),
                static_cast<double>(head) / SecondsSince(projected),
                static_cast<double>(journal_store->DiskBytes()) / static_cast<double>(head));
    work.Finish(reuse);
    return 0;
  }
  if (only == "reconciliation" || only == "indicators" || only == "explain") {
    // The head model for the claims and municipalities (not timed), then the past rows from the store kept by --reuse.
    std::unique_ptr<projections::JournalStore> journal_store;
    Check(projections::JournalStore::Open(dir + "/journal", journal_options, &journal_store), "journal store");
    if (journal_store->position() != head) Fail("--only needs a journal store projected up to the head (--reuse)");
    projections::LedgerModel model;
    Check(projections::LoadModel(*store, checkpoints.get(), projections::kKnownNow, &model), "load");
    std::mt19937_64 random(1);
    const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2016 + years, 1, 1);
    if (only == "reconciliation") {
      ReconciliationRows(*store, checkpoints.get(), *journal_store, model, nullptr, queries, first_day, last_day, random);
    } else if (only == "explain") {
      ExplainRows(*store, checkpoints.get(), *journal_store, model, queries, first_day, last_day, random);
    } else {
      IndicatorRows(*store, checkpoints.get(), *journal_store, model, nullptr, queries, first_day, last_day, random);
    }
    return 0;
  }
  if (only == "entitlements") {
    // The head model for the persons and their scopes (not timed), then the rows from the store kept by --reuse.
    std::unique_ptr<projections::JournalStore> journal_store;
    Check(projections::JournalStore::Open(dir + "/journal", journal_options, &journal_store), "journal store");
    if (journal_store->position() != head) Fail("--only needs a journal store projected up to the head (--reuse)");
    projections::LedgerModel model;
    Check(projections::LoadModel(*store, nullptr, projections::kKnownNow, &model), "load");
    std::mt19937_64 random(1);
    EntitlementRows(*store, *journal_store, model, nullptr, queries * 20, ledger::DaysFromCivil(2016, 1, 1),
                    ledger::DaysFromCivil(2016 + years, 1, 1), random);
    return 0;
  }
  if (!only.empty() && !fold_only) return StoreOnly(only, *store, dir, queries, years, journal_options);
  projections::LedgerModel plain;
  const double plain_rate = fold_only ? 0 : Fold(*store, false, &plain, nullptr);
  projections::LedgerModel model;
  projections::FundingJournal journal;
  const double journal_rate = Fold(*store, true, &model, &journal);
  if (fold_only) {
    std::printf("model + funding journal: %.0f events/s\n", journal_rate);
    Timings now;
    std::mt19937_64 random(1);
    const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2016 + years, 1, 1);
    for (int i = 0; only == "now" && i < queries; ++i) {
      const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
      projections::FundingReport report;
      const auto started = Clock::now();
      Check(projections::ComputeFundingFromJournal(journal, model, valid_date, RandomGrouping(random), &report), "now");
      now.Add(started);
    }
    if (only == "now") std::printf("funding as known now: %.1f / %.1f ms\n", now.P(0.5) * 1e3, now.P(0.99) * 1e3);
    work.Finish(reuse);
    return 0;
  }
  projections::FundingJournal reset;
  const auto reset_started = Clock::now();
  reset.Reset(model);
  const double reset_seconds = SecondsSince(reset_started);
  std::printf("| fold | events/s |\n|---|---|\n| model alone | %.0f |\n| model + funding journal | %.0f (%.0f %%) |\n",
              plain_rate, journal_rate, 100.0 * journal_rate / plain_rate);
  std::printf("| journal reset on the whole model | %.2f s |\n", reset_seconds);
  const std::string journal_path = dir + "/journal";
  std::filesystem::remove_all(journal_path);
  std::unique_ptr<projections::JournalStore> journal_store;
  Check(projections::JournalStore::Open(journal_path, journal_options, &journal_store), "journal store");
  auto projected = Clock::now();
  Check(projections::JournalProjector(journal_store.get()).CatchUp(*store, nullptr, projections::kKnownNow),
        "project the journal store");
  const double store_rate = static_cast<double>(head) / SecondsSince(projected);
  std::printf("| model + journal written to the journal store (image stride %llu) | %.0f (%.0f %%); %.0f bytes/event |\n\n",
              static_cast<unsigned long long>(journal_options.image_stride), store_rate, 100.0 * store_rate / plain_rate,
              static_cast<double>(journal_store->DiskBytes()) / static_cast<double>(head));

  std::mt19937_64 random(1);
  const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2016 + years, 1, 1);
  // Each row runs its journal answers first, then today's path on the same questions, and compares them: one path's
  // garbage (a naive report frees millions of blocks) does not land in the other's timings.
  struct Question {
    uint64_t known_at = 0;
    int32_t valid_date = 0;
    projections::FundingQuery query;
    std::string answer;  // the journal's, as JSON
  };
  std::vector<Question> now_questions(static_cast<size_t>(queries)), past_questions(now_questions.size());
  for (Question& question : now_questions) {
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
    question.query = RandomGrouping(random);
  }
  for (Question& question : past_questions) {
    question.known_at = 1 + random() % head;
    question.valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day));
    question.query = RandomGrouping(random);
  }
  Timings naive, from_journal;
  for (Question& question : now_questions) {
    projections::FundingReport report;
    const auto started = Clock::now();
    Check(projections::ComputeFundingFromJournal(journal, model, question.valid_date, question.query, &report),
          "journal funding");
    from_journal.Add(started);
    question.answer = projections::FundingToJson(report).dump();
  }
  for (const Question& question : now_questions) {
    projections::FundingReport report;
    const auto started = Clock::now();
    Check(projections::ComputeFunding(model, question.valid_date, question.query, &report), "funding");
    naive.Add(started);
    if (projections::FundingToJson(report).dump() != question.answer) Fail("the journal's report differs");
  }
  Timings past_naive, past_store;
  for (Question& question : past_questions) {
    const auto started = Clock::now();
    projections::FundingCells cells;
    projections::FundingContext context;
    projections::FundingReport report;
    Check(journal_store->CellsAsKnownAt(question.known_at, question.valid_date, &cells, &context), "journal store");
    Check(projections::ComputeFundingFromCells(cells, context, question.valid_date, question.known_at, question.query,
                                               &report),
          "store funding");
    past_store.Add(started);
    question.answer = projections::FundingToJson(report).dump();
  }
  for (const Question& question : past_questions) {
    const auto started = Clock::now();
    projections::LedgerModel then;
    projections::FundingReport report;
    Check(projections::LoadModel(*store, checkpoints.get(), question.known_at, &then), "load");
    Check(projections::ComputeFunding(then, question.valid_date, question.query, &report), "funding then");
    past_naive.Add(started);
    if (projections::FundingToJson(report).dump() != question.answer) Fail("the journal store's report differs");
  }
  // A month of the history: the log spread evenly over the simulated months.
  const uint64_t month = std::max<uint64_t>(1, head / (static_cast<uint64_t>(years) * 12));
  if (head <= month + 1) Fail("the history is too short for a month of changes");
  std::vector<projections::FundingChangesQuery> change_questions(static_cast<size_t>(queries));
  for (projections::FundingChangesQuery& query : change_questions) {
    query.from_position = 1 + random() % (head - month);
    query.to_position = query.from_position + month;
    query.valid_date = last_day;
    query.funding = RandomGrouping(random);
  }
  Timings changes, two_reports, changes_from_store;
  std::vector<std::string> stored_answers;
  for (const projections::FundingChangesQuery& query : change_questions) {
    const auto started = Clock::now();
    projections::FundingChangesReport stored;
    Check(projections::ComputeFundingChangesFromStore(*store, *journal_store, query, &stored), "changes from store");
    changes_from_store.Add(started);
    stored_answers.push_back(projections::FundingChangesToJson(stored).dump());
  }
  for (size_t i = 0; i < change_questions.size(); ++i) {
    const projections::FundingChangesQuery& query = change_questions[i];
    auto started = Clock::now();
    projections::FundingChangesReport report;
    Check(projections::ComputeFundingChanges(*store, checkpoints.get(), query, &report), "changes");
    changes.Add(started);
    if (projections::FundingChangesToJson(report).dump() != stored_answers[i]) {
      Fail("the journal store's changes differ");
    }
    started = Clock::now();
    for (uint64_t position : {query.from_position, query.to_position}) {
      projections::LedgerModel then;
      Check(projections::LoadModel(*store, checkpoints.get(), position, &then), "load");
      projections::FundingReport funding;
      Check(projections::ComputeFunding(then, query.valid_date, query.funding, &funding), "funding then");
    }
    two_reports.Add(started);
  }
  std::printf("| query (p50 / p99) | naive | journal | naive/journal |\n|---|---|---|---|\n");
  PrintRow("funding as known now", from_journal, naive);
  PrintRow("funding as known at a random past position", past_store, past_naive);
  PrintRow("changes over a month of events (journal from the checkpoint nearest A) vs two past-known-at reports",
           changes, two_reports);
  PrintRow("changes over a month of events from the journal store vs two past-known-at reports", changes_from_store,
           two_reports);
  std::printf("\n");
  EntitlementRows(*store, *journal_store, model, &journal, queries * 20, first_day, last_day, random);
  ReconciliationRows(*store, checkpoints.get(), *journal_store, model, &journal, queries, first_day, last_day, random);
  IndicatorRows(*store, checkpoints.get(), *journal_store, model, &journal, queries, first_day, last_day, random);
  ExplainRows(*store, checkpoints.get(), *journal_store, model, queries, first_day, last_day, random);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("\npeak RSS %ld MB (two models and two journals of the whole history are held)\n", usage.ru_maxrss / 1024);
  work.Finish(reuse);
  return 0;
}

}  // namespace
}  // namespace di::bench

int main(int argc, char** argv) {
  return di::bench::Main("journal_bench", [&] { return di::bench::Run(argc, argv); });
}
