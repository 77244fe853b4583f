#include "projection_answers.h"

#include <gtest/gtest.h>

#include "di/projections/eligibility.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding.h"
#include "di/projections/indicators.h"
#include "di/projections/reconciliation.h"

namespace di::testing {

using namespace di::projections;

void ExpectFundingFiguresAddUp(const FundingFigures& figures) {
  EXPECT_EQ(figures.approved_esf_cents + figures.approved_state_cents, figures.approved_cents);
  EXPECT_EQ(figures.paid_esf_cents + figures.paid_state_cents, figures.paid_cents);
  EXPECT_LE(figures.paid_cents, figures.approved_cents);
  EXPECT_LE(figures.approved_cents, figures.claimed_cents);
}

FundingFigures SumOfRows(const FundingReport& funding) {
  FundingFigures sum;
  for (const FundingRow& row : funding.rows) sum.Add(row.figures);
  return sum;
}

void ExpectClaimAddsUp(const ClaimReconciliation& claim) {
  EXPECT_EQ(claim.approved.esf + claim.approved.state, claim.approved.total) << claim.claim_id;
  EXPECT_EQ(claim.paid.esf + claim.paid.state, claim.paid.total) << claim.claim_id;
  EXPECT_LE(claim.paid.total, claim.approved.total) << claim.claim_id;
  EXPECT_EQ(claim.outstanding.total, claim.approved.total - claim.paid.total) << claim.claim_id;
}

std::string AllAnswers(const LedgerModel& model, int32_t valid_date, const std::string& person_id) {
  std::string out;
  FundingReport funding;
  EXPECT_TRUE(ComputeFunding(model, valid_date, {}, &funding).ok());
  out += FundingToJson(funding).dump();
  const FundingFigures& totals = funding.totals;
  ExpectFundingFiguresAddUp(totals);
  const FundingFigures sum = SumOfRows(funding);
  EXPECT_EQ(sum.deliveries, totals.deliveries);
  EXPECT_EQ(sum.delivered_cents, totals.delivered_cents);
  EXPECT_EQ(sum.eligible_cents, totals.eligible_cents);
  EXPECT_EQ(sum.claimed_cents, totals.claimed_cents);
  EXPECT_EQ(sum.approved_cents, totals.approved_cents);
  EXPECT_EQ(sum.approved_esf_cents, totals.approved_esf_cents);
  EXPECT_EQ(sum.paid_cents, totals.paid_cents);
  EXPECT_EQ(sum.paid_esf_cents, totals.paid_esf_cents);

  std::vector<ClaimReconciliation> claims;
  EXPECT_TRUE(ComputeReconciliation(model, valid_date, {}, &claims).ok());
  out += ReconciliationToJson(claims, valid_date, model.last_position()).dump();
  for (const ClaimReconciliation& claim : claims) ExpectClaimAddsUp(claim);

  IndicatorsReport indicators;
  EXPECT_TRUE(ComputeIndicators(model, valid_date, "", "", &indicators).ok());
  out += IndicatorsToJson(indicators).dump();

  Entitlements entitlements;
  if (ComputeEntitlements(model, person_id, valid_date, &entitlements).ok()) {
    out += EntitlementsToJson(entitlements).dump();
    for (const EntitlementLine& line : entitlements.lines) {
      EXPECT_GE(line.remaining, 0) << line.grant_id;
      for (const EntitlementCap& cap : line.caps) {
        EXPECT_GE(cap.used, 0) << cap.cap_id;
        EXPECT_EQ(cap.remaining, std::max<int64_t>(0, cap.limit - cap.used)) << cap.cap_id;
      }
    }
  }
  for (const DeliveryDecision& decision : DecideEligibility(model, valid_date).decisions) {
    EXPECT_GE(decision.eligible_quantity, 0) << decision.delivery_id;
    EXPECT_LE(decision.eligible_quantity, decision.quantity) << decision.delivery_id;
    out += decision.delivery_id + ":" + std::to_string(decision.eligible_quantity) + ":" +
           std::to_string(decision.eligible_cost_cents) + ":" + decision.reason + "\n";
  }
  return out;
}

}  // namespace di::testing
