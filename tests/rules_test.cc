// Rules as data: the shipped MK 313 rule set parses, every parse error names its JSON path, parameters can be
// overridden, and FindRule picks the right rule on both sides of every boundary the default rule set draws.
#include "di/projections/rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/projections/default_rules.h"

namespace di::projections {
namespace {

using Json = nlohmann::json;
using ledger::StatusCode;
using schema::CostBasis;
using schema::DeliveryPurpose;
using schema::DisabilityGroup;
using schema::ParentActivity;
using schema::Service;
using schema::TargetGroup;

// The shipped default rule set, relative to tests/data.
const std::string kDefaultRulesPath = std::string(DI_TEST_DATA_DIR) + "/../../projections/rules/mk313.json";

int32_t D(const char* text) {
  int32_t days = ledger::kNoDate;
  EXPECT_TRUE(ledger::ParseDate(text, &days)) << text;
  return days;
}

Json LoadDefaultDocument() {
  std::ifstream in(kDefaultRulesPath);
  EXPECT_TRUE(in.good()) << "cannot open " << kDefaultRulesPath;
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

RuleSet LoadDefault(const std::map<std::string, int32_t>& overrides = {}) {
  RuleSet rules;
  const Status status = ParseRuleSet(LoadDefaultDocument(), &rules, overrides);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return rules;
}

const Rule* RuleById(const RuleSet& rules, const std::string& id) {
  for (const Rule& rule : rules.rules) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

// The id of the rule deciding a delivery, or "" when no rule is in force.
std::string Decide(const RuleSet& rules, Service service, TargetGroup group, const char* date, int age = 30,
                   ParentActivity activity = ParentActivity::NOT_ACTIVE) {
  const Rule* rule = FindRule(rules, service, group, D(date), SelectorFacts{age, activity});
  return rule ? rule->id : "";
}

// ---------------------------------------------------------------------------------------------------------
// The shipped rule set.

TEST(DefaultRuleSetTest, Parses) {
  const RuleSet rules = LoadDefault();
  EXPECT_EQ(rules.id, "MK313");
  EXPECT_EQ(rules.version, "MK313-2023-defaults");
  EXPECT_EQ(rules.services_paid_until, D("2023-08-31"));
  const std::map<std::string, int32_t> expected_parameters = {
      {"project_start", D("2015-07-01")},        {"services_paid_until", D("2023-08-31")},
      {"child_care_age_5_17_from", D("2015-07-01")}, {"child_rehab_100_from", D("2021-07-01")},
      {"count_caps_abolished", D("2022-06-16")},
  };
  EXPECT_EQ(rules.parameters, expected_parameters);
  EXPECT_EQ(rules.rules.size(), 23u);
}

TEST(DefaultRuleSetTest, TheCompiledInDocumentIsTheShippedFile) {
  // `di-ledger init` enacts the compiled-in copy: it must be the file in projections/rules/.
  EXPECT_EQ(Json::parse(DefaultRulesDocument()), LoadDefaultDocument());
}

TEST(DefaultRuleSetTest, EveryRuleCitesItsSourceAndStartsWithTheProject) {
  const RuleSet rules = LoadDefault();
  for (const Rule& rule : rules.rules) {
    SCOPED_TRACE(rule.id);
    EXPECT_FALSE(rule.source.empty());
    EXPECT_FALSE(rule.note.empty());
    EXPECT_GE(rule.effective_from, rules.parameters.at("project_start"));
  }
}

// Every service paid under measure 9.2.2.1 has a rule; the two that are not (the IBM pilot's support person for
// decision-making, family-like care for children in out-of-family care; docs/rules.md §4.2) have none.
TEST(DefaultRuleSetTest, EveryServiceHasARuleBeforeAndAfterTheAmendmentAndTheAbolition) {
  const RuleSet rules = LoadDefault();
  const auto groups = {TargetGroup::ADULT_MENTAL_DISABILITY, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT,
                       TargetGroup::PARENT_OF_CHILD, TargetGroup::CHILD_IN_CARE};
  const size_t service_count = capnp::Schema::from<Service>().getEnumerants().size();
  for (size_t s = 0; s < service_count; ++s) {
    const auto service = static_cast<Service>(s);
    const bool outside_the_measure =
        service == Service::SUPPORT_PERSON_FOR_DECISIONS || service == Service::FAMILY_LIKE_CARE;
    SCOPED_TRACE(outside_the_measure ? "outside 9.2.2.1: no rule" : "paid under 9.2.2.1: a rule");
    for (const char* date : {"2016-01-04", "2021-06-30", "2021-07-01", "2022-06-16", "2023-08-31"}) {
      bool found = false;
      for (TargetGroup group : groups) {
        for (ParentActivity activity : {ParentActivity::WORKING, ParentActivity::NOT_ACTIVE}) {
          for (int age : {3, 10, 40}) {
            found = found || FindRule(rules, service, group, D(date), SelectorFacts{age, activity}) != nullptr;
          }
        }
      }
      EXPECT_EQ(found, !outside_the_measure) << ledger::ServiceName(service) << " on " << date;
    }
  }
}

TEST(DefaultRuleSetTest, CapQuantitiesAreInTheServiceUnit) {
  const RuleSet rules = LoadDefault();
  EXPECT_EQ(RuleById(rules, "child-care-v0-age-0-4")->caps.at(0).quantity, 50 * 60);
  EXPECT_EQ(RuleById(rules, "child-care-v0-age-5-17")->caps.at(0).quantity, 10 * 60);
  EXPECT_EQ(RuleById(rules, "child-care-2021-age-0-4-parent-active")->caps.at(0).quantity, 200 * 60);
  EXPECT_EQ(RuleById(rules, "child-care-2021-age-5-17-parent-active")->caps.at(0).quantity, 80 * 60);
  EXPECT_EQ(RuleById(rules, "child-care-2021-parent-not-active")->caps.at(0).quantity, 40 * 60);
  EXPECT_EQ(RuleById(rules, "respite")->caps.at(0).quantity, 30);
  EXPECT_EQ(RuleById(rules, "parent-rehab-v0")->caps.at(0).quantity, 20);
  EXPECT_EQ(RuleById(rules, "parent-rehab-2021")->caps.at(0).quantity, 40);
}

// ---------------------------------------------------------------------------------------------------------
// Parse errors: each names the JSON path of the offending value.

Json MinimalDocument() {
  return Json::parse(R"({
    "format": "di-ledger-rules/1",
    "rule_set": "T",
    "version": "T-1",
    "parameters": {"start": "2020-01-01"},
    "services_paid_until": "2023-08-31",
    "rules": [
      {"id": "r0", "services": ["respite"], "target_groups": ["child_functional_impairment"],
       "effective_from": "$start", "caps": [{"id": "c0", "quantity": 30, "period": "year"}]},
      {"id": "r1", "services": ["child_care"], "target_groups": ["child_functional_impairment"],
       "effective_from": "2021-07-01"}
    ]
  })");
}

struct ErrorCase {
  std::string pointer;  // JSON pointer of the value to set (or remove)
  Json value;           // the new value; discarded (null) when `remove`
  bool remove;
  std::string field;    // the path the error must name
  std::string message;  // a part of the message
};

ErrorCase Set(std::string pointer, Json value, std::string field, std::string message) {
  return {std::move(pointer), std::move(value), false, std::move(field), std::move(message)};
}
ErrorCase Remove(std::string pointer, std::string field, std::string message) {
  return {std::move(pointer), nullptr, true, std::move(field), std::move(message)};
}

std::vector<ErrorCase> ErrorCases() {
  Json too_many_caps = Json::array();
  for (int i = 0; i < 17; ++i) too_many_caps.push_back({{"id", "c" + std::to_string(i)}, {"quantity", 1}, {"period", "year"}});
  Json too_many_rules = Json::array();
  for (int i = 0; i < 1001; ++i) {
    too_many_rules.push_back({{"id", "r" + std::to_string(i)}, {"services", {"respite"}},
                              {"target_groups", {"child_functional_impairment"}}, {"effective_from", "2020-01-01"}});
  }
  return {
      // The document.
      Set("/extra", 1, "document.extra", "unknown field"),
      Remove("/format", "document.format", "is required"),
      Set("/format", "di-ledger-rules/2", "document.format", "must be \"di-ledger-rules/1\""),
      Set("/format", 1, "document.format", "must be a non-empty string"),
      Remove("/rule_set", "document.rule_set", "is required"),
      Set("/rule_set", "", "document.rule_set", "must be a non-empty string"),
      Remove("/version", "document.version", "is required"),
      // Parameters.
      Set("/parameters", Json::array(), "document.parameters", "must be an object of named dates"),
      Set("/parameters/start", "2020-02-30", "document.parameters.start", "is not a valid date"),
      Set("/parameters/start", 20200101, "document.parameters.start", "must be a date YYYY-MM-DD or a $parameter"),
      Set("/parameters/other", "$start", "document.parameters.other", "unknown parameter '$start'"),
      // services_paid_until.
      Remove("/services_paid_until", "document.services_paid_until", "is required"),
      Set("/services_paid_until", "$nope", "document.services_paid_until", "unknown parameter '$nope'"),
      Set("/services_paid_until", "31.08.2023", "document.services_paid_until", "is not a valid date"),
      // The rules array.
      Remove("/rules", "document.rules", "must be an array of 1..1000 rules"),
      Set("/rules", Json::array(), "document.rules", "must be an array of 1..1000 rules"),
      Set("/rules", Json::object(), "document.rules", "must be an array of 1..1000 rules"),
      Set("/rules", too_many_rules, "document.rules", "must be an array of 1..1000 rules"),
      // A rule.
      Set("/rules/0", "r0", "document.rules[0]", "must be an object"),
      Set("/rules/1/effective", "2021-07-01", "document.rules[1].effective", "unknown field"),
      Remove("/rules/0/id", "document.rules[0].id", "is required"),
      Set("/rules/1/id", "r0", "document.rules[1].id", "rule id 'r0' is used twice"),
      Remove("/rules/0/services", "document.rules[0].services", "is required"),
      Set("/rules/0/services", Json::array(), "document.rules[0].services", "must be a non-empty array"),
      Set("/rules/0/services", "respite", "document.rules[0].services", "must be a non-empty array"),
      Set("/rules/0/services", {"respite", "day_care"}, "document.rules[0].services[1]", "must be one of: child_care,"),
      Set("/rules/0/services", {3}, "document.rules[0].services[0]", "must be one of:"),
      Set("/rules/0/services", {"respite", "respite"}, "document.rules[0].services[1]", "is listed twice"),
      Remove("/rules/1/target_groups", "document.rules[1].target_groups", "is required"),
      Set("/rules/1/target_groups", {"child"}, "document.rules[1].target_groups[0]", "must be one of: adult_mental_disability"),
      Remove("/rules/0/effective_from", "document.rules[0].effective_from", "is required"),
      Set("/rules/0/effective_from", "$unknown", "document.rules[0].effective_from", "unknown parameter '$unknown'"),
      Set("/rules/0/effective_from", "2021-7-1", "document.rules[0].effective_from", "is not a valid date"),
      Set("/rules/0/effective_until", "2019-12-31", "document.rules[0].effective_until", "is before effective_from"),
      Set("/rules/0/effective_until", true, "document.rules[0].effective_until", "must be a date"),
      // Selectors.
      Set("/rules/0/applies_when", "always", "document.rules[0].applies_when", "must be an object"),
      Set("/rules/0/applies_when/age", 4, "document.rules[0].applies_when.age", "unknown field"),
      Set("/rules/0/applies_when/age_min", "4", "document.rules[0].applies_when.age_min", "must be an integer"),
      Set("/rules/0/applies_when/age_min", -1, "document.rules[0].applies_when.age_min", "must be between 0 and 150"),
      Set("/rules/0/applies_when/age_max", 151, "document.rules[0].applies_when.age_max", "must be between 0 and 150"),
      Set("/rules/0/applies_when", {{"age_min", 5}, {"age_max", 4}}, "document.rules[0].applies_when.age_max", "is below age_min"),
      Set("/rules/0/applies_when/parent_activity", {"employed"}, "document.rules[0].applies_when.parent_activity[0]", "must be one of: working"),
      Set("/rules/0/applies_when/municipalities", Json::array(), "document.rules[0].applies_when.municipalities", "must be an array of 1..1000 ids"),
      Set("/rules/0/applies_when/municipalities", "M-1", "document.rules[0].applies_when.municipalities", "must be an array of 1..1000 ids"),
      Set("/rules/0/applies_when/municipalities", {"M-1", "Jelgava city"}, "document.rules[0].applies_when.municipalities[1]", "must be an id"),
      Set("/rules/0/applies_when/municipalities", {"M-1", "M-1"}, "document.rules[0].applies_when.municipalities[1]", "is listed twice"),
      Set("/rules/0/applies_when/parent_activity", "working", "document.rules[0].applies_when.parent_activity", "must be a non-empty array"),
      // Requirements.
      Set("/rules/0/requires", Json::array(), "document.rules[0].requires", "must be an object"),
      Set("/rules/0/requires/assessment", true, "document.rules[0].requires.assessment", "unknown field"),
      Set("/rules/0/requires/special_care_opinion", "yes", "document.rules[0].requires.special_care_opinion", "must be true or false"),
      Set("/rules/0/requires/support_plan", 1, "document.rules[0].requires.support_plan", "must be true or false"),
      Set("/rules/0/requires/disability_groups", {"group_one", "group_four"}, "document.rules[0].requires.disability_groups[1]", "must be one of: group_one"),
      Set("/rules/0/requires/years_after_plan", 0, "document.rules[0].requires.years_after_plan", "must be between 1 and 100"),
      Set("/rules/0/requires/years_after_plan", 2.5, "document.rules[0].requires.years_after_plan", "must be an integer"),
      Set("/rules/0/requires/purposes", {"fun"}, "document.rules[0].requires.purposes[0]", "must be one of: unspecified"),
      Set("/rules/0/requires/purposes", {"leisure", "leisure"}, "document.rules[0].requires.purposes[1]", "is listed twice"),
      // Caps.
      Set("/rules/0/caps", Json::object(), "document.rules[0].caps", "must be an array of at most 16 caps"),
      Set("/rules/0/caps", too_many_caps, "document.rules[0].caps", "must be an array of at most 16 caps"),
      Set("/rules/0/caps/0", 30, "document.rules[0].caps[0]", "must be an object"),
      Set("/rules/0/caps/0/unit", "days", "document.rules[0].caps[0].unit", "unknown field"),
      Remove("/rules/0/caps/0/id", "document.rules[0].caps[0].id", "is required"),
      Remove("/rules/0/caps/0/quantity", "document.rules[0].caps[0].quantity", "is required"),
      Set("/rules/0/caps/0/quantity", 0, "document.rules[0].caps[0].quantity", "must be between 1 and 1000000000"),
      Set("/rules/0/caps/0/quantity", 1000000001, "document.rules[0].caps[0].quantity", "must be between 1 and 1000000000"),
      Set("/rules/0/caps/0/quantity", 1.5, "document.rules[0].caps[0].quantity", "must be an integer"),
      Set("/rules/0/caps/0/quantity", "30", "document.rules[0].caps[0].quantity", "must be an integer"),
      // Money caps and caps per kind.
      Set("/rules/0/caps/0/cost_cents", 100, "document.rules[0].caps[0].cost_cents", "a cap limits a quantity or a cost, not both"),
      Set("/rules/0/caps/0", {{"id", "m"}, {"cost_cents", 0}, {"period", "year"}}, "document.rules[0].caps[0].cost_cents",
          "must be between 1 and 100000000000"),
      Set("/rules/0/caps/0", {{"id", "m"}, {"cost_cents", "250.00"}, {"period", "year"}},
          "document.rules[0].caps[0].cost_cents", "must be an integer"),
      Set("/rules/0/caps/0", {{"id", "m"}, {"period", "year"}}, "document.rules[0].caps[0].quantity",
          "is required (or \"cost_cents\" for a money cap)"),
      Set("/rules/0/caps/0", {{"id", "m"}, {"cost_cents", 500}, {"period", "year"}, {"per_kind", true}},
          "document.rules[0].caps[0].per_kind", "a money cap is not counted per kind"),
      Set("/rules/0/caps/0/per_kind", "yes", "document.rules[0].caps[0].per_kind", "must be true or false"),
      Set("/rules/0/caps/0/max_kinds", 4, "document.rules[0].caps[0].max_kinds", "needs \"per_kind\": true"),
      Set("/rules/0/caps/0", {{"id", "k"}, {"quantity", 10}, {"period", "year"}, {"per_kind", true}, {"max_kinds", 101}},
          "document.rules[0].caps[0].max_kinds", "must be between 1 and 100"),
      Set("/rules/1/caps", {{{"id", "c0"}, {"cost_cents", 30}, {"period", "year"}}}, "document.rules[1].caps[0]",
          "cap id 'c0' is defined differently elsewhere"),
      Remove("/rules/0/caps/0/period", "document.rules[0].caps[0].period", "is required"),
      Set("/rules/0/caps/0/period", "day", "document.rules[0].caps[0].period", "must be one of: week, month, year, window, support_plan"),
      Set("/rules/0/caps/0/period", "window", "document.rules[0].caps[0].window_from", "is required"),
      Set("/rules/0/caps/1", {{"id", "w"}, {"quantity", 5}, {"period", "window"}, {"window_from", "2021-07-01"}},
          "document.rules[0].caps[1].window_until", "is required"),
      Set("/rules/0/caps/0/window_from", "2021-07-01", "document.rules[0].caps[0].window_from", "only a period of type window has window dates"),
      Set("/rules/0/caps/0/scope", "household", "document.rules[0].caps[0].scope", "must be one of: person, family, per_represented_child"),
      Set("/rules/0/caps/0/purpose", "fun", "document.rules[0].caps[0].purpose", "must be one of: unspecified, care, leisure"),
      // Other rule fields.
      Set("/rules/0/cost_basis", "free", "document.rules[0].cost_basis", "must be one of: actual_cost, unit_cost"),
      Set("/rules/0/source", "", "document.rules[0].source", "must be a non-empty string"),
      Set("/rules/1/note", 5, "document.rules[1].note", "must be a non-empty string"),
      // A cap id shared by two rules must mean one cap.
      Set("/rules/1/caps", {{{"id", "c0"}, {"quantity", 31}, {"period", "year"}}}, "document.rules[1].caps[0]",
          "cap id 'c0' is defined differently elsewhere"),
      Set("/rules/1/caps", {{{"id", "c0"}, {"quantity", 30}, {"period", "month"}}}, "document.rules[1].caps[0]",
          "cap id 'c0' is defined differently elsewhere"),
      Set("/rules/1/caps", {{{"id", "c0"}, {"quantity", 30}, {"period", "year"}, {"scope", "family"}}},
          "document.rules[1].caps[0]", "cap id 'c0' is defined differently elsewhere"),
      Set("/rules/1/caps", {{{"id", "c0"}, {"quantity", 30}, {"period", "year"}, {"purpose", "leisure"}}},
          "document.rules[1].caps[0]", "cap id 'c0' is defined differently elsewhere"),
  };
}

TEST(ParseRuleSetTest, MinimalDocumentParses) {
  RuleSet rules;
  const Status status = ParseRuleSet(MinimalDocument(), &rules);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(rules.rules.size(), 2u);
  const Rule& rule = rules.rules[0];
  EXPECT_EQ(rule.effective_from, D("2020-01-01"));  // "$start"
  EXPECT_EQ(rule.effective_until, ledger::kNoDate);
  EXPECT_EQ(rule.cost_basis, CostBasis::ACTUAL_COST);  // the default
  ASSERT_EQ(rule.caps.size(), 1u);
  EXPECT_EQ(rule.caps[0].scope, CapScope::kPerson);    // the default
  EXPECT_FALSE(rule.caps[0].purpose.has_value());
  EXPECT_EQ(rule.caps[0].window_from, ledger::kNoDate);
  EXPECT_FALSE(rule.requirements.special_care_opinion);
  EXPECT_FALSE(rule.requirements.support_plan);
  EXPECT_FALSE(rule.selector.age_min.has_value());
  EXPECT_TRUE(rules.rules[1].caps.empty());  // no caps: no count limit
}

TEST(ParseRuleSetTest, EveryErrorNamesItsJsonPath) {
  for (const ErrorCase& error_case : ErrorCases()) {
    SCOPED_TRACE(error_case.pointer + " -> " + (error_case.remove ? "(removed)" : error_case.value.dump()));
    Json document = MinimalDocument();
    const Json::json_pointer pointer(error_case.pointer);
    if (error_case.remove) {
      document.at(pointer.parent_pointer()).erase(pointer.back());
    } else {
      document[pointer] = error_case.value;
    }
    RuleSet rules;
    const Status status = ParseRuleSet(document, &rules);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.field(), error_case.field) << status.ToString();
    EXPECT_NE(status.message().find(error_case.message), std::string::npos) << status.ToString();
  }
}

TEST(ParseRuleSetTest, AValidWindowCapParses) {
  Json document = MinimalDocument();
  document["rules"][1]["caps"] = {{{"id", "w"}, {"quantity", 100}, {"period", "window"},
                                   {"window_from", "2021-07-01"}, {"window_until", "$start"}}};
  RuleSet rules;
  // window_until ($start = 2020-01-01) is before window_from.
  Status status = ParseRuleSet(document, &rules);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.field(), "document.rules[1].caps[0].window_until");
  document["rules"][1]["caps"][0]["window_until"] = "2023-08-31";
  status = ParseRuleSet(document, &rules);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(rules.rules[1].caps[0].period, CapPeriod::kWindow);
  EXPECT_EQ(rules.rules[1].caps[0].window_from, D("2021-07-01"));
  EXPECT_EQ(rules.rules[1].caps[0].window_until, D("2023-08-31"));
}

TEST(ParseRuleSetTest, ANonObjectDocumentIsInvalid) {
  for (const Json& document : {Json(nullptr), Json(5), Json::array(), Json("rules")}) {
    RuleSet rules;
    const Status status = ParseRuleSet(document, &rules);
    ASSERT_FALSE(status.ok()) << document.dump();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "must be an object");
    EXPECT_EQ(status.field().rfind("document", 0), 0u) << status.field();
  }
}

TEST(ParseRuleSetTest, AFailedParseLeavesTheOutputUntouched) {
  RuleSet rules = LoadDefault();
  ASSERT_FALSE(rules.rules.empty());
  const std::string version = rules.version;
  const size_t count = rules.rules.size();
  Json document = MinimalDocument();
  document["rules"][1]["services"] = {"nope"};
  ASSERT_FALSE(ParseRuleSet(document, &rules).ok());
  // Neither half of the new document nor an emptied rule set: the previous rules, whole.
  EXPECT_EQ(rules.version, version);
  EXPECT_EQ(rules.rules.size(), count);
  EXPECT_NE(RuleById(rules, "respite"), nullptr);
}

// ---------------------------------------------------------------------------------------------------------
// Parameters.

TEST(ParametersTest, OverridesChangeEveryDateThatNamesThem) {
  const RuleSet rules = LoadDefault({{"project_start", D("2015-12-01")},
                                     {"services_paid_until", D("2023-12-31")},
                                     {"count_caps_abolished", D("2022-01-01")}});
  EXPECT_EQ(rules.parameters.at("project_start"), D("2015-12-01"));
  EXPECT_EQ(rules.services_paid_until, D("2023-12-31"));
  EXPECT_EQ(RuleById(rules, "respite")->effective_from, D("2015-12-01"));
  EXPECT_EQ(RuleById(rules, "parent-rehab-v0")->caps.at(0).window_from, D("2015-12-01"));
  EXPECT_EQ(RuleById(rules, "grt-specialist-2021")->caps.at(0).window_until, D("2023-12-31"));
  EXPECT_EQ(RuleById(rules, "grt-psychologist-2021")->caps.at(0).window_until, D("2023-12-31"));
  EXPECT_EQ(RuleById(rules, "child-rehab-unlimited")->effective_from, D("2022-01-01"));
  // Not overridden: stays at its default (parameters do not refer to each other).
  EXPECT_EQ(RuleById(rules, "child-care-v0-age-5-17")->effective_from, D("2015-07-01"));

  const TargetGroup grt = TargetGroup::ADULT_MENTAL_DISABILITY;
  EXPECT_EQ(Decide(rules, Service::RESPITE, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, "2015-11-30", 3), "");
  EXPECT_EQ(Decide(rules, Service::RESPITE, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, "2015-12-01", 3), "respite");
  EXPECT_EQ(Decide(rules, Service::ADULT_SPECIALIST_CONSULTATION, grt, "2021-12-31"), "grt-specialist-2021");
  EXPECT_EQ(Decide(rules, Service::ADULT_SPECIALIST_CONSULTATION, grt, "2022-01-01"), "grt-specialist-and-groups-unlimited");
}

TEST(ParametersTest, ChildRehab100FromMovesOneBoundary) {
  const RuleSet rules = LoadDefault({{"child_rehab_100_from", D("2021-08-04")}});
  const TargetGroup child = TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT;
  EXPECT_EQ(Decide(rules, Service::CHILD_REHABILITATION, child, "2021-08-03", 8), "child-rehab-v0");
  EXPECT_EQ(Decide(rules, Service::CHILD_REHABILITATION, child, "2021-08-04", 8), "child-rehab-100");
  EXPECT_EQ(Decide(rules, Service::CHILD_REHABILITATION, child, "2022-06-16", 8), "child-rehab-unlimited");
}

TEST(ParametersTest, AnUnknownOverrideIsAnError) {
  RuleSet rules;
  const Status status = ParseRuleSet(LoadDefaultDocument(), &rules, {{"count_caps_abolishd", D("2022-06-16")}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field(), "document.parameters.count_caps_abolishd");
  EXPECT_NE(status.message().find("is not a parameter of this rule set"), std::string::npos);
}

TEST(ParametersTest, AnOverrideThatInvertsARuleIsAnError) {
  // The v0 care rule for ages 5-17 ends on 2021-06-30 (stated), so it cannot start after it.
  RuleSet rules;
  const Status status = ParseRuleSet(LoadDefaultDocument(), &rules, {{"child_care_age_5_17_from", D("2021-07-01")}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.field(), "document.rules[4].effective_until");
  EXPECT_NE(status.message().find("is before effective_from"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// FindRule on the default rule set.

class DefaultRulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rules_ = new RuleSet(LoadDefault()); }
  static void TearDownTestSuite() {
    delete rules_;
    rules_ = nullptr;
  }
  static const RuleSet& rules() { return *rules_; }
  static std::string ChildCare(const char* date, int age, ParentActivity activity) {
    return Decide(rules(), Service::CHILD_CARE, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, date, age, activity);
  }

 private:
  static RuleSet* rules_;
};
RuleSet* DefaultRulesTest::rules_ = nullptr;

TEST_F(DefaultRulesTest, ChildCareAgeBandChangesOnTheFifthBirthday) {
  const int32_t birth = D("2016-07-15");
  const int age_day_before = ledger::AgeInYears(birth, D("2021-07-14"));
  const int age_on_birthday = ledger::AgeInYears(birth, D("2021-07-15"));
  ASSERT_EQ(age_day_before, 4);
  ASSERT_EQ(age_on_birthday, 5);
  EXPECT_EQ(ChildCare("2021-07-14", age_day_before, ParentActivity::WORKING), "child-care-2021-age-0-4-parent-active");
  EXPECT_EQ(ChildCare("2021-07-15", age_on_birthday, ParentActivity::WORKING), "child-care-2021-age-5-17-parent-active");
  // The same under v0 (weekly caps).
  EXPECT_EQ(ChildCare("2020-07-14", 4, ParentActivity::WORKING), "child-care-v0-age-0-4");
  EXPECT_EQ(ChildCare("2020-07-15", 5, ParentActivity::WORKING), "child-care-v0-age-5-17");
  // Age 0 is in the first band; at 18 no child-care rule applies.
  EXPECT_EQ(ChildCare("2021-07-15", 0, ParentActivity::STUDYING), "child-care-2021-age-0-4-parent-active");
  EXPECT_EQ(ChildCare("2021-07-15", 17, ParentActivity::STUDYING), "child-care-2021-age-5-17-parent-active");
  EXPECT_EQ(ChildCare("2021-07-15", 17, ParentActivity::NOT_ACTIVE), "child-care-2021-parent-not-active");
  EXPECT_EQ(ChildCare("2021-07-15", 18, ParentActivity::WORKING), "");
  EXPECT_EQ(ChildCare("2021-07-15", 18, ParentActivity::NOT_ACTIVE), "");
  EXPECT_EQ(ChildCare("2020-07-15", 18, ParentActivity::WORKING), "");
}

TEST_F(DefaultRulesTest, ChildCareSwitchesFromWeeklyToMonthlyCapsOn2021_07_01) {
  const std::string before = ChildCare("2021-06-30", 3, ParentActivity::WORKING);
  const std::string after = ChildCare("2021-07-01", 3, ParentActivity::WORKING);
  ASSERT_EQ(before, "child-care-v0-age-0-4");
  ASSERT_EQ(after, "child-care-2021-age-0-4-parent-active");
  const Rule& v0 = *RuleById(rules(), before);
  const Rule& v1 = *RuleById(rules(), after);
  ASSERT_EQ(v0.caps.size(), 1u);
  EXPECT_EQ(v0.caps[0].period, CapPeriod::kWeek);
  EXPECT_EQ(v0.caps[0].quantity, 3000);
  ASSERT_EQ(v1.caps.size(), 2u);
  EXPECT_EQ(v1.caps[0].period, CapPeriod::kMonth);
  EXPECT_EQ(v1.caps[0].quantity, 12000);
  EXPECT_FALSE(v1.caps[0].purpose.has_value());
  EXPECT_EQ(v1.caps[1].period, CapPeriod::kMonth);
  EXPECT_EQ(v1.caps[1].quantity, 2400);
  EXPECT_EQ(v1.caps[1].purpose, DeliveryPurpose::LEISURE);
  EXPECT_TRUE(v0.requirements.special_care_opinion);
  EXPECT_TRUE(v1.requirements.special_care_opinion);
  EXPECT_FALSE(v1.requirements.support_plan);  // no assessment or plan needed (Z 678)

  // The week 2021-06-28..2021-07-04 straddles both versions: no v0 cap id is a v1 cap id, so the weekly cap
  // counts 28-30 June and the monthly caps count from 1 July, never the same usage twice.
  std::set<std::string> v0_caps, v1_caps;
  for (const Rule& rule : rules().rules) {
    if (!std::count(rule.services.begin(), rule.services.end(), Service::CHILD_CARE)) continue;
    for (const Cap& cap : rule.caps) {
      (rule.effective_until == D("2021-06-30") ? v0_caps : v1_caps).insert(cap.id);
    }
  }
  EXPECT_EQ(v0_caps.size(), 2u);
  EXPECT_EQ(v1_caps.size(), 3u);
  for (const std::string& id : v0_caps) EXPECT_EQ(v1_caps.count(id), 0u) << id;
  EXPECT_EQ(ChildCare("2021-06-28", 3, ParentActivity::WORKING), "child-care-v0-age-0-4");
  EXPECT_EQ(ChildCare("2021-07-04", 3, ParentActivity::WORKING), "child-care-2021-age-0-4-parent-active");
}

TEST_F(DefaultRulesTest, ChildCareDependsOnTheParentActivityFrom2021_07_01) {
  for (ParentActivity active : {ParentActivity::WORKING, ParentActivity::STUDYING,
                                ParentActivity::EMPLOYMENT_AGENCY_MEASURE, ParentActivity::DAY_CENTRE}) {
    EXPECT_EQ(ChildCare("2021-07-01", 3, active), "child-care-2021-age-0-4-parent-active");
    EXPECT_EQ(ChildCare("2021-07-01", 9, active), "child-care-2021-age-5-17-parent-active");
  }
  EXPECT_EQ(ChildCare("2021-07-01", 3, ParentActivity::NOT_ACTIVE), "child-care-2021-parent-not-active");
  EXPECT_EQ(ChildCare("2021-07-01", 9, ParentActivity::NOT_ACTIVE), "child-care-2021-parent-not-active");
  const Rule& not_active = *RuleById(rules(), "child-care-2021-parent-not-active");
  EXPECT_EQ(not_active.requirements.purposes, std::vector<DeliveryPurpose>{DeliveryPurpose::LEISURE});
  ASSERT_EQ(not_active.caps.size(), 1u);
  EXPECT_EQ(not_active.caps[0].quantity, 2400);
  // The 40 h leisure cap is one cap for every v1 child-care rule: a change of activity mid-month keeps usage.
  EXPECT_EQ(not_active.caps[0].id, RuleById(rules(), "child-care-2021-age-0-4-parent-active")->caps[1].id);
  EXPECT_EQ(not_active.caps[0].id, RuleById(rules(), "child-care-2021-age-5-17-parent-active")->caps[1].id);
  // Before 2021-07-01 the parent's activity does not select the rule.
  EXPECT_EQ(ChildCare("2021-06-30", 3, ParentActivity::NOT_ACTIVE), "child-care-v0-age-0-4");
  EXPECT_EQ(ChildCare("2021-06-30", 9, ParentActivity::NOT_ACTIVE), "child-care-v0-age-5-17");
}

TEST_F(DefaultRulesTest, NothingBeforeTheProjectStart) {
  const TargetGroup child = TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT;
  EXPECT_EQ(ChildCare("2015-06-30", 3, ParentActivity::WORKING), "");
  EXPECT_EQ(ChildCare("2015-07-01", 3, ParentActivity::WORKING), "child-care-v0-age-0-4");
  EXPECT_EQ(ChildCare("2015-07-01", 6, ParentActivity::WORKING), "child-care-v0-age-5-17");
  EXPECT_EQ(Decide(rules(), Service::RESPITE, child, "2015-06-30", 3), "");
  EXPECT_EQ(Decide(rules(), Service::ADULT_HOME_CARE, TargetGroup::ADULT_MENTAL_DISABILITY, "2015-06-30"), "");
}

TEST_F(DefaultRulesTest, Respite) {
  const TargetGroup child = TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT;
  for (const char* date : {"2015-07-01", "2021-06-30", "2021-07-01", "2022-06-16", "2023-08-31"}) {
    EXPECT_EQ(Decide(rules(), Service::RESPITE, child, date, 10), "respite") << date;
  }
  EXPECT_EQ(Decide(rules(), Service::RESPITE, child, "2021-07-01", 17), "respite");
  EXPECT_EQ(Decide(rules(), Service::RESPITE, child, "2021-07-01", 18), "");
  const Rule& respite = *RuleById(rules(), "respite");
  EXPECT_TRUE(respite.requirements.special_care_opinion);
  EXPECT_FALSE(respite.requirements.support_plan);
  ASSERT_EQ(respite.caps.size(), 1u);
  EXPECT_EQ(respite.caps[0].quantity, 30);
  EXPECT_EQ(respite.caps[0].period, CapPeriod::kYear);
  EXPECT_EQ(respite.caps[0].scope, CapScope::kPerson);
  // Respite is a child's service: not the parent's, nor an adult's (adults have adult_respite).
  EXPECT_EQ(Decide(rules(), Service::RESPITE, TargetGroup::PARENT_OF_CHILD, "2021-07-01"), "");
  EXPECT_EQ(Decide(rules(), Service::RESPITE, TargetGroup::ADULT_MENTAL_DISABILITY, "2021-07-01"), "");
}

TEST_F(DefaultRulesTest, RespiteCanBeSwitchedToTheFamilyReading) {
  Json document = LoadDefaultDocument();
  for (Json& rule : document["rules"]) {
    if (rule["id"] == "respite") rule["caps"][0]["scope"] = "family";
  }
  RuleSet rules;
  ASSERT_TRUE(ParseRuleSet(document, &rules).ok());
  EXPECT_EQ(RuleById(rules, "respite")->caps.at(0).scope, CapScope::kFamily);
}

TEST_F(DefaultRulesTest, ChildRehabilitation) {
  const TargetGroup child = TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT;
  EXPECT_EQ(Decide(rules(), Service::CHILD_REHABILITATION, child, "2021-06-30", 8), "child-rehab-v0");
  EXPECT_EQ(Decide(rules(), Service::CHILD_REHABILITATION, child, "2021-07-01", 8), "child-rehab-100");
  EXPECT_EQ(Decide(rules(), Service::CHILD_REHABILITATION, child, "2022-06-15", 8), "child-rehab-100");
  EXPECT_EQ(Decide(rules(), Service::CHILD_REHABILITATION, child, "2022-06-16", 8), "child-rehab-unlimited");
  EXPECT_EQ(RuleById(rules(), "child-rehab-v0")->caps.at(0).quantity, 40);
  EXPECT_EQ(RuleById(rules(), "child-rehab-v0")->caps.at(0).period, CapPeriod::kSupportPlan);
  EXPECT_EQ(RuleById(rules(), "child-rehab-100")->caps.at(0).quantity, 100);
  EXPECT_TRUE(RuleById(rules(), "child-rehab-unlimited")->caps.empty());
  for (const char* id : {"child-rehab-v0", "child-rehab-100", "child-rehab-unlimited", "child-day-centre"}) {
    const Rule& rule = *RuleById(rules(), id);
    EXPECT_TRUE(rule.requirements.support_plan) << id;
    EXPECT_EQ(rule.requirements.disability_groups, std::vector<DisabilityGroup>{DisabilityGroup::CHILD_DISABILITY}) << id;
  }
  EXPECT_EQ(Decide(rules(), Service::CHILD_DAY_CENTRE, child, "2021-07-01", 8), "child-day-centre");
  EXPECT_TRUE(RuleById(rules(), "child-day-centre")->caps.empty());
}

TEST_F(DefaultRulesTest, ParentRehabilitation) {
  const TargetGroup parent = TargetGroup::PARENT_OF_CHILD;
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, parent, "2015-07-01"), "parent-rehab-v0");
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, parent, "2021-06-30"), "parent-rehab-v0");
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, parent, "2021-07-01"), "parent-rehab-2021");
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, parent, "2022-06-15"), "parent-rehab-2021");
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, parent, "2022-06-16"), "parent-rehab-unlimited");
  const Cap& v0 = RuleById(rules(), "parent-rehab-v0")->caps.at(0);
  EXPECT_EQ(v0.quantity, 20);
  EXPECT_EQ(v0.scope, CapScope::kPerson);
  const Cap& v1 = RuleById(rules(), "parent-rehab-2021")->caps.at(0);
  EXPECT_EQ(v1.quantity, 40);
  EXPECT_EQ(v1.scope, CapScope::kPerRepresentedChild);
  EXPECT_EQ(v1.period, CapPeriod::kWindow);
  EXPECT_EQ(v1.window_from, D("2021-07-01"));
  EXPECT_EQ(v1.window_until, D("2023-08-31"));
  EXPECT_NE(v0.id, v1.id);
  // The child's plan cannot be checked on a parent's delivery.
  EXPECT_FALSE(RuleById(rules(), "parent-rehab-2021")->requirements.support_plan);
  // Parents' rehabilitation is not a child's service, and a child's rehabilitation is not a parent's.
  EXPECT_EQ(Decide(rules(), Service::PARENT_REHABILITATION, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, "2021-07-01", 8), "");
  EXPECT_EQ(Decide(rules(), Service::CHILD_REHABILITATION, parent, "2021-07-01"), "");
}

TEST_F(DefaultRulesTest, GrtBeforeAndAfter2021_07_01) {
  const TargetGroup grt = TargetGroup::ADULT_MENTAL_DISABILITY;
  EXPECT_EQ(Decide(rules(), Service::ADULT_SPECIALIST_CONSULTATION, grt, "2021-06-30"), "grt-consultations-v0");
  EXPECT_EQ(Decide(rules(), Service::ADULT_PSYCHOLOGIST_CONSULTATION, grt, "2021-06-30"), "grt-consultations-v0");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SPECIALIST_CONSULTATION, grt, "2021-07-01"), "grt-specialist-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_PSYCHOLOGIST_CONSULTATION, grt, "2021-07-01"), "grt-psychologist-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SUPPORT_GROUP, grt, "2021-06-30"), "grt-services-v0");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SUPPORT_GROUP, grt, "2021-07-01"), "grt-support-group-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_HOME_CARE, grt, "2021-06-30"), "grt-services-v0");
  EXPECT_EQ(Decide(rules(), Service::ADULT_HOME_CARE, grt, "2021-07-01"), "grt-community-services-2021");
  EXPECT_EQ(Decide(rules(), Service::SOCIAL_MENTOR, grt, "2021-07-01"), "grt-community-services-2021");

  // v0: two years from the first plan, consultations at unit cost.
  const Rule& consultations_v0 = *RuleById(rules(), "grt-consultations-v0");
  EXPECT_EQ(consultations_v0.requirements.years_after_plan, 2);
  EXPECT_EQ(consultations_v0.cost_basis, CostBasis::UNIT_COST);
  EXPECT_EQ(RuleById(rules(), "grt-services-v0")->requirements.years_after_plan, 2);
  // From 2021-07-01: no two-year limit; specialists at actual cost, the psychologist at unit cost.
  const Rule& specialist = *RuleById(rules(), "grt-specialist-2021");
  const Rule& psychologist = *RuleById(rules(), "grt-psychologist-2021");
  EXPECT_FALSE(specialist.requirements.years_after_plan.has_value());
  EXPECT_FALSE(RuleById(rules(), "grt-community-services-2021")->requirements.years_after_plan.has_value());
  EXPECT_EQ(specialist.cost_basis, CostBasis::ACTUAL_COST);
  EXPECT_EQ(psychologist.cost_basis, CostBasis::UNIT_COST);
  // One 100-session cap shared by psychologist and specialist consultations, over 2021-07-01..2023-08-31.
  ASSERT_EQ(specialist.caps.size(), 1u);
  ASSERT_EQ(psychologist.caps.size(), 1u);
  EXPECT_EQ(specialist.caps[0].id, psychologist.caps[0].id);
  EXPECT_EQ(specialist.caps[0].quantity, 100);
  EXPECT_EQ(specialist.caps[0].period, CapPeriod::kWindow);
  EXPECT_EQ(specialist.caps[0].window_from, D("2021-07-01"));
  EXPECT_EQ(specialist.caps[0].window_until, D("2023-08-31"));
  // Support groups: their own 100 over the same window.
  const Rule& groups = *RuleById(rules(), "grt-support-group-2021");
  ASSERT_EQ(groups.caps.size(), 1u);
  EXPECT_NE(groups.caps[0].id, specialist.caps[0].id);
  EXPECT_EQ(groups.caps[0].quantity, 100);
  EXPECT_EQ(groups.caps[0].window_from, D("2021-07-01"));
  EXPECT_TRUE(RuleById(rules(), "grt-community-services-2021")->caps.empty());
  // Every GRT rule needs a plan and disability group I or II.
  for (const Rule& rule : rules().rules) {
    if (rule.target_groups != std::vector<TargetGroup>{grt}) continue;
    EXPECT_TRUE(rule.requirements.support_plan) << rule.id;
    EXPECT_EQ(rule.requirements.disability_groups,
              (std::vector<DisabilityGroup>{DisabilityGroup::GROUP_ONE, DisabilityGroup::GROUP_TWO}))
        << rule.id;
  }
}

TEST_F(DefaultRulesTest, GrtCountCapsEndOnCountCapsAbolished) {
  const TargetGroup grt = TargetGroup::ADULT_MENTAL_DISABILITY;
  EXPECT_EQ(Decide(rules(), Service::ADULT_SPECIALIST_CONSULTATION, grt, "2022-06-15"), "grt-specialist-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_PSYCHOLOGIST_CONSULTATION, grt, "2022-06-15"), "grt-psychologist-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SUPPORT_GROUP, grt, "2022-06-15"), "grt-support-group-2021");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SPECIALIST_CONSULTATION, grt, "2022-06-16"), "grt-specialist-and-groups-unlimited");
  EXPECT_EQ(Decide(rules(), Service::ADULT_SUPPORT_GROUP, grt, "2022-06-16"), "grt-specialist-and-groups-unlimited");
  EXPECT_EQ(Decide(rules(), Service::ADULT_PSYCHOLOGIST_CONSULTATION, grt, "2022-06-16"), "grt-psychologist-unlimited");
  EXPECT_EQ(Decide(rules(), Service::ADULT_HOME_CARE, grt, "2022-06-16"), "grt-community-services-2021");
  EXPECT_TRUE(RuleById(rules(), "grt-specialist-and-groups-unlimited")->caps.empty());
  EXPECT_EQ(RuleById(rules(), "grt-specialist-and-groups-unlimited")->cost_basis, CostBasis::ACTUAL_COST);
  EXPECT_TRUE(RuleById(rules(), "grt-psychologist-unlimited")->caps.empty());
  EXPECT_EQ(RuleById(rules(), "grt-psychologist-unlimited")->cost_basis, CostBasis::UNIT_COST);
}

TEST_F(DefaultRulesTest, FamilyAssistantAndParentSupportGroupHaveNoCaps) {
  EXPECT_EQ(Decide(rules(), Service::FAMILY_ASSISTANT, TargetGroup::PARENT_OF_CHILD, "2021-07-01"), "family-assistant");
  EXPECT_EQ(Decide(rules(), Service::FAMILY_ASSISTANT, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, "2021-07-01", 5),
            "family-assistant");
  EXPECT_EQ(Decide(rules(), Service::PARENT_SUPPORT_GROUP, TargetGroup::PARENT_OF_CHILD, "2021-07-01"),
            "parent-support-group");
  EXPECT_TRUE(RuleById(rules(), "family-assistant")->caps.empty());
  EXPECT_TRUE(RuleById(rules(), "parent-support-group")->caps.empty());
}

TEST_F(DefaultRulesTest, NoRuleForAServiceTheGroupCannotReceive) {
  const char* date = "2021-07-01";
  EXPECT_EQ(FindRule(rules(), Service::CHILD_CARE, TargetGroup::ADULT_MENTAL_DISABILITY, D(date), {40, ParentActivity::WORKING}), nullptr);
  EXPECT_EQ(FindRule(rules(), Service::CHILD_CARE, TargetGroup::PARENT_OF_CHILD, D(date), {3, ParentActivity::WORKING}), nullptr);
  EXPECT_EQ(FindRule(rules(), Service::ADULT_DAY_CENTRE, TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT, D(date), {10}), nullptr);
  EXPECT_EQ(FindRule(rules(), Service::SOCIAL_MENTOR, TargetGroup::PARENT_OF_CHILD, D(date), {40}), nullptr);
  const size_t service_count = capnp::Schema::from<Service>().getEnumerants().size();
  for (size_t s = 0; s < service_count; ++s) {
    for (TargetGroup group : {TargetGroup::CHILD_IN_CARE, TargetGroup::FOSTER_OR_ADOPTIVE_CANDIDATE}) {
      EXPECT_EQ(FindRule(rules(), static_cast<Service>(s), group, D(date), {10}), nullptr)
          << ledger::ServiceName(static_cast<Service>(s));
    }
  }
}

}  // namespace
}  // namespace di::projections
