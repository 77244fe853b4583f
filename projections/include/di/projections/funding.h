// Funding: per project, municipality (the granting one: old territory) and its post-reform territory,
// service and month of delivery: delivered cost, eligible cost, claimed, approved, paid, each with its
// ESF and state-budget parts; and each project's budget versions with what remains of them.
//
// Money is int64 cents. The ESF part of an approved claim line is round_half_up(amount * ESF budget /
// total budget), with the budget in force on the claim's date; the state part is the rest, so the parts
// sum to the whole on every line and therefore in every total. Payments (recorded per claim with their
// own ESF/state split) are allocated to the claim's lines in proportion to the approved amounts by the
// largest-remainder method (ties: delivery id order), which again keeps every sum exact.
#ifndef DI_PROJECTIONS_FUNDING_H_
#define DI_PROJECTIONS_FUNDING_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/projections/eligibility.h"

namespace di::projections {

struct FundingFigures {
  int64_t deliveries = 0;
  int64_t delivered_cents = 0;
  int64_t eligible_cents = 0;
  int64_t claimed_cents = 0;
  int64_t approved_cents = 0;
  int64_t approved_esf_cents = 0;
  int64_t approved_state_cents = 0;
  int64_t paid_cents = 0;
  int64_t paid_esf_cents = 0;
  int64_t paid_state_cents = 0;
  void Add(const FundingFigures& other);
  bool operator==(const FundingFigures&) const = default;
};

struct FundingRow {
  std::string project_id;
  std::string territory_id;     // the post-reform municipality (the granting one if never merged)
  std::string municipality_id;  // the granting municipality (old territory)
  std::string service;
  std::string month;            // YYYY-MM of the delivery date
  FundingFigures figures;
  // With FundingQuery::explain: the positions of every event behind the row's figures (deliveries,
  // corrections, voids, claims, reviews, payments, budget versions used for the split), ascending.
  std::vector<uint64_t> positions;
};

struct BudgetLine {
  std::string project_id;
  int32_t in_force_from = 0;
  int64_t total_cents = 0;
  int64_t esf_cents = 0;
  int64_t state_cents = 0;
  uint64_t position = 0;           // the registration or amendment event
  int64_t approved_cents = 0;      // approved in claims dated before the next version (or the valid date)
  int64_t remaining_cents = 0;     // total - approved
};

struct FundingQuery {
  std::string project_id;       // empty: every project
  std::string municipality_id;  // empty: every municipality; else the granting one or its territory
  // Dimensions kept in the rows, of: project, territory, municipality, service, month. Empty: all.
  std::vector<std::string> group_by;
  bool explain = false;  // fill FundingRow::positions
};

struct FundingReport {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::vector<FundingRow> rows;   // sorted by the kept dimensions
  std::vector<BudgetLine> budgets;
  FundingFigures totals;
  // Why the answer is empty although the query is valid: it is as known at a position before anything it asks
  // about was recorded (ExplainNotYetKnown, replay.h). Empty otherwise; in JSON only when set.
  std::string note;
};

// The budget version in force on `date` (the latest in force from on or before it; else the first).
const BudgetVersion* BudgetInForce(const ProjectFacts& project, int32_t date);

Status ComputeFunding(const LedgerModel& model, int32_t valid_date, const FundingQuery& query, FundingReport* out);
nlohmann::ordered_json FundingToJson(const FundingReport& report);
// CSV with a header line; money in cents.
std::string FundingToCsv(const FundingReport& report);

// Splits `total` over `weights` in proportion, to the cent, by largest remainder (ties: lower index).
std::vector<int64_t> AllocateLargestRemainder(int64_t total, const std::vector<int64_t>& weights);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_FUNDING_H_
