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
#ifndef DI_CLI_SIMULATE_H_
#define DI_CLI_SIMULATE_H_

#include <cstdint>
#include <ostream>

namespace di::cli {

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
SimulateSummary WriteSimulatedHistory(const SimulateOptions& options, std::ostream& out);

}  // namespace di::cli

#endif  // DI_CLI_SIMULATE_H_
