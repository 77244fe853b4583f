// Parsing and checking of rules documents (format: docs/rules.md).
#include "di/projections/rules.h"

#include <set>

#include "di/ledger/catalog.h"
#include "di/ledger/status.h"

namespace di::projections {
namespace {

using Json = nlohmann::json;
using ledger::FormatDate;
using ledger::kNoDate;

constexpr char kFormat[] = "di-ledger-rules/1";
constexpr size_t kMaxRules = 1000;
constexpr size_t kMaxCapsPerRule = 16;
constexpr size_t kMaxListedIds = 1000;  // municipalities a selector lists, kinds a rule allows
constexpr int64_t kMaxKinds = 100;       // a cap's max_kinds
constexpr int64_t kMaxCapCostCents = 100'000'000'000;  // a money cap's cost_cents: EUR 1 000 000 000

Status Invalid(const std::string& path, const std::string& message) {
  return Status::InvalidArgument(message, path.empty() ? "document" : "document." + path);
}

// Reads the rule set's JSON strictly: every object lists the keys it allows.
class Reader {
 public:
  explicit Reader(const std::map<std::string, int32_t>& parameters) : parameters_(parameters) {}

  Status Keys(const Json& object, const std::string& path, std::initializer_list<const char*> allowed) {
    if (!object.is_object()) return Invalid(path, "must be an object");
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool known = false;
      for (const char* key : allowed) known = known || it.key() == key;
      if (!known) return Invalid(Join(path, it.key()), "unknown field");
    }
    return Status::Ok();
  }

  Status Text(const Json& object, const std::string& path, const char* key, bool required, std::string* out) {
    auto it = object.find(key);
    if (it == object.end()) return required ? Invalid(Join(path, key), "is required") : Status::Ok();
    if (!it->is_string() || it->get<std::string>().empty()) return Invalid(Join(path, key), "must be a non-empty string");
    *out = it->get<std::string>();
    return Status::Ok();
  }

  // A date "YYYY-MM-DD" or "$parameter".
  Status Date(const Json& object, const std::string& path, const char* key, bool required, int32_t* out) {
    auto it = object.find(key);
    if (it == object.end()) return required ? Invalid(Join(path, key), "is required") : Status::Ok();
    if (!it->is_string()) return Invalid(Join(path, key), "must be a date YYYY-MM-DD or a $parameter");
    const std::string text = it->get<std::string>();
    if (!text.empty() && text[0] == '$') {
      auto parameter = parameters_.find(text.substr(1));
      if (parameter == parameters_.end()) return Invalid(Join(path, key), "unknown parameter '" + text + "'");
      *out = parameter->second;
      return Status::Ok();
    }
    if (!ledger::ParseDate(text, out)) return Invalid(Join(path, key), "'" + text + "' is not a valid date YYYY-MM-DD");
    return Status::Ok();
  }

  Status Integer(const Json& object, const std::string& path, const char* key, int64_t min, int64_t max,
                 std::optional<int64_t>* out) {
    auto it = object.find(key);
    if (it == object.end()) return Status::Ok();
    if (!it->is_number_integer()) return Invalid(Join(path, key), "must be an integer");
    const int64_t value = it->get<int64_t>();
    if (value < min || value > max) {
      return Invalid(Join(path, key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    *out = value;
    return Status::Ok();
  }

  template <typename Enum>
  Status EnumList(const Json& object, const std::string& path, const char* key, bool required,
                  std::vector<Enum>* out) {
    auto it = object.find(key);
    if (it == object.end()) return required ? Invalid(Join(path, key), "is required") : Status::Ok();
    if (!it->is_array() || (required && it->empty())) return Invalid(Join(path, key), "must be a non-empty array");
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string element_path = Join(path, key) + "[" + std::to_string(i) + "]";
      Enum value;
      DI_RETURN_IF_ERROR(EnumValue((*it)[i], element_path, &value));
      if (!seen.insert((*it)[i].get<std::string>()).second) return Invalid(element_path, "is listed twice");
      out->push_back(value);
    }
    return Status::Ok();
  }

  // A list of ids (ledger::IsValidId), each once; absent: empty. Present, it must not be empty.
  Status IdList(const Json& object, const std::string& path, const char* key, std::vector<std::string>* out) {
    auto it = object.find(key);
    if (it == object.end()) return Status::Ok();
    if (!it->is_array() || it->empty() || it->size() > kMaxListedIds) {
      return Invalid(Join(path, key), "must be an array of 1.." + std::to_string(kMaxListedIds) + " ids");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string element_path = Join(path, key) + "[" + std::to_string(i) + "]";
      const Json& element = (*it)[i];
      if (!element.is_string() || !ledger::IsValidId(element.get<std::string>())) {
        return Invalid(element_path, "must be an id: 1..64 characters of A-Z a-z 0-9 . _ : -");
      }
      if (!seen.insert(element.get<std::string>()).second) return Invalid(element_path, "is listed twice");
      out->push_back(element.get<std::string>());
    }
    return Status::Ok();
  }

  template <typename Enum>
  Status EnumValue(const Json& value, const std::string& path, Enum* out) {
    if (!value.is_string() || !ledger::ParseEnumValue(value.get<std::string>(), out)) {
      return Invalid(path, "must be one of: " + ledger::EnumValueList<Enum>());
    }
    return Status::Ok();
  }

  static std::string Join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

 private:
  const std::map<std::string, int32_t>& parameters_;
};

Status ParseCap(Reader& reader, const Json& json, const std::string& path, Cap* cap) {
  DI_RETURN_IF_ERROR(reader.Keys(json, path, {"id", "quantity", "cost_cents", "period", "window_from", "window_until", "scope",
                                              "purpose", "per_kind", "max_kinds"}));
  DI_RETURN_IF_ERROR(reader.Text(json, path, "id", true, &cap->id));
  std::optional<int64_t> quantity, cost_cents;
  DI_RETURN_IF_ERROR(reader.Integer(json, path, "quantity", 1, 1'000'000'000, &quantity));
  DI_RETURN_IF_ERROR(reader.Integer(json, path, "cost_cents", 1, kMaxCapCostCents, &cost_cents));
  if (quantity && cost_cents) return Invalid(Reader::Join(path, "cost_cents"), "a cap limits a quantity or a cost, not both");
  if (!quantity && !cost_cents) return Invalid(Reader::Join(path, "quantity"), "is required (or \"cost_cents\" for a money cap)");
  cap->quantity = quantity.value_or(0);
  cap->cost_cents = cost_cents.value_or(0);
  std::string period;
  DI_RETURN_IF_ERROR(reader.Text(json, path, "period", true, &period));
  if (period == "week") cap->period = CapPeriod::kWeek;
  else if (period == "month") cap->period = CapPeriod::kMonth;
  else if (period == "year") cap->period = CapPeriod::kYear;
  else if (period == "window") cap->period = CapPeriod::kWindow;
  else if (period == "support_plan") cap->period = CapPeriod::kSupportPlan;
  else return Invalid(Reader::Join(path, "period"), "must be one of: week, month, year, window, support_plan");
  if (cap->period == CapPeriod::kWindow) {
    DI_RETURN_IF_ERROR(reader.Date(json, path, "window_from", true, &cap->window_from));
    DI_RETURN_IF_ERROR(reader.Date(json, path, "window_until", true, &cap->window_until));
    if (cap->window_until < cap->window_from) return Invalid(Reader::Join(path, "window_until"), "is before window_from");
  } else if (json.contains("window_from") || json.contains("window_until")) {
    return Invalid(Reader::Join(path, json.contains("window_from") ? "window_from" : "window_until"),
                   "only a period of type window has window dates");
  }
  std::string scope = "person";
  DI_RETURN_IF_ERROR(reader.Text(json, path, "scope", false, &scope));
  if (scope == "person") cap->scope = CapScope::kPerson;
  else if (scope == "family") cap->scope = CapScope::kFamily;
  else if (scope == "per_represented_child") cap->scope = CapScope::kPerRepresentedChild;
  else return Invalid(Reader::Join(path, "scope"), "must be one of: person, family, per_represented_child");
  if (auto it = json.find("purpose"); it != json.end()) {
    schema::DeliveryPurpose purpose;
    DI_RETURN_IF_ERROR(reader.EnumValue(*it, Reader::Join(path, "purpose"), &purpose));
    cap->purpose = purpose;
  }
  if (auto it = json.find("per_kind"); it != json.end()) {
    if (!it->is_boolean()) return Invalid(Reader::Join(path, "per_kind"), "must be true or false");
    cap->per_kind = it->get<bool>();
    if (cap->per_kind && cap->IsMoney()) return Invalid(Reader::Join(path, "per_kind"), "a money cap is not counted per kind");
  }
  std::optional<int64_t> max_kinds;
  DI_RETURN_IF_ERROR(reader.Integer(json, path, "max_kinds", 1, kMaxKinds, &max_kinds));
  if (max_kinds) {
    if (!cap->per_kind) return Invalid(Reader::Join(path, "max_kinds"), "needs \"per_kind\": true");
    cap->max_kinds = static_cast<int>(*max_kinds);
  }
  return Status::Ok();
}

Status ParseRule(Reader& reader, const Json& json, const std::string& path, Rule* rule) {
  DI_RETURN_IF_ERROR(reader.Keys(json, path, {"id", "services", "target_groups", "effective_from", "effective_until",
                                              "applies_when", "requires", "caps", "cost_basis", "source", "note"}));
  DI_RETURN_IF_ERROR(reader.Text(json, path, "id", true, &rule->id));
  DI_RETURN_IF_ERROR(reader.EnumList(json, path, "services", true, &rule->services));
  DI_RETURN_IF_ERROR(reader.EnumList(json, path, "target_groups", true, &rule->target_groups));
  DI_RETURN_IF_ERROR(reader.Date(json, path, "effective_from", true, &rule->effective_from));
  DI_RETURN_IF_ERROR(reader.Date(json, path, "effective_until", false, &rule->effective_until));
  if (rule->effective_until != kNoDate && rule->effective_until < rule->effective_from) {
    return Invalid(Reader::Join(path, "effective_until"), "is before effective_from");
  }
  if (auto it = json.find("applies_when"); it != json.end()) {
    const std::string when = Reader::Join(path, "applies_when");
    DI_RETURN_IF_ERROR(reader.Keys(*it, when, {"age_min", "age_max", "parent_activity", "municipalities"}));
    std::optional<int64_t> age_min, age_max;
    DI_RETURN_IF_ERROR(reader.Integer(*it, when, "age_min", 0, 150, &age_min));
    DI_RETURN_IF_ERROR(reader.Integer(*it, when, "age_max", 0, 150, &age_max));
    if (age_min) rule->selector.age_min = static_cast<int>(*age_min);
    if (age_max) rule->selector.age_max = static_cast<int>(*age_max);
    if (age_min && age_max && *age_max < *age_min) return Invalid(Reader::Join(when, "age_max"), "is below age_min");
    DI_RETURN_IF_ERROR(reader.EnumList(*it, when, "parent_activity", false, &rule->selector.parent_activity));
    DI_RETURN_IF_ERROR(reader.IdList(*it, when, "municipalities", &rule->selector.municipalities));
  }
  if (auto it = json.find("requires"); it != json.end()) {
    const std::string requires_path = Reader::Join(path, "requires");
    DI_RETURN_IF_ERROR(reader.Keys(*it, requires_path,
                                   {"special_care_opinion", "disability_groups", "support_plan", "years_after_plan", "purposes",
                                    "kinds"}));
    for (const char* flag : {"special_care_opinion", "support_plan"}) {
      if (auto flag_it = it->find(flag); flag_it != it->end()) {
        if (!flag_it->is_boolean()) return Invalid(Reader::Join(requires_path, flag), "must be true or false");
        (std::string(flag) == "support_plan" ? rule->requirements.support_plan
                                             : rule->requirements.special_care_opinion) = flag_it->get<bool>();
      }
    }
    DI_RETURN_IF_ERROR(reader.EnumList(*it, requires_path, "disability_groups", false, &rule->requirements.disability_groups));
    std::optional<int64_t> years;
    DI_RETURN_IF_ERROR(reader.Integer(*it, requires_path, "years_after_plan", 1, 100, &years));
    if (years) rule->requirements.years_after_plan = static_cast<int>(*years);
    DI_RETURN_IF_ERROR(reader.EnumList(*it, requires_path, "purposes", false, &rule->requirements.purposes));
    DI_RETURN_IF_ERROR(reader.IdList(*it, requires_path, "kinds", &rule->requirements.kinds));
  }
  if (auto it = json.find("caps"); it != json.end()) {
    if (!it->is_array() || it->size() > kMaxCapsPerRule) {
      return Invalid(Reader::Join(path, "caps"),
                     "must be an array of at most " + std::to_string(kMaxCapsPerRule) + " caps");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      Cap cap;
      DI_RETURN_IF_ERROR(ParseCap(reader, (*it)[i], Reader::Join(path, "caps") + "[" + std::to_string(i) + "]", &cap));
      rule->caps.push_back(std::move(cap));
    }
  }
  if (auto it = json.find("cost_basis"); it != json.end()) {
    DI_RETURN_IF_ERROR(reader.EnumValue(*it, Reader::Join(path, "cost_basis"), &rule->cost_basis));
  }
  DI_RETURN_IF_ERROR(reader.Text(json, path, "source", false, &rule->source));
  DI_RETURN_IF_ERROR(reader.Text(json, path, "note", false, &rule->note));
  return Status::Ok();
}

bool Contains(const auto& list, const auto& value) { return std::find(list.begin(), list.end(), value) != list.end(); }

}  // namespace

Status ParseRuleSet(const nlohmann::json& document, RuleSet* out, const std::map<std::string, int32_t>& overrides) {
  // Parsed into a local: a failed parse leaves `out` untouched, never half-filled.
  RuleSet parsed;
  RuleSet* rule_set = &parsed;
  std::map<std::string, int32_t> parameters;
  Reader no_parameters(parameters);
  DI_RETURN_IF_ERROR(no_parameters.Keys(document, "", {"format", "rule_set", "version", "parameters",
                                                       "services_paid_until", "rules", "note"}));
  std::string note;
  DI_RETURN_IF_ERROR(no_parameters.Text(document, "", "note", false, &note));
  std::string format;
  DI_RETURN_IF_ERROR(no_parameters.Text(document, "", "format", true, &format));
  if (format != kFormat) return Invalid("format", "must be \"" + std::string(kFormat) + "\"");
  DI_RETURN_IF_ERROR(no_parameters.Text(document, "", "rule_set", true, &rule_set->id));
  DI_RETURN_IF_ERROR(no_parameters.Text(document, "", "version", true, &rule_set->version));
  if (auto it = document.find("parameters"); it != document.end()) {
    if (!it->is_object()) return Invalid("parameters", "must be an object of named dates");
    for (auto parameter = it->begin(); parameter != it->end(); ++parameter) {
      int32_t date;
      DI_RETURN_IF_ERROR(no_parameters.Date(*it, "parameters", parameter.key().c_str(), true, &date));
      parameters[parameter.key()] = date;
    }
  }
  for (const auto& [name, date] : overrides) {
    if (!parameters.count(name)) return Invalid("parameters." + name, "is not a parameter of this rule set");
    parameters[name] = date;
  }
  rule_set->parameters = parameters;
  Reader reader(rule_set->parameters);
  DI_RETURN_IF_ERROR(reader.Date(document, "", "services_paid_until", true, &rule_set->services_paid_until));
  auto rules = document.find("rules");
  if (rules == document.end() || !rules->is_array() || rules->empty() || rules->size() > kMaxRules) {
    return Invalid("rules", "must be an array of 1.." + std::to_string(kMaxRules) + " rules");
  }
  std::set<std::string> ids;
  std::map<std::string, const Cap*> caps_by_id;
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string path = "rules[" + std::to_string(i) + "]";
    Rule rule;
    DI_RETURN_IF_ERROR(ParseRule(reader, (*rules)[i], path, &rule));
    if (!ids.insert(rule.id).second) return Invalid(path + ".id", "rule id '" + rule.id + "' is used twice");
    rule_set->rules.push_back(std::move(rule));
  }
  // A shared cap id must mean one cap: same quantity, period, window, scope and purpose everywhere.
  for (size_t i = 0; i < rule_set->rules.size(); ++i) {
    for (size_t c = 0; c < rule_set->rules[i].caps.size(); ++c) {
      const Cap& cap = rule_set->rules[i].caps[c];
      auto [it, inserted] = caps_by_id.emplace(cap.id, &cap);
      const Cap& first = *it->second;
      if (!inserted && (first.quantity != cap.quantity || first.cost_cents != cap.cost_cents || first.period != cap.period ||
                        first.window_from != cap.window_from || first.window_until != cap.window_until ||
                        first.scope != cap.scope || first.purpose != cap.purpose || first.per_kind != cap.per_kind ||
                        first.max_kinds != cap.max_kinds)) {
        return Invalid("rules[" + std::to_string(i) + "].caps[" + std::to_string(c) + "]",
                       "cap id '" + cap.id + "' is defined differently elsewhere");
      }
    }
  }
  *out = std::move(parsed);
  return Status::Ok();
}

const Rule* FindRule(const RuleSet& rules, schema::Service service, schema::TargetGroup group, int32_t date,
                     const SelectorFacts& facts) {
  for (const Rule& rule : rules.rules) {
    if (date < rule.effective_from || (rule.effective_until != kNoDate && date > rule.effective_until)) continue;
    if (!Contains(rule.services, service) || !Contains(rule.target_groups, group)) continue;
    if (rule.selector.age_min && facts.age < *rule.selector.age_min) continue;
    if (rule.selector.age_max && facts.age > *rule.selector.age_max) continue;
    if (!rule.selector.parent_activity.empty() && !Contains(rule.selector.parent_activity, facts.parent_activity)) {
      continue;
    }
    if (!rule.selector.municipalities.empty() && !Contains(rule.selector.municipalities, facts.municipality_id)) {
      continue;
    }
    return &rule;
  }
  return nullptr;
}

std::string_view CapPeriodName(CapPeriod period) {
  switch (period) {
    case CapPeriod::kWeek: return "week";
    case CapPeriod::kMonth: return "month";
    case CapPeriod::kYear: return "year";
    case CapPeriod::kWindow: return "window";
    case CapPeriod::kSupportPlan: return "support plan";
  }
  return "period";
}

}  // namespace di::projections
