// Funding: per project, municipality (the granting one: old territory) and its post-reform territory,
// service and month of delivery: delivered cost, eligible cost, claimed, approved, paid, each with its
// ESF and state-budget parts; and each project's budget versions with what remains of them.
//
// Money is int64 cents, split where money moves: at the claim. A claim's approved ESF part is
// round_half_up(approved * ESF budget / total budget), with the budget version in force on the claim's date,
// and its state part is the rest; the ESF part is then allocated to the claim's lines in proportion to their
// approved amounts by the largest-remainder method (ties: delivery id order), each line's state part being
// the rest of the line. Payments (recorded per claim with their own ESF/state split) are allocated the same
// way: the paid amount in proportion to the approved lines, the paid ESF part in proportion to the paid
// lines. So every line, row and total is made of whole claims' parts, and each grouping of the funding
// report sums to the claims' figures to the cent (docs/projections.md §4, with a worked example).
#ifndef DI_PROJECTIONS_FUNDING_H_
#define DI_PROJECTIONS_FUNDING_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
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

// A row's key: project, territory, municipality, service, provider, mode and month ("YYYY-MM"); empty where grouped
// away. The month is last: rows sort by it within the other dimensions.
struct FundingRowKey {
  std::string project_id, territory_id, municipality_id, service, provider_id, mode, month;
  auto Tie() const { return std::tie(project_id, territory_id, municipality_id, service, provider_id, mode, month); }
  bool operator<(const FundingRowKey& other) const { return Tie() < other.Tie(); }
  bool operator==(const FundingRowKey& other) const { return Tie() == other.Tie(); }
};

struct FundingRow {
  std::string project_id;
  std::string territory_id;     // the post-reform municipality (the granting one if never merged)
  std::string municipality_id;  // the granting municipality (old territory)
  std::string service;
  std::string provider_id;      // the delivering provider; only when grouped by "provider"
  std::string mode;             // in_person / remote; only when grouped by "mode"
  std::string month;            // YYYY-MM of the delivery date
  FundingFigures figures;
  // With FundingQuery::explain: the positions of every event behind the row's figures (live deliveries and their
  // corrections, claims, reviews, payments, budget versions used for the split), ascending.
  std::vector<uint64_t> positions;
  FundingRowKey Key() const { return {project_id, territory_id, municipality_id, service, provider_id, mode, month}; }
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
  // Dimensions kept in the rows, of: project, territory, municipality, service, provider, mode, month. Empty: project,
  // territory, municipality, service and month (a provider or a mode splits rows only when asked for).
  std::vector<std::string> group_by;
  bool explain = false;  // fill FundingRow::positions
};

struct FundingReport {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::vector<FundingRow> rows;   // sorted by the kept dimensions
  std::vector<BudgetLine> budgets;
  FundingFigures totals;
  bool by_provider = false, by_mode = false;  // the rows have these dimensions (CSV columns)
  // Why the answer is empty although the query is valid: it is as known at a position before anything it asks
  // about was recorded (ExplainNotYetKnown, replay.h). Empty otherwise; in JSON only when set.
  std::string note;
};

// The budget version in force on `date` (the latest in force from on or before it; else the first).
const BudgetVersion* BudgetInForce(const ProjectFacts& project, int32_t date);

// The ESF part of `amount` under `budget`: round_half_up(amount * ESF / total); 0 without a budget.
int64_t EsfPartOf(int64_t amount, const BudgetVersion* budget);

// One claim's money as of a valid date: split at the claim, allocated to its lines (the rule above).
// The funding report and reconciliation both use it, so they cannot disagree by a cent.
struct ClaimSplit {
  const BudgetVersion* budget = nullptr;  // in force on the claim's date; null if the project has none
  bool reviewed = false;                  // a review dated on or before the valid date
  // The claim's lines (delivery id, claimed cents) in delivery id order: they point into the ClaimFacts split, which
  // outlives the split.
  std::vector<const std::pair<std::string, int64_t>*> lines;
  // Per line, in the order of `lines`:
  std::vector<int64_t> approved, approved_esf, paid, paid_esf;
  // The claim's figures; each is the sum of its lines' parts.
  int64_t claimed_cents = 0, approved_cents = 0, approved_esf_cents = 0, paid_cents = 0, paid_esf_cents = 0;
};
ClaimSplit SplitClaim(const LedgerModel& model, const ClaimFacts& claim, int32_t valid_date);
// The order of a split's lines: indices into ClaimFacts::lines by (delivery id, claimed cents).
std::vector<uint32_t> ClaimLineOrder(const ClaimFacts& claim);
// SplitClaim with that order already known (the funding journal splits one claim at several valid dates).
ClaimSplit SplitClaim(const LedgerModel& model, const ClaimFacts& claim, const std::vector<uint32_t>& order,
                      int32_t valid_date);
// Adds line `line` of `split` to `figures`: its claimed amount, approved and paid parts, ESF and state.
void AddClaimLine(const ClaimSplit& split, size_t line, FundingFigures* figures);

// The row of `grant`'s deliveries dated `date`: the grant's project (its municipality's), territory (as merged),
// municipality and service, and the month of `date` (no provider, no mode).
FundingRowKey FundingRowOf(const LedgerModel& model, const GrantFacts& grant, int32_t date);
// The row of `delivery` (of `grant`) with every dimension: FundingRowOf, its provider and its mode.
FundingRowKey FundingRowOfDelivery(const LedgerModel& model, const GrantFacts& grant, const DeliveryFacts& delivery);
// Sets the report's by_provider and by_mode from the dimensions kept.
void MarkDimensions(const std::set<std::string>& keep, FundingReport* report);
// Checks FundingQuery::group_by (kInvalidArgument on field "group_by") and returns the dimensions kept.
Status FundingDimensions(const std::vector<std::string>& group_by, std::set<std::string>* keep);
// `key` with the dimensions not in `keep` emptied (an empty `keep` keeps all).
FundingRowKey KeepDimensions(const FundingRowKey& key, const std::set<std::string>& keep);
// Whether the query's project and municipality filters keep a row of every dimension.
bool FundingQueryKeeps(const FundingQuery& query, const FundingRowKey& key);

// What a funding report reads besides its rows: the projects with their budget versions, the municipalities, and
// per claim what its review approved. Small (a few numbers per claim), so the funding journal's store keeps it at
// every position it answers for (journal_store.h); the naive report takes it from the model.
struct FundingContext {
  struct ClaimApproval {
    std::string project_id;
    int32_t date = 0;
    int32_t reviewed_on = ledger::kNoDate;  // kNoDate: not reviewed
    int64_t approved_cents = 0;             // the review's total
    bool operator==(const ClaimApproval&) const = default;
  };
  std::map<std::string, std::vector<BudgetVersion>> projects;  // project -> budget versions in recording order
  std::set<std::string> municipalities;
  std::map<std::string, ClaimApproval> claims;
};
FundingContext FundingContextOf(const LedgerModel& model);
FundingContext::ClaimApproval ClaimApprovalOf(const ClaimFacts& claim);

// Checks a query: its dimensions (field "group_by"), and that the project and municipality it names exist
// (kNotFound). Returns the dimensions kept.
Status CheckFundingQuery(const FundingContext& context, const FundingQuery& query, std::set<std::string>* keep);
// What a claim's review approved, as of a valid date (0 before the review): SplitClaim's approved_cents.
int64_t ApprovedOfClaim(const ClaimFacts& claim, int32_t valid_date);
// The report's budget lines: each version of each project the query keeps in force by the valid date, with the
// claims approved while it was in force.
void AppendFundingBudgets(const FundingContext& context, int32_t valid_date, const FundingQuery& query,
                          FundingReport* out);

Status ComputeFunding(const LedgerModel& model, int32_t valid_date, const FundingQuery& query, FundingReport* out);
// {"deliveries": ..., "delivered_cents": ..., ...}: the figures as every funding answer writes them.
nlohmann::ordered_json FundingFiguresToJson(const FundingFigures& figures);
nlohmann::ordered_json FundingToJson(const FundingReport& report);
// CSV with a header line; money in cents.
std::string FundingToCsv(const FundingReport& report);

// Splits `total` over `weights` in proportion, to the cent, by largest remainder (ties: lower index).
std::vector<int64_t> AllocateLargestRemainder(int64_t total, const std::vector<int64_t>& weights);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_FUNDING_H_
