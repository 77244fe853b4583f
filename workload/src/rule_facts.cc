// RuleFacts read from the default rule set (see rule_facts.h).
#include "rule_facts.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "di/projections/default_rules.h"
#include "di/projections/rules.h"

namespace di::workload {
namespace {

[[noreturn]] void Missing(std::string_view what) {
  std::fprintf(stderr, "workload: the default rule set has no %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

const projections::Rule& RuleById(const projections::RuleSet& rules, std::string_view id) {
  for (const projections::Rule& rule : rules.rules) {
    if (rule.id == id) return rule;
  }
  Missing(id);
}

int64_t CapQuantity(const projections::RuleSet& rules, std::string_view rule_id, std::string_view cap_id) {
  for (const projections::Cap& cap : RuleById(rules, rule_id).caps) {
    if (cap.id == cap_id) return cap.quantity;
  }
  Missing(cap_id);
}

int32_t Parameter(const projections::RuleSet& rules, const char* name) {
  const auto it = rules.parameters.find(name);
  if (it == rules.parameters.end()) Missing(name);
  return it->second;
}

RuleFacts Read() {
  projections::RuleSet rules;
  const projections::Status status =
      projections::ParseRuleSet(nlohmann::json::parse(projections::DefaultRulesDocument()), &rules);
  if (!status.ok()) Missing("valid document: " + status.ToString());
  RuleFacts facts;
  facts.project_start = Parameter(rules, "project_start");
  facts.services_paid_until = rules.services_paid_until;
  facts.amendments_2021 = RuleById(rules, "grt-community-services-2021").effective_from;
  facts.child_rehab_100_from = Parameter(rules, "child_rehab_100_from");
  facts.count_caps_abolished = Parameter(rules, "count_caps_abolished");
  const auto& free_years = RuleById(rules, "grt-services-v0").requirements.years_after_plan;
  if (!free_years) Missing("years_after_plan in grt-services-v0");
  facts.grt_free_years = *free_years;
  facts.child_care_v0_young_week = CapQuantity(rules, "child-care-v0-age-0-4", "child-care-v0-age-0-4-week");
  facts.child_care_v0_older_week = CapQuantity(rules, "child-care-v0-age-5-17", "child-care-v0-age-5-17-week");
  facts.child_care_2021_young_month =
      CapQuantity(rules, "child-care-2021-age-0-4-parent-active", "child-care-2021-age-0-4-month");
  facts.child_care_2021_older_month =
      CapQuantity(rules, "child-care-2021-age-5-17-parent-active", "child-care-2021-age-5-17-month");
  facts.child_care_2021_leisure_month =
      CapQuantity(rules, "child-care-2021-parent-not-active", "child-care-2021-leisure-month");
  facts.respite_year = CapQuantity(rules, "respite", "respite-year");
  facts.child_rehab_v0_plan = CapQuantity(rules, "child-rehab-v0", "child-rehab-v0-plan");
  facts.child_rehab_100_plan = CapQuantity(rules, "child-rehab-100", "child-rehab-100-plan");
  facts.parent_rehab_v0 = CapQuantity(rules, "parent-rehab-v0", "parent-rehab-v0");
  facts.parent_rehab_2021_per_child = CapQuantity(rules, "parent-rehab-2021", "parent-rehab-2021-per-child");
  facts.grt_consultations_2021 = CapQuantity(rules, "grt-psychologist-2021", "grt-consultations-2021");
  facts.grt_support_groups_2021 = CapQuantity(rules, "grt-support-group-2021", "grt-support-groups-2021");
  return facts;
}

}  // namespace

const RuleFacts& DefaultRuleFacts() {
  static const RuleFacts facts = Read();
  return facts;
}

}  // namespace di::workload
