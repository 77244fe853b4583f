// Funding, reconciliation and indicators on a small history whose every figure is worked out by hand
// (in the comments), on a real store: money to the cent, ESF/state parts summing to wholes, as-of.
#include <gtest/gtest.h>

#include "di/ledger/civil_date.h"
#include "di/projections/funding.h"
#include "di/projections/indicators.h"
#include "di/projections/reconciliation.h"
#include "di/projections/replay.h"
#include "test_util.h"

namespace di::projections {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

json E(const std::string& id, const std::string& type, const std::string& date, json data) {
  return di::testing::MakeEvent(id, type, date, std::move(data));
}
int32_t D(const char* text) {
  int32_t days = 0;
  EXPECT_TRUE(ledger::ParseDate(text, &days));
  return days;
}

// One rule: child care, 600 minutes per calendar month.
json Rules() {
  return E("rules", "rules_enacted", "2015-07-01",
           {{"rule_set_id", "TEST"},
            {"title", "test rules"},
            {"document",
             {{"format", "di-ledger-rules/1"},
              {"rule_set", "TEST"},
              {"version", "t1"},
              {"services_paid_until", "2023-08-31"},
              {"rules",
               {{{"id", "care"},
                 {"services", {"child_care"}},
                 {"target_groups", {"child_functional_impairment"}},
                 {"effective_from", "2015-07-01"},
                 {"caps", {{{"id", "care-month"}, {"quantity", 600}, {"period", "month"}}}}}}}}}});
}

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    std::vector<json> events = {Rules()};
    for (const json& event : BaseWorld()) events.push_back(event);  // budget 85 % ESF exactly
    ASSERT_TRUE(AppendJson(*store_, events).ok());
    // March 2021: 120 + 120 + 600 minutes against a 600-minute monthly cap: D-3 is 360/600 eligible,
    // its cost 7000 * 360 / 600 = 4200.
    Append({Delivery("d1", "D-1", "2021-03-01", 120, 1400), Delivery("d2", "D-2", "2021-03-02", 120, 1400),
            Delivery("d3", "D-3", "2021-03-03", 600, 7000)});
    Append({E("c1", "reimbursement_claimed", "2021-04-10",
              {{"claim_id", "C-1"}, {"project_id", "PR-1"}, {"municipality_id", "M-1"},
               {"period_start", "2021-03-01"}, {"period_end", "2021-03-31"},
               {"lines", {{{"delivery_id", "D-1"}, {"amount_cents", 1400}}, {{"delivery_id", "D-2"}, {"amount_cents", 1400}},
                          {{"delivery_id", "D-3"}, {"amount_cents", 7000}}}},
               {"total_cents", 9800}})});
    position_before_review_ = store_->Head().position;
    // Approved 1400 + 1001 + 4200 = 6601. ESF at 85 %: 1190 + 851 (850.85 rounded half up) + 3570 = 5611.
    Append({E("r1", "claim_reviewed", "2021-05-01",
              {{"claim_id", "C-1"},
               {"lines", {{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1400}},
                          {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1001}, {"reason", "tariff"}},
                          {{"delivery_id", "D-3"}, {"accepted", true}, {"approved_cents", 4200}, {"reason", "over cap"}}}},
               {"approved_total_cents", 6601}})});
    // From 2021-06-01 the budget is 100000 cents with 86690 ESF (86.69 %).
    Append({E("b2", "budget_amended", "2021-06-01",
              {{"project_id", "PR-1"}, {"total_cents", 100000}, {"esf_cents", 86690}, {"state_cents", 13310},
               {"targets", {{{"indicator", "persons_assessed"}, {"target_group", "adult_mental_disability"}, {"count", 10}}}}})});
    // A partial payment of 6000 (ESF 5100) allocated over approved 1400/1001/4200 by largest remainder:
    // 1272.53 -> 1272, 909.86 -> 910, 3817.60 -> 3818; its ESF 5100 over those: 1081, 774, 3245.
    Append({E("p1", "reimbursement_paid", "2021-06-01",
              {{"claim_id", "C-1"}, {"payment_id", "PAY-1"}, {"amount_cents", 6000}, {"esf_cents", 5100}, {"state_cents", 900}})});
    // June: a delivery claimed after the amendment: ESF 1400 * 0.8669 = 1213.66 -> 1214.
    Append({Delivery("d4", "D-4", "2021-06-02", 120, 1400)});
    Append({E("c2", "reimbursement_claimed", "2021-07-05",
              {{"claim_id", "C-2"}, {"project_id", "PR-1"}, {"municipality_id", "M-1"},
               {"period_start", "2021-06-01"}, {"period_end", "2021-06-30"},
               {"lines", {{{"delivery_id", "D-4"}, {"amount_cents", 1400}}}}, {"total_cents", 1400}})});
    Append({E("r2", "claim_reviewed", "2021-07-10",
              {{"claim_id", "C-2"}, {"lines", {{{"delivery_id", "D-4"}, {"accepted", true}, {"approved_cents", 1400}}}},
               {"approved_total_cents", 1400}})});
  }
  void Append(const std::vector<json>& events) {
    ledger::Status status = AppendJson(*store_, events);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  LedgerModel Model(uint64_t known_at = kKnownNow) {
    LedgerModel model;
    EXPECT_TRUE(ReplayInto(*store_, known_at, &model).ok());
    return model;
  }
  FundingReport Funding(const LedgerModel& model, const char* valid, std::vector<std::string> group_by) {
    FundingReport report;
    FundingQuery query;
    query.group_by = std::move(group_by);
    ledger::Status status = ComputeFunding(model, D(valid), query, &report);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return report;
  }

  TempDir dir_;
  std::unique_ptr<ledger::EventStore> store_;
  uint64_t position_before_review_ = 0;
};

TEST_F(ReportsTest, FundingPerMonthToTheCent) {
  const FundingReport report = Funding(Model(), "2021-12-31", {"month"});
  ASSERT_EQ(report.rows.size(), 2u);
  const FundingFigures& march = report.rows[0].figures;
  EXPECT_EQ(report.rows[0].month, "2021-03");
  EXPECT_EQ(march.deliveries, 3);
  EXPECT_EQ(march.delivered_cents, 9800);
  EXPECT_EQ(march.eligible_cents, 7000);
  EXPECT_EQ(march.claimed_cents, 9800);
  EXPECT_EQ(march.approved_cents, 6601);
  EXPECT_EQ(march.approved_esf_cents, 5611);
  EXPECT_EQ(march.approved_state_cents, 990);
  EXPECT_EQ(march.paid_cents, 6000);
  EXPECT_EQ(march.paid_esf_cents, 5100);
  EXPECT_EQ(march.paid_state_cents, 900);
  const FundingFigures& june = report.rows[1].figures;
  EXPECT_EQ(report.rows[1].month, "2021-06");
  EXPECT_EQ(june.eligible_cents, 1400);  // a new month: the cap starts again
  EXPECT_EQ(june.approved_esf_cents, 1214);
  EXPECT_EQ(june.approved_state_cents, 186);
  EXPECT_EQ(june.paid_cents, 0);
  EXPECT_EQ(report.totals.approved_cents, 8001);
  EXPECT_EQ(report.totals.approved_esf_cents + report.totals.approved_state_cents, report.totals.approved_cents);
}

TEST_F(ReportsTest, FundingRowsAtFinestGrainAddUpToTheTotals) {
  const FundingReport fine = Funding(Model(), "2021-12-31", {});
  const FundingReport coarse = Funding(Model(), "2021-12-31", {"project"});
  FundingFigures sum;
  for (const FundingRow& row : fine.rows) {
    sum.Add(row.figures);
    EXPECT_EQ(row.project_id, "PR-1");
    EXPECT_EQ(row.territory_id, "M-1");
    EXPECT_EQ(row.service, "child_care");
  }
  EXPECT_EQ(sum, fine.totals);
  ASSERT_EQ(coarse.rows.size(), 1u);
  EXPECT_EQ(coarse.rows[0].figures, fine.totals);
}

TEST_F(ReportsTest, FundingExplainNamesTheEventsBehindEachRow) {
  FundingQuery query;
  query.group_by = {"month"};
  query.explain = true;
  FundingReport report;
  ASSERT_TRUE(ComputeFunding(Model(), D("2021-12-31"), query, &report).ok());
  ASSERT_EQ(report.rows.size(), 2u);
  // June: the delivery, its claim and review, and the budget version used for the ESF split.
  std::vector<std::string> ids;
  for (uint64_t position : report.rows[1].positions) {
    ASSERT_TRUE(store_->ReadLog(position, 1, [&](const ledger::StoredEvent& event) {
                          ids.push_back(event.reader().getEvent().getId().cStr());
                          return false;
                        }).ok());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"b2", "d4", "c2", "r2"}));
  // Without explain, no positions.
  EXPECT_TRUE(Funding(Model(), "2021-12-31", {"month"}).rows[1].positions.empty());
}

TEST_F(ReportsTest, PaymentAllocationByLargestRemainder) {
  EXPECT_EQ(AllocateLargestRemainder(6000, {1400, 1001, 4200}), (std::vector<int64_t>{1272, 910, 3818}));
  EXPECT_EQ(AllocateLargestRemainder(5100, {1272, 910, 3818}), (std::vector<int64_t>{1081, 774, 3245}));
  EXPECT_EQ(AllocateLargestRemainder(10, {1, 1, 1}), (std::vector<int64_t>{4, 3, 3}));  // ties: lower index
  EXPECT_EQ(AllocateLargestRemainder(0, {5, 5}), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(AllocateLargestRemainder(7, {0, 0}), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(AllocateLargestRemainder(1'000'000'000'000LL, {3, 3, 3}),
            (std::vector<int64_t>{333'333'333'334LL, 333'333'333'333LL, 333'333'333'333LL}));
}

TEST_F(ReportsTest, BudgetVersionsAndWhatRemains) {
  const FundingReport report = Funding(Model(), "2021-12-31", {"month"});
  ASSERT_EQ(report.budgets.size(), 2u);
  EXPECT_EQ(report.budgets[0].in_force_from, D("2015-12-08"));
  EXPECT_EQ(report.budgets[0].approved_cents, 6601);  // claims dated before 2021-06-01
  EXPECT_EQ(report.budgets[0].remaining_cents, 677834800 - 6601);
  EXPECT_EQ(report.budgets[1].in_force_from, D("2021-06-01"));
  EXPECT_EQ(report.budgets[1].approved_cents, 8001);
  EXPECT_EQ(report.budgets[1].remaining_cents, 100000 - 8001);
}

TEST_F(ReportsTest, AsOfValidDateAndKnownAt) {
  // On 2021-04-30 the claim exists but its review does not yet.
  const FundingReport april = Funding(Model(), "2021-04-30", {"month"});
  ASSERT_EQ(april.rows.size(), 1u);
  EXPECT_EQ(april.rows[0].figures.claimed_cents, 9800);
  EXPECT_EQ(april.rows[0].figures.approved_cents, 0);
  // Known at the position before the review was recorded: no approval, whatever the valid date.
  const FundingReport before = Funding(Model(position_before_review_), "2021-12-31", {"month"});
  EXPECT_EQ(before.totals.approved_cents, 0);
  EXPECT_EQ(before.totals.delivered_cents, 9800);
  EXPECT_EQ(before.known_at_position, position_before_review_);
}

TEST_F(ReportsTest, KnownBeforeAnythingWasRecordedIsNothing) {
  uint64_t position = 99;
  ASSERT_TRUE(ResolveKnownAt(*store_, "2000-01-01T00:00:00Z", &position).ok());
  EXPECT_EQ(position, 0u);
  const LedgerModel nothing = Model(position);
  EXPECT_EQ(nothing.last_position(), 0u);
  EXPECT_TRUE(nothing.deliveries().empty());
  EXPECT_EQ(nothing.rules(), nullptr);
  EXPECT_EQ(Model(kKnownNow).last_position(), store_->Head().position);
}

TEST_F(ReportsTest, ReconciliationFindingsAndOutstanding) {
  std::vector<ClaimReconciliation> claims;
  ASSERT_TRUE(ComputeReconciliation(Model(), D("2021-12-31"), {"", "", "C-1"}, &claims).ok());
  ASSERT_EQ(claims.size(), 1u);
  const ClaimReconciliation& claim = claims[0];
  EXPECT_EQ(claim.claimed_cents, 9800);
  EXPECT_EQ(claim.eligible_cents, 7000);
  EXPECT_EQ(claim.approved_cents, 6601);
  EXPECT_EQ(claim.approved_esf_cents, 5611);
  EXPECT_EQ(claim.paid_cents, 6000);
  EXPECT_EQ(claim.outstanding_cents, 601);
  ASSERT_EQ(claim.lines.size(), 3u);
  EXPECT_TRUE(claim.lines[0].findings.empty());
  EXPECT_EQ(claim.lines[1].findings, std::vector<std::string>{"review: tariff"});
  EXPECT_EQ(claim.lines[2].claimed_over_eligible_cents, 2800);
  ASSERT_EQ(claim.lines[2].findings.size(), 2u);
  EXPECT_NE(claim.lines[2].findings[0].find("cap care-month of 10 h per month"), std::string::npos)
      << claim.lines[2].findings[0];
  EXPECT_NE(claim.lines[2].findings[0].find("4 h over"), std::string::npos);
  EXPECT_EQ(claim.lines_with_findings, 2);
  // Every figure is traceable: the line of D-3 names its delivery, claim, review and payment events.
  EXPECT_GE(claim.lines[2].positions.size(), 4u);
}

TEST_F(ReportsTest, VoidAfterTheClaimIsAFindingAndFreesTheCap) {
  Append({E("v1", "delivery_voided", "2021-06-05", {{"delivery_id", "D-1"}, {"reason", "did not happen"}})});
  std::vector<ClaimReconciliation> claims;
  ASSERT_TRUE(ComputeReconciliation(Model(), D("2021-12-31"), {"", "", "C-1"}, &claims).ok());
  const ClaimReconciliation& claim = claims.at(0);
  EXPECT_EQ(claim.lines[0].eligible_cents, 0);
  EXPECT_EQ(claim.lines[0].findings.at(0), "the delivery was voided");
  EXPECT_EQ(claim.lines[0].claimed_over_eligible_cents, 1400);
  // D-1's 120 minutes no longer count: D-3 gets 480 of its 600 minutes, 7000 * 480 / 600 = 5600.
  EXPECT_EQ(claim.lines[2].eligible_cents, 5600);
}

TEST_F(ReportsTest, IndicatorsCountDistinctPersonsAgainstTargets) {
  Append({Delivery("d5", "D-5", "2021-06-03", 60, 700)});  // a second delivery to the same child
  IndicatorsReport report;
  ASSERT_TRUE(ComputeIndicators(Model(), D("2021-12-31"), "", "", &report).ok());
  int64_t receiving = 0, assessed = 0, enrolled = 0;
  for (const IndicatorRow& row : report.totals) {
    receiving += row.persons_receiving_services;
    assessed += row.persons_assessed;
    enrolled += row.persons_enrolled;
  }
  EXPECT_EQ(enrolled, 3);   // child, parent, adult
  EXPECT_EQ(receiving, 1);  // one child, however many deliveries
  EXPECT_EQ(assessed, 1);   // the adult
  ASSERT_EQ(report.targets.size(), 1u);
  EXPECT_EQ(report.targets[0].indicator, "persons_assessed");
  EXPECT_EQ(report.targets[0].target, 10);
  EXPECT_EQ(report.targets[0].achieved, 1);
  // Before the amendment that set them, no targets are in force; before the assessment, nobody assessed.
  ASSERT_TRUE(ComputeIndicators(Model(), D("2019-02-28"), "", "", &report).ok());
  EXPECT_TRUE(report.targets.empty());
  for (const IndicatorRow& row : report.totals) EXPECT_EQ(row.persons_assessed, 0);
}

}  // namespace
}  // namespace di::projections
