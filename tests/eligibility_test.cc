// The eligibility engine end to end: every test records a real ledger (RocksDB in a temp dir) — a rule set
// (the shipped MK 313 document, or a small one written here to isolate one behaviour), the world (persons,
// opinions, parent activity, plans, disabilities, grants) and deliveries — folds it with ReplayInto and checks
// DecideEligibility / ComputeEntitlements exactly: eligible quantity, eligible cents, verdict, rule id, reason.
//
// Caps are probed at their boundary: a delivery that reaches a cap exactly is eligible, one unit more is
// partly eligible by exactly that unit, and the next delivery is ineligible ("already used up"). Grants are
// generous (31 days x 24 h a month, 365 days a year, ...) so that the grant's own cap stays out of the way
// unless a test is about it. Costs are 10 cents per unit unless a test is about costs, so that an eligible
// cost is simply 10 x the eligible quantity.
//
// The section "Regressions" at the end holds tests of behaviour the first version of the engine got wrong
// (each comment says what it did and what is right).
#include "di/projections/eligibility.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "di/ledger/civil_date.h"
#include "di/projections/entitlements.h"
#include "di/projections/ledger_model.h"
#include "di/projections/replay.h"
#include "test_util.h"

namespace di::projections {
namespace {

using di::testing::BaseWorld;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------------------
// Helpers.

const std::string kDefaultRulesPath = std::string(DI_TEST_DATA_DIR) + "/../../projections/rules/mk313.json";

int32_t D(const std::string& text) {
  int32_t days = ledger::kNoDate;
  EXPECT_TRUE(ledger::ParseDate(text, &days)) << text;
  return days;
}

std::string Plus(const std::string& date, int days) { return ledger::FormatDate(D(date) + days); }

int64_t Micros(const std::string& utc) {
  int64_t micros = 0;
  EXPECT_TRUE(ledger::ParseUtcMicros(utc, &micros)) << utc;
  return micros;
}

// The shipped default rule set (projections/rules/mk313.json).
json DefaultRules() {
  std::ifstream in(kDefaultRulesPath);
  EXPECT_TRUE(in.good()) << "cannot open " << kDefaultRulesPath;
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// A small rule set around `rules_array` (JSON text of the "rules" array).
json CustomRules(const std::string& rules_array, const std::string& paid_until = "2023-08-31") {
  json document = {{"format", "di-ledger-rules/1"},
                   {"rule_set", "TEST"},
                   {"version", "test-1"},
                   {"services_paid_until", paid_until}};
  document["rules"] = json::parse(rules_array);
  return document;
}

using Decisions = std::map<std::string, DeliveryDecision>;

// A ledger under test: events are collected and appended as one batch by Flush() (or implicitly by the
// queries), which keeps the tests fast; Flush() returns the head position, for as-of queries. It starts with
// the project, municipalities and provider of BaseWorld() and the rule set `rules` (the shipped one unless a
// test is about a rule of its own).
class Ledger {
 public:
  explicit Ledger(const json& rules = DefaultRules(), std::function<int64_t()> clock = nullptr) {
    ledger::EventStoreOptions options;
    options.sync = false;  // a test store needs no crash safety
    if (clock) options.clock_micros = std::move(clock);
    store_ = OpenStore(dir_.path(), options);
    const std::vector<json> base = BaseWorld();
    for (size_t i = 0; i < 4; ++i) pending_.push_back(base[i]);  // project PR-1, M-1, M-2, provider PV-1
    Add("rules_enacted", "2015-07-01", {{"rule_set_id", "MK313"}, {"title", "rules under test"}, {"document", rules}});
  }

  ledger::EventStore& store() { return *store_; }

  void Add(const std::string& type, const std::string& date, json data) {
    pending_.push_back({{"id", "ev-" + std::to_string(++events_)},
                        {"type", type},
                        {"effective_date", date},
                        {"actor", "eligibility_test"},
                        {"data", std::move(data)}});
  }

  uint64_t Flush() {
    if (!pending_.empty()) {
      const Status status = di::testing::AppendJson(*store_, pending_);
      EXPECT_TRUE(status.ok()) << status.ToString();
      pending_.clear();
    }
    return store_->Head().position;
  }

  // --- The world.

  // The persons and grants recorded from now on are of this project and municipality (PR-1 and M-1 at first).
  void LiveIn(const std::string& project, const std::string& municipality) {
    project_ = project;
    municipality_ = municipality;
  }
  void Child(const std::string& id, const std::string& birth) {
    Add("person_enrolled", "2020-05-04",
        {{"person_id", id}, {"project_id", project_}, {"target_group", "child_functional_impairment"},
         {"birth_date", birth}, {"residence_municipality_id", municipality_}});
  }
  void Parent(const std::string& id, const std::vector<std::string>& children) {
    Add("person_enrolled", "2020-05-04",
        {{"person_id", id}, {"project_id", project_}, {"target_group", "parent_of_child"},
         {"birth_date", "1985-01-01"}, {"residence_municipality_id", municipality_},
         {"representative", {{"relation", "parent"}, {"child_ids", children}}}});
  }
  void Adult(const std::string& id) {
    Add("person_enrolled", "2019-01-10",
        {{"person_id", id}, {"project_id", "PR-1"}, {"target_group", "adult_mental_disability"},
         {"birth_date", "1980-05-05"}, {"residence_municipality_id", "M-1"}});
  }
  static json Validity(json data, const std::string& from, const std::string& until) {
    data["valid_from"] = from;
    if (!until.empty()) data["valid_until"] = until;
    return data;
  }
  void Opinion(const std::string& child, const std::string& from, const std::string& until = "") {
    Add("special_care_opinion_recorded", from, Validity({{"person_id", child}}, from, until));
  }
  void Activity(const std::string& parent, const std::string& activity, const std::string& from,
                const std::string& until = "") {
    Add("parent_activity_recorded", from, Validity({{"person_id", parent}, {"activity", activity}}, from, until));
  }
  void Disability(const std::string& person, const std::string& group, const std::string& from,
                  const std::string& until = "") {
    const std::string cause = group == "child_disability" ? "functional_impairment" : "mental_disorder";
    Add("disability_recorded", from, Validity({{"person_id", person}, {"group", group}, {"cause", cause}}, from, until));
  }
  // A support plan (with the assessment it needs) valid from `from`.
  void Plan(const std::string& plan_id, const std::string& person, const std::vector<std::string>& services,
            const std::string& from, const std::string& until = "") {
    const std::string method = person.rfind("C", 0) == 0 ? "child_needs_assessment" : "support_intensity_scale";
    Add("needs_assessed", from, {{"assessment_id", "AS-" + plan_id}, {"person_id", person}, {"method", method}});
    Add("support_plan_approved", from,
        Validity({{"plan_id", plan_id}, {"person_id", person}, {"assessment_id", "AS-" + plan_id},
                  {"recommended_services", services}},
                 from, until));
  }
  void Grant(const std::string& id, const std::string& person, const std::string& service, int64_t quantity,
             const std::string& period, int64_t unit_cost_cents = 0, const std::string& from = "2020-01-01",
             const std::string& until = "2023-12-31") {
    json data = {{"grant_id", id},         {"person_id", person},  {"municipality_id", municipality_},
                 {"service", service},     {"quantity", quantity}, {"period", period},
                 {"valid_from", from},     {"valid_until", until}, {"cost_basis", unit_cost_cents ? "unit_cost" : "actual_cost"}};
    if (unit_cost_cents) data["unit_cost_cents"] = unit_cost_cents;
    Add("service_granted", "2020-06-01", std::move(data));
  }
  // A delivery; cost -1 means 10 cents per unit; purpose "" means none (services other than child_care).
  void Deliver(const std::string& id, const std::string& grant, const std::string& date, int64_t quantity,
               const std::string& purpose = "", int64_t cost_cents = -1, const std::string& last_date = "") {
    json data = {{"delivery_id", id},
                 {"grant_id", grant},
                 {"provider_id", "PV-1"},
                 {"quantity", quantity},
                 {"cost_cents", cost_cents < 0 ? 10 * quantity : cost_cents},
                 {"mode", "in_person"}};
    if (!purpose.empty()) data["purpose"] = purpose;
    if (!last_date.empty()) data["last_date"] = last_date;
    Add("service_delivered", date, std::move(data));
  }
  // A delivery of a kind of therapy ("" : none recorded).
  void DeliverKind(const std::string& id, const std::string& grant, const std::string& date, int64_t quantity,
                   const std::string& kind) {
    Deliver(id, grant, date, quantity);
    if (!kind.empty()) pending_.back()["data"]["kind"] = kind;
  }
  // The last grant or delivery added names this provider instead (a grant's provider_id, a delivery's provider).
  void NameProvider(const std::string& provider) {
    json& data = pending_.back()["data"];
    data["provider_id"] = provider;
  }
  // A multi-day delivery of a day-based service: one day per day of first..last.
  void Stay(const std::string& id, const std::string& grant, const std::string& first, const std::string& last,
            int64_t cost_cents = -1) {
    Deliver(id, grant, first, D(last) - D(first) + 1, "", cost_cents, last);
  }
  // `total` minutes of child care from `first` on, at most 1440 a day (the most one day holds); ids
  // prefix-1, prefix-2, ...
  std::vector<std::string> Fill(const std::string& prefix, const std::string& grant, const std::string& first,
                                int64_t total, const std::string& purpose = "care") {
    std::vector<std::string> ids;
    for (int day = 0; total > 0; ++day) {
      const int64_t minutes = std::min<int64_t>(total, 1440);
      ids.push_back(prefix + "-" + std::to_string(day + 1));
      Deliver(ids.back(), grant, Plus(first, day), minutes, purpose);
      total -= minutes;
    }
    return ids;
  }
  void Void(const std::string& delivery, const std::string& date) {
    Add("delivery_voided", date, {{"delivery_id", delivery}, {"reason", "did not happen"}});
  }
  void Correct(const std::string& delivery, const std::string& date, int64_t quantity, int64_t cost_cents) {
    Add("delivery_corrected", date,
        {{"delivery_id", delivery}, {"quantity", quantity}, {"cost_cents", cost_cents}, {"reason", "timesheet"}});
  }
  void Suspend(const std::string& grant, const std::string& date) {
    Add("service_suspended", date, {{"grant_id", grant}, {"reason", "child in hospital"}});
  }
  void Resume(const std::string& grant, const std::string& date) { Add("service_resumed", date, {{"grant_id", grant}}); }
  void Amend(const std::string& grant, const std::string& date, int64_t quantity) {
    Add("grant_amended", date, {{"grant_id", grant}, {"quantity", quantity}, {"reason", "reassessed"}});
  }

  // --- Queries (as known at `known_at`; kKnownNow: the head).

  LedgerModel Model(uint64_t known_at = kKnownNow) {
    Flush();
    LedgerModel model;
    const Status status = ReplayInto(*store_, known_at, &model);
    EXPECT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(model.RulesProblemOfProject("PR-1"), "");
    return model;
  }
  EligibilityResult Result(uint64_t known_at = kKnownNow) { return DecideEligibility(Model(known_at)); }
  Decisions Decide(uint64_t known_at = kKnownNow) { return ByDelivery(Result(known_at)); }
  Entitlements EntitlementsOf(const std::string& person, const std::string& valid_date, uint64_t known_at = kKnownNow) {
    Entitlements entitlements;
    const Status status = ComputeEntitlements(Model(known_at), person, D(valid_date), &entitlements);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return entitlements;
  }

  static Decisions ByDelivery(const EligibilityResult& result) {
    Decisions decisions;
    for (const DeliveryDecision& decision : result.decisions) decisions[decision.delivery_id] = decision;
    return decisions;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ledger::EventStore> store_;
  std::vector<json> pending_;
  int events_ = 0;
  std::string project_ = "PR-1";
  std::string municipality_ = "M-1";
};

// A child with a special-care opinion (from 2020-01-01), a parent P-<child> with `activity` from 2020-01-01
// ("" records none) and a child-care grant G-<child> of 31 x 24 h per month (never binding).
void CareWorld(Ledger& ledger, const std::string& child, const std::string& birth,
               const std::string& activity = "working") {
  ledger.Child(child, birth);
  ledger.Parent("P-" + child, {child});
  ledger.Opinion(child, "2020-01-01");
  if (!activity.empty()) ledger.Activity("P-" + child, activity, "2020-01-01");
  ledger.Grant("G-" + child, child, "child_care", 31 * 1440, "month");
}

// A child C-R (born 2015-06-01) with a special-care opinion from 2020-01-01 and a respite grant G-R of 365 days a
// year.
void RespiteWorld(Ledger& ledger) {
  ledger.Child("C-R", "2015-06-01");
  ledger.Opinion("C-R", "2020-01-01");
  ledger.Grant("G-R", "C-R", "respite", 365, "year");
}

// A GRT adult with disability group II (from 2019-01-01) and a plan from `plan_from` listing `services`.
void GrtWorld(Ledger& ledger, const std::string& adult, const std::vector<std::string>& services,
              const std::string& plan_from = "2020-01-01") {
  ledger.Adult(adult);
  ledger.Disability(adult, "group_two", "2019-01-01");
  ledger.Plan("PL-" + adult, adult, services, plan_from);
}

// Checks one decision completely. `reason` "" requires no reason; otherwise the reason must contain it.
void ExpectDecision(const Decisions& decisions, const std::string& id, Verdict verdict, int64_t eligible,
                    int64_t eligible_cost_cents, const std::string& rule_id, const std::string& reason = "") {
  SCOPED_TRACE("delivery " + id);
  auto it = decisions.find(id);
  ASSERT_NE(it, decisions.end()) << "no decision";
  const DeliveryDecision& decision = it->second;
  EXPECT_EQ(VerdictName(decision.verdict), VerdictName(verdict)) << decision.reason;
  EXPECT_EQ(decision.eligible_quantity, eligible);
  EXPECT_EQ(decision.eligible_cost_cents, eligible_cost_cents);
  EXPECT_EQ(decision.rule_id, rule_id);
  if (reason.empty()) {
    EXPECT_EQ(decision.reason, "");
  } else {
    EXPECT_NE(decision.reason.find(reason), std::string::npos) << "reason: " << decision.reason;
  }
}
// With the default cost of 10 cents per unit.
void ExpectEligible(const Decisions& decisions, const std::string& id, int64_t quantity, const std::string& rule) {
  ExpectDecision(decisions, id, Verdict::kEligible, quantity, 10 * quantity, rule);
}
void ExpectPartly(const Decisions& decisions, const std::string& id, int64_t eligible, const std::string& rule,
                  const std::string& reason) {
  ExpectDecision(decisions, id, Verdict::kPartlyEligible, eligible, 10 * eligible, rule, reason);
}
void ExpectIneligible(const Decisions& decisions, const std::string& id, const std::string& rule,
                      const std::string& reason) {
  ExpectDecision(decisions, id, Verdict::kIneligible, 0, 0, rule, reason);
}
void ExpectAllEligible(const Decisions& decisions, const std::vector<std::string>& ids, const std::string& rule) {
  for (const std::string& id : ids) {
    auto it = decisions.find(id);
    ASSERT_NE(it, decisions.end()) << id;
    ExpectEligible(decisions, id, it->second.quantity, rule);
  }
}

// Usage of a cap instance; -1 if the instance was never touched.
int64_t Used(const EligibilityResult& result, const std::string& cap_id, const std::string& scope,
             const std::string& period) {
  auto it = result.usage.find(cap_id + "|" + scope + "|" + period);
  return it == result.usage.end() ? -1 : it->second.used;
}

const EntitlementCap* FindCap(const EntitlementLine& line, const std::string& cap_id) {
  for (const EntitlementCap& cap : line.caps) {
    if (cap.cap_id == cap_id) return &cap;
  }
  return nullptr;
}

constexpr char kActive04[] = "child-care-2021-age-0-4-parent-active";
constexpr char kActive517[] = "child-care-2021-age-5-17-parent-active";
constexpr char kNotActive[] = "child-care-2021-parent-not-active";

// ---------------------------------------------------------------------------------------------------------
// ProrateHalfUp: round_half_up(amount * part / whole), exact with an int128 intermediate.

TEST(ProrateHalfUpTest, TableOfExactCases) {
  struct Case {
    int64_t amount, part, whole, expected;
  };
  constexpr int64_t kT = 1'000'000'000'000;  // 10^12 cents: the largest amount of any field
  constexpr int64_t kG = 1'000'000'000;      // 10^9: the largest cap quantity
  const Case cases[] = {
      {10000, 2, 3, 6667},           // 6666.67 rounds up
      {10000, 1, 3, 3333},           // 3333.33 rounds down
      {1, 1, 2, 1},                  // 0.5 rounds up (half-up, not to even)
      {3, 1, 2, 2},                  // 1.5 -> 2
      {5, 1, 2, 3},                  // 2.5 -> 3 (banker's rounding would give 2)
      {7, 1, 2, 4},                  // 3.5 -> 4
      {1, 1, 3, 0},                  // 0.33 -> 0
      {2, 1, 3, 1},                  // 0.67 -> 1
      {1400, 719, 1440, 699},        // 699.03
      {1400, 1, 1440, 1},            // 0.97
      {0, 5, 7, 0},                  // nothing to prorate
      {4810, 480, 481, 4800},        // exact
      {12345, 0, 10, 0},             // part 0
      {12345, 10, 10, 12345},        // part == whole
      {12345, 11, 10, 12345},        // part > whole is clamped to the whole amount
      {12345, 3, 0, 0},              // no whole
      {kT, 1, 3, 333333333333},      // 333333333333.33
      {kT, 2, 3, 666666666667},      // 666666666666.67
      {kT, 1, 2, 500000000000},      // exact half of 10^12
      {kT - 1, 1, 2, 500000000000},  // 499999999999.5 -> up
      {kT, kG - 1, kG, 999999999000},          // amount * part = ~10^21: overflows int64 without int128
      {kT - 1, kG - 1, kG, 999999998999},      // 999999998999.000000001
      {kT - 1, 123456789, kG, 123456789000},   // 123456788999.876543211
      {kT, 1, kG, 1000},
      {kT, kT, kT, kT},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ProrateHalfUp(c.amount, c.part, c.whole), c.expected)
        << c.amount << " * " << c.part << " / " << c.whole;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Child care from 2021-07-01 (v1): monthly caps by age band and parent activity.

// 200 h (12000 min) per calendar month for a child aged 0-4 whose parent works.
TEST(ChildCareTest, Age0To4WithActiveParentHas200HoursPerCalendarMonth) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  // July: 11940 min, then 60 min reaching 12000 exactly, then 1 min on the 31st.
  const auto july = ledger.Fill("J", "G-C-1", "2021-07-01", 11940);
  ledger.Deliver("J-EXACT", "G-C-1", "2021-07-30", 60, "care");
  ledger.Deliver("J-OVER", "G-C-1", "2021-07-31", 1, "care");
  // August: the 1st starts a new month; 11520 min, then 481 min: one minute over.
  const auto august = ledger.Fill("A", "G-C-1", "2021-08-01", 11520);
  ledger.Deliver("A-OVER", "G-C-1", "2021-08-09", 481, "care");
  ledger.Deliver("A-NEXT", "G-C-1", "2021-08-31", 30, "care");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectAllEligible(decisions, july, kActive04);
  ExpectEligible(decisions, "J-EXACT", 60, kActive04);
  ExpectIneligible(decisions, "J-OVER", kActive04,
                   "child_care: cap child-care-2021-age-0-4-month of 200 h per month (rule "
                   "child-care-2021-age-0-4-parent-active) in 2021-07 already used up; 1 min over");
  ExpectAllEligible(decisions, august, kActive04);  // 2021-08-01 resets
  ExpectPartly(decisions, "A-OVER", 480, kActive04,
               "child_care: cap child-care-2021-age-0-4-month of 200 h per month (rule "
               "child-care-2021-age-0-4-parent-active) in 2021-08 reached on 2021-08-09; 1 min over");
  ExpectIneligible(decisions, "A-NEXT", kActive04, "in 2021-08 already used up; 30 min over");
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-07"), 12000);
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-08"), 12000);
  EXPECT_EQ(Used(result, "grant:G-C-1", "C-1", "2021-08"), 12000);
  EXPECT_EQ(Used(result, "child-care-2021-leisure-month", "C-1", "2021-07"), -1);  // care never touches it
}

// Of the 200 h at most 40 h (2400 min) for leisure ("tai skaitā"): leisure counts against both caps.
TEST(ChildCareTest, Age0To4LeisureSubCapOf40HoursInsideThe200) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  ledger.Deliver("L-1", "G-C-1", "2021-09-01", 1440, "leisure");
  ledger.Deliver("L-2", "G-C-1", "2021-09-02", 961, "leisure");  // 2401: one minute over the sub-cap
  ledger.Deliver("L-3", "G-C-1", "2021-09-03", 1, "leisure");
  ledger.Deliver("CARE", "G-C-1", "2021-09-03", 1440, "care");  // care is not limited by the sub-cap
  // October: care up to 11520, then leisure: the 200 h bind before the 40 h.
  ledger.Fill("O", "G-C-1", "2021-10-01", 11520);
  ledger.Deliver("O-LEISURE", "G-C-1", "2021-10-20", 500, "leisure");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectEligible(decisions, "L-1", 1440, kActive04);
  ExpectPartly(decisions, "L-2", 960, kActive04,
               "child_care: cap child-care-2021-leisure-month of 40 h per month (leisure) (rule "
               "child-care-2021-age-0-4-parent-active) in 2021-09 reached on 2021-09-02; 1 min over");
  ExpectIneligible(decisions, "L-3", kActive04, "cap child-care-2021-leisure-month of 40 h per month (leisure)");
  ExpectEligible(decisions, "CARE", 1440, kActive04);
  EXPECT_EQ(Used(result, "child-care-2021-leisure-month", "C-1", "2021-09"), 2400);
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-09"), 2400 + 1440);
  ExpectPartly(decisions, "O-LEISURE", 480, kActive04, "cap child-care-2021-age-0-4-month of 200 h per month");
  EXPECT_EQ(Used(result, "child-care-2021-leisure-month", "C-1", "2021-10"), 480);
}

// 80 h (4800 min) per calendar month for a child aged 5-17 whose parent works.
TEST(ChildCareTest, Age5To17WithActiveParentHas80HoursPerCalendarMonth) {
  Ledger ledger;
  CareWorld(ledger, "C-9", "2012-01-01", "studying");
  const auto july = ledger.Fill("J", "G-C-9", "2021-07-01", 4800);  // 3 x 1440 + 480: exactly the cap
  ledger.Deliver("J-OVER", "G-C-9", "2021-07-31", 1, "care");
  const auto august = ledger.Fill("A", "G-C-9", "2021-08-01", 4320);
  ledger.Deliver("A-OVER", "G-C-9", "2021-08-04", 481, "care");
  ledger.Deliver("A-NEXT", "G-C-9", "2021-08-05", 1, "leisure");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectAllEligible(decisions, july, kActive517);
  ExpectIneligible(decisions, "J-OVER", kActive517,
                   "child_care: cap child-care-2021-age-5-17-month of 80 h per month (rule "
                   "child-care-2021-age-5-17-parent-active) in 2021-07 already used up; 1 min over");
  ExpectAllEligible(decisions, august, kActive517);
  ExpectPartly(decisions, "A-OVER", 480, kActive517, "in 2021-08 reached on 2021-08-04; 1 min over");
  // Leisure has sub-cap room (40 h) but the 80 h are gone.
  ExpectIneligible(decisions, "A-NEXT", kActive517, "cap child-care-2021-age-5-17-month of 80 h per month");
  EXPECT_EQ(Used(result, "child-care-2021-age-5-17-month", "C-9", "2021-08"), 4800);
}

// A parent who is not active (recorded as not_active, or nothing recorded): 40 h of leisure only.
TEST(ChildCareTest, ParentNotActiveGives40HoursOfLeisureOnly) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01", "not_active");
  CareWorld(ledger, "C-2", "2012-01-01", "");  // no activity recorded at all
  for (const std::string child : {"C-1", "C-2"}) {
    const std::string grant = "G-" + child;
    ledger.Deliver(child + "-CARE", grant, "2021-07-01", 60, "care");
    ledger.Deliver(child + "-L1", grant, "2021-07-01", 1440, "leisure");
    ledger.Deliver(child + "-L2", grant, "2021-07-02", 960, "leisure");  // 2400 exactly
    ledger.Deliver(child + "-L3", grant, "2021-07-31", 1, "leisure");
    ledger.Deliver(child + "-A1", grant, "2021-08-01", 1440, "leisure");  // a new month
    ledger.Deliver(child + "-A2", grant, "2021-08-02", 961, "leisure");
  }
  const Decisions decisions = ledger.Decide();
  for (const std::string child : {"C-1", "C-2"}) {
    SCOPED_TRACE(child);
    ExpectIneligible(decisions, child + "-CARE", kNotActive,
                     "child_care: rule child-care-2021-parent-not-active covers only leisure (delivery purpose: care)");
    ExpectEligible(decisions, child + "-L1", 1440, kNotActive);
    ExpectEligible(decisions, child + "-L2", 960, kNotActive);
    ExpectIneligible(decisions, child + "-L3", kNotActive,
                     "cap child-care-2021-leisure-month of 40 h per month (leisure) (rule "
                     "child-care-2021-parent-not-active) in 2021-07 already used up; 1 min over");
    ExpectEligible(decisions, child + "-A1", 1440, kNotActive);
    ExpectPartly(decisions, child + "-A2", 960, kNotActive, "in 2021-08 reached on 2021-08-02; 1 min over");
  }
}

// Entitlements list every cap of the rule in force plus the grant, with the usage up to the valid date.
TEST(ChildCareTest, EntitlementsShowEveryCapOfTheRuleAndTheGrant) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  ledger.Fill("J", "G-C-1", "2021-07-01", 11000);                   // 07-01..07-08
  ledger.Deliver("J-L", "G-C-1", "2021-07-20", 1000, "leisure");    // after the valid date asked first
  const Entitlements mid = ledger.EntitlementsOf("C-1", "2021-07-15");
  EXPECT_EQ(mid.age, 2);
  EXPECT_EQ(mid.rules_version, "MK313-2023-defaults");
  ASSERT_EQ(mid.lines.size(), 1u);
  const EntitlementLine& line = mid.lines[0];
  EXPECT_EQ(line.rule_id, kActive04);
  EXPECT_EQ(line.problem, "");
  ASSERT_EQ(line.caps.size(), 3u);
  const EntitlementCap* month = FindCap(line, "child-care-2021-age-0-4-month");
  const EntitlementCap* leisure = FindCap(line, "child-care-2021-leisure-month");
  const EntitlementCap* grant = FindCap(line, "grant:G-C-1");
  ASSERT_TRUE(month && leisure && grant);
  EXPECT_EQ(month->period_label, "2021-07");
  EXPECT_EQ(month->limit, 12000);
  EXPECT_EQ(month->used, 11000);
  EXPECT_EQ(month->remaining, 1000);
  EXPECT_EQ(leisure->used, 0);  // the leisure delivery of 07-20 is after the valid date
  EXPECT_EQ(leisure->remaining, 2400);
  EXPECT_EQ(grant->limit, 31 * 1440);
  EXPECT_EQ(grant->remaining, 31 * 1440 - 11000);
  EXPECT_EQ(line.remaining, 1000);  // the smallest over the caps that are not purpose sub-caps

  const Entitlements end = ledger.EntitlementsOf("C-1", "2021-07-31");
  const EntitlementLine& end_line = end.lines.at(0);
  EXPECT_EQ(FindCap(end_line, "child-care-2021-age-0-4-month")->used, 12000);
  EXPECT_EQ(FindCap(end_line, "child-care-2021-leisure-month")->used, 1000);
  EXPECT_EQ(end_line.remaining, 0);
}

// 2020-02-29 exists: under the v0 weekly cap it belongs to the ISO week of Monday 2020-02-24, which also
// holds Sunday 2020-03-01; under a monthly cap (custom rule) it belongs to February, and 03-01 resets.
TEST(ChildCareTest, LeapDayBelongsToItsIsoWeekAndToFebruary) {
  {
    Ledger ledger;
    CareWorld(ledger, "C-1", "2018-03-15");
    ledger.Deliver("MON", "G-C-1", "2020-02-24", 1440, "care");
    ledger.Deliver("LEAP", "G-C-1", "2020-02-29", 1440, "care");
    ledger.Deliver("SUN", "G-C-1", "2020-03-01", 121, "care");  // 3001 in the week: one minute over 50 h
    ledger.Deliver("NEXT-MON", "G-C-1", "2020-03-02", 1440, "care");
    const EligibilityResult result = ledger.Result();
    const Decisions decisions = Ledger::ByDelivery(result);
    ExpectEligible(decisions, "MON", 1440, "child-care-v0-age-0-4");
    ExpectEligible(decisions, "LEAP", 1440, "child-care-v0-age-0-4");
    ExpectPartly(decisions, "SUN", 120, "child-care-v0-age-0-4",
                 "child_care: cap child-care-v0-age-0-4-week of 50 h per week (rule child-care-v0-age-0-4) in week "
                 "of 2020-02-24 reached on 2020-03-01; 1 min over");
    ExpectEligible(decisions, "NEXT-MON", 1440, "child-care-v0-age-0-4");
    EXPECT_EQ(Used(result, "child-care-v0-age-0-4-week", "C-1", "week of 2020-02-24"), 3000);
    EXPECT_EQ(Used(result, "grant:G-C-1", "C-1", "2020-02"), 2880);
    EXPECT_EQ(Used(result, "grant:G-C-1", "C-1", "2020-03"), 120 + 1440);
  }
  {
    Ledger ledger(CustomRules(R"([{"id": "care-month", "services": ["child_care"],
        "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
        "caps": [{"id": "care-month", "quantity": 2000, "period": "month"}]}])"));
    CareWorld(ledger, "C-1", "2018-03-15");
    ledger.Deliver("FEB-28", "G-C-1", "2020-02-28", 1440, "care");
    ledger.Deliver("FEB-29", "G-C-1", "2020-02-29", 561, "care");
    ledger.Deliver("FEB-29-B", "G-C-1", "2020-02-29", 1, "care");
    ledger.Deliver("MAR-1", "G-C-1", "2020-03-01", 1440, "care");
    const Decisions decisions = ledger.Decide();
    ExpectEligible(decisions, "FEB-28", 1440, "care-month");
    ExpectPartly(decisions, "FEB-29", 560, "care-month", "in 2020-02 reached on 2020-02-29; 1 min over");
    ExpectIneligible(decisions, "FEB-29-B", "care-month", "in 2020-02 already used up");
    ExpectEligible(decisions, "MAR-1", 1440, "care-month");
    EXPECT_EQ(FindCap(ledger.EntitlementsOf("C-1", "2020-02-29").lines.at(0), "care-month")->remaining, 0);
    const Entitlements march = ledger.EntitlementsOf("C-1", "2020-03-01");
    EXPECT_EQ(FindCap(march.lines.at(0), "care-month")->period_label, "2020-03");
    EXPECT_EQ(FindCap(march.lines.at(0), "care-month")->remaining, 560);
  }
}

// The day before the fifth birthday the 0-4 rule decides, on the birthday the 5-17 rule. Their month caps
// have different ids (different quantities cannot share one): in the birthday month the child can use up
// both, 200 h before the birthday and 80 h from it (the rule set's note says so). Only the leisure cap is
// shared.
TEST(ChildCareTest, FifthBirthdayMovesTheChildToThe5To17Rule) {
  Ledger ledger;
  CareWorld(ledger, "C-5", "2016-07-10");
  const auto before = ledger.Fill("B", "G-C-5", "2021-07-01", 8 * 1440);  // 07-01..07-08
  ledger.Deliver("EVE", "G-C-5", "2021-07-09", 1440, "care");             // 12960 > 12000: 480 eligible
  const auto after = ledger.Fill("F", "G-C-5", "2021-07-10", 3 * 1440);   // 07-10..07-12
  ledger.Deliver("F-OVER", "G-C-5", "2021-07-13", 481, "care");
  ledger.Deliver("LEISURE-4", "G-C-5", "2021-07-01", 1, "leisure");  // decided after B-1 (same date, later)
  ledger.Deliver("LEISURE-5", "G-C-5", "2021-07-14", 1, "leisure");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectAllEligible(decisions, before, kActive04);
  ExpectPartly(decisions, "EVE", 479, kActive04, "cap child-care-2021-age-0-4-month");  // LEISURE-4 took 1 min
  ExpectAllEligible(decisions, after, kActive517);
  ExpectPartly(decisions, "F-OVER", 480, kActive517, "cap child-care-2021-age-5-17-month of 80 h per month");
  ExpectEligible(decisions, "LEISURE-4", 1, kActive04);
  ExpectIneligible(decisions, "LEISURE-5", kActive517, "cap child-care-2021-age-5-17-month");
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-5", "2021-07"), 12000);
  EXPECT_EQ(Used(result, "child-care-2021-age-5-17-month", "C-5", "2021-07"), 4800);
  EXPECT_EQ(Used(result, "child-care-2021-leisure-month", "C-5", "2021-07"), 1);  // shared by both rules
  EXPECT_EQ(ledger.EntitlementsOf("C-5", "2021-07-09").age, 4);
  EXPECT_EQ(ledger.EntitlementsOf("C-5", "2021-07-10").lines.at(0).rule_id, kActive517);
}

// Born 29 February: in a common year the birthday counts as reached on 1 March (v0 rules, 2021).
TEST(ChildCareTest, February29BirthdayIsReachedOnMarch1InACommonYear) {
  Ledger ledger;
  CareWorld(ledger, "C-L", "2016-02-29");
  ledger.Deliver("FEB-28", "G-C-L", "2021-02-28", 600, "care");
  ledger.Deliver("MAR-1", "G-C-L", "2021-03-01", 600, "care");
  ledger.Deliver("MAR-1-B", "G-C-L", "2021-03-01", 1, "care");  // 601 in the week: over the 10 h of 5-17
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "FEB-28", 600, "child-care-v0-age-0-4");
  ExpectEligible(decisions, "MAR-1", 600, "child-care-v0-age-5-17");
  ExpectIneligible(decisions, "MAR-1-B", "child-care-v0-age-5-17",
                   "cap child-care-v0-age-5-17-week of 10 h per week (rule child-care-v0-age-5-17) in week of "
                   "2021-03-01 already used up");
  EXPECT_EQ(ledger.EntitlementsOf("C-L", "2021-02-28").age, 4);
  EXPECT_EQ(ledger.EntitlementsOf("C-L", "2021-03-01").age, 5);
}

// 2021-06-30 is the last day of the v0 weekly rule, 2021-07-01 the first of the v1 monthly rule. In the week
// 2021-06-28..07-04 the days up to 06-30 use the weekly cap; the weekly cap does not limit the July days, and
// the June usage does not reduce the July monthly cap (distinct cap ids).
TEST(ChildCareTest, WeeklyV0UntilJune30AndMonthlyV1FromJuly1) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  ledger.Deliver("MON", "G-C-1", "2021-06-28", 1440, "care");
  ledger.Deliver("TUE", "G-C-1", "2021-06-29", 1440, "care");
  ledger.Deliver("WED", "G-C-1", "2021-06-30", 121, "care");  // 3001: one minute over 50 h
  ledger.Deliver("WED-B", "G-C-1", "2021-06-30", 1, "care");
  const auto july = ledger.Fill("J", "G-C-1", "2021-07-01", 12000);  // Thu 07-01 .. 07-09, incl. Thu-Sun 07-04
  ledger.Deliver("J-OVER", "G-C-1", "2021-07-10", 1, "care");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectEligible(decisions, "MON", 1440, "child-care-v0-age-0-4");
  ExpectEligible(decisions, "TUE", 1440, "child-care-v0-age-0-4");
  ExpectPartly(decisions, "WED", 120, "child-care-v0-age-0-4", "in week of 2021-06-28 reached on 2021-06-30; 1 min over");
  ExpectIneligible(decisions, "WED-B", "child-care-v0-age-0-4", "in week of 2021-06-28 already used up");
  ExpectAllEligible(decisions, july, kActive04);  // 4 x 1440 in the rest of the same ISO week
  ExpectIneligible(decisions, "J-OVER", kActive04, "in 2021-07 already used up");
  EXPECT_EQ(Used(result, "child-care-v0-age-0-4-week", "C-1", "week of 2021-06-28"), 3000);
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-07"), 12000);
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-06"), -1);
}

// The parent works until 2021-07-15. Deliveries on 07-15 are decided under the parent-active rule, from
// 07-16 under the not-active rule (leisure only). The engine counts usage per cap id:
//   - care minutes under the active rule count against child-care-2021-age-0-4-month only;
//   - leisure minutes under the active rule count against that cap AND the shared leisure cap
//     child-care-2021-leisure-month, which is the only cap of the not-active rule;
// so the 40 h of the not-active days are what is left of the month's leisure (2400 - 1200 - 600 = 600),
// while the care minutes of 07-01 do not reduce them.
TEST(ChildCareTest, ParentActivityEndingMidMonthSwitchesToTheLeisureOnlyRule) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01", "");
  ledger.Activity("P-C-1", "working", "2021-07-01", "2021-07-15");
  ledger.Deliver("CARE-1", "G-C-1", "2021-07-01", 1440, "care");
  ledger.Deliver("LEISURE-2", "G-C-1", "2021-07-02", 1200, "leisure");
  ledger.Deliver("LEISURE-15", "G-C-1", "2021-07-15", 600, "leisure");
  ledger.Deliver("CARE-15", "G-C-1", "2021-07-15", 60, "care");
  ledger.Deliver("CARE-16", "G-C-1", "2021-07-16", 60, "care");
  ledger.Deliver("LEISURE-16", "G-C-1", "2021-07-16", 601, "leisure");
  ledger.Deliver("LEISURE-17", "G-C-1", "2021-07-17", 10, "leisure");

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectEligible(decisions, "CARE-1", 1440, kActive04);
  ExpectEligible(decisions, "LEISURE-2", 1200, kActive04);
  ExpectEligible(decisions, "LEISURE-15", 600, kActive04);
  ExpectEligible(decisions, "CARE-15", 60, kActive04);
  ExpectIneligible(decisions, "CARE-16", kNotActive, "covers only leisure (delivery purpose: care)");
  ExpectPartly(decisions, "LEISURE-16", 600, kNotActive,
               "cap child-care-2021-leisure-month of 40 h per month (leisure) (rule child-care-2021-parent-not-active) "
               "in 2021-07 reached on 2021-07-16; 1 min over");
  ExpectIneligible(decisions, "LEISURE-17", kNotActive, "already used up; 10 min over");
  EXPECT_EQ(Used(result, "child-care-2021-leisure-month", "C-1", "2021-07"), 2400);
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-07"), 1440 + 1200 + 600 + 60);
  EXPECT_EQ(Used(result, "grant:G-C-1", "C-1", "2021-07"), 1440 + 1200 + 600 + 60 + 600);
  EXPECT_EQ(ledger.EntitlementsOf("C-1", "2021-07-15").lines.at(0).rule_id, kActive04);
  EXPECT_EQ(ledger.EntitlementsOf("C-1", "2021-07-16").lines.at(0).rule_id, kNotActive);
}

// ---------------------------------------------------------------------------------------------------------
// Respite (Atelpas brīdis): 30 days per calendar year.

TEST(RespiteTest, ThirtyDaysPerCalendarYearWithTheStaySplitAtTheCap) {
  Ledger ledger;
  RespiteWorld(ledger);
  ledger.Stay("R-28", "G-R", "2021-03-01", "2021-03-28", 28000);
  ledger.Stay("R-3", "G-R", "2021-06-01", "2021-06-03", 10000);  // 31 days: 2 of 3 eligible, 6666.67 -> 6667
  ledger.Stay("R-DEC", "G-R", "2021-12-31", "2021-12-31", 5000);
  ledger.Stay("R-JAN", "G-R", "2022-01-01", "2022-01-30", 30000);  // 1 January resets; 30 exactly
  ledger.Stay("R-JAN-31", "G-R", "2022-01-31", "2022-01-31", 1000);
  ledger.Stay("R-2023", "G-R", "2023-01-01", "2023-01-29", 29000);
  ledger.Stay("R-2023-3", "G-R", "2023-02-01", "2023-02-03", 10000);  // 1 of 3 eligible: 3333.33 -> 3333

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectDecision(decisions, "R-28", Verdict::kEligible, 28, 28000, "respite");
  // The stay reached the cap on its second day (28 + 2 = 30), not on its first.
  ExpectDecision(decisions, "R-3", Verdict::kPartlyEligible, 2, 6667, "respite",
                 "respite: cap respite-year of 30 days per year (rule respite) in 2021 reached on 2021-06-02; 1 day over");
  ExpectDecision(decisions, "R-DEC", Verdict::kIneligible, 0, 0, "respite", "in 2021 already used up; 1 day over");
  ExpectDecision(decisions, "R-JAN", Verdict::kEligible, 30, 30000, "respite");
  ExpectDecision(decisions, "R-JAN-31", Verdict::kIneligible, 0, 0, "respite", "in 2022 already used up");
  ExpectDecision(decisions, "R-2023", Verdict::kEligible, 29, 29000, "respite");
  ExpectDecision(decisions, "R-2023-3", Verdict::kPartlyEligible, 1, 3333, "respite", "2 days over");
  EXPECT_EQ(Used(result, "respite-year", "C-R", "2021"), 30);
  EXPECT_EQ(Used(result, "respite-year", "C-R", "2022"), 30);
}

// "Vienai ģimenei": with a family-scoped cap two siblings represented by the same parent share the 30 days;
// with a person-scoped cap (the default reading, Z 456) each has 30. Another family is never affected.
TEST(RespiteTest, FamilyScopeIsSharedBySiblingsPersonScopeIsNot) {
  for (const std::string scope : {"family", "person"}) {
    SCOPED_TRACE("scope " + scope);
    Ledger ledger(CustomRules(R"([{"id": "respite-test", "services": ["respite"],
        "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
        "requires": {"special_care_opinion": true},
        "caps": [{"id": "respite-test-year", "quantity": 30, "period": "year", "scope": ")" + scope + R"("}]}])"));
    for (const std::string child : {"C-1", "C-2", "C-3"}) {
      ledger.Child(child, "2015-01-01");
      ledger.Opinion(child, "2020-01-01");
      ledger.Grant("G-" + child, child, "respite", 365, "year");
    }
    ledger.Parent("P-F", {"C-1", "C-2"});
    ledger.Parent("P-OTHER", {"C-3"});
    ledger.Stay("S-1", "G-C-1", "2021-03-01", "2021-03-20");   // 20 days
    ledger.Stay("S-2", "G-C-2", "2021-04-01", "2021-04-15");   // 15 days: 35 in the family
    ledger.Stay("S-3", "G-C-3", "2021-05-01", "2021-05-30");   // 30 days, another family
    ledger.Stay("S-2B", "G-C-2", "2021-06-01", "2021-06-01");  // 1 more for C-2
    const EligibilityResult result = ledger.Result();
    const Decisions decisions = Ledger::ByDelivery(result);
    ExpectEligible(decisions, "S-1", 20, "respite-test");
    ExpectEligible(decisions, "S-3", 30, "respite-test");
    if (scope == "family") {
      ExpectPartly(decisions, "S-2", 10, "respite-test", "in 2021 reached on 2021-04-10; 5 days over");
      ExpectIneligible(decisions, "S-2B", "respite-test", "in 2021 already used up");
      EXPECT_EQ(Used(result, "respite-test-year", "family:P-F", "2021"), 30);
      EXPECT_EQ(Used(result, "respite-test-year", "family:P-OTHER", "2021"), 30);
    } else {
      ExpectEligible(decisions, "S-2", 15, "respite-test");
      ExpectEligible(decisions, "S-2B", 1, "respite-test");
      EXPECT_EQ(Used(result, "respite-test-year", "C-1", "2021"), 20);
      EXPECT_EQ(Used(result, "respite-test-year", "C-2", "2021"), 16);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Rules per project (docs/rules.md §3.0).

// Zemgale reads respite per child (Z 456), Kurzeme per family (KU 11): one store holds both. Project PR-KU enacts
// its own rules (the default document with respite per family), late; PR-1 keeps the rules enacted for every
// project, and a later general version does not replace PR-KU's own.
TEST(RulesPerProjectTest, EachProjectIsDecidedUnderItsOwnRulesAsKnownAtEachPosition) {
  Ledger ledger;
  ledger.Add("project_registered", "2016-01-20",
             {{"project_id", "PR-KU"}, {"name", "Kurzeme visiem"}, {"region", "Kurzeme"},
              {"agreement_number", "9.2.2.1/15/I/002"}, {"period_start", "2015-12-01"}, {"period_end", "2023-12-31"}, {"services_paid_until", "2023-08-31"},
              {"budget_total_cents", 500000000}, {"budget_esf_cents", 425000000}, {"budget_state_cents", 75000000}});
  ledger.Add("municipality_registered", "2016-01-20",
             {{"municipality_id", "M-KU"}, {"name", "Liepāja"}, {"project_id", "PR-KU"}});
  // Two siblings in each project, 20 respite days each in 2021: 40 in each family.
  for (const std::string project : {"PR-1", "PR-KU"}) {
    ledger.LiveIn(project, project == "PR-1" ? "M-1" : "M-KU");
    const std::string a = "C-" + project + "-A", b = "C-" + project + "-B";
    for (const std::string& child : {a, b}) {
      ledger.Child(child, "2015-01-01");
      ledger.Opinion(child, "2020-01-01");
      ledger.Grant("G-" + child, child, "respite", 365, "year");
    }
    ledger.Parent("P-" + project, {a, b});
    ledger.Stay("S-" + a, "G-" + a, "2021-03-01", "2021-03-20");
    ledger.Stay("S-" + b, "G-" + b, "2021-04-01", "2021-04-10");    // 10 days: the family's 30th day is the last
    ledger.Stay("S-" + b + "-2", "G-" + b, "2021-05-01", "2021-05-10");  // 10 more: over a family cap
  }
  const uint64_t before = ledger.Flush();
  json kurzeme = DefaultRules();
  kurzeme["rule_set"] = "MK313-KU";
  kurzeme["version"] = "MK313-KU-family-respite";
  for (json& rule : kurzeme["rules"]) {
    if (rule["id"] == "respite") rule["caps"][0]["scope"] = "family";
  }
  ledger.Add("rules_enacted", "2015-12-01",
             {{"rule_set_id", "MK313-KU"}, {"title", "Kurzeme: respite per family (KU 11)"}, {"document", kurzeme},
              {"project_ids", {"PR-KU"}}});
  const uint64_t enacted = ledger.Flush();

  // As known before PR-KU enacted its own: both projects per child.
  for (const std::string project : {"PR-1", "PR-KU"}) {
    SCOPED_TRACE("before, " + project);
    const Decisions decisions = ledger.Decide(before);
    ExpectEligible(decisions, "S-C-" + project + "-B-2", 10, "respite");
  }
  // As known after: PR-1 unchanged, PR-KU's family has 30 days: the 30th is eligible, the 31st is not.
  {
    const EligibilityResult result = ledger.Result(enacted);
    const Decisions decisions = Ledger::ByDelivery(result);
    ExpectEligible(decisions, "S-C-PR-1-B", 10, "respite");
    ExpectEligible(decisions, "S-C-PR-1-B-2", 10, "respite");
    ExpectEligible(decisions, "S-C-PR-KU-A", 20, "respite");
    ExpectEligible(decisions, "S-C-PR-KU-B", 10, "respite");
    ExpectIneligible(decisions, "S-C-PR-KU-B-2", "respite", "in 2021 already used up");
    EXPECT_EQ(Used(result, "respite-year", "C-PR-1-B", "2021"), 20);
    EXPECT_EQ(Used(result, "respite-year", "family:P-PR-KU", "2021"), 30);
    const Entitlements kurzeme_child = ledger.EntitlementsOf("C-PR-KU-A", "2021-06-01", enacted);
    EXPECT_EQ(kurzeme_child.rules_version, "MK313-KU-family-respite");
    ASSERT_EQ(kurzeme_child.lines.size(), 1u);
    EXPECT_EQ(kurzeme_child.lines[0].remaining, 0);
    EXPECT_EQ(kurzeme_child.lines[0].rules_version, "");  // the grant is in the person's project
    const Entitlements zemgale_child = ledger.EntitlementsOf("C-PR-1-A", "2021-06-01", enacted);
    EXPECT_EQ(zemgale_child.rules_version, DefaultRules()["version"]);
    ASSERT_EQ(zemgale_child.lines.size(), 1u);
    EXPECT_EQ(zemgale_child.lines[0].remaining, 10);
  }
  // A later version for every project (respite 40 a year) governs PR-1, not PR-KU, which has rules of its own.
  json general = DefaultRules();
  general["version"] = "MK313-respite-40";
  for (json& rule : general["rules"]) {
    if (rule["id"] == "respite") rule["caps"][0]["quantity"] = 40;
  }
  ledger.Add("rules_enacted", "2015-07-01",
             {{"rule_set_id", "MK313"}, {"title", "MK 313, respite 40"}, {"document", general}});
  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectIneligible(decisions, "S-C-PR-KU-B-2", "respite", "in 2021 already used up");
  EXPECT_EQ(Used(result, "respite-year", "C-PR-1-B", "2021"), 20);
  EXPECT_EQ(ledger.EntitlementsOf("C-PR-1-A", "2021-06-01").lines[0].remaining, 20);
  EXPECT_EQ(ledger.EntitlementsOf("C-PR-KU-A", "2021-06-01").rules_version, "MK313-KU-family-respite");
}

// Jelgava city's family assistant (Z 12): a rule that selects municipalities applies to grants of those only; a
// grant elsewhere has no rule in force, and the next rule in order (here: none) is looked for.
TEST(MunicipalitySelectorTest, ARuleForSomeMunicipalitiesLeavesTheOthersWithoutARule) {
  Ledger ledger(CustomRules(R"([{"id": "family-assistant-m2", "services": ["family_assistant"],
      "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
      "applies_when": {"municipalities": ["M-2", "M-9"]},
      "caps": [{"id": "fa-month", "quantity": 600, "period": "month"}]}])"));
  ledger.Child("C-1", "2015-01-01");
  ledger.Grant("G-1", "C-1", "family_assistant", 31 * 1440, "month");
  ledger.LiveIn("PR-1", "M-2");
  ledger.Child("C-2", "2015-01-01");
  ledger.Grant("G-2", "C-2", "family_assistant", 31 * 1440, "month");
  ledger.Deliver("FA-1", "G-1", "2021-03-01", 120);
  ledger.Deliver("FA-2", "G-2", "2021-03-01", 600);  // exactly the cap
  ledger.Deliver("FA-3", "G-2", "2021-03-02", 60);   // over it
  const Decisions decisions = ledger.Decide();
  ExpectIneligible(decisions, "FA-1", "", "family_assistant: no rule in force on 2021-03-01");
  ExpectEligible(decisions, "FA-2", 600, "family-assistant-m2");
  ExpectIneligible(decisions, "FA-3", "family-assistant-m2", "in 2021-03 already used up");
  EXPECT_EQ(ledger.EntitlementsOf("C-2", "2021-03-01").lines[0].rule_id, "family-assistant-m2");
  EXPECT_NE(ledger.EntitlementsOf("C-1", "2021-03-01").lines[0].problem.find("no rule in force"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// Limits per kind of therapy (docs/rules.md §2.7).

// Kurzeme's child rehabilitation (KU 26-28): each recommended service at most 10 times, at most 4 services. The 10th
// session of a kind is eligible, the 11th is not; the 4th kind is counted, the 5th is not (a delivery without a kind
// is a kind of its own); a kind already counted stays open; a void gives its kind's place back, as known from then.
TEST(PerKindTest, TenOfEachKindAndAtMostFourKinds) {
  Ledger ledger(CustomRules(R"([{"id": "child-rehab-ku", "services": ["child_rehabilitation"],
      "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
      "requires": {"support_plan": true, "disability_groups": ["child_disability"]},
      "caps": [{"id": "rehab-ku", "quantity": 10, "period": "support_plan", "per_kind": true, "max_kinds": 4}]}])"));
  ledger.Child("C-1", "2012-01-01");
  ledger.Disability("C-1", "child_disability", "2020-01-01");
  ledger.Plan("PL-1", "C-1", {"child_rehabilitation"}, "2020-06-01");
  ledger.Grant("G-1", "C-1", "child_rehabilitation", 1000, "year");
  ledger.DeliverKind("PSY-10", "G-1", "2021-01-04", 10, "psychologist");
  ledger.DeliverKind("PSY-11", "G-1", "2021-01-05", 1, "psychologist");
  ledger.DeliverKind("SPEECH-6", "G-1", "2021-01-06", 6, "speech_therapy");
  ledger.DeliverKind("SPEECH-5", "G-1", "2021-01-07", 5, "speech_therapy");
  ledger.DeliverKind("PHYSIO-1", "G-1", "2021-01-08", 1, "physiotherapy");
  ledger.DeliverKind("ART-1", "G-1", "2021-01-09", 1, "art_therapy");
  ledger.DeliverKind("MUSIC-2", "G-1", "2021-01-10", 2, "music_therapy");
  ledger.DeliverKind("NONE-1", "G-1", "2021-01-11", 1, "");
  ledger.DeliverKind("PHYSIO-2", "G-1", "2021-01-12", 1, "physiotherapy");
  const uint64_t before_void = ledger.Flush();
  Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "PSY-10", 10, "child-rehab-ku");
  ExpectIneligible(decisions, "PSY-11", "child-rehab-ku",
                   "cap rehab-ku of 10 sessions of kind psychologist per support plan (rule child-rehab-ku) in plan "
                   "PL-1 already used up; 1 session over");
  ExpectEligible(decisions, "SPEECH-6", 6, "child-rehab-ku");
  ExpectPartly(decisions, "SPEECH-5", 4, "child-rehab-ku", "of kind speech_therapy per support plan");
  ExpectEligible(decisions, "PHYSIO-1", 1, "child-rehab-ku");
  ExpectEligible(decisions, "ART-1", 1, "child-rehab-ku");
  ExpectIneligible(decisions, "MUSIC-2", "child-rehab-ku",
                   "cap rehab-ku of at most 4 kinds per support plan (rule child-rehab-ku) in plan PL-1 "
                   "(music_therapy would be one more) already used up; 2 sessions over");
  ExpectIneligible(decisions, "NONE-1", "child-rehab-ku", "(unspecified would be one more)");
  ExpectEligible(decisions, "PHYSIO-2", 1, "child-rehab-ku");

  // Entitlements: each kind counted, and the count of kinds; the line's room is the best counted kind's.
  const Entitlements entitlements = ledger.EntitlementsOf("C-1", "2021-01-31");
  ASSERT_EQ(entitlements.lines.size(), 1u);
  const EntitlementLine& line = entitlements.lines[0];
  std::map<std::string, std::pair<int64_t, int64_t>> caps;  // part -> (used, limit)
  for (const EntitlementCap& cap : line.caps) caps[cap.part] = {cap.used, cap.limit};
  EXPECT_EQ(caps["kind:psychologist"], std::make_pair(int64_t{10}, int64_t{10}));
  EXPECT_EQ(caps["kind:speech_therapy"], std::make_pair(int64_t{10}, int64_t{10}));
  EXPECT_EQ(caps["kind:physiotherapy"], std::make_pair(int64_t{2}, int64_t{10}));
  EXPECT_EQ(caps["kind:art_therapy"], std::make_pair(int64_t{1}, int64_t{10}));
  EXPECT_EQ(caps["kinds"], std::make_pair(int64_t{4}, int64_t{4}));
  EXPECT_EQ(caps.count("kind:music_therapy"), 0u);
  EXPECT_EQ(line.remaining, 9);  // art_therapy's

  // The art therapy session is voided: as known from then, music therapy is the 4th kind.
  ledger.Void("ART-1", "2021-02-01");
  decisions = ledger.Decide();
  ExpectEligible(decisions, "MUSIC-2", 2, "child-rehab-ku");
  ExpectIneligible(decisions, "NONE-1", "child-rehab-ku", "(unspecified would be one more)");
  ExpectIneligible(ledger.Decide(before_void), "MUSIC-2", "child-rehab-ku", "at most 4 kinds");

  // The session recorded without a kind was physiotherapy: corrected, it counts under a kind already counted.
  ledger.Add("delivery_corrected", "2021-02-02",
             {{"delivery_id", "NONE-1"}, {"quantity", 1}, {"cost_cents", 10}, {"reason", "kind"},
              {"kind", "physiotherapy"}});
  decisions = ledger.Decide();
  ExpectEligible(decisions, "NONE-1", 1, "child-rehab-ku");
  EXPECT_EQ(Used(ledger.Result(), "rehab-ku", "C-1", "plan PL-1|kind:physiotherapy"), 3);
}

// Kurzeme's parents (KU 29): at most 2 of psychologist / rehabilitologist / physiotherapy / support groups, each at
// most 10 times. Another kind is not covered; a delivery without a kind is not either.
TEST(PerKindTest, ParentsTwoOfFourListedKinds) {
  Ledger ledger(CustomRules(R"([{"id": "parent-rehab-ku", "services": ["parent_rehabilitation"],
      "target_groups": ["parent_of_child"], "effective_from": "2015-07-01",
      "requires": {"kinds": ["psychologist", "rehabilitologist", "physiotherapy", "support_group"]},
      "caps": [{"id": "parent-rehab-ku", "quantity": 10, "period": "window", "window_from": "2015-07-01",
                "window_until": "2021-06-30", "per_kind": true, "max_kinds": 2}]}])"));
  ledger.Child("C-1", "2012-01-01");
  ledger.Parent("P-1", {"C-1"});
  ledger.Grant("G-P", "P-1", "parent_rehabilitation", 1000, "year");
  ledger.DeliverKind("PSY", "G-P", "2021-02-01", 3, "psychologist");
  ledger.DeliverKind("ART", "G-P", "2021-02-02", 1, "art_therapy");
  ledger.DeliverKind("NONE", "G-P", "2021-02-03", 1, "");
  ledger.DeliverKind("PHYSIO", "G-P", "2021-02-04", 2, "physiotherapy");
  ledger.DeliverKind("GROUP", "G-P", "2021-02-05", 1, "support_group");
  ledger.DeliverKind("PSY-8", "G-P", "2021-02-06", 8, "psychologist");
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "PSY", 3, "parent-rehab-ku");
  ExpectIneligible(decisions, "ART", "parent-rehab-ku",
                   "parent_rehabilitation: rule parent-rehab-ku covers only the kinds "
                   "psychologist/rehabilitologist/physiotherapy/support_group (delivery kind: art_therapy)");
  ExpectIneligible(decisions, "NONE", "parent-rehab-ku", "(no kind recorded)");
  ExpectEligible(decisions, "PHYSIO", 2, "parent-rehab-ku");
  ExpectIneligible(decisions, "GROUP", "parent-rehab-ku", "at most 2 kinds");
  ExpectPartly(decisions, "PSY-8", 7, "parent-rehab-ku", "1 session over");
  // Entitlements list the rule's four kinds, then the count of kinds: the line's room is physiotherapy's 8.
  const Entitlements entitlements = ledger.EntitlementsOf("P-1", "2021-03-01");
  ASSERT_EQ(entitlements.lines.size(), 1u);
  std::vector<std::string> parts;
  for (const EntitlementCap& cap : entitlements.lines[0].caps) parts.push_back(cap.part);
  EXPECT_EQ(parts, (std::vector<std::string>{"kind:psychologist", "kind:rehabilitologist", "kind:physiotherapy",
                                             "kind:support_group", "kinds", ""}));
  EXPECT_EQ(entitlements.lines[0].remaining, 8);
}

// GRT "support groups and group sessions, up to 100 times each" (Z 766): per kind, no limit on the kinds.
TEST(PerKindTest, EachKindCountsApartWithoutALimitOnKinds) {
  Ledger ledger(CustomRules(R"([{"id": "grt-groups", "services": ["adult_support_group"],
      "target_groups": ["adult_mental_disability"], "effective_from": "2015-07-01",
      "caps": [{"id": "grt-groups-each", "quantity": 3, "period": "year", "per_kind": true}]}])"));
  ledger.Adult("A-1");
  ledger.Grant("G-A", "A-1", "adult_support_group", 1000, "year");
  ledger.DeliverKind("SG-3", "G-A", "2021-03-01", 3, "support_group");
  ledger.DeliverKind("GS-4", "G-A", "2021-03-02", 4, "group_session");
  ledger.DeliverKind("SG-1", "G-A", "2021-03-03", 1, "support_group");
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "SG-3", 3, "grt-groups");
  ExpectPartly(decisions, "GS-4", 3, "grt-groups", "of kind group_session per year");
  ExpectIneligible(decisions, "SG-1", "grt-groups", "already used up");
}

// ---------------------------------------------------------------------------------------------------------
// Money caps (docs/rules.md §2.7): a cost-volume limit counts eligible cost in cents and admits whole units.

// EUR 250 a year, shared by a unit-cost service (EUR 30 a session) and an actual-cost one: the limit is crossed in the
// middle of a delivery (3 of 5 sessions fit), the other service's sessions count against it at their own cost, and a
// session that costs more than what is left is over although the cap is not used up. The next year starts afresh.
TEST(MoneyCapTest, CrossedMidDeliveryAdmitsTheWholeUnitsThatFit) {
  Ledger ledger(CustomRules(R"([
      {"id": "psy", "services": ["adult_psychologist_consultation"], "target_groups": ["adult_mental_disability"],
       "effective_from": "2015-07-01", "cost_basis": "unit_cost",
       "caps": [{"id": "cost-volume", "cost_cents": 25000, "period": "year"}]},
      {"id": "spec", "services": ["adult_specialist_consultation"], "target_groups": ["adult_mental_disability"],
       "effective_from": "2015-07-01", "caps": [{"id": "cost-volume", "cost_cents": 25000, "period": "year"}]}])"));
  ledger.Adult("A-1");
  ledger.Grant("G-U", "A-1", "adult_psychologist_consultation", 100, "month", 3000);
  ledger.Grant("G-A", "A-1", "adult_specialist_consultation", 100, "month");
  ledger.Deliver("U-1", "G-U", "2021-03-01", 5, "", 1);       // 150.00
  ledger.Deliver("U-2", "G-U", "2021-04-01", 5, "", 1);       // 100.00 left: 3 sessions (90.00)
  ledger.Deliver("A-1", "G-A", "2021-05-01", 2, "", 1500);    // 10.00 left: 1 of 2 at 7.50
  ledger.Deliver("A-2", "G-A", "2021-05-02", 1, "", 300);     // 2.50 left: less than 3.00
  ledger.Deliver("A-3", "G-A", "2021-05-03", 1, "", 250);     // exactly what is left
  ledger.Deliver("U-NEXT", "G-U", "2022-01-10", 8, "", 1);    // 240.00 of a new year's 250.00
  const Decisions decisions = ledger.Decide();
  ExpectDecision(decisions, "U-1", Verdict::kEligible, 5, 15000, "psy");
  ExpectDecision(decisions, "U-2", Verdict::kPartlyEligible, 3, 9000, "psy",
                 "adult_psychologist_consultation: cap cost-volume of EUR 250.00 of eligible cost per year (rule psy) "
                 "in 2021 reached on 2021-04-01; 2 sessions over");
  ExpectDecision(decisions, "A-1", Verdict::kPartlyEligible, 1, 750, "spec", "1 session over");
  ExpectDecision(decisions, "A-2", Verdict::kIneligible, 0, 0, "spec",
                 "in 2021 has EUR 2.50 left, less than one more unit costs; 1 session over");
  ExpectDecision(decisions, "A-3", Verdict::kEligible, 1, 250, "spec");
  ExpectDecision(decisions, "U-NEXT", Verdict::kEligible, 8, 24000, "psy");
  EXPECT_EQ(Used(ledger.Result(), "cost-volume", "A-1", "2021"), 25000);

  // Entitlements: the money cap in cents beside the quantity caps; a used-up one leaves no units either.
  const Entitlements year_end = ledger.EntitlementsOf("A-1", "2021-12-31");
  ASSERT_EQ(year_end.lines.size(), 2u);
  for (const EntitlementLine& line : year_end.lines) {
    SCOPED_TRACE(line.grant_id);
    EXPECT_EQ(line.remaining_cents, 0);
    EXPECT_EQ(line.remaining, 0);
    ASSERT_EQ(line.caps.size(), 2u);
    EXPECT_TRUE(line.caps[0].money);
    EXPECT_EQ(line.caps[0].limit, 25000);
    EXPECT_EQ(line.caps[0].used, 25000);
    EXPECT_FALSE(line.caps[1].money);  // the grant's own quantity
  }
  const Entitlements next_year = ledger.EntitlementsOf("A-1", "2022-01-31");
  ASSERT_EQ(next_year.lines.size(), 2u);
  for (const EntitlementLine& line : next_year.lines) {
    SCOPED_TRACE(line.grant_id);
    EXPECT_EQ(line.remaining_cents, 1000);  // one cap, shared
    // The grant's 100 a month, less 8 sessions of G-U: the money cap left is not in units.
    EXPECT_EQ(line.remaining, line.grant_id == "G-U" ? 92 : 100);
  }
  const std::string json = EntitlementsToJson(next_year).dump();
  EXPECT_NE(json.find(R"("remaining_cents":1000)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("unit":"cents","limit":25000,"used":24000,"remaining":1000)"), std::string::npos) << json;
}

// A stay decided day by day at its actual cost (EUR 50.01 for 5 days): the days' prorated costs add up to the stay's
// eligible cost, so a cap of EUR 30.01 admits exactly 3 days (10.00 + 10.00 + 10.01) and the 4th is over.
TEST(MoneyCapTest, AStayIsPricedDayByDayAndTheDaysAddUpToItsEligibleCost) {
  Ledger ledger(CustomRules(R"([{"id": "respite-money", "services": ["respite"],
      "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
      "caps": [{"id": "respite-cost", "cost_cents": 3001, "period": "month"}]}])"));
  ledger.Child("C-1", "2015-01-01");
  ledger.Grant("G-R", "C-1", "respite", 365, "year");
  ledger.Stay("STAY", "G-R", "2021-03-08", "2021-03-12", 5001);
  ledger.Stay("TIGHT", "G-R", "2021-04-08", "2021-04-12", 5004);  // 10.01 a day (prorated): 3 days cost 30.02
  const Decisions decisions = ledger.Decide();
  ExpectDecision(decisions, "STAY", Verdict::kPartlyEligible, 3, 3001, "respite-money",
                 "cap respite-cost of EUR 30.01 of eligible cost per month (rule respite-money) in 2021-03 reached on "
                 "2021-03-10; 2 days over");
  ExpectDecision(decisions, "TIGHT", Verdict::kPartlyEligible, 2, 2002, "respite-money", "3 days over");
  EXPECT_EQ(Used(ledger.Result(), "respite-cost", "C-1", "2021-03"), 3001);
  EXPECT_EQ(Used(ledger.Result(), "respite-cost", "C-1", "2021-04"), 2002);
}

// ---------------------------------------------------------------------------------------------------------
// Closures (docs/events.md §4.31).

// A day centre closed for COVID-19 (recorded late, for respite only): the respite days its provider delivered while
// closed are not eligible, as known from the closure's recording; the days after it reopened, another provider's
// days, and the same provider's other services are. An entitlement of a grant naming the provider says so.
TEST(ClosureTest, DeliveriesByAClosedProviderOnClosedDaysAreIneligible) {
  Ledger ledger;
  ledger.Add("provider_registered", "2016-01-10", {{"provider_id", "PV-2"}, {"name", "Otrs"}, {"kind", "legal_person"}});
  ledger.Child("C-R", "2015-06-01");
  ledger.Opinion("C-R", "2020-01-01");
  ledger.Grant("G-R", "C-R", "respite", 365, "year");
  ledger.Grant("G-C", "C-R", "child_care", 31 * 1440, "month");
  ledger.NameProvider("PV-1");
  ledger.Stay("STAY", "G-R", "2020-03-08", "2020-03-12");   // 3 of 5 days closed (10..12)
  ledger.Stay("OTHER", "G-R", "2020-03-16", "2020-03-17");  // another provider's
  ledger.NameProvider("PV-2");
  ledger.Stay("AFTER", "G-R", "2020-03-31", "2020-04-01");  // from the reopening
  ledger.Deliver("CARE", "G-C", "2020-03-11", 60, "care");  // not a service closed
  const uint64_t before = ledger.Flush();
  ledger.Add("provider_closed", "2020-03-10",
             {{"provider_id", "PV-1"}, {"reason", "COVID-19 emergency"}, {"services", {"respite"}}});
  const uint64_t closed = ledger.Flush();
  ledger.Add("provider_reopened", "2020-03-31", {{"provider_id", "PV-1"}});
  Decisions decisions = ledger.Decide();
  ExpectPartly(decisions, "STAY", 2, "respite",
               "respite: provider PV-1 closed from 2020-03-10 (COVID-19 emergency) (3 of 5 days)");
  ExpectEligible(decisions, "OTHER", 2, "respite");
  ExpectEligible(decisions, "AFTER", 2, "respite");
  ExpectEligible(decisions, "CARE", 60, "child-care-v0-age-0-4");
  ExpectEligible(ledger.Decide(before), "STAY", 5, "respite");
  // As known before the reopening: closed from 2020-03-10 on, so the stay from 2020-03-31 is not eligible either.
  decisions = ledger.Decide(closed);
  ExpectIneligible(decisions, "AFTER", "respite", "provider PV-1 closed from 2020-03-10 (COVID-19 emergency)");
  ExpectEligible(decisions, "OTHER", 2, "respite");
  // The respite grant names no provider: its entitlement has no problem; the care grant names PV-1, whose care is
  // not closed.
  for (const EntitlementLine& line : ledger.EntitlementsOf("C-R", "2020-03-20", closed).lines) {
    EXPECT_EQ(line.problem, "") << line.grant_id;
  }
}

// The grant's own provider closed on the valid date: the entitlement says so.
TEST(ClosureTest, AnEntitlementOfAGrantWhoseProviderIsClosedSaysSo) {
  Ledger ledger;
  ledger.Child("C-R", "2015-06-01");
  ledger.Opinion("C-R", "2020-01-01");
  ledger.Grant("G-R", "C-R", "respite", 365, "year");
  ledger.NameProvider("PV-1");
  ledger.Add("provider_closed", "2020-03-10", {{"provider_id", "PV-1"}, {"reason", "COVID-19 emergency"}});
  const Entitlements entitlements = ledger.EntitlementsOf("C-R", "2020-03-20");
  ASSERT_EQ(entitlements.lines.size(), 1u);
  EXPECT_EQ(entitlements.lines[0].problem,
            "the grant's provider PV-1 closed from 2020-03-10 (COVID-19 emergency)");
  EXPECT_EQ(ledger.EntitlementsOf("C-R", "2020-03-09").lines[0].problem, "");
}

// A project's own rules that do not parse leave it under the rules it had (here: the general ones), and the problem
// is reported for that project only.
TEST(RulesPerProjectTest, AProjectsBrokenRulesAreReportedForItAlone) {
  Ledger ledger;
  ledger.Add("project_registered", "2016-01-20",
             {{"project_id", "PR-KU"}, {"name", "Kurzeme visiem"}, {"region", "Kurzeme"},
              {"agreement_number", "9.2.2.1/15/I/002"}, {"period_start", "2015-12-01"}, {"period_end", "2023-12-31"}, {"services_paid_until", "2023-08-31"},
              {"budget_total_cents", 500000000}, {"budget_esf_cents", 425000000}, {"budget_state_cents", 75000000}});
  ledger.Add("rules_enacted", "2015-12-01",
             {{"rule_set_id", "KU"}, {"title", "a draft"}, {"document", {{"format", "di-ledger-rules/1"}}},
              {"project_ids", {"PR-KU"}}});
  ledger.Flush();
  LedgerModel model;
  ASSERT_TRUE(ReplayInto(ledger.store(), kKnownNow, &model).ok());
  EXPECT_NE(model.RulesProblemOfProject("PR-KU").find("ignored"), std::string::npos);
  EXPECT_EQ(model.RulesProblemOfProject("PR-1"), "");
  ASSERT_NE(model.RulesOfProject("PR-KU"), nullptr);
  EXPECT_EQ(model.RulesOfProject("PR-KU"), model.RulesOfProject("PR-1"));
}

// ---------------------------------------------------------------------------------------------------------
// GRT adults.

// From 2021-07-01 psychologist and specialist consultations share ONE window cap of 100 sessions counted
// from 2021-07-01 (sessions before it are ignored). The psychologist is paid at unit cost.
TEST(GrtTest, ConsultationsShareOneCapOf100CountedFrom2021_07_01) {
  Ledger ledger;
  GrtWorld(ledger, "A-1", {"adult_specialist_consultation", "adult_psychologist_consultation"});
  ledger.Grant("G-SPEC", "A-1", "adult_specialist_consultation", 1000, "year");
  ledger.Grant("G-PSY", "A-1", "adult_psychologist_consultation", 1000, "year", 3500);
  ledger.Deliver("S-JUNE", "G-SPEC", "2021-06-30", 50, "", 5000);
  ledger.Deliver("P-JUNE", "G-PSY", "2021-06-30", 50, "", 100);
  ledger.Deliver("S-1", "G-SPEC", "2021-07-01", 50, "", 5000);
  ledger.Deliver("P-1", "G-PSY", "2021-07-02", 49, "", 100);
  ledger.Deliver("S-OVER", "G-SPEC", "2021-07-03", 2, "", 201);  // 101: one session over
  ledger.Deliver("P-NEXT", "G-PSY", "2021-07-04", 1, "", 100);

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  // v0 (no count cap; the v0 rule's unit cost falls back to the actual cost for a grant without a unit rate).
  ExpectDecision(decisions, "S-JUNE", Verdict::kEligible, 50, 5000, "grt-consultations-v0");
  ExpectDecision(decisions, "P-JUNE", Verdict::kEligible, 50, 50 * 3500, "grt-consultations-v0");
  ExpectDecision(decisions, "S-1", Verdict::kEligible, 50, 5000, "grt-specialist-2021");
  ExpectDecision(decisions, "P-1", Verdict::kEligible, 49, 49 * 3500, "grt-psychologist-2021");
  ExpectDecision(decisions, "S-OVER", Verdict::kPartlyEligible, 1, 101, "grt-specialist-2021",
                 "adult_specialist_consultation: cap grt-consultations-2021 of 100 sessions per window (rule "
                 "grt-specialist-2021) in 2021-07-01..2023-08-31 reached on 2021-07-03; 1 session over");
  ExpectDecision(decisions, "P-NEXT", Verdict::kIneligible, 0, 0, "grt-psychologist-2021",
                 "cap grt-consultations-2021 of 100 sessions per window (rule grt-psychologist-2021) in "
                 "2021-07-01..2023-08-31 already used up; 1 session over");
  EXPECT_EQ(Used(result, "grt-consultations-2021", "A-1", "2021-07-01..2023-08-31"), 100);
}

// v0: free for 2 years from the valid_from of the person's FIRST plan (a later plan does not restart the
// clock): 2021-03-31 is the last free day for a plan of 2019-04-01. The limit ends with v0 on 2021-06-30.
TEST(GrtTest, V0IsFreeForTwoYearsAfterTheFirstPlan) {
  Ledger ledger;
  GrtWorld(ledger, "A-2", {"adult_specialist_consultation"}, "2019-04-01");
  ledger.Plan("PL-A-2-LATER", "A-2", {"adult_specialist_consultation"}, "2021-01-01");
  ledger.Grant("G-S", "A-2", "adult_specialist_consultation", 1000, "year");
  ledger.Deliver("LAST-FREE", "G-S", "2021-03-31", 2);
  ledger.Deliver("FIRST-AFTER", "G-S", "2021-04-01", 2);
  ledger.Deliver("JUNE-30", "G-S", "2021-06-30", 2);
  ledger.Deliver("JULY-1", "G-S", "2021-07-01", 2);
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "LAST-FREE", 2, "grt-consultations-v0");
  ExpectIneligible(decisions, "FIRST-AFTER", "grt-consultations-v0",
                   "adult_specialist_consultation: free for 2 years after the plan of 2019-04-01, that is until 2021-03-31");
  ExpectIneligible(decisions, "JUNE-30", "grt-consultations-v0", "that is until 2021-03-31");
  ExpectEligible(decisions, "JULY-1", 2, "grt-specialist-2021");
}

// years_after_plan from a plan of 29 February: one year later is 1 March (as for birthdays), so the free
// period ends on 28 February.
TEST(GrtTest, YearsAfterAPlanOf29February) {
  Ledger ledger(CustomRules(R"([{"id": "free-one-year", "services": ["adult_day_centre"],
      "target_groups": ["adult_mental_disability"], "effective_from": "2015-07-01",
      "requires": {"support_plan": true, "years_after_plan": 1}}])"));
  GrtWorld(ledger, "A-L", {"adult_day_centre"}, "2020-02-29");
  ledger.Grant("G-DC", "A-L", "adult_day_centre", 365, "year");
  ledger.Deliver("FEB-28", "G-DC", "2021-02-28", 1);
  ledger.Deliver("MAR-1", "G-DC", "2021-03-01", 1);
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "FEB-28", 1, "free-one-year");
  ExpectIneligible(decisions, "MAR-1", "free-one-year", "free for 1 year after the plan of 2020-02-29, that is until 2021-02-28");
}

// From $count_caps_abolished (2022-06-16) the consultation caps are gone: only the grant's quantity limits.
TEST(GrtTest, CountCapsAbolishedLeavesOnlyTheGrantsCap) {
  const json rules = DefaultRules();
  ASSERT_EQ(rules.at("parameters").at("count_caps_abolished"), "2022-06-16");
  Ledger ledger(rules);
  GrtWorld(ledger, "A-3", {"adult_specialist_consultation", "adult_psychologist_consultation"});
  ledger.Grant("G-PSY", "A-3", "adult_psychologist_consultation", 150, "year", 3500);
  ledger.Grant("G-SPEC", "A-3", "adult_specialist_consultation", 1000, "year");
  ledger.Deliver("P-1", "G-PSY", "2021-07-01", 50);
  ledger.Deliver("P-2", "G-PSY", "2021-07-02", 50);  // the window cap of 100 is used up
  ledger.Deliver("P-EVE", "G-PSY", "2022-06-15", 1);
  ledger.Deliver("S-EVE", "G-SPEC", "2022-06-15", 1);
  ledger.Deliver("P-DAY", "G-PSY", "2022-06-16", 50);
  ledger.Deliver("S-DAY", "G-SPEC", "2022-06-16", 50);
  ledger.Deliver("P-17", "G-PSY", "2022-06-17", 50);
  ledger.Deliver("P-18", "G-PSY", "2022-06-18", 49);
  ledger.Deliver("P-OVER", "G-PSY", "2022-06-19", 2);  // 151 in 2022: one over the grant's 150 per year
  ledger.Deliver("P-NEXT", "G-PSY", "2022-06-20", 1);

  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectDecision(decisions, "P-2", Verdict::kEligible, 50, 50 * 3500, "grt-psychologist-2021");
  ExpectIneligible(decisions, "P-EVE", "grt-psychologist-2021", "cap grt-consultations-2021 of 100 sessions per window");
  ExpectIneligible(decisions, "S-EVE", "grt-specialist-2021", "cap grt-consultations-2021 of 100 sessions per window");
  ExpectDecision(decisions, "P-DAY", Verdict::kEligible, 50, 50 * 3500, "grt-psychologist-unlimited");
  ExpectEligible(decisions, "S-DAY", 50, "grt-specialist-and-groups-unlimited");
  ExpectDecision(decisions, "P-17", Verdict::kEligible, 50, 50 * 3500, "grt-psychologist-unlimited");
  ExpectDecision(decisions, "P-18", Verdict::kEligible, 49, 49 * 3500, "grt-psychologist-unlimited");
  ExpectDecision(decisions, "P-OVER", Verdict::kPartlyEligible, 1, 3500, "grt-psychologist-unlimited",
                 "adult_psychologist_consultation: granted 150 sessions per year (grant G-PSY) in 2022 reached on "
                 "2022-06-19; 1 session over");
  ExpectIneligible(decisions, "P-NEXT", "grt-psychologist-unlimited", "(grant G-PSY) in 2022 already used up");
  // The abolished window cap is no longer counted.
  EXPECT_EQ(Used(result, "grt-consultations-2021", "A-3", "2021-07-01..2023-08-31"), 100);
  EXPECT_EQ(Used(result, "grant:G-PSY", "A-3", "2022"), 150);
}

// ---------------------------------------------------------------------------------------------------------
// services_paid_until (2023-08-31).

TEST(ServicesPaidUntilTest, LastPaidDayIsEligibleTheNextDayIsNot) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-06-01");
  ledger.Deliver("LAST", "G-C-1", "2023-08-31", 60, "care");
  ledger.Deliver("AFTER", "G-C-1", "2023-09-01", 60, "care");
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "LAST", 60, kActive04);
  ExpectIneligible(decisions, "AFTER", "", "child_care: services are paid until 2023-08-31");
  EXPECT_EQ(ledger.EntitlementsOf("C-1", "2023-08-31").lines.at(0).problem, "");
  EXPECT_EQ(ledger.EntitlementsOf("C-1", "2023-09-01").lines.at(0).problem, "services are paid until 2023-08-31");
}

// ---------------------------------------------------------------------------------------------------------
// Requirements: a failed requirement makes the delivery ineligible with the requirement as the reason; the
// rule is still named.

TEST(RequirementsTest, SpecialCareOpinionValidOnTheDeliveryDate) {
  Ledger ledger;
  for (const std::string child : {"C-NONE", "C-ENDS", "C-LATE"}) {
    ledger.Child(child, "2019-01-01");
    ledger.Grant("G-" + child, child, "child_care", 31 * 1440, "month");
  }
  ledger.Parent("P-1", {"C-NONE", "C-ENDS", "C-LATE"});
  ledger.Activity("P-1", "working", "2020-01-01");
  ledger.Opinion("C-ENDS", "2020-01-01", "2021-07-04");
  ledger.Opinion("C-LATE", "2021-07-10");
  ledger.Deliver("NONE", "G-C-NONE", "2021-07-05", 60, "care");
  ledger.Deliver("ENDS-LAST", "G-C-ENDS", "2021-07-04", 60, "care");
  ledger.Deliver("ENDS-AFTER", "G-C-ENDS", "2021-07-05", 60, "care");
  ledger.Deliver("LATE-BEFORE", "G-C-LATE", "2021-07-09", 60, "care");
  ledger.Deliver("LATE-FIRST", "G-C-LATE", "2021-07-10", 60, "care");
  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectIneligible(decisions, "NONE", kActive04, "child_care: no special-care opinion (VDEĀK) valid on 2021-07-05");
  ExpectEligible(decisions, "ENDS-LAST", 60, kActive04);
  ExpectIneligible(decisions, "ENDS-AFTER", kActive04, "no special-care opinion (VDEĀK) valid on 2021-07-05");
  ExpectIneligible(decisions, "LATE-BEFORE", kActive04, "no special-care opinion (VDEĀK) valid on 2021-07-09");
  ExpectEligible(decisions, "LATE-FIRST", 60, kActive04);
  // An ineligible delivery uses no entitlement.
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-NONE", "2021-07"), -1);
  EXPECT_EQ(ledger.EntitlementsOf("C-ENDS", "2021-07-05").lines.at(0).problem,
            "child_care: no special-care opinion (VDEĀK) valid on 2021-07-05");
}

TEST(RequirementsTest, SupportPlanValidOnTheDateThatListsTheService) {
  Ledger ledger;
  for (const std::string adult : {"A-NOPLAN", "A-OTHER", "A-ENDS"}) {
    ledger.Adult(adult);
    ledger.Disability(adult, "group_one", "2019-01-01");
    ledger.Grant("G-" + adult, adult, "adult_day_centre", 365, "year");
  }
  ledger.Plan("PL-OTHER", "A-OTHER", {"adult_specialist_consultation"}, "2020-01-01");
  ledger.Plan("PL-ENDS", "A-ENDS", {"adult_day_centre"}, "2020-01-01", "2021-07-04");
  ledger.Deliver("NOPLAN", "G-A-NOPLAN", "2021-07-05", 1);
  ledger.Deliver("OTHER", "G-A-OTHER", "2021-07-05", 1);
  ledger.Deliver("ENDS-LAST", "G-A-ENDS", "2021-07-04", 1);
  ledger.Deliver("ENDS-AFTER", "G-A-ENDS", "2021-07-05", 1);
  const Decisions decisions = ledger.Decide();
  const std::string rule = "grt-community-services-2021";
  ExpectIneligible(decisions, "NOPLAN", rule, "adult_day_centre: no support plan valid on 2021-07-05 lists this service");
  ExpectIneligible(decisions, "OTHER", rule, "adult_day_centre: no support plan valid on 2021-07-05 lists this service");
  ExpectEligible(decisions, "ENDS-LAST", 1, rule);
  ExpectIneligible(decisions, "ENDS-AFTER", rule, "no support plan valid on 2021-07-05 lists this service");
}

TEST(RequirementsTest, DisabilityGroupValidOnTheDate) {
  Ledger ledger;
  ledger.Adult("A-G3");
  ledger.Disability("A-G3", "group_three", "2019-01-01");
  ledger.Adult("A-G1");
  ledger.Disability("A-G1", "group_one", "2019-01-01", "2021-07-04");
  for (const std::string adult : {"A-G3", "A-G1"}) {
    ledger.Plan("PL-" + adult, adult, {"adult_day_centre"}, "2020-01-01");
    ledger.Grant("G-" + adult, adult, "adult_day_centre", 365, "year");
  }
  // A child's rehabilitation needs a child disability.
  ledger.Child("C-1", "2015-01-01");
  ledger.Plan("PL-C-1", "C-1", {"child_rehabilitation"}, "2021-01-01");
  ledger.Grant("G-C-1", "C-1", "child_rehabilitation", 100, "year");
  ledger.Deliver("G3", "G-A-G3", "2021-07-05", 1);
  ledger.Deliver("G1-LAST", "G-A-G1", "2021-07-04", 1);
  ledger.Deliver("G1-AFTER", "G-A-G1", "2021-07-05", 1);
  ledger.Deliver("CHILD", "G-C-1", "2021-07-05", 1);
  const Decisions decisions = ledger.Decide();
  const std::string rule = "grt-community-services-2021";
  ExpectIneligible(decisions, "G3", rule, "adult_day_centre: no disability of group group_one/group_two valid on 2021-07-05");
  ExpectEligible(decisions, "G1-LAST", 1, rule);
  ExpectIneligible(decisions, "G1-AFTER", rule, "no disability of group group_one/group_two valid on 2021-07-05");
  ExpectIneligible(decisions, "CHILD", "child-rehab-100",
                   "child_rehabilitation: no disability of group child_disability valid on 2021-07-05");
}

// ---------------------------------------------------------------------------------------------------------
// Grant suspension: [suspension day, day before resumption].

TEST(SuspensionTest, SuspendedDaysAreIneligibleTheResumptionDayIsEligible) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  ledger.Suspend("G-C-1", "2021-07-10");
  ledger.Resume("G-C-1", "2021-07-15");
  ledger.Suspend("G-C-1", "2021-08-01");  // never resumed
  ledger.Deliver("BEFORE", "G-C-1", "2021-07-09", 100, "care");
  ledger.Deliver("FIRST", "G-C-1", "2021-07-10", 100, "care");
  ledger.Deliver("LAST", "G-C-1", "2021-07-14", 100, "care");
  ledger.Deliver("RESUMED", "G-C-1", "2021-07-15", 100, "care");
  ledger.Deliver("OPEN", "G-C-1", "2021-08-20", 100, "care");
  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectEligible(decisions, "BEFORE", 100, kActive04);
  ExpectIneligible(decisions, "FIRST", kActive04, "child_care: grant G-C-1 is suspended from 2021-07-10");
  ExpectIneligible(decisions, "LAST", kActive04, "child_care: grant G-C-1 is suspended from 2021-07-10");
  ExpectEligible(decisions, "RESUMED", 100, kActive04);
  ExpectIneligible(decisions, "OPEN", kActive04, "grant G-C-1 is suspended from 2021-08-01");
  EXPECT_EQ(Used(result, "child-care-2021-age-0-4-month", "C-1", "2021-07"), 200);  // suspended days use nothing
}

// ---------------------------------------------------------------------------------------------------------
// Voided and corrected deliveries free the entitlement (and the decisions as known before do not change).

TEST(CorrectionTest, VoidAndCorrectionFreeTheEntitlementForLaterDeliveries) {
  Ledger ledger;
  CareWorld(ledger, "C-9", "2012-01-01");  // 80 h = 4800 min
  ledger.Fill("D", "G-C-9", "2021-07-01", 4 * 1440);  // D-4 crosses the cap: 480 of 1440
  const uint64_t recorded = ledger.Flush();
  ledger.Void("D-2", "2021-07-20");
  const uint64_t voided = ledger.Flush();
  ledger.Deliver("D-5", "G-C-9", "2021-07-05", 1440, "care");  // 4320 + 1440: 480 of 1440
  const uint64_t fifth = ledger.Flush();
  ledger.Correct("D-1", "2021-07-21", 480, 1600);  // frees 960
  const uint64_t corrected = ledger.Flush();

  const Decisions at_recorded = ledger.Decide(recorded);
  ExpectPartly(at_recorded, "D-4", 480, kActive517, "reached on 2021-07-04; 16 h over");

  const Decisions at_voided = ledger.Decide(voided);
  EXPECT_EQ(at_voided.count("D-2"), 0u);  // a voided delivery is not decided at all
  ExpectEligible(at_voided, "D-4", 1440, kActive517);

  const Decisions at_fifth = ledger.Decide(fifth);
  ExpectPartly(at_fifth, "D-5", 480, kActive517, "reached on 2021-07-05; 16 h over");

  const EligibilityResult now = ledger.Result(corrected);
  const Decisions at_corrected = Ledger::ByDelivery(now);
  ExpectDecision(at_corrected, "D-1", Verdict::kEligible, 480, 1600, kActive517);
  EXPECT_EQ(at_corrected.at("D-1").quantity, 480);
  EXPECT_EQ(at_corrected.at("D-1").positions.size(), 2u);  // the delivery and its correction
  EXPECT_EQ(at_corrected.at("D-1").positions.back(), corrected);
  ExpectEligible(at_corrected, "D-4", 1440, kActive517);
  ExpectEligible(at_corrected, "D-5", 1440, kActive517);
  EXPECT_EQ(Used(now, "child-care-2021-age-5-17-month", "C-9", "2021-07"), 480 + 1440 + 1440 + 1440);
}

// A correction to a larger quantity uses more, and the later delivery loses what it had.
TEST(CorrectionTest, CorrectionToALargerQuantityTakesFromLaterDeliveries) {
  Ledger ledger;
  CareWorld(ledger, "C-9", "2012-01-01");
  ledger.Deliver("EARLY", "G-C-9", "2021-07-01", 1000, "care");
  ledger.Deliver("LATE", "G-C-9", "2021-07-20", 1440, "care");
  ledger.Fill("MID", "G-C-9", "2021-07-02", 2 * 1440);  // 1000 + 2880 + 1440 = 5320 > 4800
  ledger.Correct("EARLY", "2021-07-21", 1440, 14400);
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "EARLY", 1440, kActive517);
  ExpectPartly(decisions, "LATE", 4800 - 1440 - 2880, kActive517, "reached on 2021-07-20");
}

// ---------------------------------------------------------------------------------------------------------
// As of (bitemporal): valid-time order decides, transaction time selects what is known.

TEST(AsOfTest, ALateRecordedDeliveryChangesDecisionsOnlyAsKnownAfterIt) {
  std::atomic<int64_t> now{Micros("2021-07-01T08:00:00Z")};
  Ledger ledger(DefaultRules(), [&now] { return now.load(); });
  CareWorld(ledger, "C-9", "2012-01-01");
  const uint64_t world = ledger.Flush();
  now = Micros("2021-07-21T10:00:00Z");
  ledger.Deliver("D-05", "G-C-9", "2021-07-05", 1440, "care");
  ledger.Deliver("D-06", "G-C-9", "2021-07-06", 1440, "care");
  ledger.Deliver("D-20", "G-C-9", "2021-07-20", 1440, "care");
  const uint64_t before = ledger.Flush();
  now = Micros("2021-08-02T09:00:00Z");
  ledger.Deliver("D-02", "G-C-9", "2021-07-02", 1440, "care");  // recorded late, dated earlier
  const uint64_t head = ledger.Flush();
  ASSERT_EQ(head, before + 1);

  // As known before the late record: 4320 minutes, all eligible.
  const Decisions then = ledger.Decide(before);
  EXPECT_EQ(then.count("D-02"), 0u);
  ExpectEligible(then, "D-20", 1440, kActive517);
  EXPECT_EQ(FindCap(ledger.EntitlementsOf("C-9", "2021-07-31", before).lines.at(0), "child-care-2021-age-5-17-month")->used,
            4320);
  // As known now: D-02 is decided first (valid time), so D-20 crosses the cap.
  const Decisions known_now = ledger.Decide();
  ExpectEligible(known_now, "D-02", 1440, kActive517);
  ExpectPartly(known_now, "D-20", 480, kActive517, "reached on 2021-07-20; 16 h over");
  EXPECT_EQ(ledger.EntitlementsOf("C-9", "2021-07-31").known_at_position, head);
  EXPECT_EQ(ledger.EntitlementsOf("C-9", "2021-07-31").lines.at(0).remaining, 0);

  // ResolveKnownAt: the last position recorded at or before a UTC time (a date: the end of that UTC day).
  auto resolve = [&](const std::string& known_at) {
    uint64_t position = 12345;
    const Status status = ResolveKnownAt(ledger.store(), known_at, &position);
    EXPECT_TRUE(status.ok()) << known_at << ": " << status.ToString();
    return position;
  };
  EXPECT_EQ(resolve("2021-06-30T23:59:59Z"), 0u);  // before anything: ReplayInto(0) folds nothing
  EXPECT_EQ(resolve("2021-07-01T08:00:00Z"), world);
  EXPECT_EQ(resolve("2021-07-21T09:59:59.999999Z"), world);
  EXPECT_EQ(resolve("2021-07-21T10:00:00Z"), before);
  EXPECT_EQ(resolve("2021-08-01"), before);
  EXPECT_EQ(resolve("2021-08-02T08:59:59Z"), before);
  EXPECT_EQ(resolve("2021-08-02T09:00:00Z"), head);
  EXPECT_EQ(resolve("2021-08-02"), head);
  EXPECT_EQ(resolve(""), head);
  EXPECT_EQ(resolve(std::to_string(before)), before);
  uint64_t position = 0;
  EXPECT_EQ(ResolveKnownAt(ledger.store(), std::to_string(head + 1), &position).code(),
            ledger::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveKnownAt(ledger.store(), "yesterday", &position).code(), ledger::StatusCode::kInvalidArgument);
  // The resolved position replays to the earlier usage.
  ExpectEligible(ledger.Decide(resolve("2021-08-02T08:59:59Z")), "D-20", 1440, kActive517);
}

// ---------------------------------------------------------------------------------------------------------
// Cost: a rule with cost_basis unit_cost pays eligible units x the grant's unit_cost_cents.

// An amended unit rate applies from the amendment's date: earlier sessions keep the rate of their day.
TEST(UnitCostTest, AnAmendedRateAppliesFromItsDate) {
  Ledger ledger(CustomRules(R"([
      {"id": "unit-rule", "services": ["adult_psychologist_consultation"],
       "target_groups": ["adult_mental_disability"], "effective_from": "2015-07-01", "cost_basis": "unit_cost"}])"));
  ledger.Adult("A-1");
  ledger.Grant("G-U", "A-1", "adult_psychologist_consultation", 100, "month", 3000);
  ledger.Deliver("BEFORE", "G-U", "2021-07-01", 2, "", 1);
  ledger.Add("grant_amended", "2021-07-15", {{"grant_id", "G-U"}, {"unit_cost_cents", 3600}, {"reason", "tariff"}});
  ledger.Deliver("AFTER", "G-U", "2021-07-20", 2, "", 1);
  const Decisions decisions = ledger.Decide();
  ExpectDecision(decisions, "BEFORE", Verdict::kEligible, 2, 2 * 3000, "unit-rule");
  ExpectDecision(decisions, "AFTER", Verdict::kEligible, 2, 2 * 3600, "unit-rule");
}

TEST(UnitCostTest, EligibleCostIsEligibleUnitsTimesTheGrantsRate) {
  Ledger ledger(CustomRules(R"([
      {"id": "unit-rule", "services": ["adult_psychologist_consultation"],
       "target_groups": ["adult_mental_disability"], "effective_from": "2015-07-01", "cost_basis": "unit_cost",
       "caps": [{"id": "psy-month", "quantity": 10, "period": "month"}]},
      {"id": "actual-rule", "services": ["adult_specialist_consultation"],
       "target_groups": ["adult_mental_disability"], "effective_from": "2015-07-01", "cost_basis": "actual_cost",
       "caps": [{"id": "spec-month", "quantity": 10, "period": "month"}]}])"));
  ledger.Adult("A-1");
  ledger.Adult("A-2");
  ledger.Grant("G-U", "A-1", "adult_psychologist_consultation", 100, "month", 3500);
  ledger.Grant("G-A", "A-1", "adult_specialist_consultation", 100, "month", 2000);  // a rate the rule ignores
  ledger.Grant("G-N", "A-2", "adult_psychologist_consultation", 100, "month");       // no rate
  ledger.Deliver("U-1", "G-U", "2021-07-01", 4, "", 1);
  ledger.Deliver("U-2", "G-U", "2021-07-02", 7, "", 99999);  // 11: 6 of 7
  ledger.Deliver("U-3", "G-U", "2021-07-03", 1, "", 500);
  ledger.Deliver("A-1", "G-A", "2021-07-01", 11, "", 11001);  // 10 of 11: 11001 * 10 / 11 = 10001
  ledger.Deliver("N-1", "G-N", "2021-07-01", 2, "", 777);
  const Decisions decisions = ledger.Decide();
  ExpectDecision(decisions, "U-1", Verdict::kEligible, 4, 4 * 3500, "unit-rule");
  ExpectDecision(decisions, "U-2", Verdict::kPartlyEligible, 6, 6 * 3500, "unit-rule", "1 session over");
  ExpectDecision(decisions, "U-3", Verdict::kIneligible, 0, 0, "unit-rule", "already used up");
  ExpectDecision(decisions, "A-1", Verdict::kPartlyEligible, 10, 10001, "actual-rule", "1 session over");
  // A unit-cost rule on a grant without a unit rate falls back to the actual cost.
  ExpectDecision(decisions, "N-1", Verdict::kEligible, 2, 777, "unit-rule");
}

// ---------------------------------------------------------------------------------------------------------
// Determinism.

void ExpectSameResult(const EligibilityResult& a, const EligibilityResult& b) {
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  for (size_t i = 0; i < a.decisions.size(); ++i) {
    const DeliveryDecision &x = a.decisions[i], &y = b.decisions[i];
    SCOPED_TRACE(x.delivery_id);
    EXPECT_EQ(x.delivery_id, y.delivery_id);
    EXPECT_EQ(x.person_id, y.person_id);
    EXPECT_EQ(x.grant_id, y.grant_id);
    EXPECT_EQ(x.municipality_id, y.municipality_id);
    EXPECT_EQ(x.service, y.service);
    EXPECT_EQ(x.date, y.date);
    EXPECT_EQ(x.quantity, y.quantity);
    EXPECT_EQ(x.cost_cents, y.cost_cents);
    EXPECT_EQ(x.eligible_quantity, y.eligible_quantity);
    EXPECT_EQ(x.eligible_cost_cents, y.eligible_cost_cents);
    EXPECT_EQ(x.verdict, y.verdict);
    EXPECT_EQ(x.rule_id, y.rule_id);
    EXPECT_EQ(x.reason, y.reason);
    EXPECT_EQ(x.positions, y.positions);
  }
  ASSERT_EQ(a.usage.size(), b.usage.size());
  for (const auto& [key, usage] : a.usage) {
    auto other = b.usage.find(key);
    ASSERT_NE(other, b.usage.end()) << key;
    EXPECT_EQ(usage.limit, other->second.limit) << key;
    EXPECT_EQ(usage.used, other->second.used) << key;
  }
}

TEST(DeterminismTest, SameModelAndSameLogGiveIdenticalDecisions) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  CareWorld(ledger, "C-9", "2012-01-01", "not_active");
  // Several deliveries on one date: decided in position order, so the order of recording matters and must
  // be reproduced exactly.
  for (int i = 0; i < 12; ++i) {
    ledger.Deliver("X-" + std::to_string(i), "G-C-1", "2021-07-0" + std::to_string(1 + i % 3), 1200,
                   i % 2 ? "leisure" : "care");
    ledger.Deliver("Y-" + std::to_string(i), "G-C-9", "2021-07-0" + std::to_string(1 + i % 3), 700, "leisure");
  }
  ledger.Void("X-3", "2021-07-10");
  ledger.Correct("Y-0", "2021-07-10", 100, 55);
  const LedgerModel model = ledger.Model();
  const EligibilityResult first = DecideEligibility(model);
  const EligibilityResult second = DecideEligibility(model);
  ExpectSameResult(first, second);
  ExpectSameResult(first, ledger.Result());  // a second replay of the same log
  ASSERT_EQ(first.decisions.size(), 23u);
  // Valid-time order: by date, then by position.
  for (size_t i = 1; i < first.decisions.size(); ++i) {
    const DeliveryDecision &previous = first.decisions[i - 1], &current = first.decisions[i];
    EXPECT_TRUE(previous.date < current.date ||
                (previous.date == current.date && previous.positions[0] < current.positions[0]))
        << previous.delivery_id << " before " << current.delivery_id;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Regressions: behaviour the first version of the engine got wrong. Each test states what is right.

// A multi-day stay is decided day by day (it was decided on its first day only): of a respite stay
// 2023-08-30..2023-09-02, the two days after services_paid_until (2023-08-31) are not reimbursed.
TEST(EligibilityRegressionTest, AStayCrossingServicesPaidUntilIsPaidOnlyUpToIt) {
  Ledger ledger;
  RespiteWorld(ledger);
  ledger.Stay("CROSS", "G-R", "2023-08-30", "2023-09-02", 40000);
  const Decisions decisions = ledger.Decide();
  ExpectDecision(decisions, "CROSS", Verdict::kPartlyEligible, 2, 20000, "respite", "services are paid until 2023-08-31");
}

// Likewise each day of a stay over New Year counts in its own year (it all counted in the first day's year):
// with 2021's 30 days used, the two 2022 days of a stay 2021-12-31..2022-01-02 are eligible.
TEST(EligibilityRegressionTest, AStayOverNewYearCountsEachDayInItsOwnYear) {
  Ledger ledger;
  RespiteWorld(ledger);
  ledger.Stay("R-30", "G-R", "2021-03-01", "2021-03-30");
  ledger.Stay("NEW-YEAR", "G-R", "2021-12-31", "2022-01-02", 30000);
  const EligibilityResult result = ledger.Result();
  const Decisions decisions = Ledger::ByDelivery(result);
  ExpectDecision(decisions, "NEW-YEAR", Verdict::kPartlyEligible, 2, 20000, "respite", "1 day over");
  EXPECT_EQ(Used(result, "respite-year", "C-R", "2022"), 2);
}

// A grant_amended quantity applies from the amendment's effective date (it used to replace the quantity for
// every period): reducing a grant from 100 h to 50 h a month from 2021-09-01 does not touch July 2021.
TEST(EligibilityRegressionTest, AGrantAmendmentDoesNotChangeEarlierPeriods) {
  Ledger ledger;
  ledger.Child("C-1", "2019-01-01");
  ledger.Parent("P-1", {"C-1"});
  ledger.Opinion("C-1", "2020-01-01");
  ledger.Activity("P-1", "working", "2020-01-01");
  ledger.Grant("G-1", "C-1", "child_care", 6000, "month");
  ledger.Fill("J", "G-1", "2021-07-01", 6000);  // 07-01..07-05, exactly the grant
  ledger.Amend("G-1", "2021-09-01", 3000);
  ledger.Fill("S", "G-1", "2021-09-01", 3001);
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "J-5", 240, kActive04);  // 4 x 1440 + 240: the last 240 of July's 6000
  ExpectPartly(decisions, "S-3", 120, kActive04, "granted 50 h per month (grant G-1) in 2021-09");
}

// For a child whose parent is not active the only cap is the 40 h leisure cap, a purpose sub-cap; the rule
// covers leisure only, so that sub-cap is the entitlement's real limit (it used to show the grant's room).
TEST(EligibilityRegressionTest, EntitlementOfALeisureOnlyRuleIsItsLeisureCap) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01", "not_active");
  ledger.Deliver("L", "G-C-1", "2021-07-01", 400, "leisure");
  const Entitlements entitlements = ledger.EntitlementsOf("C-1", "2021-07-02");
  const EntitlementLine& line = entitlements.lines.at(0);
  EXPECT_EQ(line.rule_id, kNotActive);
  EXPECT_EQ(FindCap(line, "child-care-2021-leisure-month")->remaining, 2000);
  EXPECT_EQ(line.remaining, 2000);
}

// The ledger accepts a grant_ended (or a grant_amended valid_until) dated before deliveries already recorded;
// the engine compares each delivery with the grant's last day as known, so a delivery after it is ineligible.
TEST(EligibilityRegressionTest, ADeliveryAfterTheGrantsLastDayIsIneligible) {
  Ledger ledger;
  CareWorld(ledger, "C-1", "2019-01-01");
  CareWorld(ledger, "C-2", "2019-01-01");
  ledger.Deliver("ENDED-10", "G-C-1", "2021-07-10", 60, "care");
  ledger.Deliver("ENDED-15", "G-C-1", "2021-07-15", 60, "care");
  ledger.Deliver("SHORTENED-15", "G-C-2", "2021-07-15", 60, "care");
  ledger.Flush();
  ledger.Add("grant_ended", "2021-07-10", {{"grant_id", "G-C-1"}, {"reason", "person_moved"}});
  ledger.Add("grant_amended", "2021-07-20", {{"grant_id", "G-C-2"}, {"valid_until", "2021-07-10"}, {"reason", "moved"}});
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "ENDED-10", 60, kActive04);  // the last day of service
  ExpectIneligible(decisions, "ENDED-15", kActive04, "2021-07-10");
  ExpectIneligible(decisions, "SHORTENED-15", kActive04, "2021-07-10");
}

// A family is everyone connected through representation (it used to be the child's smallest representative):
// when C-1 is represented by P-A and P-B and its sibling C-2 by P-B only, they share the family's 30 days.
TEST(EligibilityRegressionTest, SiblingsSharingOneParentShareAFamilyCapWhateverTheOtherParent) {
  Ledger ledger(CustomRules(R"([{"id": "respite-test", "services": ["respite"],
      "target_groups": ["child_functional_impairment"], "effective_from": "2015-07-01",
      "caps": [{"id": "respite-test-year", "quantity": 30, "period": "year", "scope": "family"}]}])"));
  for (const std::string child : {"C-1", "C-2"}) {
    ledger.Child(child, "2015-01-01");
    ledger.Grant("G-" + child, child, "respite", 365, "year");
  }
  ledger.Parent("P-A", {"C-1"});
  ledger.Parent("P-B", {"C-1", "C-2"});
  ledger.Stay("S-1", "G-C-1", "2021-03-01", "2021-03-20");
  ledger.Stay("S-2", "G-C-2", "2021-04-01", "2021-04-15");
  const Decisions decisions = ledger.Decide();
  ExpectEligible(decisions, "S-1", 20, "respite-test");
  ExpectPartly(decisions, "S-2", 10, "respite-test", "5 days over");
}

}  // namespace
}  // namespace di::projections
