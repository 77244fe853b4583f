// Pieces of the eligibility engine shared with the entitlements query (not part of the public API).
#ifndef DI_PROJECTIONS_ELIGIBILITY_INTERNAL_H_
#define DI_PROJECTIONS_ELIGIBILITY_INTERNAL_H_

#include <optional>
#include <string>
#include <vector>

#include "di/projections/eligibility.h"

namespace di::projections::internal {

// A cap resolved for one person and date: which usage counter it is and how much it allows.
struct ResolvedCap {
  std::string cap_id;
  std::string scope_key;
  std::string period_label;
  int64_t limit = 0;
  const Cap* rule_cap = nullptr;  // the rule's cap it resolves; nullptr for the grant's own quantity
};

int32_t AddYears(int32_t date, int years);
schema::ParentActivity ParentActivityOn(const LedgerModel& model, const PersonFacts& person, int32_t date);
const PlanFacts* PlanOn(const LedgerModel& model, const PersonFacts& person, schema::Service service, int32_t date);
std::string CheckRequirements(const LedgerModel& model, const Rule& rule, const PersonFacts& person,
                              schema::Service service, int32_t date, schema::DeliveryPurpose purpose,
                              const PlanFacts** plan);
// Caps of `rule` plus the grant's own quantity, for a delivery with `purpose` (nullopt: every sub-cap).
std::vector<ResolvedCap> ResolveCaps(const LedgerModel& model, const Rule& rule, const GrantFacts& grant,
                                     const PersonFacts& person, int32_t date, const PlanFacts* plan,
                                     std::optional<schema::DeliveryPurpose> purpose);
// "cap child-care-month of 200 h per month (rule ...)" for a cap ResolveCaps resolved from `rule` and `grant`:
// made on demand, since deciding a delivery needs it only for the cap that binds.
std::string DescribeCap(const ResolvedCap& cap, const Rule& rule, const GrantFacts& grant);
std::string UsageKey(const ResolvedCap& cap);

}  // namespace di::projections::internal

#endif  // DI_PROJECTIONS_ELIGIBILITY_INTERNAL_H_
