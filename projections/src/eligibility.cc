#include "di/projections/eligibility.h"

#include <algorithm>
#include <limits>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"
#include "eligibility_internal.h"

namespace di::projections {

using ledger::FormatDate;
using ledger::kNoDate;

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kEligible: return "eligible";
    case Verdict::kPartlyEligible: return "partly_eligible";
    case Verdict::kIneligible: return "ineligible";
  }
  return "unknown";
}

std::string FormatQuantity(schema::Service service, int64_t quantity) {
  switch (ledger::ServiceUnit(service)) {
    case schema::Unit::MINUTES: {
      const int64_t hours = quantity / 60, minutes = quantity % 60;
      if (hours == 0) return std::to_string(minutes) + " min";
      return std::to_string(hours) + " h" + (minutes ? " " + std::to_string(minutes) + " min" : std::string());
    }
    case schema::Unit::DAYS: return std::to_string(quantity) + (quantity == 1 ? " day" : " days");
    case schema::Unit::SESSIONS: return std::to_string(quantity) + (quantity == 1 ? " session" : " sessions");
  }
  return std::to_string(quantity);
}

std::string FormatEuros(int64_t cents) {
  const bool negative = cents < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string whole = std::to_string(magnitude / 100);
  for (int at = static_cast<int>(whole.size()) - 3; at > 0; at -= 3) whole.insert(static_cast<size_t>(at), " ");
  const uint64_t fraction = magnitude % 100;
  return std::string("EUR ") + (negative ? "-" : "") + whole + "." + (fraction < 10 ? "0" : "") +
         std::to_string(fraction);
}

int64_t ProrateHalfUp(int64_t amount, int64_t part, int64_t whole) {
  if (whole <= 0 || part <= 0) return 0;
  if (part >= whole) return amount;
  const __int128 numerator = static_cast<__int128>(amount) * part * 2 + whole;
  return static_cast<int64_t>(numerator / (static_cast<__int128>(whole) * 2));
}

namespace internal {

int32_t AddYears(int32_t date, int years) {
  ledger::CivilDate civil = ledger::CivilFromDays(date);
  civil.year += years;
  if (civil.month == 2 && civil.day == 29 && !ledger::IsLeapYear(civil.year)) return ledger::DaysFromCivil(civil.year, 3, 1);
  return ledger::DaysFromCivil(civil.year, civil.month, civil.day);
}

schema::ParentActivity ParentActivityOn(const LedgerModel& model, const PersonFacts& person, int32_t date) {
  // A child's entitlement follows its representatives' activity; a parent's, their own. With two
  // representatives, one active parent is enough (the sources speak of "the parent").
  std::vector<const PersonFacts*> parents;
  if (person.target_group == schema::TargetGroup::PARENT_OF_CHILD) parents.push_back(&person);
  for (const std::string& id : person.representative_ids) {
    if (const PersonFacts* parent = model.FindPerson(id)) parents.push_back(parent);
  }
  for (const PersonFacts* parent : parents) {
    // The latest recorded activity covering the date wins (a later record corrects an earlier one).
    const Validity<schema::ParentActivity>* found = nullptr;
    for (const auto& activity : parent->parent_activities) {
      if (activity.CoversDate(date)) found = &activity;
    }
    if (found && found->value != schema::ParentActivity::NOT_ACTIVE) return found->value;
  }
  return schema::ParentActivity::NOT_ACTIVE;
}

const PlanFacts* PlanOn(const LedgerModel& model, const PersonFacts& person, schema::Service service, int32_t date) {
  const PlanFacts* found = nullptr;
  for (const std::string& id : person.plan_ids) {
    auto it = model.plans().find(id);
    if (it == model.plans().end()) continue;
    const PlanFacts& plan = it->second;
    const bool covers = date >= plan.valid_from && (plan.valid_until == kNoDate || date <= plan.valid_until);
    if (covers && std::find(plan.services.begin(), plan.services.end(), service) != plan.services.end()) found = &plan;
  }
  return found;
}

// Checks the requirements of `rule`; returns "" or the reason the delivery fails them.
std::string CheckRequirements(const LedgerModel& model, const Rule& rule, const PersonFacts& person,
                              schema::Service service, int32_t date, schema::DeliveryPurpose purpose,
                              const PlanFacts** plan, std::optional<std::string_view> kind) {
  const Requirements& required = rule.requirements;
  const std::string_view service_name = ledger::ServiceName(service);  // for the reasons only
  if (required.special_care_opinion) {
    const bool valid = std::any_of(person.special_care_opinions.begin(), person.special_care_opinions.end(),
                                   [&](const auto& opinion) { return opinion.CoversDate(date); });
    if (!valid) return std::string(service_name) + ": no special-care opinion (VDEĀK) valid on " + FormatDate(date);
  }
  if (!required.disability_groups.empty()) {
    const bool valid = std::any_of(person.disabilities.begin(), person.disabilities.end(), [&](const auto& disability) {
      return disability.CoversDate(date) && std::find(required.disability_groups.begin(), required.disability_groups.end(),
                                                      disability.value) != required.disability_groups.end();
    });
    if (!valid) {
      std::string groups;
      for (auto group : required.disability_groups) groups += (groups.empty() ? "" : "/") + ledger::EnumValueName(group);
      return std::string(service_name) + ": no disability of group " + groups + " valid on " + FormatDate(date);
    }
  }
  *plan = PlanOn(model, person, service, date);
  if (required.support_plan && *plan == nullptr) {
    return std::string(service_name) + ": no support plan valid on " + FormatDate(date) + " lists this service";
  }
  if (required.years_after_plan) {
    int32_t first_plan = kNoDate;
    for (const std::string& id : person.plan_ids) {
      auto it = model.plans().find(id);
      if (it != model.plans().end() && (first_plan == kNoDate || it->second.valid_from < first_plan)) {
        first_plan = it->second.valid_from;
      }
    }
    if (first_plan == kNoDate) return std::string(service_name) + ": no support plan to count the free period from";
    const int32_t free_until = AddYears(first_plan, *required.years_after_plan) - 1;
    if (date > free_until) {
      const int years = *required.years_after_plan;
      return std::string(service_name) + ": free for " + std::to_string(years) + (years == 1 ? " year" : " years") +
             " after the plan of " +
             FormatDate(first_plan) + ", that is until " + FormatDate(free_until);
    }
  }
  if (!required.purposes.empty() &&
      std::find(required.purposes.begin(), required.purposes.end(), purpose) == required.purposes.end()) {
    std::string purposes;
    for (auto allowed : required.purposes) purposes += (purposes.empty() ? "" : "/") + ledger::EnumValueName(allowed);
    return std::string(service_name) + ": rule " + rule.id + " covers only " + purposes + " (delivery purpose: " +
           ledger::EnumValueName(purpose) + ")";
  }
  if (kind && !required.kinds.empty() &&
      std::find(required.kinds.begin(), required.kinds.end(), *kind) == required.kinds.end()) {
    std::string kinds;
    for (const std::string& allowed : required.kinds) kinds += (kinds.empty() ? "" : "/") + allowed;
    return std::string(service_name) + ": rule " + rule.id + " covers only the kinds " + kinds + " (" +
           (*kind == kUnspecifiedKind ? std::string("no kind recorded") : "delivery kind: " + std::string(*kind)) +
           ")";
  }
  return "";
}

std::string DescribeClosure(const std::string& provider_id, const ClosureFacts& closure) {
  // Named by its first day only: a reopening recorded later leaves the reason of the days it still covers as it was
  // (the journal re-decides only the days from the reopening).
  return "provider " + provider_id + " closed from " + FormatDate(closure.from) + " (" + closure.reason + ")";
}

std::string_view KindOf(const DeliveryFacts& delivery) {
  return delivery.kind.empty() ? kUnspecifiedKind : std::string_view(delivery.kind);
}

namespace {
CapPeriod GrantCapPeriod(schema::Period period) {
  switch (period) {
    case schema::Period::WEEK: return CapPeriod::kWeek;
    case schema::Period::MONTH: return CapPeriod::kMonth;
    case schema::Period::YEAR: return CapPeriod::kYear;
    case schema::Period::GRANT_PERIOD: return CapPeriod::kWindow;
  }
  return CapPeriod::kWindow;
}
}  // namespace

std::string DescribeCap(const ResolvedCap& resolved, const Rule& rule, const GrantFacts& grant) {
  if (resolved.rule_cap == nullptr) {
    return "granted " + FormatQuantity(grant.service, resolved.limit) + " per " +
           std::string(CapPeriodName(GrantCapPeriod(grant.period))) + " (grant " + grant.id + ")";
  }
  const Cap& cap = *resolved.rule_cap;
  const std::string per_period = " per " + std::string(CapPeriodName(cap.period)) +
                                 (cap.purpose ? " (" + ledger::EnumValueName(*cap.purpose) + ")" : "");
  if (resolved.counts_kinds()) {
    return "cap " + cap.id + " of at most " + std::to_string(resolved.limit) + " kinds" + per_period + " (rule " +
           rule.id + ")";
  }
  if (resolved.money()) {
    return "cap " + cap.id + " of " + FormatEuros(resolved.limit) + " of eligible cost" + per_period + " (rule " +
           rule.id + ")";
  }
  std::string of_kind;
  if (cap.per_kind) {
    const std::string_view kind = std::string_view(resolved.part).substr(std::string_view("kind:").size());
    of_kind = kind.empty() ? " of each kind" : " of kind " + std::string(kind);
  }
  return "cap " + cap.id + " of " + FormatQuantity(grant.service, resolved.limit) + of_kind + per_period + " (rule " +
         rule.id + ")";
}

std::vector<ResolvedCap> ResolveCaps(const LedgerModel& model, const Rule& rule, const GrantFacts& grant,
                                     const PersonFacts& person, int32_t date, const PlanFacts* plan,
                                     std::optional<schema::DeliveryPurpose> purpose,
                                     std::optional<std::string_view> kind) {
  std::vector<ResolvedCap> caps;
  for (const Cap& cap : rule.caps) {
    if (purpose && cap.purpose && *cap.purpose != *purpose) continue;  // a sub-cap of another purpose
    PeriodInstance instance;
    if (!CapPeriodInstance(cap, date, plan ? plan->id : std::string(), plan, &instance)) continue;
    ResolvedCap resolved;
    resolved.cap_id = cap.id;
    resolved.period_label = instance.label;
    resolved.limit = cap.IsMoney() ? cap.cost_cents : cap.quantity;
    std::string scope_key = person.id;
    if (cap.scope == CapScope::kFamily) {
      scope_key = "family:" + model.FamilyOf(person.id);
    } else if (cap.scope == CapScope::kPerRepresentedChild) {
      int64_t assessed_children = 0;
      for (const std::string& child_id : person.represented_child_ids) {
        if (model.AssessedBy(child_id, date)) ++assessed_children;
      }
      resolved.limit *= assessed_children;
    }
    resolved.scope_key = scope_key;
    resolved.rule_cap = &cap;
    if (cap.per_kind) resolved.part = "kind:" + std::string(kind.value_or(""));
    caps.push_back(std::move(resolved));
    if (cap.max_kinds) {
      // How many kinds are counted: right after the kind's own entry, which says whether this kind is one of them.
      ResolvedCap kinds = caps.back();
      kinds.part = "kinds";
      kinds.limit = *cap.max_kinds;
      caps.push_back(std::move(kinds));
    }
  }
  // The grant itself limits what is reimbursed: its quantity per its period.
  Cap grant_cap;
  grant_cap.id = "grant:" + grant.id;
  const int64_t granted = grant.QuantityOn(date);
  grant_cap.quantity = granted;
  grant_cap.period = GrantCapPeriod(grant.period);
  if (grant_cap.period == CapPeriod::kWindow) {
    grant_cap.window_from = grant.valid_from;
    grant_cap.window_until = grant.valid_until;
  }
  PeriodInstance instance;
  if (CapPeriodInstance(grant_cap, date, "", nullptr, &instance)) {
    caps.push_back(ResolvedCap{grant_cap.id, person.id, instance.label, granted, nullptr, ""});
  }
  return caps;
}

std::string UsageKey(const ResolvedCap& cap) {
  return UsageCounterKey(cap.cap_id, cap.scope_key, cap.period_label, cap.part);
}

}  // namespace internal

std::string UsageCounterKey(std::string_view cap_id, std::string_view scope_key, std::string_view period_label,
                            std::string_view part) {
  std::string key;
  key.reserve(cap_id.size() + scope_key.size() + period_label.size() + part.size() + 3);
  key.append(cap_id).append("|").append(scope_key).append("|").append(period_label);
  if (!part.empty()) key.append("|").append(part);
  return key;
}

std::string UsageCounterKey(const CapUsage& usage) {
  return UsageCounterKey(usage.cap_id, usage.scope_key, usage.period_label, usage.part);
}

bool CapPeriodInstance(const Cap& cap, int32_t date, const std::string& plan_id, const PlanFacts* plan,
                       PeriodInstance* instance) {
  const ledger::CivilDate civil = ledger::CivilFromDays(date);
  switch (cap.period) {
    case CapPeriod::kWeek: {
      const int weekday = ((date % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday; 0 = Monday
      instance->first_day = date - weekday;
      instance->last_day = instance->first_day + 6;
      instance->label = "week of " + FormatDate(instance->first_day);
      return true;
    }
    case CapPeriod::kMonth:
      instance->label = FormatDate(date).substr(0, 7);  // "YYYY-MM"
      instance->first_day = ledger::DaysFromCivil(civil.year, civil.month, 1);
      instance->last_day = instance->first_day + ledger::DaysInMonth(civil.year, civil.month) - 1;
      return true;
    case CapPeriod::kYear:
      instance->label = std::to_string(civil.year);
      instance->first_day = ledger::DaysFromCivil(civil.year, 1, 1);
      instance->last_day = ledger::DaysFromCivil(civil.year, 12, 31);
      return true;
    case CapPeriod::kWindow:
      if (date < cap.window_from || date > cap.window_until) return false;
      instance->first_day = cap.window_from;
      instance->last_day = cap.window_until;
      instance->label = FormatDate(cap.window_from) + ".." + FormatDate(cap.window_until);
      return true;
    case CapPeriod::kSupportPlan:
      if (plan == nullptr) return false;
      instance->first_day = plan->valid_from;
      instance->last_day = plan->valid_until;
      instance->label = "plan " + plan_id;
      return true;
  }
  return false;
}

namespace {

// The eligible cost of a delivery's first `units` eligible units: at the grant's unit rate under a unit-cost rule,
// else the actual cost prorated (half up). Money caps count these cents, so what they count adds up to the
// delivery's eligible cost.
int64_t CostOfEligible(const Rule* cost_rule, int64_t unit_rate, const DeliveryFacts& delivery, int64_t units) {
  if (cost_rule != nullptr && cost_rule->cost_basis == schema::CostBasis::UNIT_COST && unit_rate > 0) {
    return units * unit_rate;
  }
  return ProrateHalfUp(delivery.cost_cents, units, delivery.quantity);
}

// How the units of one delivery are priced while it is decided (a stay, day by day).
struct UnitPricing {
  const DeliveryFacts* delivery = nullptr;
  int64_t unit_rate = 0;            // the grant's rate on the delivery date
  const Rule* cost_rule = nullptr;  // the first rule that applied to the delivery; null before one did
  int64_t eligible_before = 0;      // units already eligible (earlier days of the stay)

  // The cost of `units` more eligible units under `rule` (the cost rule once there is one).
  int64_t CostOfMore(const Rule* rule, int64_t units) const {
    const Rule* pricing = cost_rule != nullptr ? cost_rule : rule;
    return CostOfEligible(pricing, unit_rate, *delivery, eligible_before + units) -
           CostOfEligible(pricing, unit_rate, *delivery, eligible_before);
  }
  // The most of `units` whose cost fits in `room_cents` (costs grow with units: a binary search).
  int64_t UnitsWithin(const Rule* rule, int64_t units, int64_t room_cents) const {
    int64_t low = 0, high = units;
    while (low < high) {
      const int64_t middle = low + (high - low + 1) / 2;
      if (CostOfMore(rule, middle) <= room_cents) low = middle;
      else high = middle - 1;
    }
    return low;
  }
};

struct UnitOutcome {
  int64_t eligible = 0;
  std::string rule_id;
  std::string reason;  // empty when all of `quantity` is eligible
  const Rule* rule = nullptr;
  std::string binding_cap;  // "<service>: <cap description> in <period>" when a cap cut it short
};

// Decides `quantity` units of `delivery` delivered on `date`: one day of a stay, or a whole single-day
// delivery. Eligible units are added to the usage of every applicable cap.
UnitOutcome DecideOn(const LedgerModel& model, const RuleSet& rules, const DeliveryFacts& delivery,
                     const GrantFacts& grant, const PersonFacts& person, int32_t date, int64_t quantity,
                     const UnitPricing& pricing, UsageCounters* usage_counters, CapCharges* charges) {
  UnitOutcome outcome;
  // Only the reasons name the service: most deliveries have none.
  const std::string_view service_name = ledger::ServiceName(grant.service);
  if (date > rules.services_paid_until) {
    outcome.reason = std::string(service_name) + ": services are paid until " + FormatDate(rules.services_paid_until);
    return outcome;
  }
  SelectorFacts facts;
  facts.age = ledger::AgeInYears(person.birth_date, date);
  facts.parent_activity = internal::ParentActivityOn(model, person, date);
  facts.municipality_id = grant.municipality_id;
  const Rule* rule = FindRule(rules, grant.service, person.target_group, date, facts);
  if (rule == nullptr) {
    outcome.reason = std::string(service_name) + ": no rule in force on " + FormatDate(date) + " for " +
                     ledger::EnumValueName(person.target_group) + " aged " + std::to_string(facts.age);
    return outcome;
  }
  outcome.rule = rule;
  outcome.rule_id = rule->id;
  if (date < grant.valid_from || date > grant.LastDay()) {
    // The ledger checked the date against the grant when the delivery was recorded; a later end or a
    // shortened validity can still leave it outside.
    outcome.reason = std::string(service_name) + ": " + FormatDate(date) + " is outside grant " + grant.id + " (" +
                     FormatDate(grant.valid_from) + ".." + FormatDate(grant.LastDay()) + ")";
    return outcome;
  }
  const PlanFacts* plan = nullptr;
  const std::string_view kind = internal::KindOf(delivery);
  if (std::string problem =
          internal::CheckRequirements(model, *rule, person, grant.service, date, delivery.purpose, &plan, kind);
      !problem.empty()) {
    outcome.reason = std::move(problem);
    return outcome;
  }
  for (const auto& [from, until] : grant.suspensions) {
    if (date >= from && (until == kNoDate || date <= until)) {
      outcome.reason = std::string(service_name) + ": grant " + grant.id + " is suspended from " + FormatDate(from);
      return outcome;
    }
  }
  if (const ClosureFacts* closed = model.ClosureOn(delivery.provider_id, grant.service, date); closed != nullptr) {
    outcome.reason = std::string(service_name) + ": " + internal::DescribeClosure(delivery.provider_id, *closed);
    return outcome;
  }
  // Caps: the eligible part is what every applicable cap still has room for.
  const std::vector<internal::ResolvedCap> caps =
      internal::ResolveCaps(model, *rule, grant, person, date, plan, delivery.purpose, kind);
  // Each cap's usage counter, looked up once: it is read for the room, then charged.
  std::vector<CapUsage*> usages;
  usages.reserve(caps.size());
  int64_t eligible = quantity;
  const internal::ResolvedCap* binding = nullptr;
  int64_t binding_left = 0;  // what the binding cap had left before this delivery, in its unit
  for (size_t i = 0; i < caps.size(); ++i) {
    const internal::ResolvedCap& cap = caps[i];
    CapUsage& usage = (*usage_counters)[internal::UsageKey(cap)];
    usages.push_back(&usage);
    int64_t room = std::max<int64_t>(0, cap.limit - usage.used);
    if (cap.money()) room = pricing.UnitsWithin(rule, eligible, room);  // cents of room -> units that fit
    if (cap.counts_kinds()) {
      // A kind already counted keeps its place; another one needs a free place.
      DI_ASSERT(i > 0 && caps[i - 1].rule_cap == cap.rule_cap);
      const bool new_kind = usages[i - 1]->used == 0;  // the kind's own entry comes right before
      room = !new_kind || usage.used < cap.limit ? eligible : 0;
    }
    if (room < eligible) {
      eligible = room;
      binding = &cap;
      binding_left = std::max<int64_t>(0, cap.limit - usage.used);
    }
  }
  for (size_t i = 0; i < caps.size(); ++i) {
    CapUsage& usage = *usages[i];
    if (usage.cap_id.empty()) {  // a new counter: its key's parts, once (they never change for a key)
      usage.cap_id = caps[i].cap_id;
      usage.scope_key = caps[i].scope_key;
      usage.period_label = caps[i].period_label;
      usage.part = caps[i].part;
    }
    usage.limit = caps[i].limit;  // may change (an amended grant, a child assessed)
    // A count of kinds counts this kind once, when it is first counted (its kind entry was 0 before this charge).
    int64_t charged = caps[i].money() ? pricing.CostOfMore(rule, eligible) : eligible;
    if (caps[i].counts_kinds()) charged = eligible > 0 && usages[i - 1]->used == eligible ? 1 : 0;
    usage.used += charged;
    if (charges != nullptr) charges->emplace_back(&usage, charged);  // also 0: it read the counter
  }
  outcome.eligible = eligible;
  if (binding != nullptr) {
    outcome.binding_cap = std::string(service_name) + ": " + internal::DescribeCap(*binding, *rule, grant) + " in " +
                          binding->period_label;
    if (binding->counts_kinds()) outcome.binding_cap += " (" + std::string(kind) + " would be one more)";
    std::string how = eligible > 0 ? " reached on " + FormatDate(date) + "; " : " already used up; ";
    if (eligible == 0 && binding->money() && binding_left > 0) {
      how = " has " + FormatEuros(binding_left) + " left, less than one more unit costs; ";
    }
    outcome.reason = outcome.binding_cap + how + FormatQuantity(grant.service, quantity - eligible) + " over";
  }
  return outcome;
}

// Decides the units of `delivery` (each day of a stay, or the whole delivery), charging the caps' counters, and
// words the reason; sets decision->eligible_quantity, rule_id and reason. Returns the rule whose cost basis prices
// it (null when none applied).
const Rule* DecideUnits(const LedgerModel& model, const RuleSet& rules, const DeliveryFacts& delivery,
                        const GrantFacts& grant, const PersonFacts& person, UsageCounters* usage, CapCharges* charges,
                        DeliveryDecision* decision) {
  // A stay of several days is decided day by day: each day in its own period, under the rule, the
  // requirements and the last paid day in force on it. A stay of fewer days than its span counts its
  // first `quantity` days (the ledger does not record which days of the span were used).
  const bool stay = delivery.last_date > delivery.date && ledger::ServiceUnit(grant.service) == schema::Unit::DAYS;
  UnitPricing pricing;
  pricing.delivery = &delivery;
  pricing.unit_rate = grant.UnitCostOn(delivery.date);  // the rate in force on the delivery date
  const int64_t units_per_step = stay ? 1 : delivery.quantity;
  const int64_t steps = stay ? delivery.quantity : 1;
  int64_t eligible = 0, days_short = 0;
  const Rule* cost_rule = nullptr;  // the first rule that applied: its cost basis prices the delivery
  std::string first_binding_cap;  // for a stay cut short by a cap: the cap, summarised below
  int32_t last_eligible_day = kNoDate, cap_reached_on = kNoDate;  // the day the stay filled that cap
  for (int64_t step = 0; step < steps; ++step) {
    const int32_t date = delivery.date + static_cast<int32_t>(step);
    UnitOutcome outcome =
        DecideOn(model, rules, delivery, grant, person, date, units_per_step, pricing, usage, charges);
    eligible += outcome.eligible;
    if (outcome.eligible > 0) last_eligible_day = date;
    if (cost_rule == nullptr && outcome.rule != nullptr) cost_rule = outcome.rule;
    pricing.eligible_before = eligible;
    pricing.cost_rule = cost_rule;
    if (decision->rule_id.empty()) decision->rule_id = outcome.rule_id;
    if (!outcome.reason.empty()) {
      ++days_short;
      if (decision->reason.empty()) {
        decision->reason = std::move(outcome.reason);
        first_binding_cap = std::move(outcome.binding_cap);
        cap_reached_on = last_eligible_day;  // kNoDate: the cap was used up before the stay began
      }
    }
  }
  if (stay && days_short > 0) {
    if (!first_binding_cap.empty()) {
      // Worded like a single delivery: the day of the stay that reached the cap (its last eligible day
      // before the first day over), or "already used up"; how much of the stay is over.
      decision->reason = first_binding_cap +
                         (cap_reached_on != kNoDate ? " reached on " + FormatDate(cap_reached_on) + "; "
                                                    : " already used up; ") +
                         FormatQuantity(grant.service, delivery.quantity - eligible) + " over";
    } else {
      decision->reason += " (" + std::to_string(days_short) + " of " + std::to_string(steps) + " days)";
    }
  }
  decision->eligible_quantity = eligible;
  return cost_rule;
}

// The facts part of a decision; false when the delivery's grant, its person or the rules are unknown (the decision is
// then whole: ineligible, with the reason).
bool DecisionFacts(const LedgerModel& model, const DeliveryFacts& delivery, DeliveryDecision* decision,
                   const GrantFacts** grant_out, const PersonFacts** person_out) {
  decision->delivery_id = delivery.id;
  decision->grant_id = delivery.grant_id;
  decision->date = delivery.date;
  decision->quantity = delivery.quantity;
  decision->cost_cents = delivery.cost_cents;
  decision->positions.push_back(delivery.position);
  decision->positions.insert(decision->positions.end(), delivery.correction_positions.begin(),
                             delivery.correction_positions.end());
  const GrantFacts* grant = model.FindGrant(delivery.grant_id);
  const PersonFacts* person = grant ? model.FindPerson(grant->person_id) : nullptr;
  const RuleSet* rules = grant ? model.RulesOfGrant(*grant) : nullptr;
  if (grant == nullptr || person == nullptr || rules == nullptr) {
    decision->verdict = Verdict::kIneligible;
    decision->reason = grant != nullptr && person != nullptr ? "no rules enacted for project '" +
                                                                   model.ProjectOfGrant(*grant) + "'"
                                                             : "delivery of an unknown grant or person";
    if (grant != nullptr) decision->service = grant->service;
    return false;
  }
  decision->person_id = person->id;
  decision->municipality_id = grant->municipality_id;
  decision->service = grant->service;
  *grant_out = grant;
  *person_out = person;
  return true;
}

Verdict VerdictOf(int64_t eligible, int64_t quantity) {
  return eligible == quantity ? Verdict::kEligible : eligible == 0 ? Verdict::kIneligible : Verdict::kPartlyEligible;
}

}  // namespace

DeliveryDecision DecideDelivery(const LedgerModel& model, const DeliveryFacts& delivery, UsageCounters* usage,
                                CapCharges* charges) {
  DeliveryDecision decision;
  const GrantFacts* grant = nullptr;
  const PersonFacts* person = nullptr;
  if (!DecisionFacts(model, delivery, &decision, &grant, &person)) return decision;

  const Rule* cost_rule =
      DecideUnits(model, *model.RulesOfGrant(*grant), delivery, *grant, *person, usage, charges, &decision);
  const int64_t eligible = decision.eligible_quantity;
  // Cost: actual cost prorated to the eligible part, or units at the grant's unit rate in force on the delivery date.
  decision.eligible_cost_cents = CostOfEligible(cost_rule, grant->UnitCostOn(delivery.date), delivery, eligible);
  decision.verdict = VerdictOf(eligible, delivery.quantity);
  return decision;
}

DecisionOutcome OutcomeOf(const DeliveryDecision& decision) {
  return {decision.eligible_quantity, decision.eligible_cost_cents, decision.rule_id, decision.reason};
}

DeliveryDecision DecisionFromOutcome(const LedgerModel& model, const DeliveryFacts& delivery,
                                     const DecisionOutcome& outcome) {
  DeliveryDecision decision;
  const GrantFacts* grant = nullptr;
  const PersonFacts* person = nullptr;
  if (!DecisionFacts(model, delivery, &decision, &grant, &person)) return decision;
  decision.eligible_quantity = outcome.eligible_quantity;
  decision.eligible_cost_cents = outcome.eligible_cost_cents;
  decision.rule_id = outcome.rule_id;
  decision.reason = outcome.reason;
  decision.verdict = VerdictOf(outcome.eligible_quantity, delivery.quantity);
  return decision;
}

std::set<std::string> ScopeOfPerson(const LedgerModel& model, const std::string& person_id) {
  // The person and the grant holders of the person's family (FamilyMembers is the family; a member without
  // grants has no usage to share). Only the family is walked, never the region's grants.
  std::set<std::string> scope = {person_id};
  const std::string family = model.FamilyOf(person_id);
  for (const std::string& member : model.FamilyMembers(person_id)) {
    if (!model.GrantsOfPerson(member).empty() && model.FamilyOf(member) == family) scope.insert(member);
  }
  return scope;
}

namespace {

// The live deliveries dated on or before `valid_until` (kNoDate: all) of every delivery (`persons` null) or of the
// persons' grants, in valid-time order.
std::vector<const DeliveryFacts*> DeliveriesToDecide(const LedgerModel& model, int32_t valid_until,
                                                     const std::set<std::string>* persons) {
  std::vector<const DeliveryFacts*> deliveries;
  auto consider = [&](const DeliveryFacts& delivery) {
    if (delivery.voided || delivery.position == 0) return;
    if (valid_until != kNoDate && delivery.date > valid_until) return;
    deliveries.push_back(&delivery);
  };
  if (persons == nullptr) {
    for (const auto& [id, delivery] : model.deliveries()) consider(delivery);
  } else {
    // Through the indexes: the scope's grants, then their deliveries. A delivery of an unknown grant concerns
    // nobody's entitlement, so it is outside every person scope (it is on no person's grant list).
    for (const std::string& person_id : *persons) {
      for (const std::string& grant_id : model.GrantsOfPerson(person_id)) {
        for (const std::string& delivery_id : model.DeliveriesOfGrant(grant_id)) {
          auto found = model.deliveries().find(delivery_id);
          DI_ASSERT(found != model.deliveries().end());
          consider(found->second);
        }
      }
    }
  }
  std::sort(deliveries.begin(), deliveries.end(), [](const DeliveryFacts* a, const DeliveryFacts* b) {
    return a->date != b->date ? a->date < b->date : a->position < b->position;
  });
  return deliveries;
}

}  // namespace

std::vector<const DeliveryFacts*> ExplainedDeliveriesOf(const LedgerModel& model, const std::string& person_id,
                                                        int32_t valid_date) {
  const std::set<std::string> person = {person_id};
  return DeliveriesToDecide(model, valid_date, &person);
}

EligibilityResult DecideEligibility(const LedgerModel& model, int32_t valid_until, const std::set<std::string>* persons) {
  EligibilityResult result;
  const std::vector<const DeliveryFacts*> deliveries = DeliveriesToDecide(model, valid_until, persons);
  result.decisions.reserve(deliveries.size());
  for (const DeliveryFacts* delivery : deliveries) {
    result.decisions.push_back(DecideDelivery(model, *delivery, &result.usage, nullptr));
  }
  return result;
}

}  // namespace di::projections
