// Rules as versioned data: the caps and conditions of Cabinet Regulation No. 313 and its amendments.
//
// A rule set is a JSON document (format: docs/rules.md) recorded in the ledger by a `rules_enacted`
// event; an as-of replay therefore uses the rules as they were known at the time asked. Nothing in the
// code branches on a date: every date (effective periods, windows, the last day services are paid) is
// data, and where the sources give no exact date the rule set says so in a `note` and the date is a
// named parameter that `init --rules-parameter NAME=DATE` can change.
#ifndef DI_PROJECTIONS_RULES_H_
#define DI_PROJECTIONS_RULES_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "di/ledger/civil_date.h"
#include "di/ledger/status.h"
#include "events.capnp.h"

namespace di::projections {

using ledger::Status;

// The span a cap counts over.
enum class CapPeriod {
  kWeek,          // ISO week, Monday..Sunday
  kMonth,         // calendar month
  kYear,          // calendar year
  kWindow,        // a dated window [window_from, window_until]: usage before it is ignored
  kSupportPlan,   // the validity of the person's support plan in force on the delivery date
};

// Who a cap's usage is counted for.
enum class CapScope {
  kPerson,              // the recipient
  kFamily,              // all children represented by the same parent (respite "vienai ģimenei")
  kPerRepresentedChild, // a parent's cap is multiplied by the number of represented children that have
                        // an assessment ("par katru izvērtēto bērnu")
};

struct Cap {
  std::string id;                 // caps with the same id share their usage (across rules and services)
  int64_t quantity = 0;           // in the service's unit (minutes, days, sessions); 0 for a money cap
  // A money cap (cost-volume limit, "izmaksu apjoma ierobežojums", Z 491): the most eligible cost per period, in
  // cents, instead of a quantity. It admits whole units: the unit whose cost would cross it is over.
  int64_t cost_cents = 0;
  CapPeriod period = CapPeriod::kMonth;
  int32_t window_from = ledger::kNoDate;   // kWindow only
  int32_t window_until = ledger::kNoDate;  // kWindow only
  CapScope scope = CapScope::kPerson;
  // When set, the cap counts only deliveries with this purpose (a sub-cap inside the rule's other caps).
  std::optional<schema::DeliveryPurpose> purpose;
  // Limits per kind of therapy (KU 26-29: "each service at most 10 times, at most 4 services"): `quantity` is
  // counted for each kind apart (a delivery without a kind is of kind kUnspecifiedKind), and with `max_kinds` at
  // most that many kinds are counted in a period instance; a delivery of one more kind is ineligible.
  bool per_kind = false;
  std::optional<int> max_kinds;  // only with per_kind
  bool IsMoney() const { return cost_cents > 0; }
};

// The kind a delivery without one is counted as, under a cap per kind.
inline constexpr std::string_view kUnspecifiedKind = "unspecified";

// When a rule applies (selectors): the first rule in force whose selectors match a delivery is the one
// that decides it. Unset fields match everything.
struct Selector {
  std::optional<int> age_min;     // age in whole years on the delivery date
  std::optional<int> age_max;
  // For services of a child whose parent's activity decides the entitlement: the activity of the
  // representing parent on the delivery date is one of these ("not_active" when none is recorded).
  std::vector<schema::ParentActivity> parent_activity;
  // Services only some municipalities offer (Jelgava city's family assistant, Z 12): the grant's municipality is one
  // of these (a merger's successor is listed as well where it offers them too). Empty: every municipality.
  std::vector<std::string> municipalities;
};

// What a delivery must satisfy under the rule that applies (requirements): failing one makes the
// delivery ineligible, with the requirement as the reason.
struct Requirements {
  bool special_care_opinion = false;        // a VDEĀK opinion valid on the delivery date
  std::vector<schema::DisabilityGroup> disability_groups;  // a disability record valid on the date
  bool support_plan = false;                // a support plan valid on the date that lists the service
  std::optional<int> years_after_plan;      // within N years from the valid_from of the person's first plan
  std::vector<schema::DeliveryPurpose> purposes;  // allowed purposes (e.g. leisure only); empty: any
  std::vector<std::string> kinds;  // allowed kinds of therapy (KU 29: 2 of these 4); empty: any, or none recorded
};

struct Rule {
  std::string id;                           // stable name, used in reasons: "child-care-age-0-4-2021"
  std::vector<schema::Service> services;
  std::vector<schema::TargetGroup> target_groups;
  int32_t effective_from = ledger::kNoDate;
  int32_t effective_until = ledger::kNoDate;  // kNoDate: open-ended
  Selector selector;
  Requirements requirements;
  std::vector<Cap> caps;                      // empty: no count limit
  schema::CostBasis cost_basis = schema::CostBasis::ACTUAL_COST;
  std::string source;                         // citation of the source text
  std::string note;                           // what the sources leave open
};

struct RuleSet {
  std::string id;                      // "MK313"
  std::string version;                 // "MK313-2023-defaults"
  int32_t services_paid_until = ledger::kNoDate;  // deliveries after it are not reimbursed
  std::map<std::string, int32_t> parameters;      // named dates the rules refer to as "$name"
  std::vector<Rule> rules;             // in precedence order
};

// Parses and checks a rules document. Errors name the JSON path ("rules[3].caps[0].quantity").
// Dates may be written as "$parameter" referring to `parameters` (overridable with `overrides`).
Status ParseRuleSet(const nlohmann::json& document, RuleSet* rule_set,
                    const std::map<std::string, int32_t>& overrides = {});

// The rule that decides a delivery of `service` to a person of `group` on `date` with the selector
// facts given; nullptr if none is in force.
struct SelectorFacts {
  int age = 0;
  schema::ParentActivity parent_activity = schema::ParentActivity::NOT_ACTIVE;
  std::string_view municipality_id = {};  // the grant's (a view: deciding a delivery copies nothing)
};
const Rule* FindRule(const RuleSet& rules, schema::Service service, schema::TargetGroup group, int32_t date,
                     const SelectorFacts& facts);

std::string_view CapPeriodName(CapPeriod period);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_RULES_H_
