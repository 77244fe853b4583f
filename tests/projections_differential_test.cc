// Path independence of the projections on seeded simulated histories:
//   * "as known at position P" on the full store == the same query on a store that only ever held the first
//     P events (folding a prefix of a longer log and having a shorter log must agree);
//   * folding the same log twice gives byte-identical reports;
//   * money invariants on every report: ESF + state == approved and == paid, paid <= approved <= claimed.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "di/ledger/civil_date.h"
#include "di/projections/default_rules.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding.h"
#include "di/projections/indicators.h"
#include "di/projections/reconciliation.h"
#include "di/projections/replay.h"
#include "simulate.h"
#include "test_util.h"

namespace di::projections {
namespace {

using di::testing::OpenStore;
using di::testing::TempDir;

// Everything a user can ask, as one string: funding, reconciliation, indicators, one person's entitlements.
std::string AllReports(const LedgerModel& model, int32_t valid_date, const std::string& person_id) {
  std::string out;
  FundingReport funding;
  EXPECT_TRUE(ComputeFunding(model, valid_date, {}, &funding).ok());
  out += FundingToJson(funding).dump();
  std::vector<ClaimReconciliation> claims;
  EXPECT_TRUE(ComputeReconciliation(model, valid_date, {}, &claims).ok());
  out += ReconciliationToJson(claims, valid_date, model.last_position()).dump();
  IndicatorsReport indicators;
  EXPECT_TRUE(ComputeIndicators(model, valid_date, "", "", &indicators).ok());
  out += IndicatorsToJson(indicators).dump();
  Entitlements entitlements;
  if (ComputeEntitlements(model, person_id, valid_date, &entitlements).ok()) out += EntitlementsToJson(entitlements).dump();
  // Money invariants, checked on every report produced here.
  const FundingFigures& totals = funding.totals;
  EXPECT_EQ(totals.approved_esf_cents + totals.approved_state_cents, totals.approved_cents);
  EXPECT_EQ(totals.paid_esf_cents + totals.paid_state_cents, totals.paid_cents);
  EXPECT_LE(totals.paid_cents, totals.approved_cents);
  EXPECT_LE(totals.approved_cents, totals.claimed_cents);
  // Not asserted: eligible <= delivered. Under unit-cost compensation the reimbursable amount is units x the
  // rate, which can exceed the actual cost of a delivery (a psychologist session at 30.00 costing 24.30).
  for (const ClaimReconciliation& claim : claims) {
    EXPECT_EQ(claim.approved_esf_cents + claim.approved_state_cents, claim.approved_cents) << claim.claim_id;
    EXPECT_LE(claim.paid_cents, claim.approved_cents) << claim.claim_id;
  }
  for (const EntitlementLine& line : entitlements.lines) EXPECT_GE(line.remaining, 0);
  return out;
}

std::vector<ledger::NewEvent> History(uint64_t seed) {
  std::vector<ledger::NewEvent> events;
  nlohmann::json rules = {{"id", "rules"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"},
                          {"actor", "test"},
                          {"data", {{"rule_set_id", "MK313"}, {"title", "default"},
                                    {"document", nlohmann::json::parse(DefaultRulesDocument())}}}};
  events.push_back(di::testing::Event(rules));
  cli::SimulateOptions options;
  options.seed = seed;
  options.persons = 30;
  options.years = 8;
  std::stringstream history;
  cli::WriteSimulatedHistory(options, history);
  for (std::string line; std::getline(history, line);) {
    ledger::NewEvent event;
    EXPECT_TRUE(ledger::EventFromJsonText(line, &event).ok());
    events.push_back(std::move(event));
  }
  return events;
}

void AppendAll(ledger::EventStore& store, const std::vector<ledger::NewEvent>& events, size_t count) {
  for (size_t begin = 0; begin < count; begin += 1000) {
    std::vector<ledger::NewEvent> batch;
    for (size_t i = begin; i < std::min(count, begin + 1000); ++i) {
      ledger::NewEvent copy;
      copy.event = ledger::CanonicalMessage<schema::Event>(ledger::CopyToWords(events[i].event.bytes()));
      batch.push_back(std::move(copy));
    }
    ledger::AppendResult result;
    ledger::Status status = store.Append(batch, &result);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
}

class DifferentialTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(DifferentialTest, KnownAtPrefixEqualsAShorterLogAndReplaysAreIdentical) {
  const uint64_t seed = GetParam();
  const std::vector<ledger::NewEvent> events = History(seed);
  TempDir full_dir;
  auto full = OpenStore(full_dir.path());
  AppendAll(*full, events, events.size());
  std::mt19937_64 random(seed);  // the test's own choices; the values are printed on failure
  const int32_t first_day = ledger::DaysFromCivil(2016, 1, 1), last_day = ledger::DaysFromCivil(2023, 12, 31);
  for (int pair = 0; pair < 3; ++pair) {
    const uint64_t known_at = 1 + random() % events.size();
    const int32_t valid_date = first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
    const std::string person = "P-" + std::string(6 - std::to_string(1 + random() % 30).size(), '0') +
                               std::to_string(1 + random() % 30);
    SCOPED_TRACE("seed " + std::to_string(seed) + " known_at " + std::to_string(known_at) + " valid " +
                 ledger::FormatDate(valid_date) + " person " + person);
    LedgerModel prefix, again;
    ASSERT_TRUE(ReplayInto(*full, known_at, &prefix).ok());
    ASSERT_TRUE(ReplayInto(*full, known_at, &again).ok());
    const std::string from_prefix = AllReports(prefix, valid_date, person);
    EXPECT_EQ(from_prefix, AllReports(again, valid_date, person)) << "two folds of the same log differ";
    TempDir short_dir;
    auto shorter = OpenStore(short_dir.path());
    AppendAll(*shorter, events, known_at);
    LedgerModel whole;
    ASSERT_TRUE(ReplayInto(*shorter, kKnownNow, &whole).ok());
    EXPECT_EQ(from_prefix, AllReports(whole, valid_date, person)) << "prefix of a longer log != shorter log";
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialTest, ::testing::Values(11, 12, 13),
                         [](const ::testing::TestParamInfo<uint64_t>& info) { return "seed" + std::to_string(info.param); });

}  // namespace
}  // namespace di::projections
