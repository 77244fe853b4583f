// Funding, reconciliation and indicators on a small history whose every figure is worked out by hand
// (in the comments), on a real store: money to the cent, ESF/state parts summing to wholes, as-of.
#include <gtest/gtest.h>

#include <algorithm>

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
    // Approved 1400 + 1001 + 4200 = 6601. ESF at 85 %, split at the claim: 6601 * 0.85 = 5610.85 -> 5611;
    // to the lines by largest remainder: 1190 + 850.85 + 3570 -> 1190 + 851 + 3570.
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

// "How many sessions were delivered remotely in March-June?": grouped by mode and month, and by provider. A remote
// delivery by another provider in March (over the month's cap: delivered, not eligible) and one in June.
TEST_F(ReportsTest, FundingByModeAndProviderSplitsTheRowsTheDefaultKeepsTogether) {
  Append({E("pv2", "provider_registered", "2016-01-11",
            {{"provider_id", "PV-2"}, {"name", "Otrs"}, {"kind", "legal_person"}})});
  json remote_march = Delivery("d5", "D-5", "2021-03-20", 60, 700);
  remote_march["data"]["mode"] = "remote";
  remote_march["data"]["provider_id"] = "PV-2";
  json remote_june = Delivery("d6", "D-6", "2021-06-10", 60, 700);
  remote_june["data"]["mode"] = "remote";
  Append({remote_march, remote_june});
  const LedgerModel model = Model();

  const FundingReport by_mode = Funding(model, "2021-12-31", {"mode", "month"});
  std::vector<std::tuple<std::string, std::string, int64_t, int64_t, int64_t>> rows;  // mode, month, n, delivered, eligible
  for (const FundingRow& row : by_mode.rows) {
    EXPECT_EQ(row.service, "");
    EXPECT_EQ(row.provider_id, "");
    rows.emplace_back(row.mode, row.month, row.figures.deliveries, row.figures.delivered_cents,
                      row.figures.eligible_cents);
  }
  using Row = std::tuple<std::string, std::string, int64_t, int64_t, int64_t>;
  EXPECT_EQ(rows, (std::vector<Row>{{"in_person", "2021-03", 3, 9800, 7000}, {"in_person", "2021-06", 1, 1400, 1400},
                                    {"remote", "2021-03", 1, 700, 0}, {"remote", "2021-06", 1, 700, 700}}));
  const FundingReport by_provider = Funding(model, "2021-12-31", {"provider"});
  ASSERT_EQ(by_provider.rows.size(), 2u);
  EXPECT_EQ(by_provider.rows[0].provider_id, "PV-1");
  EXPECT_EQ(by_provider.rows[0].figures.deliveries, 5);
  EXPECT_EQ(by_provider.rows[0].figures.approved_cents, 8001);  // the claims' lines are PV-1's deliveries
  EXPECT_EQ(by_provider.rows[1].provider_id, "PV-2");
  EXPECT_EQ(by_provider.rows[1].figures.deliveries, 1);
  EXPECT_EQ(by_provider.rows[1].figures.claimed_cents, 0);
  // The default grouping keeps the modes and providers together; the totals are the same.
  const FundingReport default_rows = Funding(model, "2021-12-31", {});
  EXPECT_EQ(default_rows.rows.size(), 2u);
  EXPECT_EQ(default_rows.totals, by_mode.totals);
  EXPECT_EQ(default_rows.totals, by_provider.totals);
  // JSON names a mode or a provider only when grouped by it; CSV has their columns only then.
  EXPECT_EQ(json(FundingToJson(by_mode))["rows"][2]["mode"], "remote");
  EXPECT_FALSE(json(FundingToJson(default_rows))["rows"][0].contains("mode"));
  EXPECT_EQ(FundingToCsv(by_mode).substr(0, FundingToCsv(by_mode).find('\n')),
            "project_id,territory_id,municipality_id,service,mode,month,deliveries,delivered_cents,eligible_cents,"
            "claimed_cents,approved_cents,approved_esf_cents,approved_state_cents,paid_cents,paid_esf_cents,"
            "paid_state_cents");
  EXPECT_NE(FundingToCsv(by_mode).find("\n,,,,remote,2021-06,1,700,700,"), std::string::npos) << FundingToCsv(by_mode);
  EXPECT_EQ(FundingToCsv(default_rows).rfind("project_id,territory_id,municipality_id,service,month,", 0), 0u);
  EXPECT_NE(FundingToCsv(by_provider).find("\n,,,,PV-2,,1,700,0,"), std::string::npos) << FundingToCsv(by_provider);
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
  EXPECT_EQ(claim.claimed.total, 9800);
  EXPECT_EQ(claim.eligible.total, 7000);
  EXPECT_EQ(claim.approved.total, 6601);
  EXPECT_EQ(claim.approved.esf, 5611);
  EXPECT_EQ(claim.paid.total, 6000);
  EXPECT_EQ(claim.outstanding.total, 601);
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

// Issue #13: the ESF part is split where money moves, at the claim. Budget 9 756 350.00 EUR with ESF
// 8 457 897.43: a claim of two 500.00 lines has ESF round_half_up(1000.00 * 0.86691...) = 866.91 (rounding each
// line gave 433.46 + 433.46 = 866.92). By largest remainder the tie goes to the first delivery id: 433.46 and
// 433.45. A payment that carries 866.91 is in order; one that carries 866.92 is a finding.
TEST_F(ReportsTest, TheEsfSplitIsMadeAtTheClaimAndAllocatedToItsLines) {
  Append({E("b3", "budget_amended", "2023-01-15",
            {{"project_id", "PR-1"}, {"total_cents", 975635000}, {"esf_cents", 845789743}, {"state_cents", 129845257}})});
  Append({Delivery("d5", "D-5", "2023-02-01", 120, 50000), Delivery("d6", "D-6", "2023-02-02", 120, 50000)});
  auto claim_and_review = [&](const std::string& claim_id, const std::string& first, const std::string& second) {
    Append({E("c-" + claim_id, "reimbursement_claimed", "2023-03-05",
              {{"claim_id", claim_id}, {"project_id", "PR-1"}, {"municipality_id", "M-1"},
               {"period_start", "2023-02-01"}, {"period_end", "2023-02-28"},
               {"lines", {{{"delivery_id", first}, {"amount_cents", 50000}}, {{"delivery_id", second}, {"amount_cents", 50000}}}},
               {"total_cents", 100000}})});
    Append({E("r-" + claim_id, "claim_reviewed", "2023-03-20",
              {{"claim_id", claim_id},
               {"lines", {{{"delivery_id", first}, {"accepted", true}, {"approved_cents", 50000}},
                          {{"delivery_id", second}, {"accepted", true}, {"approved_cents", 50000}}}},
               {"approved_total_cents", 100000}})});
  };
  claim_and_review("C-3", "D-5", "D-6");
  Append({E("p3", "reimbursement_paid", "2023-04-03",
            {{"claim_id", "C-3"}, {"payment_id", "PAY-3"}, {"amount_cents", 100000}, {"esf_cents", 86691}, {"state_cents", 13309}})});

  std::vector<ClaimReconciliation> claims;
  ASSERT_TRUE(ComputeReconciliation(Model(), D("2023-12-31"), {"", "", "C-3"}, &claims).ok());
  const ClaimReconciliation& claim = claims.at(0);
  EXPECT_EQ(claim.budget_in_force_from, D("2023-01-15"));
  EXPECT_EQ(claim.approved.esf, 86691);
  EXPECT_EQ(claim.approved.state, 13309);
  EXPECT_EQ(claim.claimed.esf, 86691);
  ASSERT_EQ(claim.lines.size(), 2u);
  EXPECT_EQ(claim.lines[0].approved_esf_cents, 43346);  // D-5: the tie goes to the first delivery id
  EXPECT_EQ(claim.lines[1].approved_esf_cents, 43345);
  EXPECT_EQ(claim.lines[0].approved_state_cents, 6654);
  EXPECT_EQ(claim.lines[1].approved_state_cents, 6655);
  EXPECT_EQ(claim.lines[0].paid_esf_cents + claim.lines[1].paid_esf_cents, 86691);
  EXPECT_EQ(claim.paid.esf, claim.approved.esf);
  EXPECT_EQ(claim.outstanding.total, 0);
  EXPECT_EQ(claim.outstanding.esf, 0);
  ASSERT_EQ(claim.payments.size(), 1u);
  EXPECT_EQ(claim.payments[0].expected.esf, 86691);
  EXPECT_TRUE(claim.payments[0].findings.empty());
  EXPECT_EQ(claim.payments_with_findings, 0);
  EXPECT_TRUE(claim.findings.empty());

  // The funding row of February 2023 carries the claim's figures exactly.
  const FundingReport funding = Funding(Model(), "2023-12-31", {"month"});
  const FundingRow& february = funding.rows.back();
  EXPECT_EQ(february.month, "2023-02");
  EXPECT_EQ(february.figures.approved_esf_cents, 86691);
  EXPECT_EQ(february.figures.paid_esf_cents, 86691);
  EXPECT_EQ(february.figures.paid_state_cents, 13309);

  // The same claim again, paid with each line's ESF rounded on its own (866.92).
  Append({Delivery("d7", "D-7", "2023-02-03", 120, 50000), Delivery("d8", "D-8", "2023-02-04", 120, 50000)});
  claim_and_review("C-4", "D-7", "D-8");
  Append({E("p4", "reimbursement_paid", "2023-04-03",
            {{"claim_id", "C-4"}, {"payment_id", "PAY-4"}, {"amount_cents", 100000}, {"esf_cents", 86692}, {"state_cents", 13308}})});
  // Paying above approved is refused by the ledger itself (reconciliation would flag it on the claim and the
  // payment, but it cannot be recorded).
  ledger::Status over = AppendJson(*store_, {E("p5", "reimbursement_paid", "2023-04-04",
                                               {{"claim_id", "C-4"}, {"payment_id", "PAY-5"}, {"amount_cents", 1},
                                                {"esf_cents", 1}, {"state_cents", 0}})});
  EXPECT_EQ(over.field(), "data.amount_cents") << over.ToString();
  ASSERT_TRUE(ComputeReconciliation(Model(), D("2023-12-31"), {"", "", "C-4"}, &claims).ok());
  const ClaimReconciliation& wrong = claims.at(0);
  EXPECT_EQ(wrong.approved.esf, 86691);
  EXPECT_EQ(wrong.paid.esf, 86692);
  EXPECT_EQ(wrong.outstanding.total, 0);
  EXPECT_EQ(wrong.outstanding.esf, -1);
  EXPECT_EQ(wrong.outstanding.state, 1);
  ASSERT_EQ(wrong.payments.size(), 1u);
  ASSERT_EQ(wrong.payments[0].findings.size(), 1u);
  EXPECT_EQ(wrong.payments[0].findings[0],
            "ESF part 86692 cents, state part 13308 cents; the approved split gives ESF 86691 cents, state 13309 "
            "cents (budget in force from 2023-01-15)");
  EXPECT_EQ(wrong.payments_with_findings, 1);
  EXPECT_TRUE(wrong.findings.empty());

  // CSV: the three tables, each with its header and one row per claim / line / payment.
  const std::string claims_csv = ReconciliationToCsv(claims, "claims");
  EXPECT_EQ(claims_csv.substr(0, claims_csv.find('\n')).find("claim_id,project_id,municipality_id,claim_date,"), 0u);
  EXPECT_NE(claims_csv.find("\nC-4,PR-1,M-1,2023-03-05,2023-01-15,100000,86691,13309,"), std::string::npos) << claims_csv;
  const std::string payments_csv = ReconciliationToCsv(claims, "payments");
  EXPECT_NE(payments_csv.find("\nC-4,M-1,PAY-4,2023-04-03,100000,86692,13308,86691,13309,"), std::string::npos)
      << payments_csv;
  EXPECT_EQ(std::count(payments_csv.begin(), payments_csv.end(), '\n'), 2);
  const std::string lines_csv = ReconciliationToCsv(claims, "lines");
  EXPECT_EQ(std::count(lines_csv.begin(), lines_csv.end(), '\n'), 3);
  EXPECT_FALSE(CheckReconciliationTable("months").ok());
  EXPECT_EQ(CheckReconciliationTable("months").field(), "table");
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

// "Persons receiving project-paid services" (docs/events.md) counts a person only with a delivery the rules
// make eligible: the adult's day-centre days have no rule in the test rule set, so every one of them is
// ineligible and the adult is not counted, however many there are.
TEST_F(ReportsTest, APersonWhoseEveryDeliveryIsIneligibleIsNotReceivingServices) {
  Append({E("g-a1", "service_granted", "2021-01-01",
            {{"grant_id", "G-A1"}, {"person_id", "P-A1"}, {"municipality_id", "M-2"}, {"service", "adult_day_centre"},
             {"quantity", 20}, {"period", "month"}, {"valid_from", "2021-01-01"}, {"valid_until", "2023-08-31"},
             {"cost_basis", "actual_cost"}, {"provider_id", "PV-1"}})});
  json day = Delivery("a1", "D-A1", "2021-03-10", 1, 2500);
  day["data"]["grant_id"] = "G-A1";
  day["data"].erase("purpose");
  json another = day;
  another["id"] = "a2";
  another["effective_date"] = "2021-03-11";
  another["data"]["delivery_id"] = "D-A2";
  Append({day, another});
  const LedgerModel model = Model();
  int ineligible = 0;
  for (const DeliveryDecision& decision : DecideEligibility(model, D("2021-12-31")).decisions) {
    if (decision.person_id == "P-A1") {
      EXPECT_EQ(decision.verdict, Verdict::kIneligible) << decision.delivery_id;
      ++ineligible;
    }
  }
  EXPECT_EQ(ineligible, 2);
  IndicatorsReport report;
  ASSERT_TRUE(ComputeIndicators(model, D("2021-12-31"), "", "", &report).ok());
  for (const IndicatorRow& row : report.totals) {
    if (row.target_group == "adult_mental_disability") {
      EXPECT_EQ(row.persons_enrolled, 1);
      EXPECT_EQ(row.persons_receiving_services, 0);
    }
    if (row.target_group == "child_functional_impairment") EXPECT_EQ(row.persons_receiving_services, 1);
  }
}

// The VSAC residents prepared for community life and those who moved out (brief §3.3 (H)): distinct persons from their
// first record's date, against targets; as known before the records, none.
TEST_F(ReportsTest, IndicatorsCountTheTransitionToCommunityLife) {
  const uint64_t before = store_->Head().position;
  Append({E("bt", "budget_amended", "2021-07-01",
            {{"project_id", "PR-1"}, {"total_cents", 100000}, {"esf_cents", 86690}, {"state_cents", 13310},
             {"targets", {{{"indicator", "persons_prepared_for_transition"}, {"target_group", "adult_mental_disability"},
                           {"count", 53}},
                          {{"indicator", "persons_started_independent_life"}, {"target_group", "adult_mental_disability"},
                           {"count", 2}}}}}),
          E("t1", "transition_prepared", "2021-02-01", {{"person_id", "P-A1"}, {"centre_id", "PV-1"}}),
          E("t2", "transition_prepared", "2021-03-01", {{"person_id", "P-A1"}, {"note", "prepared again"}}),
          E("t3", "independent_life_started", "2021-04-01", {{"person_id", "P-A1"}})});
  auto adults = [&](const char* valid, uint64_t known_at) {
    IndicatorsReport report;
    EXPECT_TRUE(ComputeIndicators(Model(known_at), D(valid), "", "", &report).ok());
    for (const IndicatorRow& row : report.totals) {
      if (row.target_group == "adult_mental_disability") return std::make_pair(row, report.targets);
    }
    ADD_FAILURE() << "no adult row";
    return std::make_pair(IndicatorRow{}, report.targets);
  };
  auto counts = [](const IndicatorRow& row) {
    return std::make_pair(row.persons_prepared_for_transition, row.persons_started_independent_life);
  };
  using Counts = std::pair<int64_t, int64_t>;
  EXPECT_EQ(counts(adults("2021-01-31", kKnownNow).first), (Counts{0, 0}));
  EXPECT_EQ(counts(adults("2021-02-01", kKnownNow).first), (Counts{1, 0}));
  EXPECT_EQ(counts(adults("2021-03-31", kKnownNow).first), (Counts{1, 0}));  // prepared twice: one person
  const auto [row, targets] = adults("2021-12-31", kKnownNow);
  EXPECT_EQ(counts(row), (Counts{1, 1}));
  std::map<std::string, std::pair<int64_t, int64_t>> achieved;  // indicator -> (target, achieved)
  for (const IndicatorTargetRow& target : targets) achieved[target.indicator] = {target.target, target.achieved};
  EXPECT_EQ(achieved["persons_prepared_for_transition"], (Counts{53, 1}));
  EXPECT_EQ(achieved["persons_started_independent_life"], (Counts{2, 1}));
  EXPECT_EQ(counts(adults("2021-12-31", before).first), (Counts{0, 0}));  // as known before they were recorded
  IndicatorsReport report;
  ASSERT_TRUE(ComputeIndicators(Model(), D("2021-12-31"), "", "", &report).ok());
  EXPECT_NE(IndicatorsToCsv(report).find("persons_prepared_for_transition,persons_started_independent_life\n"),
            std::string::npos);
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
