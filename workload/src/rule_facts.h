// The dates and caps of the default rule set (projections/rules/mk313.json) that the generators plan with.
//
// The generators do not restate the rules: a grant sized to the weekly child-care cap, a course of sessions
// within the count cap of a support plan, the day the count caps are abolished, all come from the parsed
// document (projections' ParseRuleSet over DefaultRulesDocument), looked up by rule and cap id. A change of
// the rules data therefore changes the workload; a rule or cap the generators need that the document no
// longer holds stops the program at the first use (a programming error, not an operating one).
#ifndef DI_WORKLOAD_SRC_RULE_FACTS_H_
#define DI_WORKLOAD_SRC_RULE_FACTS_H_

#include <cstdint>

namespace di::workload {

struct RuleFacts {
  // Dates (day numbers as in di::ledger).
  int32_t project_start;          // parameter project_start
  int32_t services_paid_until;    // the rule set's services_paid_until: deliveries after it are not paid
  int32_t amendments_2021;        // the 2021 amendments (child care by month, GRT limits lifted): effective_from
  int32_t child_rehab_100_from;   // parameter child_rehab_100_from: 100 sessions per plan instead of 40
  int32_t count_caps_abolished;   // parameter count_caps_abolished: no count caps from then on
  int grt_free_years;              // GRT services before the amendments: years after the first plan

  // Caps, in the service's unit (minutes for child care, days, sessions).
  int64_t child_care_v0_young_week;      // ages 0-4 before the amendments, per week
  int64_t child_care_v0_older_week;      // ages 5-17 before the amendments, per week
  int64_t child_care_2021_young_month;   // ages 0-4, parent active, per month
  int64_t child_care_2021_older_month;   // ages 5-17, parent active, per month
  int64_t child_care_2021_leisure_month; // leisure, per month (the whole entitlement when the parent is not active)
  int64_t respite_year;                  // respite days a year
  int64_t child_rehab_v0_plan;           // sessions per support plan before child_rehab_100_from
  int64_t child_rehab_100_plan;          // sessions per support plan from child_rehab_100_from
  int64_t parent_rehab_v0;               // parent's sessions before the amendments
  int64_t parent_rehab_2021_per_child;   // parent's sessions per assessed child from the amendments
  int64_t grt_consultations_2021;        // psychologist and specialist consultations together
  int64_t grt_support_groups_2021;       // support groups
};

// The facts of the default rule set, parsed once.
const RuleFacts& DefaultRuleFacts();

}  // namespace di::workload

#endif  // DI_WORKLOAD_SRC_RULE_FACTS_H_
