// Seeded synthetic workload: the history of the Zemgale DI project "Atver sirdi Zemgalē"
// (9.2.2.1/15/I/001) as a JSON Lines event file the ledger accepts.
//
// The history covers the project set-up, budget amendments, the 2021-07-01 territorial reform,
// providers and contracts, persons of every target group with their assessments, support plans,
// applications, decisions, grants, deliveries (with corrections and voids), and the monthly
// reimbursement claims with their reviews and ESF / state-budget payments.
//
// Grants, sessions and deliveries follow the default rule set (projections/rules/mk313.json): most of the
// delivered cost is eligible, and a deliberate few percent is not (deliveries beyond the granted quantity
// or the rules' caps, GRT services past the two free years, late opinions and plan reviews), so that the
// eligibility and funding reports have real findings to show.
#ifndef DI_WORKLOAD_REGION_HISTORY_H_
#define DI_WORKLOAD_REGION_HISTORY_H_

#include <cstdint>
#include <ostream>

namespace di::workload {

struct SimulateOptions {
  uint64_t seed = 1;
  int persons = 300;  // total persons across target groups (parents of FT children come on top)
  int years = 8;      // simulated years starting 2016-01-01 (services stop at 2023-08-31)
  int first_year = 2016;
};

struct SimulateSummary {
  uint64_t events = 0;
  uint64_t persons = 0;
  uint64_t deliveries = 0;
  uint64_t claims = 0;
};

// Writes a realistic, valid JSON Lines history (one compact JSON object per line, '\n'-terminated) in an
// order the ledger accepts (every referenced entity is recorded before it is referenced).
// Same options -> same bytes.
// Each line carries the time it was recorded in the region's systems, "recorded_at" (UTC, microseconds): on its
// record day (a delivery some days after it happened, a claim after its month, a correction later still,
// reference data on its effective date), at a seeded office-hours time, never decreasing along the output (the
// output order is the record order) and never after kLatestSimulatedRecordedAt. `import --keep-recorded-at` keeps
// them (a migration); a plain import ignores them and records the events now.
SimulateSummary WriteSimulatedHistory(const SimulateOptions& options, std::ostream& out);

// No simulated event is recorded later than this (the simulated years end on 2023-12-31 at the latest; a fixed
// ceiling, not the wall clock, so the same options still give the same bytes), so a store whose clock is real
// takes every recorded time as asserted.
inline constexpr const char* kLatestSimulatedRecordedAt = "2024-01-01T00:00:00.000000Z";
// The recorded time the demo enacts the default rules at (`init --rules-recorded-at`): the project's start,
// before the first simulated event (the project's registration, 2015-12-08).
inline constexpr const char* kSimulatedRulesRecordedAt = "2015-07-01T00:00:00Z";

}  // namespace di::workload

#endif  // DI_WORKLOAD_REGION_HISTORY_H_
