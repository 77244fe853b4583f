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
  // Under a cap per kind: "kind:<kind>" (the kind's quantity; "kind:" resolved without a kind, for entitlements),
  // or "kinds" (how many kinds are counted, against Cap::max_kinds; it follows its cap's kind entry). "" otherwise.
  std::string part;
  bool counts_kinds() const { return part == "kinds"; }
  bool money() const { return rule_cap != nullptr && rule_cap->IsMoney(); }  // limit and usage in cents
};

int32_t AddYears(int32_t date, int years);
schema::ParentActivity ParentActivityOn(const LedgerModel& model, const PersonFacts& person, int32_t date);
const PlanFacts* PlanOn(const LedgerModel& model, const PersonFacts& person, schema::Service service, int32_t date);
// `kind`: the delivery's kind (KindOf), checked against the rule's kinds; nullopt: not checked (entitlements).
std::string CheckRequirements(const LedgerModel& model, const Rule& rule, const PersonFacts& person,
                              schema::Service service, int32_t date, schema::DeliveryPurpose purpose,
                              const PlanFacts** plan, std::optional<std::string_view> kind = std::nullopt);
// Caps of `rule` plus the grant's own quantity, for a delivery with `purpose` (nullopt: every sub-cap) and of
// `kind` (nullopt: a cap per kind resolves to part "kind:", for entitlements to list the kinds).
std::vector<ResolvedCap> ResolveCaps(const LedgerModel& model, const Rule& rule, const GrantFacts& grant,
                                     const PersonFacts& person, int32_t date, const PlanFacts* plan,
                                     std::optional<schema::DeliveryPurpose> purpose,
                                     std::optional<std::string_view> kind = std::nullopt);
// "provider PV-1 closed from 2020-03-13 (COVID-19)": why a delivery on a closed day is not eligible.
std::string DescribeClosure(const std::string& provider_id, const ClosureFacts& closure);
// The kind a delivery is counted as under a cap per kind: its own, else kUnspecifiedKind.
std::string_view KindOf(const DeliveryFacts& delivery);
// "cap child-care-month of 200 h per month (rule ...)" for a cap ResolveCaps resolved from `rule` and `grant`:
// made on demand, since deciding a delivery needs it only for the cap that binds.
std::string DescribeCap(const ResolvedCap& cap, const Rule& rule, const GrantFacts& grant);
std::string UsageKey(const ResolvedCap& cap);

}  // namespace di::projections::internal

#endif  // DI_PROJECTIONS_ELIGIBILITY_INTERNAL_H_
