// Every answer a user can get from a folded model, as one string, for path-independence comparisons
// (checkpoint vs replay, before vs after a restart), with the money and entitlement invariants checked
// on the way (GoogleTest EXPECTs, so a violation fails the calling test and says where).
#ifndef DI_TESTS_PROJECTION_ANSWERS_H_
#define DI_TESTS_PROJECTION_ANSWERS_H_

#include <string>

#include "di/projections/funding.h"
#include "di/projections/ledger_model.h"
#include "di/projections/reconciliation.h"

namespace di::testing {

// ---- The money invariants, for every test that checks them ------------------------------------------------

// ESF + state == approved and == paid; paid <= approved <= claimed.
void ExpectFundingFiguresAddUp(const projections::FundingFigures& figures);
// The figures of `funding`'s rows added up (FundingFigures::Add): what its totals must be.
projections::FundingFigures SumOfRows(const projections::FundingReport& funding);
// ESF + state == approved and == paid; paid <= approved; outstanding == approved - paid. Failures name the claim.
void ExpectClaimAddsUp(const projections::ClaimReconciliation& claim);

// Funding (all rows), reconciliation (all claims), indicators, the entitlements of `person_id` (if enrolled)
// and every eligibility decision, as of `valid_date`. Invariants checked:
//   * funding: ESF + state == approved and == paid; paid <= approved <= claimed; the rows sum to the totals;
//   * each claim: ESF + state == approved and == paid; paid <= approved; outstanding == approved - paid;
//   * entitlements: used >= 0, remaining == max(0, limit - used), every line's remaining >= 0;
//   * each decision: 0 <= eligible quantity <= quantity.
std::string AllAnswers(const projections::LedgerModel& model, int32_t valid_date, const std::string& person_id);

}  // namespace di::testing

#endif  // DI_TESTS_PROJECTION_ANSWERS_H_
