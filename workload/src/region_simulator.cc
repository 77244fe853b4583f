// Synthetic history of the Zemgale DI project (see di/workload/region_history.h).
//
// How the generator works
// -----------------------
// Every event gets a *record day* (the simulated day it is entered into the ledger, never before its
// effective date) and a sequence number (the order in which the generator created it). Events wait in a
// priority queue and are written in (record day, sequence) order. The generator only creates an event
// after the events it references, and never gives it an earlier record day than theirs, so the file order
// always respects references, while late entries (a delivery typed in a week after it happened) still
// show up naturally.
//
// The simulation walks month by month. In each month it
//   1. enrols the households whose enrolment falls in the month and plans their whole career at once
//      (assessments, support plans, applications, decisions, grant chains with renewals, amendments,
//      suspensions and early ends): these are few events per person and are queued with future record
//      days;
//   2. generates the month's deliveries for every active grant (the bulk of the events), with the odd
//      correction or void recorded a few days later;
//   3. files the month's reimbursement claims (2-6 weeks after month end) with review and payments.
// Before a month is processed, every queued event recorded before that month is written out: nothing
// generated later can be recorded earlier, which the log checks. Memory therefore holds the planned
// careers and roughly two months of deliveries, not the whole history.
//
// Entitlements follow the default rule set (projections/rules/mk313.json, docs/rules.md), so that most
// of the delivered cost is eligible, as in a project whose municipalities know the rules:
//   - a grant ends with the entitlement it was decided under (the 2021-07-01 amendments, the abolition of
//     the count caps in 2022, a child's fifth birthday and, for child care, the parent's activity), and
//     what follows is a new decision under the new terms;
//   - a grant for a number of sessions covers the sessions its rhythm needs, within what is left of the
//     rules' count cap over the support plan or the rules' window (drawn down grant by grant); an
//     extension adds the sessions for the extra months; while a cap is used up the chain of grants pauses
//     until the next entitlement starts;
//   - GRT services stop when the two free years after the first plan run out before 2021-07-01, and
//     resume with a new plan once the amendment lifts the limit; children in care (BSAC) are assessed
//     and planned for but get none of the reimbursed services, for which the rules have no rule;
//   - providers keep each delivery within the grant's quantity per period and the rules' caps per person
//     (the weekly/monthly care hours and their 40 h leisure part, the 30 respite days a year).
// A deliberate few percent of the cost is not: providers that deliver beyond the grant or the caps, care
// for a parent's changed activity that was not re-decided, GRT services that went on for some months past
// the free period, late special-care opinions and late plan reviews. These are the findings the
// eligibility and funding reports show.
//
// Determinism: one xoshiro256** generator per purpose (household, grant-month, claim...), seeded from the
// options' seed by SplitMix64, with an unbiased integer range reduction written here. No floating point,
// no clock, no hash-ordered containers.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "region_simulator.h"

namespace di::workload::region {

Simulator::Simulator(const SimulateOptions& options, std::ostream& out) : options_(options), log_(out, options.seed) {
  // The project starts services in 2016; earlier first years would precede the agreement.
  services_start_ = std::max(Date(std::max(options_.first_year, 1900), 1, 1), Date(2016, 1, 1));
  const int last_year = std::min(options_.first_year + std::max(options_.years, 0) - 1, 2199);
  horizon_ = options_.years > 0 ? Date(std::max(last_year, 1900), 12, 31) : services_start_ - 1;
  // Nobody is enrolled in the last three months of services: there would be nothing left to provide.
  enrol_last_ = std::min(horizon_, Date(2023, 5, 31));
}

SimulateSummary Simulator::Run() {
  RegisterProject();
  RegisterMunicipalities();
  MergeMunicipalities();
  AmendBudget();
  RecordProjectExpenses();
  RecordProjectActivities();
  RegisterProviders();

  const std::vector<Household> households = PlanHouseholds();
  size_t next_household = 0;
  std::vector<ClaimableDelivery> claimable;
  const int32_t last_month = std::min(horizon_, project_end_);
  for (int32_t month_start = MonthStart(services_start_); month_start <= last_month;
       month_start = MonthEnd(month_start) + 1) {
    const int32_t month_end = MonthEnd(month_start);
    log_.WriteRecordedBefore(month_start);
    log_.SetFloor(month_start);
    while (next_household < households.size() && households[next_household].enrol_on <= month_end) {
      EnrolHousehold(households[next_household++]);
    }
    claimable.clear();
    DeliverMonth(month_start, month_end, &claimable);
    ClaimMonth(month_start, month_end, claimable);
  }
  // Everything recorded within the simulated years is written; later events (claims of the last months,
  // planned renewals) fall outside the simulated period and are dropped. Dropping a suffix of record days
  // never orphans a reference, because nothing references an event recorded later than itself.
  log_.WriteRecordedBefore(horizon_ + 1);
  return log_.summary();
}

}  // namespace di::workload::region

namespace di::workload {

SimulateSummary WriteSimulatedHistory(const SimulateOptions& options, std::ostream& out) {
  region::Simulator simulator(options, out);
  return simulator.Run();
}

}  // namespace di::workload
