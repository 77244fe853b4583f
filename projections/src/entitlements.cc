#include "di/projections/entitlements.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "di/ledger/catalog.h"
#include "di/projections/csv.h"
#include "eligibility_internal.h"

namespace di::projections {

using ledger::FormatDate;
using ledger::kNoDate;

std::vector<std::pair<std::string, int64_t>> CountersWithPrefix(const UsageCounters& counters,
                                                                 const std::string& prefix) {
  std::vector<std::pair<std::string, int64_t>> found;
  for (const auto& [key, usage] : counters) {
    if (key.starts_with(prefix)) found.emplace_back(key, usage.used);
  }
  return found;
}

namespace {

// Whether a cap of the line's rule limits only one purpose the rule does not restrict itself to (a leisure sub-cap
// of a care rule): it limits that purpose, not the line's remaining.
bool IsPurposeSubCap(const Rule* rule, const std::string& cap_id) {
  return rule != nullptr && std::any_of(rule->caps.begin(), rule->caps.end(), [&](const Cap& c) {
           const auto& only = rule->requirements.purposes;
           return c.id == cap_id && c.purpose.has_value() && std::find(only.begin(), only.end(), *c.purpose) == only.end();
         });
}

EntitlementCap EntryOf(const internal::ResolvedCap& cap, const Rule& rule, const GrantFacts& grant, int64_t used) {
  EntitlementCap entry;
  entry.cap_id = cap.cap_id;
  entry.part = cap.part;
  entry.scope_key = cap.scope_key;
  entry.description = internal::DescribeCap(cap, rule, grant);
  entry.period_label = cap.period_label;
  entry.limit = cap.limit;
  entry.used = used;
  entry.remaining = std::max<int64_t>(0, cap.limit - used);
  entry.money = cap.money();
  return entry;
}

// A cap per kind (`cap`, resolved without a kind; `kinds_cap`, its count of kinds, or null): one entry per kind, the
// rule's kinds if it lists them, else the kinds counted so far (in key order), then the count of kinds. Returns the
// most one more delivery could get under it: the best room of a counted kind, or the cap's quantity while another
// kind may still be counted.
int64_t AddKindEntries(const internal::ResolvedCap& cap, const internal::ResolvedCap* kinds_cap, const Rule& rule,
                       const GrantFacts& grant, const CounterUsage& used, const CounterPrefixUsage& kinds_used,
                       EntitlementLine* line) {
  const std::string prefix = UsageCounterKey(cap.cap_id, cap.scope_key, cap.period_label, "kind:");
  std::vector<std::pair<std::string, int64_t>> kinds;  // (kind, used)
  if (!rule.requirements.kinds.empty()) {
    for (const std::string& kind : rule.requirements.kinds) kinds.emplace_back(kind, used(prefix + kind));
  } else {
    for (auto& [counter, amount] : kinds_used(prefix)) {
      if (amount > 0) kinds.emplace_back(counter.substr(prefix.size()), amount);
    }
    std::sort(kinds.begin(), kinds.end());
  }
  const int64_t kinds_counted = kinds_cap != nullptr ? used(internal::UsageKey(*kinds_cap)) : 0;
  const bool another_kind = kinds_cap == nullptr || kinds_counted < kinds_cap->limit;
  int64_t room = another_kind ? cap.limit : 0;
  for (const auto& [kind, amount] : kinds) {
    internal::ResolvedCap of_kind = cap;
    of_kind.part = "kind:" + kind;
    line->caps.push_back(EntryOf(of_kind, rule, grant, amount));
    if (amount > 0 || another_kind) room = std::max(room, line->caps.back().remaining);
  }
  if (kinds_cap != nullptr) line->caps.push_back(EntryOf(*kinds_cap, rule, grant, kinds_counted));
  return room;
}

// Entitlements with each cap counter's usage as of the valid date from `used` (counter key -> quantity used).
Status ComputeLines(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                    const CounterUsage& used, const CounterPrefixUsage& kinds_used, Entitlements* out) {
  const PersonFacts* person = model.FindPerson(person_id);
  if (person == nullptr || !person->enrolled) return Status::NotFound("no person '" + person_id + "'");
  *out = Entitlements{};
  out->person_id = person_id;
  out->target_group = person->target_group;
  out->age = ledger::AgeInYears(person->birth_date, valid_date);
  out->valid_date = valid_date;
  out->known_at_position = model.last_position();
  // The rules of the person's project; a grant in another project's municipality names its own on its line.
  const RuleSet* person_rules = model.RulesOfProject(person->project_id);
  if (person_rules != nullptr) out->rules_version = person_rules->version;
  out->rules_problem = model.RulesProblemOfProject(person->project_id);
  for (const std::string& grant_id : model.GrantsOfPerson(person_id)) {
    const GrantFacts& grant = *model.FindGrant(grant_id);
    const RuleSet* rules = model.RulesOfGrant(grant);
    const int32_t last_day = grant.LastDay();
    if (valid_date < grant.valid_from || valid_date > last_day) continue;
    EntitlementLine line;
    line.grant_id = grant_id;
    line.service = grant.service;
    line.granted_quantity = grant.QuantityOn(valid_date);
    line.granted_period = grant.period;
    line.grant_valid_from = grant.valid_from;
    line.grant_last_day = last_day;
    if (rules != person_rules && rules != nullptr) line.rules_version = rules->version;
    const Rule* rule = nullptr;
    const PlanFacts* plan = nullptr;
    if (rules == nullptr) {
      line.problem = "no rules enacted for project '" + model.ProjectOfGrant(grant) + "'";
    } else if (valid_date > rules->services_paid_until) {
      line.problem = "services are paid until " + FormatDate(rules->services_paid_until);
    } else {
      SelectorFacts facts;
      facts.age = out->age;
      facts.parent_activity = internal::ParentActivityOn(model, *person, valid_date);
      facts.municipality_id = grant.municipality_id;
      rule = FindRule(*rules, grant.service, person->target_group, valid_date, facts);
      if (rule == nullptr) {
        line.problem = "no rule in force for " + std::string(ledger::ServiceName(grant.service)) + " on " +
                       FormatDate(valid_date);
      } else {
        line.rule_id = rule->id;
        // Requirements other than purpose: a purpose-restricted rule still gives an entitlement.
        line.problem = internal::CheckRequirements(model, *rule, *person, grant.service, valid_date,
                                                   rule->requirements.purposes.empty()
                                                       ? schema::DeliveryPurpose::UNSPECIFIED
                                                       : rule->requirements.purposes.front(),
                                                   &plan);
        // The grant's own provider closed on the date: its deliveries would not be eligible.
        const ClosureFacts* closed = grant.provider_id.empty()
                                         ? nullptr
                                         : model.ClosureOn(grant.provider_id, grant.service, valid_date);
        if (line.problem.empty() && closed != nullptr) {
          line.problem = "the grant's " + internal::DescribeClosure(grant.provider_id, *closed);
        }
      }
    }
    const Rule no_rule;  // without a rule, the grant's own quantity still applies
    const Rule& applied = rule != nullptr ? *rule : no_rule;
    const std::vector<internal::ResolvedCap> caps =
        internal::ResolveCaps(model, applied, grant, *person, valid_date, rule != nullptr ? plan : nullptr, std::nullopt);
    line.remaining = -1;
    auto limit_line = [&](int64_t room) {
      if (line.remaining < 0 || room < line.remaining) line.remaining = room;
    };
    for (size_t i = 0; i < caps.size(); ++i) {
      const internal::ResolvedCap& cap = caps[i];
      if (cap.counts_kinds()) continue;  // listed with its cap per kind, just before it
      const bool sub_cap = IsPurposeSubCap(rule, cap.cap_id);
      if (cap.rule_cap != nullptr && cap.rule_cap->per_kind) {
        const internal::ResolvedCap* kinds_cap =
            i + 1 < caps.size() && caps[i + 1].counts_kinds() ? &caps[i + 1] : nullptr;
        const int64_t room = AddKindEntries(cap, kinds_cap, applied, grant, used, kinds_used, &line);
        if (!sub_cap) limit_line(room);
        continue;
      }
      line.caps.push_back(EntryOf(cap, applied, grant, used(internal::UsageKey(cap))));
      if (cap.money()) {
        // Cents, not units: its own remaining; a used-up one leaves no room in units either.
        const int64_t left = line.caps.back().remaining;
        if (!sub_cap && (line.remaining_cents < 0 || left < line.remaining_cents)) line.remaining_cents = left;
        if (!sub_cap && left == 0) limit_line(0);
        continue;
      }
      // A purpose sub-cap limits only that purpose; the line's remaining is the overall room.
      // ...unless the rule covers only that purpose (leisure only): then the sub-cap is the real limit.
      if (!sub_cap) limit_line(line.caps.back().remaining);
    }
    if (line.remaining < 0) line.remaining = 0;
    out->lines.push_back(std::move(line));
  }
  return Status::Ok();
}

}  // namespace

Status ComputeEntitlements(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                           Entitlements* out, bool explain) {
  if (model.FindPerson(person_id) == nullptr) return Status::NotFound("no person '" + person_id + "'");
  // Usage up to and including the valid date, as known.
  const std::set<std::string> scope = ScopeOfPerson(model, person_id);
  EligibilityResult eligibility = DecideEligibility(model, valid_date, &scope);
  Status status = ComputeLines(
      model, person_id, valid_date,
      [&](const std::string& counter) {
        auto usage = eligibility.usage.find(counter);
        return usage == eligibility.usage.end() ? 0 : usage->second.used;
      },
      [&](const std::string& prefix) { return CountersWithPrefix(eligibility.usage, prefix); }, out);
  if (!status.ok()) return status;
  out->explained = explain;
  if (explain) {
    for (DeliveryDecision& decision : eligibility.decisions) {
      if (decision.person_id == person_id) out->deliveries.push_back(std::move(decision));
    }
  }
  return Status::Ok();
}

Status ComputeEntitlementsFromUsage(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                                    const CounterUsage& used, const CounterPrefixUsage& kinds_used, Entitlements* out) {
  return ComputeLines(model, person_id, valid_date, used, kinds_used, out);
}

nlohmann::ordered_json EntitlementsToJson(const Entitlements& entitlements) {
  nlohmann::ordered_json json;
  json["person_id"] = entitlements.person_id;
  if (entitlements.note.empty()) {  // else the person was not known yet: no group, no age to tell
    json["target_group"] = ledger::EnumValueName(entitlements.target_group);
    json["age"] = entitlements.age;
  }
  json["valid_at"] = FormatDate(entitlements.valid_date);
  json["known_at_position"] = entitlements.known_at_position;
  json["rules_version"] = entitlements.rules_version;
  json["entitlements"] = nlohmann::ordered_json::array();
  for (const EntitlementLine& line : entitlements.lines) {
    nlohmann::ordered_json item;
    item["service"] = std::string(ledger::ServiceName(line.service));
    item["unit"] = std::string(ledger::UnitName(ledger::ServiceUnit(line.service)));
    item["grant_id"] = line.grant_id;
    item["granted"] = line.granted_quantity;
    item["granted_per"] = ledger::EnumValueName(line.granted_period);
    item["grant_valid"] = FormatDate(line.grant_valid_from) + ".." + FormatDate(line.grant_last_day);
    item["rule_id"] = line.rule_id;
    if (!line.rules_version.empty()) item["rules_version"] = line.rules_version;
    if (!line.problem.empty()) item["problem"] = line.problem;
    item["remaining"] = line.remaining;
    if (line.remaining_cents >= 0) item["remaining_cents"] = line.remaining_cents;
    item["caps"] = nlohmann::ordered_json::array();
    for (const EntitlementCap& cap : line.caps) {
      nlohmann::ordered_json entry = {{"cap_id", cap.cap_id}};
      if (cap.part.starts_with("kind:")) entry["kind"] = cap.part.substr(5);
      if (cap.part == "kinds") entry["counts"] = "kinds";
      entry["period"] = cap.period_label;
      if (cap.money) entry["unit"] = "cents";
      entry["limit"] = cap.limit;
      entry["used"] = cap.used;
      entry["remaining"] = cap.remaining;
      entry["description"] = cap.description;
      item["caps"].push_back(std::move(entry));
    }
    json["entitlements"].push_back(std::move(item));
  }
  if (!entitlements.note.empty()) json["note"] = entitlements.note;
  if (!entitlements.rules_problem.empty()) json["rules_problem"] = entitlements.rules_problem;
  if (entitlements.explained) {
    json["deliveries"] = nlohmann::ordered_json::array();
    for (const DeliveryDecision& decision : entitlements.deliveries) json["deliveries"].push_back(DecisionToJson(decision));
  }
  return json;
}

nlohmann::ordered_json DecisionToJson(const DeliveryDecision& decision) {
  nlohmann::ordered_json json;
  json["delivery_id"] = decision.delivery_id;
  json["grant_id"] = decision.grant_id;
  json["service"] = std::string(ledger::ServiceName(decision.service));
  json["date"] = FormatDate(decision.date);
  json["quantity"] = decision.quantity;
  json["cost_cents"] = decision.cost_cents;
  json["eligible_quantity"] = decision.eligible_quantity;
  json["eligible_cost_cents"] = decision.eligible_cost_cents;
  json["verdict"] = std::string(VerdictName(decision.verdict));
  json["rule_id"] = decision.rule_id;
  if (!decision.reason.empty()) json["reason"] = decision.reason;
  json["positions"] = decision.positions;
  return json;
}

std::string EntitlementsToCsv(const Entitlements& entitlements) {
  std::ostringstream csv;
  csv << "person_id,service,unit,grant_id,granted,granted_per,rule_id,cap_id,period,limit,used,remaining,problem\n";
  for (const EntitlementLine& line : entitlements.lines) {
    auto row = [&](const std::string& cap, const std::string& period, int64_t limit, int64_t used, int64_t remaining,
                   bool money) {
      csv << CsvField(entitlements.person_id) << ',' << ledger::ServiceName(line.service) << ','
          << (money ? std::string_view("cents") : ledger::UnitName(ledger::ServiceUnit(line.service))) << ',' << CsvField(line.grant_id) << ','
          << line.granted_quantity << ',' << ledger::EnumValueName(line.granted_period) << ','
          << CsvField(line.rule_id) << ',' << CsvField(cap) << ',' << CsvField(period) << ',' << limit << ','
          << used << ',' << remaining << ',' << CsvField(line.problem) << '\n';
    };
    if (line.caps.empty()) row("", "", 0, 0, line.remaining, false);
    for (const EntitlementCap& cap : line.caps) {
      row(cap.part.empty() ? cap.cap_id : cap.cap_id + " " + cap.part, cap.period_label, cap.limit, cap.used,
          cap.remaining, cap.money);
    }
  }
  return csv.str();
}

}  // namespace di::projections
