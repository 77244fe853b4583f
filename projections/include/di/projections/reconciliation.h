// Reconciliation: per reimbursement claim, every line claimed against what the rules make eligible and
// what the review approved, the difference with its reasons, and the payments received.
#ifndef DI_PROJECTIONS_RECONCILIATION_H_
#define DI_PROJECTIONS_RECONCILIATION_H_

#include <cstdint>
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
  int64_t approved_esf_cents = 0;
  int64_t approved_state_cents = 0;
  int64_t claimed_over_eligible_cents = 0;  // claimed - eligible (> 0: claimed more than the rules allow)
  std::vector<std::string> findings;        // the reasons behind every difference
  std::vector<uint64_t> positions;          // delivery, corrections, claim, review
};

struct ClaimReconciliation {
  std::string claim_id;
  std::string project_id;
  std::string municipality_id;
  int32_t claim_date = 0;
  int32_t period_start = 0;
  int32_t period_end = 0;
  bool reviewed = false;
  std::vector<ReconciliationLine> lines;
  std::vector<PaymentFacts> payments;  // as of the valid date
  int64_t claimed_cents = 0, eligible_cents = 0, approved_cents = 0, approved_esf_cents = 0,
          approved_state_cents = 0, paid_cents = 0, paid_esf_cents = 0, paid_state_cents = 0;
  int64_t outstanding_cents = 0;       // approved - paid
  int64_t lines_with_findings = 0;
};

struct ReconciliationQuery {
  std::string project_id;
  std::string municipality_id;  // the claiming municipality
  std::string claim_id;
};

// Claims dated on or before `valid_date`; their reviews and payments as of that date.
Status ComputeReconciliation(const LedgerModel& model, int32_t valid_date, const ReconciliationQuery& query,
                             std::vector<ClaimReconciliation>* out);
// `note`: why the answer is empty although the query is valid (ExplainNotYetKnown, replay.h); in JSON only when set.
nlohmann::ordered_json ReconciliationToJson(const std::vector<ClaimReconciliation>& claims, int32_t valid_date,
                                            uint64_t known_at_position, const std::string& note = {});
std::string ReconciliationToCsv(const std::vector<ClaimReconciliation>& claims);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_RECONCILIATION_H_
