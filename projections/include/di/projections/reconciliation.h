// Reconciliation: per reimbursement claim, every line claimed against what the rules make eligible and
// what the review approved, the difference with its reasons, and the payments received, each figure with
// its ESF and state parts. The parts are split at the claim and allocated to the lines as funding.h says
// (SplitClaim), so a claim's lines sum to the claim and the claims to the funding report, to the cent.
//
// Findings, in words a finance officer can act on: per line, what the rules or the review changed; per
// payment, an ESF/state split that differs from the approved split (the cumulative paid amount split as the
// approval was, minus what the earlier payments should have carried); per claim, paid above approved.
#ifndef DI_PROJECTIONS_RECONCILIATION_H_
#define DI_PROJECTIONS_RECONCILIATION_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/projections/eligibility.h"

namespace di::projections {

struct ReconciliationLine {
  std::string delivery_id;
  std::string service;
  int32_t delivery_date = 0;
  int64_t claimed_cents = 0;
  int64_t eligible_cents = 0;   // as the rules decide, as known (0 for a voided delivery)
  int64_t approved_cents = 0;   // 0 until reviewed
  int64_t approved_esf_cents = 0;    // the line's share of the claim's approved ESF part
  int64_t approved_state_cents = 0;
  int64_t paid_cents = 0;            // the line's share of what was paid (in proportion to approved)
  int64_t paid_esf_cents = 0;
  int64_t paid_state_cents = 0;
  int64_t claimed_over_eligible_cents = 0;  // claimed - eligible (> 0: claimed more than the rules allow)
  std::vector<std::string> findings;        // the reasons behind every difference
  std::vector<uint64_t> positions;          // delivery, corrections, claim, review
};

// A figure with its parts; esf + state == total.
struct SplitCents {
  int64_t total = 0, esf = 0, state = 0;
};

struct PaymentReconciliation {
  PaymentFacts payment;
  SplitCents expected;                // the approved split of this payment's amount (see above)
  std::vector<std::string> findings;  // the split differs; the payment takes the claim above approved
};

struct ClaimReconciliation {
  std::string claim_id;
  std::string project_id;
  std::string municipality_id;
  int32_t claim_date = 0;
  int32_t period_start = 0;
  int32_t period_end = 0;
  bool reviewed = false;
  int32_t budget_in_force_from = 0;   // the budget version that splits the claim (kNoDate: none)
  uint64_t budget_position = 0;
  std::vector<ReconciliationLine> lines;
  std::vector<PaymentReconciliation> payments;  // as of the valid date
  // Claimed and eligible are split as approved is (the budget in force on the claim's date), to show
  // what each would draw from the ESF; approved and paid are the claim's own figures; outstanding is
  // approved - paid, part by part.
  SplitCents claimed, eligible, approved, paid, outstanding;
  int64_t lines_with_findings = 0;
  std::vector<std::string> findings;   // the claim's own: paid above approved
  int64_t payments_with_findings = 0;
};

struct ReconciliationQuery {
  std::string project_id;
  std::string municipality_id;  // the claiming municipality
  std::string claim_id;
};

// Claims dated on or before `valid_date`; their reviews and payments as of that date.
Status ComputeReconciliation(const LedgerModel& model, int32_t valid_date, const ReconciliationQuery& query,
                             std::vector<ClaimReconciliation>* out);

// What a claim line reads of its delivery and of the rules' decision on it, as known: the delivery's facts as the
// model holds them, and the decision DecideEligibility makes on a live delivery (which is the same at every valid
// date on or after the delivery's date: funding_journal.h). The funding journal keeps them per delivery, so that a
// reconciliation needs the claims alone, not a model of the region (journal_reconciliation.h).
struct ClaimLineFacts {
  bool recorded = false;            // the model knows the delivery
  int32_t date = 0;
  std::string service;              // its grant's; empty when the grant is unknown
  std::string municipality_id;      // its grant's granting municipality; empty when the grant is unknown
  std::string project_id;           // its grant's project (LedgerModel::ProjectOfGrant): a place of the funding cells
  std::string provider_id;          // the delivering provider
  std::string mode;                 // in_person / remote
  int64_t cost_cents = 0;
  bool voided = false;
  std::vector<uint64_t> positions;  // the delivery's, then its corrections' and void's
  bool decided = false;             // the rules decided it (a live delivery): `outcome` holds
  DecisionOutcome outcome;          // a line reads the eligible cost and the reason; explain all of it
  bool operator==(const ClaimLineFacts&) const = default;
};
// The delivery's part of its line facts, from `model` (decided false).
ClaimLineFacts DeliveryLineFacts(const LedgerModel& model, const std::string& delivery_id);
// The same of a delivery already found in `model` (a walk over its deliveries looks none up again).
ClaimLineFacts DeliveryLineFacts(const LedgerModel& model, const DeliveryFacts& delivery);
// The line facts of a claimed delivery; a failed read fails the reconciliation.
using ClaimLineSource = std::function<Status(const std::string& delivery_id, ClaimLineFacts* facts)>;
// ComputeReconciliation with the lines' facts from `lines` and the claims and projects' budgets from `claims` (a
// model that needs no delivery, grant or person).
Status ComputeReconciliationOfLines(const LedgerModel& claims, int32_t valid_date, const ReconciliationQuery& query,
                                    const ClaimLineSource& lines, std::vector<ClaimReconciliation>* out);
// `note`: why the answer is empty although the query is valid (ExplainNotYetKnown, replay.h); in JSON only when set.
nlohmann::ordered_json ReconciliationToJson(const std::vector<ClaimReconciliation>& claims, int32_t valid_date,
                                            uint64_t known_at_position, const std::string& note = {});
// The CSV tables: "claims" (one row per claim), "lines" (one per claim line; also the empty name) or
// "payments" (one per payment). kInvalidArgument naming the field `table` for any other name.
Status CheckReconciliationTable(const std::string& table);
// CSV with a header line, money in cents, of a table CheckReconciliationTable accepts.
std::string ReconciliationToCsv(const std::vector<ClaimReconciliation>& claims, const std::string& table);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_RECONCILIATION_H_
