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

namespace {

// Entitlements with each cap counter's usage as of the valid date from `used` (counter key -> quantity used).
Status ComputeLines(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                    const std::function<int64_t(const std::string&)>& used, Entitlements* out) {
  const PersonFacts* person = model.FindPerson(person_id);
  if (person == nullptr || !person->enrolled) return Status::NotFound("no person '" + person_id + "'");
  *out = Entitlements{};
  out->person_id = person_id;
  out->target_group = person->target_group;
  out->age = ledger::AgeInYears(person->birth_date, valid_date);
  out->valid_date = valid_date;
  out->known_at_position = model.last_position();
  const RuleSet* rules = model.rules();
  if (rules != nullptr) out->rules_version = rules->version;
  out->rules_problem = model.rules_problem();
  for (const std::string& grant_id : model.GrantsOfPerson(person_id)) {
    const GrantFacts& grant = *model.FindGrant(grant_id);
    const int32_t last_day = grant.LastDay();
    if (valid_date < grant.valid_from || valid_date > last_day) continue;
    EntitlementLine line;
    line.grant_id = grant_id;
    line.service = grant.service;
    line.granted_quantity = grant.QuantityOn(valid_date);
    line.granted_period = grant.period;
    line.grant_valid_from = grant.valid_from;
    line.grant_last_day = last_day;
    const Rule* rule = nullptr;
    const PlanFacts* plan = nullptr;
    if (rules == nullptr) {
      line.problem = "no rules enacted";
    } else if (valid_date > rules->services_paid_until) {
      line.problem = "services are paid until " + FormatDate(rules->services_paid_until);
    } else {
      SelectorFacts facts;
      facts.age = out->age;
      facts.parent_activity = internal::ParentActivityOn(model, *person, valid_date);
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
      }
    }
    const Rule no_rule;  // without a rule, the grant's own quantity still applies
    const Rule& applied = rule != nullptr ? *rule : no_rule;
    const std::vector<internal::ResolvedCap> caps =
        internal::ResolveCaps(model, applied, grant, *person, valid_date, rule != nullptr ? plan : nullptr, std::nullopt);
    line.remaining = -1;
    for (const internal::ResolvedCap& cap : caps) {
      EntitlementCap entitlement;
      entitlement.cap_id = cap.cap_id;
      entitlement.description = internal::DescribeCap(cap, applied, grant);
      entitlement.period_label = cap.period_label;
      entitlement.limit = cap.limit;
      entitlement.used = used(internal::UsageKey(cap));
      entitlement.remaining = std::max<int64_t>(0, cap.limit - entitlement.used);
      // A purpose sub-cap limits only that purpose; the line's remaining is the overall room.
      // ...unless the rule covers only that purpose (leisure only): then the sub-cap is the real limit.
      const bool sub_cap = rule != nullptr && std::any_of(rule->caps.begin(), rule->caps.end(), [&](const Cap& c) {
                             const auto& only = rule->requirements.purposes;
                             return c.id == cap.cap_id && c.purpose.has_value() &&
                                    std::find(only.begin(), only.end(), *c.purpose) == only.end();
                           });
      if (!sub_cap && (line.remaining < 0 || entitlement.remaining < line.remaining)) line.remaining = entitlement.remaining;
      line.caps.push_back(std::move(entitlement));
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
      out);
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
                                    const CounterUsage& used, Entitlements* out) {
  return ComputeLines(model, person_id, valid_date, used, out);
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
    if (!line.problem.empty()) item["problem"] = line.problem;
    item["remaining"] = line.remaining;
    item["caps"] = nlohmann::ordered_json::array();
    for (const EntitlementCap& cap : line.caps) {
      item["caps"].push_back({{"cap_id", cap.cap_id},
                              {"period", cap.period_label},
                              {"limit", cap.limit},
                              {"used", cap.used},
                              {"remaining", cap.remaining},
                              {"description", cap.description}});
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
    auto row = [&](const std::string& cap, const std::string& period, int64_t limit, int64_t used, int64_t remaining) {
      csv << CsvField(entitlements.person_id) << ',' << ledger::ServiceName(line.service) << ','
          << ledger::UnitName(ledger::ServiceUnit(line.service)) << ',' << CsvField(line.grant_id) << ','
          << line.granted_quantity << ',' << ledger::EnumValueName(line.granted_period) << ','
          << CsvField(line.rule_id) << ',' << CsvField(cap) << ',' << CsvField(period) << ',' << limit << ','
          << used << ',' << remaining << ',' << CsvField(line.problem) << '\n';
    };
    if (line.caps.empty()) row("", "", 0, 0, line.remaining);
    for (const EntitlementCap& cap : line.caps) row(cap.cap_id, cap.period_label, cap.limit, cap.used, cap.remaining);
  }
  return csv.str();
}

}  // namespace di::projections
