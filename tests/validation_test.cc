// Every validation error path of the ledger: each case appends some valid set-up events on top of
// BaseWorld(), then one bad event, and expects kInvalidArgument naming the event, the field and the
// reason — with nothing of the bad batch appended.
#include <gtest/gtest.h>

#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

json E(const std::string& id, const std::string& type, const std::string& date, json data) {
  return di::testing::MakeEvent(id, type, date, std::move(data));
}

json With(json event, const std::string& key, json value) {
  event["data"][key] = std::move(value);
  return event;
}
json Without(json event, const std::string& key) {
  event["data"].erase(key);
  return event;
}
json At(json event, const std::string& date) {
  event["effective_date"] = date;
  return event;
}

const json kRespiteGrant = E("e-gr", "service_granted", "2021-01-01",
                             {{"grant_id", "G-R"}, {"person_id", "P-C1"}, {"municipality_id", "M-1"},
                              {"service", "respite"}, {"quantity", 30}, {"period", "year"},
                              {"valid_from", "2021-01-01"}, {"valid_until", "2021-12-31"},
                              {"cost_basis", "actual_cost"}});
const json kUnitCostGrant = E("e-gu", "service_granted", "2021-01-01",
                              {{"grant_id", "G-U"}, {"person_id", "P-A1"}, {"municipality_id", "M-2"},
                               {"service", "adult_psychologist_consultation"}, {"quantity", 4},
                               {"period", "month"}, {"valid_from", "2021-01-01"}, {"valid_until", "2021-12-31"},
                               {"cost_basis", "unit_cost"}, {"unit_cost_cents", 3500}, {"plan_id", "PL-1"}});
const json kMerge = E("e-merge", "municipalities_merged", "2021-07-01",
                      {{"successor_id", "M-NEW"}, {"successor_name", "Jelgavas novads (2021)"},
                       {"predecessor_ids", {"M-1"}}, {"project_id", "PR-1"}});
const json kVoid = E("e-void", "delivery_voided", "2021-03-05", {{"delivery_id", "D-1"}, {"reason", "twice"}});
json Claim(const std::string& id, json lines, int64_t total, const std::string& municipality = "M-1") {
  return E("e-" + id, "reimbursement_claimed", "2021-04-10",
           {{"claim_id", id}, {"project_id", "PR-1"}, {"municipality_id", municipality},
            {"period_start", "2021-03-01"}, {"period_end", "2021-03-31"}, {"lines", std::move(lines)},
            {"total_cents", total}});
}
const json kClaim = Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 1400}},
                                  {{"delivery_id", "D-2"}, {"amount_cents", 1400}}},
                          2800);
json Review(json lines, int64_t total) {
  return E("e-review", "claim_reviewed", "2021-05-01",
           {{"claim_id", "C-1"}, {"lines", std::move(lines)}, {"approved_total_cents", total}});
}
const json kReview = Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1400}},
                             {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1000},
                              {"reason", "tariff"}}},
                            2400);
json Payment(const std::string& id, int64_t amount, int64_t esf, int64_t state) {
  return E("e-" + id, "reimbursement_paid", "2021-06-01",
           {{"claim_id", "C-1"}, {"payment_id", id}, {"amount_cents", amount}, {"esf_cents", esf},
            {"state_cents", state}});
}
const json kDeliveries[] = {Delivery("d1", "D-1", "2021-03-01"), Delivery("d2", "D-2", "2021-03-02")};
const json kPerson = E("e-p9", "person_enrolled", "2021-01-10",
                       {{"person_id", "P-9"}, {"project_id", "PR-1"}, {"target_group", "child_functional_impairment"},
                        {"birth_date", "2010-01-10"}, {"residence_municipality_id", "M-2"}});
json BaseEvent(size_t index) { return BaseWorld().at(index); }  // 0 project ... 11 grant G-1

// The individual budget pilot (BA 23): no agreement number, no budget known; M-1 takes part besides its own project.
const json kPilot = [] {
  json pilot = BaseWorld()[0];
  pilot["id"] = "e-pilot";
  pilot["effective_date"] = "2019-11-01";
  pilot["data"]["project_id"] = "PR-IBM";
  pilot["data"]["period_start"] = "2019-11-01";
  for (const char* field : {"agreement_number", "budget_total_cents", "budget_esf_cents", "budget_state_cents"}) {
    pilot["data"].erase(field);
  }
  return pilot;
}();
const json kPilotJoins = E("e-join", "partner_joined", "2019-11-01",
                           {{"project_id", "PR-IBM"}, {"partner_id", "M-1"}, {"kind", "municipality"}});
const json kPilotLeaves = E("e-leave", "partner_left", "2022-01-01",
                            {{"project_id", "PR-IBM"}, {"partner_id", "M-1"}, {"reason", "pilot ended"}});
const json kPilotGrant = E("e-gibm", "service_granted", "2021-01-01",
                           {{"grant_id", "G-IBM"}, {"person_id", "P-A1"}, {"municipality_id", "M-1"},
                            {"service", "support_person_for_decisions"}, {"quantity", 600}, {"period", "month"},
                            {"valid_from", "2021-01-01"}, {"valid_until", "2021-12-31"},
                            {"cost_basis", "actual_cost"}, {"project_id", "PR-IBM"}});
const json kPilotDelivery = E("e-dibm", "service_delivered", "2021-03-03",
                              {{"delivery_id", "D-IBM"}, {"grant_id", "G-IBM"}, {"provider_id", "PV-1"},
                               {"quantity", 60}, {"cost_cents", 1500}, {"mode", "in_person"}});
const json kPilotClaim = E("e-cibm", "reimbursement_claimed", "2021-04-10",
                           {{"claim_id", "C-IBM"}, {"project_id", "PR-IBM"}, {"municipality_id", "M-1"},
                            {"period_start", "2021-03-01"}, {"period_end", "2021-03-31"},
                            {"lines", {{{"delivery_id", "D-IBM"}, {"amount_cents", 1500}}}}, {"total_cents", 1500}});
const json kPilotReview = E("e-ribm", "claim_reviewed", "2021-05-01",
                            {{"claim_id", "C-IBM"},
                             {"lines", {{{"delivery_id", "D-IBM"}, {"accepted", true}, {"approved_cents", 1500}}}},
                             {"approved_total_cents", 1500}});
const json kCamp = E("e-camp", "project_activity_held", "2018-08-31",
                     {{"project_id", "PR-1"}, {"activity_id", "A-CAMP-2018"}, {"kind", "camp"},
                      {"title", "Nometne jauniešiem"}, {"first_date", "2018-08-20"}, {"last_date", "2018-08-24"},
                      {"participants", 30}, {"venue", "Satekas"}});

struct Case {
  std::string name;
  std::vector<json> setup;
  json bad;
  std::string field;
  std::string reason;
};

class ValidationTest : public di::testing::BaseWorldStoreTest, public ::testing::WithParamInterface<Case> {};

TEST_P(ValidationTest, RejectsNamingEventFieldAndReason) {
  // Fresh event ids: the cases copy BaseWorld events, and a reused id would (rightly) be a duplicate.
  int setup_index = 0;
  for (json event : GetParam().setup) {
    event["id"] = "setup-" + std::to_string(setup_index++);
    Status status = AppendJson(*store_, {event});
    ASSERT_TRUE(status.ok()) << "set-up event failed: " << status.ToString();
  }
  const uint64_t head = store_->Head().position;
  // The bad event rides in a batch behind a valid one: the whole batch must be refused.
  json harmless = E("e-harmless", "disability_recorded", "2021-01-05",
                    {{"person_id", "P-C1"}, {"group", "child_disability"}, {"cause", "functional_impairment"},
                     {"valid_from", "2021-01-05"}});
  json bad = GetParam().bad;
  bad["id"] = "bad-event";
  Status status = AppendJson(*store_, {harmless, bad});
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.event_id(), "bad-event");
  EXPECT_EQ(status.field(), GetParam().field) << status.ToString();
  EXPECT_NE(status.message().find(GetParam().reason), std::string::npos) << status.ToString();
  EXPECT_EQ(store_->Head().position, head);
}

std::vector<Case> Cases() {
  const json project = BaseEvent(0), municipality = BaseEvent(1), provider = BaseEvent(3), child = BaseEvent(4),
             parent = BaseEvent(5), adult = BaseEvent(6), assessment = BaseEvent(7), plan = BaseEvent(8),
             application = BaseEvent(9), decision = BaseEvent(10), grant = BaseEvent(11);
  json contract = E("e-k", "provider_contracted", "2021-01-01",
                    {{"contract_id", "K-1"}, {"provider_id", "PV-1"}, {"municipality_id", "M-1"},
                     {"services", {"child_care"}}, {"period_start", "2021-01-01"}, {"period_end", "2023-08-31"}});
  json amend = E("e-amend", "grant_amended", "2021-06-01", {{"grant_id", "G-1"}, {"quantity", 6000}, {"reason", "r"}});
  json end = E("e-end", "grant_ended", "2021-06-30", {{"grant_id", "G-1"}, {"reason", "completed"}});
  json suspend = E("e-susp", "service_suspended", "2021-04-01", {{"grant_id", "G-1"}, {"reason", "hospital"}});
  json resume = E("e-res", "service_resumed", "2021-04-20", {{"grant_id", "G-1"}});
  json correct = E("e-corr", "delivery_corrected", "2021-03-10",
                   {{"delivery_id", "D-1"}, {"quantity", 90}, {"cost_cents", 1050}, {"reason", "left early"}});
  json respite = E("e-resp", "service_delivered", "2021-05-03",
                   {{"delivery_id", "D-R"}, {"grant_id", "G-R"}, {"provider_id", "PV-1"}, {"quantity", 3},
                    {"cost_cents", 9000}, {"mode", "in_person"}, {"last_date", "2021-05-05"}});
  json expense = E("e-x", "project_expense_recorded", "2021-07-16",
                   {{"project_id", "PR-1"}, {"expense_id", "X-1"}, {"category", "camp"}, {"amount_cents", 100}});
  json activity = E("e-act", "parent_activity_recorded", "2021-07-01",
                    {{"person_id", "P-P1"}, {"activity", "working"}, {"valid_from", "2021-07-01"}});
  json opinion = E("e-op", "special_care_opinion_recorded", "2020-06-01",
                   {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}, {"valid_until", "2022-05-31"}});
  json disability = E("e-dis", "disability_recorded", "2019-01-01",
                      {{"person_id", "P-A1"}, {"group", "group_two"}, {"cause", "mental_disorder"},
                       {"valid_from", "2019-01-01"}});
  json move = E("e-move", "residence_changed", "2021-02-01", {{"person_id", "P-C1"}, {"municipality_id", "M-2"}});
  json closure = E("e-close", "provider_closed", "2020-03-13", {{"provider_id", "PV-1"}, {"reason", "COVID-19"}});
  json reopen = E("e-reopen", "provider_reopened", "2020-06-01", {{"provider_id", "PV-1"}});
  json prepared = E("e-prep", "transition_prepared", "2019-11-29", {{"person_id", "P-A1"}, {"centre_id", "PV-1"}});
  json moved_out = E("e-indep", "independent_life_started", "2020-02-03", {{"person_id", "P-A1"}});
  json rules = E("e-rules", "rules_enacted", "2021-07-01",
                 {{"rule_set_id", "KU"}, {"title", "Kurzeme"}, {"document", {{"version", 1}}}});
  const json d1 = kDeliveries[0], d2 = kDeliveries[1];
  return {
      // project_registered, budget_amended, project_expense_recorded
      {"ProjectTwice", {}, With(At(project, "2016-01-01"), "name", "again"), "data.project_id", "already exists"},
      {"ProjectEndsBeforeStart", {}, With(With(project, "project_id", "PR-2"), "period_end", "2015-01-01"),
       "data.period_end", "is before period_start"},
      {"ServicesPaidAfterProjectEnd", {}, With(With(project, "project_id", "PR-2"), "services_paid_until", "2024-01-01"),
       "data.services_paid_until", "within the project period"},
      {"BudgetPartsDoNotSum", {}, With(With(project, "project_id", "PR-2"), "budget_state_cents", 101675221),
       "data.budget_total_cents", "not the total"},
      // A budget not known is left out whole (the pilot's, 17); a zero spelt out means "absent" and is refused as such,
      // a part of one is a mistake.
      {"BudgetZeroSpeltOut", {}, With(With(project, "project_id", "PR-2"), "budget_total_cents", 0),
       "data.budget_total_cents", "omit the field"},
      {"BudgetTotalLeftOut", {}, Without(With(project, "project_id", "PR-2"), "budget_total_cents"),
       "data.budget_total_cents", "greater than 0"},
      {"ReviewWithoutBudget", {kPilot, kPilotJoins, kPilotGrant, kPilotDelivery, kPilotClaim}, kPilotReview,
       "data.claim_id", "project 'PR-IBM' has no budget in force on the claim's date 2021-04-10: record the budget first"},
      {"ReviewBeforeTheBudgetIsInForce",
       {kPilot, kPilotJoins, kPilotGrant, kPilotDelivery, kPilotClaim,
        E("e-pb", "budget_amended", "2021-04-11", {{"project_id", "PR-IBM"}, {"total_cents", 100}, {"esf_cents", 85}, {"state_cents", 15}})},
       kPilotReview, "data.claim_id", "no budget in force on the claim's date 2021-04-10"},
      // partner_joined, partner_left: who takes part in a project, and when
      {"PartnerOfUnknownProject", {}, With(kPilotJoins, "project_id", "PR-9"), "data.project_id", "unknown project 'PR-9'"},
      {"PartnerUnknownMunicipality", {kPilot}, With(kPilotJoins, "partner_id", "M-9"), "data.partner_id",
       "unknown municipality 'M-9'"},
      {"CentreThatIsNoProvider", {kPilot}, With(kPilotJoins, "kind", "state_social_care_centre"), "data.partner_id",
       "unknown provider 'M-1'"},
      {"MunicipalityWithBranches", {kPilot}, With(kPilotJoins, "branches", {"REZEKNE"}), "data.branches",
       "only a centre has branches"},
      {"BranchListedTwice", {kPilot},
       With(With(With(kPilotJoins, "kind", "state_social_care_centre"), "partner_id", "PV-1"), "branches", {"A", "A"}),
       "data.branches[1]", "branch 'A' is listed twice"},
      {"JoinsItsOwnProject", {}, With(kPilotJoins, "project_id", "PR-1"), "data.partner_id",
       "municipality 'M-1' is registered with project 'PR-1': a partner since its registration"},
      {"JoinsTwice", {kPilot, kPilotJoins}, At(kPilotJoins, "2020-01-01"), "data.partner_id",
       "'M-1' is a partner of project 'PR-IBM' since 2019-11-01"},
      {"LeavesWhatItIsNotPartOf", {kPilot}, kPilotLeaves, "data.partner_id", "'M-1' is not a partner of project 'PR-IBM'"},
      {"LeavesTwice", {kPilot, kPilotJoins, kPilotLeaves}, At(kPilotLeaves, "2022-02-01"), "data.partner_id",
       "'M-1' left project 'PR-IBM' on 2022-01-01"},
      {"LeavesBeforeJoining", {kPilot, kPilotJoins}, At(kPilotLeaves, "2019-10-31"), "effective_date",
       "before the partner joined on 2019-11-01"},
      // a grant paid by another project than its municipality's
      {"GrantOfUnknownProject", {}, With(kPilotGrant, "project_id", "PR-9"), "data.project_id", "unknown project 'PR-9'"},
      {"GrantOfAProjectNotJoined", {kPilot}, kPilotGrant, "data.project_id",
       "municipality 'M-1' is not a partner of project 'PR-IBM' (record partner_joined first)"},
      {"GrantBeforeJoining", {kPilot, At(kPilotJoins, "2021-02-01")}, kPilotGrant, "data.project_id",
       "municipality 'M-1' is a partner of project 'PR-IBM' from 2021-02-01, after the grant's first day 2021-01-01"},
      {"GrantAfterLeaving", {kPilot, kPilotJoins, At(kPilotLeaves, "2021-01-01")}, kPilotGrant, "data.project_id",
       "municipality 'M-1' left project 'PR-IBM' on 2021-01-01"},
      {"GrantAfterLeavingItsOwnProject", {At(With(kPilotLeaves, "project_id", "PR-1"), "2021-01-01")}, kRespiteGrant,
       "data.municipality_id", "left project 'PR-1' on 2021-01-01: name the project that pays the grant (project_id)"},
      {"ClaimOfAnotherProjectsDelivery", {kPilot, kPilotJoins, kPilotGrant, kPilotDelivery},
       With(kPilotClaim, "project_id", "PR-1"), "data.lines[0].delivery_id",
       "delivery 'D-IBM' is paid by project 'PR-IBM' (grant 'G-IBM'), not by 'PR-1'"},
      // project_activity_held
      {"ActivityOfUnknownProject", {}, With(kCamp, "project_id", "PR-9"), "data.project_id", "unknown project 'PR-9'"},
      {"ActivityNotHeldYet", {}, At(kCamp, "2018-08-20"), "data.last_date",
       "the activity ends 2018-08-24, after the effective date 2018-08-20: record an activity once it is held"},
      {"ActivityEndsBeforeItBegins", {}, With(kCamp, "last_date", "2018-08-19"), "data.last_date",
       "is before first_date"},
      {"ActivityWithoutTitle", {}, With(kCamp, "title", ""), "data.title", "must not be empty"},
      {"ActivityOfTooMany", {}, With(kCamp, "participants", 100001), "data.participants", "exceeds the maximum of 100000"},
      {"ActivityMovedToAnotherProject", {kPilot, kCamp}, With(kCamp, "project_id", "PR-IBM"), "data.activity_id",
       "activity 'A-CAMP-2018' is of project 'PR-1'; a correction keeps the project"},
      {"AmendUnknownProject", {}, E("e-b", "budget_amended", "2021-05-18", {{"project_id", "PR-9"}, {"total_cents", 100}, {"esf_cents", 85}, {"state_cents", 15}}),
       "data.project_id", "unknown project 'PR-9'"},
      {"AmendBeforeProjectStart", {}, E("e-b", "budget_amended", "2015-01-01", {{"project_id", "PR-1"}, {"total_cents", 100}, {"esf_cents", 85}, {"state_cents", 15}}),
       "effective_date", "before the project start"},
      {"AmendNegativeState", {}, E("e-b", "budget_amended", "2021-05-18", {{"project_id", "PR-1"}, {"total_cents", 100}, {"esf_cents", 101}, {"state_cents", -1}}),
       "data.state_cents", "must not be negative"},
      {"IndicatorTargetZero", {}, E("e-b", "budget_amended", "2021-05-18", {{"project_id", "PR-1"}, {"total_cents", 100}, {"esf_cents", 85}, {"state_cents", 15},
        {"targets", {{{"indicator", "persons_assessed"}, {"target_group", "child_in_care"}, {"count", 0}}}}}),
       "data.targets[0].count", "greater than 0"},
      {"ExpenseZero", {}, With(expense, "amount_cents", 0), "data.amount_cents", "greater than 0"},
      {"ExpenseTooLarge", {}, With(expense, "amount_cents", 1'000'000'000'001LL), "data.amount_cents", "maximum"},
      {"ExpenseTwice", {expense}, With(expense, "amount_cents", 5), "data.expense_id", "already exists"},
      // municipalities
      {"MunicipalityUnknownProject", {}, With(With(municipality, "municipality_id", "M-9"), "project_id", "PR-9"),
       "data.project_id", "unknown project"},
      {"MergeUnknownPredecessor", {}, With(kMerge, "predecessor_ids", {"M-2", "M-9"}), "data.predecessor_ids[1]",
       "unknown municipality 'M-9'"},
      {"MergeListedTwice", {}, With(kMerge, "predecessor_ids", {"M-1", "M-1"}), "data.predecessor_ids[1]", "listed twice"},
      {"MergeEmpty", {}, With(kMerge, "predecessor_ids", json::array()), "data.predecessor_ids", "at least one"},
      {"MergeIntoExisting", {}, With(kMerge, "successor_id", "M-2"), "data.successor_id", "already exists"},
      {"MergeTwice", {kMerge}, With(With(kMerge, "successor_id", "M-NEWER"), "predecessor_ids", {"M-1"}),
       "data.predecessor_ids[0]", "already merged into 'M-NEW'"},
      {"ContractWithMergedAwayMunicipality", {kMerge}, At(contract, "2021-07-02"), "data.municipality_id",
       "was merged into 'M-NEW' on 2021-07-01"},
      // provider_closed, provider_reopened
      {"ClosureOfUnknownProvider", {}, With(closure, "provider_id", "PV-9"), "data.provider_id", "unknown provider"},
      {"ClosureOfNoService", {}, With(closure, "services", json::array()), "data.services", "at least one"},
      {"ClosureServiceTwice", {}, With(closure, "services", {"respite", "respite"}), "data.services[1]", "listed twice"},
      {"ClosedTwice", {closure}, At(With(closure, "reason", "again"), "2020-04-01"), "data.provider_id",
       "already closed since 2020-03-13"},
      {"ReopenedNotClosed", {}, reopen, "data.provider_id", "is not closed"},
      {"ReopenedBeforeClosed", {closure}, At(reopen, "2020-03-12"), "effective_date", "before it closed on 2020-03-13"},
      // transition_prepared, independent_life_started: adults with a mental disability (GRT) only
      {"PreparedChild", {}, With(prepared, "person_id", "P-C1"), "data.person_id",
       "preparation for community life is recorded for adult_mental_disability persons; 'P-C1' is "
       "child_functional_impairment"},
      {"PreparedUnknownPerson", {}, With(prepared, "person_id", "P-9"), "data.person_id", "unknown person"},
      {"PreparedInUnknownCentre", {}, With(prepared, "centre_id", "PV-9"), "data.centre_id", "unknown provider"},
      {"IndependentLifeOfAParent", {}, With(moved_out, "person_id", "P-P1"), "data.person_id",
       "the start of independent life is recorded for adult_mental_disability persons"},
      // rules_enacted: the projects it governs
      {"RulesForUnknownProject", {}, With(rules, "project_ids", {"PR-1", "PR-9"}), "data.project_ids[1]",
       "unknown project 'PR-9'"},
      {"RulesProjectListedTwice", {}, With(rules, "project_ids", {"PR-1", "PR-1"}), "data.project_ids[1]",
       "listed twice"},
      {"RulesForNoProject", {}, With(rules, "project_ids", json::array()), "data.project_ids",
       "leave it out to enact the rules for every project"},
      {"RulesForTooManyProjects", {}, With(rules, "project_ids", std::vector<std::string>(65, "PR-1")),
       "data.project_ids", "more than 64 projects"},
      // providers
      {"ProviderTwice", {}, provider, "data.provider_id", "already exists"},
      {"ProviderRegisterTwice", {}, With(With(provider, "provider_id", "PV-2"), "registers",
                                        {{{"register", "psychologists"}, {"registration_number", "1"}},
                                         {{"register", "psychologists"}, {"registration_number", "2"}}}),
       "data.registers[1].register", "listed twice"},
      {"ContractUnknownProvider", {}, With(contract, "provider_id", "PV-9"), "data.provider_id", "unknown provider"},
      {"ContractNoServices", {}, With(contract, "services", json::array()), "data.services", "at least one"},
      {"ContractServiceTwice", {}, With(contract, "services", {"respite", "respite"}), "data.services[1]", "twice"},
      {"ContractEndsBeforeStart", {}, With(contract, "period_end", "2020-12-31"), "data.period_end", "is before"},
      // persons
      {"PersonTwice", {}, child, "data.person_id", "already exists"},
      {"BornAfterEnrolment", {}, With(With(child, "person_id", "P-2"), "birth_date", "2020-05-05"), "data.birth_date",
       "after the enrolment date"},
      {"ChildAged18", {}, With(With(child, "person_id", "P-2"), "birth_date", "2002-05-04"), "data.birth_date",
       "must be 0-17"},
      {"ChildAged17IsFine", {With(With(child, "person_id", "P-2"), "birth_date", "2002-05-05")},
       With(With(child, "person_id", "P-3"), "residence_municipality_id", "M-9"),
       "data.residence_municipality_id", "unknown municipality"},
      {"AdultAged17", {}, With(With(adult, "person_id", "P-2"), "birth_date", "2001-02-02"), "data.birth_date",
       "18 or older"},
      {"ParentWithoutChildren", {}, Without(With(parent, "person_id", "P-2"), "representative"), "data.representative",
       "required"},
      {"ParentOfUnknownChild", {}, With(With(parent, "person_id", "P-2"), "representative", {{"relation", "parent"}, {"child_ids", {"P-404"}}}),
       "data.representative.child_ids[0]", "unknown person 'P-404'"},
      {"ParentOfAdult", {}, With(With(parent, "person_id", "P-2"), "representative", {{"relation", "parent"}, {"child_ids", {"P-A1"}}}),
       "data.representative.child_ids[0]", "not a child group"},
      {"ParentOfNoOne", {}, With(With(parent, "person_id", "P-2"), "representative", {{"relation", "parent"}, {"child_ids", json::array()}}),
       "data.representative.child_ids", "at least one"},
      {"ChildWithRepresentative", {}, With(With(child, "person_id", "P-2"), "representative", {{"relation", "parent"}, {"child_ids", {"P-C1"}}}),
       "data.representative", "only persons of group parent_of_child"},
      {"MoveUnknownPerson", {}, With(move, "person_id", "P-9"), "data.person_id", "unknown person"},
      {"MoveToUnknownMunicipality", {}, With(move, "municipality_id", "M-9"), "data.municipality_id", "unknown municipality"},
      {"DisabilityEndsBeforeStart", {}, With(disability, "valid_until", "2018-12-31"), "data.valid_until", "is before"},
      {"OpinionForAdult", {}, With(opinion, "person_id", "P-A1"), "data.person_id", "special-care opinion"},
      {"OpinionEndsBeforeStart", {}, With(opinion, "valid_until", "2020-05-31"), "data.valid_until", "is before"},
      {"ActivityOfChild", {}, With(activity, "person_id", "P-C1"), "data.person_id", "parent_of_child"},
      // assessments, plans, applications
      {"AssessmentTwice", {}, assessment, "data.assessment_id", "already exists"},
      {"AssessmentUnknownPerson", {}, With(With(assessment, "assessment_id", "AS-2"), "person_id", "P-9"),
       "data.person_id", "unknown person"},
      {"PlanOfOtherPersonsAssessment", {}, With(With(plan, "plan_id", "PL-2"), "person_id", "P-C1"), "data.assessment_id",
       "is of person 'P-A1'"},
      {"PlanBeforeAssessment", {}, At(With(plan, "plan_id", "PL-2"), "2019-02-28"), "effective_date", "before its assessment"},
      {"PlanWithoutServices", {}, With(With(plan, "plan_id", "PL-2"), "recommended_services", json::array()),
       "data.recommended_services", "at least one"},
      {"ApplicationUnknownMunicipality", {}, With(With(application, "application_id", "AP-2"), "municipality_id", "M-9"),
       "data.municipality_id", "unknown municipality"},
      {"ApplicationByUnknownPerson", {}, With(With(application, "application_id", "AP-2"), "submitted_by_id", "P-9"),
       "data.submitted_by_id", "unknown person"},
      {"DecidedTwice", {}, At(decision, "2020-12-16"), "data.application_id", "already decided"},
      {"RefusedWithoutReason", {With(application, "application_id", "AP-2")},
       With(With(decision, "application_id", "AP-2"), "decision", "refused"), "data.reason", "required"},
      {"DecidedBeforeSubmitted", {With(application, "application_id", "AP-2")},
       At(With(decision, "application_id", "AP-2"), "2020-11-30"), "effective_date", "before the application"},
      // grants
      {"GrantTwice", {}, grant, "data.grant_id", "already exists"},
      {"GrantZeroQuantity", {}, With(With(grant, "grant_id", "G-2"), "quantity", 0), "data.quantity", "greater than 0"},
      {"GrantNegativeQuantity", {}, With(With(grant, "grant_id", "G-2"), "quantity", -60), "data.quantity", "greater than 0"},
      {"GrantEndsBeforeStart", {}, With(With(grant, "grant_id", "G-2"), "valid_until", "2020-12-31"), "data.valid_until", "is before"},
      {"UnitCostMissing", {}, Without(With(kUnitCostGrant, "grant_id", "G-2"), "unit_cost_cents"), "data.unit_cost_cents", "required"},
      {"UnitCostOnActualCost", {}, With(With(grant, "grant_id", "G-2"), "unit_cost_cents", 500), "data.unit_cost_cents", "only allowed"},
      {"GrantOnOthersApplication", {}, With(With(grant, "grant_id", "G-2"), "person_id", "P-A1"), "data.application_id", "is of person 'P-C1'"},
      {"GrantOnUndecidedApplication", {With(application, "application_id", "AP-2")},
       With(With(grant, "grant_id", "G-2"), "application_id", "AP-2"), "data.application_id", "not decided"},
      {"GrantServiceNotAppliedFor", {}, With(With(grant, "grant_id", "G-2"), "service", "child_day_centre"), "data.service", "not applied for"},
      {"GrantUnknownPlan", {}, With(With(grant, "grant_id", "G-2"), "plan_id", "PL-9"), "data.plan_id", "unknown support plan"},
      {"GrantOthersPlan", {}, With(With(grant, "grant_id", "G-2"), "plan_id", "PL-1"), "data.plan_id", "is of person 'P-A1'"},
      {"GrantUnknownProvider", {}, With(With(grant, "grant_id", "G-2"), "provider_id", "PV-9"), "data.provider_id", "unknown provider"},
      {"GrantUnknownPerson", {}, With(Without(With(grant, "grant_id", "G-2"), "application_id"), "person_id", "P-9"), "data.person_id", "unknown person"},
      {"AmendNothing", {}, Without(amend, "quantity"), "data.quantity", "at least one"},
      {"AmendUnknownGrant", {}, With(amend, "grant_id", "G-9"), "data.grant_id", "unknown grant"},
      {"AmendUnitCostOfActualCostGrant", {}, With(amend, "unit_cost_cents", 100), "data.unit_cost_cents", "actual cost"},
      {"AmendValidityBeforeStart", {}, With(amend, "valid_until", "2020-12-31"), "data.valid_until", "is before"},
      {"AmendEndedGrant", {end}, At(amend, "2021-07-01"), "data.grant_id", "ended on 2021-06-30"},
      {"EndTwice", {end}, At(end, "2021-07-01"), "data.grant_id", "ended on"},
      {"EndAfterValidity", {}, At(end, "2023-09-01"), "effective_date", "outside the grant's validity"},
      {"SuspendTwice", {suspend}, At(suspend, "2021-04-02"), "data.grant_id", "already suspended"},
      {"ResumeNotSuspended", {}, resume, "data.grant_id", "not suspended"},
      {"ResumeBeforeSuspension", {suspend}, At(resume, "2021-03-31"), "effective_date", "before the suspension"},
      // deliveries
      {"DeliveryUnknownGrant", {}, With(d1, "grant_id", "G-9"), "data.grant_id", "unknown grant 'G-9'"},
      {"DeliveryUnknownProvider", {}, With(d1, "provider_id", "PV-9"), "data.provider_id", "unknown provider"},
      {"DeliveryBeforeGrant", {}, At(d1, "2020-12-31"), "effective_date", "outside grant 'G-1' (2021-01-01..2023-08-31)"},
      {"DeliveryAfterGrantEnded", {end}, At(d1, "2021-07-01"), "effective_date", "(2021-01-01..2021-06-30)"},
      {"DeliveryAfterAmendedValidity", {With(Without(amend, "quantity"), "valid_until", "2021-05-31")}, At(d1, "2021-06-01"),
       "effective_date", "outside grant"},
      {"DeliveryZeroQuantity", {}, With(d1, "quantity", 0), "data.quantity", "greater than 0"},
      {"DeliveryNegativeQuantity", {}, With(d1, "quantity", -5), "data.quantity", "greater than 0"},
      {"DeliveryMoreMinutesThanADay", {}, With(d1, "quantity", 1441), "data.quantity", "at most 1440 per day"},
      {"DeliveryNegativeCost", {}, With(d1, "cost_cents", -1), "data.cost_cents", "must not be negative"},
      {"DeliveryTwice", {d1}, With(d1, "quantity", 30), "data.delivery_id", "already exists"},
      {"LastDateOnMinuteService", {}, With(d1, "last_date", "2021-03-02"), "data.last_date", "only day-based"},
      {"DaysOverSpan", {kRespiteGrant}, With(respite, "quantity", 4), "data.quantity", "4 days delivered in a span of 3"},
      {"LastDateBeforeDate", {kRespiteGrant}, With(respite, "last_date", "2021-05-02"), "data.last_date", "is before"},
      {"RespiteBeyondGrant", {kRespiteGrant}, With(At(respite, "2021-12-30"), "last_date", "2022-01-01"), "effective_date",
       "outside grant 'G-R'"},
      {"PurposeOnRespite", {kRespiteGrant}, With(respite, "purpose", "leisure"), "data.purpose", "child_care only"},
      {"CorrectUnknownDelivery", {}, correct, "data.delivery_id", "unknown delivery 'D-1'"},
      {"CorrectVoided", {d1, kVoid}, correct, "data.delivery_id", "was voided"},
      {"CorrectToZero", {d1}, With(correct, "quantity", 0), "data.quantity", "greater than 0"},
      {"VoidTwice", {d1, kVoid}, With(kVoid, "reason", "again"), "data.delivery_id", "was voided"},
      // claims, reviews, payments
      {"ClaimUnknownDelivery", {d1}, kClaim, "data.lines[1].delivery_id", "unknown delivery 'D-2'"},
      {"ClaimVoidedDelivery", {d1, d2, kVoid}, kClaim, "data.lines[0].delivery_id", "was voided"},
      {"ClaimTotalMismatch", {d1, d2}, With(kClaim, "total_cents", 2801), "data.total_cents", "the lines sum to 2800"},
      {"ClaimLineTwice", {d1}, Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 1}}, {{"delivery_id", "D-1"}, {"amount_cents", 1}}}, 2),
       "data.lines[1].delivery_id", "claimed twice"},
      {"ClaimNoLines", {}, Claim("C-1", json::array(), 0), "data.lines", "at least one line"},
      {"ClaimZeroLine", {d1}, Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 0}}}, 0), "data.lines[0].amount_cents", "greater than 0"},
      {"ClaimOutsidePeriod", {Delivery("d9", "D-9", "2021-04-01")}, Claim("C-1", {{{"delivery_id", "D-9"}, {"amount_cents", 5}}}, 5),
       "data.lines[0].delivery_id", "outside the claim period"},
      {"ClaimOtherMunicipality", {d1}, Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 5}}}, 5, "M-2"),
       "data.lines[0].delivery_id", "granted by municipality 'M-1', not by 'M-2'"},
      {"ClaimByMergedAwayMunicipality", {d1, kMerge}, At(Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 5}}}, 5), "2021-07-15"),
       "data.municipality_id", "was merged into 'M-NEW'"},
      {"ClaimTwice", {d1, d2, kClaim}, kClaim, "data.claim_id", "already exists"},
      {"ReviewUnknownClaim", {}, kReview, "data.claim_id", "unknown claim 'C-1'"},
      {"ReviewMissesALine", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1400}}}, 1400),
       "data.lines", "the claim has 2"},
      {"ReviewForeignLine", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1400}},
                                                      {{"delivery_id", "D-3"}, {"accepted", true}, {"approved_cents", 1}}}, 1401),
       "data.lines[1].delivery_id", "not a line of claim"},
      {"ReviewApprovesMoreThanClaimed", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1401}},
                                                                  {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1400}}}, 2801),
       "data.lines[0].approved_cents", "exceeds the claimed 1400"},
      {"ReviewRejectedButApproved", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", false}, {"approved_cents", 5}, {"reason", "x"}},
                                                              {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1400}}}, 1405),
       "data.lines[0].approved_cents", "must be 0"},
      {"ReviewRejectedWithoutReason", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", false}, {"approved_cents", 0}},
                                                                {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1400}}}, 1400),
       "data.lines[0].reason", "required"},
      {"ReviewPartWithoutReason", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1400}},
                                                            {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1399}}}, 2799),
       "data.lines[1].reason", "required"},
      {"ReviewTotalMismatch", {d1, d2, kClaim}, With(kReview, "approved_total_cents", 2800), "data.approved_total_cents", "sum to 2400"},
      {"ReviewTwice", {d1, d2, kClaim, kReview}, kReview, "data.claim_id", "already reviewed"},
      {"PayUnreviewed", {d1, d2, kClaim}, Payment("PAY-1", 100, 85, 15), "data.claim_id", "not reviewed yet"},
      {"PayPartsDoNotSum", {d1, d2, kClaim, kReview}, Payment("PAY-1", 100, 85, 14), "data.amount_cents", "not the total"},
      {"PayMoreThanApproved", {d1, d2, kClaim, kReview, Payment("PAY-1", 2000, 1700, 300)}, Payment("PAY-2", 401, 341, 60),
       "data.amount_cents", "above the approved 2400"},
      {"ClaimAboveDeliveryCost", {d1}, Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 1401}}}, 1401),
       "data.lines[0].amount_cents", "that cost 1400"},
      {"ClaimAboveCorrectedCost", {d1, correct}, Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 1400}}}, 1400),
       "data.lines[0].amount_cents", "that cost 1050"},
      {"DeliveryInTwoClaims", {d1, d2, kClaim}, Claim("C-2", {{{"delivery_id", "D-1"}, {"amount_cents", 5}}}, 5),
       "data.lines[0].delivery_id", "already claimed in claim 'C-1'"},
      {"ClaimPeriodNotOverYet", {d1}, At(Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 5}}}, 5), "2021-03-30"),
       "data.period_end", "after the claim date"},
      {"ReviewBeforeClaim", {d1, d2, kClaim}, At(kReview, "2021-04-09"), "effective_date", "before the claim"},
      {"ReviewAcceptsZero", {d1, d2, kClaim}, Review({{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 0}, {"reason", "x"}},
                                                      {{"delivery_id", "D-2"}, {"accepted", true}, {"approved_cents", 1400}}}, 1400),
       "data.lines[0].approved_cents", "reject it instead"},
      {"PaymentBeforeReview", {d1, d2, kClaim, kReview}, At(Payment("PAY-1", 100, 85, 15), "2021-04-30"), "effective_date",
       "before the claim's review"},
      {"CorrectionBeforeDelivery", {d1}, At(correct, "2021-02-28"), "effective_date", "before the delivery"},
      {"VoidBeforeDelivery", {d1}, At(kVoid, "2021-02-28"), "effective_date", "before the delivery"},
      {"AmendBeforeGrantRecorded", {}, At(amend, "2020-12-19"), "effective_date", "before the grant was recorded"},
      {"ResumeEndedGrant", {suspend, end}, At(resume, "2021-07-01"), "data.grant_id", "ended on 2021-06-30"},
      {"PaymentTwice", {d1, d2, kClaim, kReview, Payment("PAY-1", 100, 85, 15)}, Payment("PAY-1", 100, 85, 15),
       "data.payment_id", "already exists"},
  };
}

INSTANTIATE_TEST_SUITE_P(Ledger, ValidationTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// The positive counterpart: a history touching every event type and the tricky valid cases is accepted.
TEST(ValidationAcceptsTest, ValidHistoryOfEveryKindIsRecorded) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
  std::vector<json> events = {
      E("v1", "budget_amended", "2021-05-18", {{"project_id", "PR-1"}, {"total_cents", 941235000}, {"esf_cents", 800049750}, {"state_cents", 141185250}}),
      E("v2", "project_expense_recorded", "2021-07-16", {{"project_id", "PR-1"}, {"expense_id", "X-1"}, {"category", "camp"}, {"amount_cents", 250000}}),
      E("v3", "provider_contracted", "2021-01-01", {{"contract_id", "K-1"}, {"provider_id", "PV-1"}, {"municipality_id", "M-1"}, {"services", {"child_care", "respite"}}, {"period_start", "2021-01-01"}, {"period_end", "2023-08-31"}}),
      E("v4", "rules_enacted", "2021-07-01", {{"rule_set_id", "MK313"}, {"title", "MK 313 from 2021-07-01"}, {"document", {{"version", 1}}}}),
      E("v4c", "provider_closed", "2020-03-13", {{"provider_id", "PV-1"}, {"reason", "COVID-19"}, {"services", {"respite"}}}),
      E("v4r", "provider_reopened", "2020-06-01", {{"provider_id", "PV-1"}}),
      // The pilot without a budget, M-1 in it besides its own project; its budget later; a grant, delivery, claim and
      // review in it; Latgale-style partners: a centre with branches, a municipality leaving; activities, one corrected.
      [] { json pilot = kPilot; pilot["id"] = "v4pilot2"; pilot["data"]["project_id"] = "PR-IBM"; return pilot; }(),
      kPilotJoins,
      E("v4pb", "budget_amended", "2019-11-01", {{"project_id", "PR-IBM"}, {"total_cents", 100000}, {"esf_cents", 85000}, {"state_cents", 15000}}),
      kPilotGrant, kPilotDelivery, kPilotClaim, kPilotReview,
      E("v4vsac", "partner_joined", "2016-02-01", {{"project_id", "PR-1"}, {"partner_id", "PV-1"}, {"kind", "state_social_care_centre"}, {"branches", {"VSAC-LG-REZEKNE", "VSAC-LG-KALKUNI", "VSAC-LG-KRASTINI"}}}),
      E("v4m2", "partner_left", "2021-06-30", {{"project_id", "PR-1"}, {"partner_id", "M-2"}, {"reason", "left the partnership"}}),
      kCamp,
      [] { json fixed = With(At(kCamp, "2018-09-05"), "participants", 28); fixed["id"] = "v4camp2"; return fixed; }(),
      E("v4t", "transition_prepared", "2019-11-29", {{"person_id", "P-A1"}, {"centre_id", "PV-1"}, {"note", "VSAC"}}),
      E("v4i", "independent_life_started", "2020-02-03", {{"person_id", "P-A1"}}),
      E("v4p", "rules_enacted", "2021-07-01", {{"rule_set_id", "MK313-PR-1"}, {"title", "PR-1's own"}, {"document", {{"version", 1}}}, {"project_ids", {"PR-1"}}}),
      E("v5", "special_care_opinion_recorded", "2020-06-01", {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}}),
      E("v6", "parent_activity_recorded", "2021-07-01", {{"person_id", "P-P1"}, {"activity", "working"}, {"valid_from", "2021-07-01"}, {"valid_until", "2021-07-15"}}),
      E("v7", "disability_recorded", "2019-01-01", {{"person_id", "P-A1"}, {"group", "group_one"}, {"cause", "mental_disorder"}, {"valid_from", "2019-01-01"}}),
      kRespiteGrant,
      kUnitCostGrant,
      E("v8", "grant_amended", "2021-06-01", {{"grant_id", "G-U"}, {"unit_cost_cents", 3800}, {"reason", "tariff"}}),
      E("v9", "service_suspended", "2021-04-01", {{"grant_id", "G-1"}, {"reason", "hospital"}}),
      E("v10", "service_resumed", "2021-04-20", {{"grant_id", "G-1"}}),
      kDeliveries[0], kDeliveries[1],
      Delivery("d-leap", "D-LEAP", "2021-03-31", 1440, 16800),  // a whole day of care: the maximum
      E("v11", "service_delivered", "2021-05-03", {{"delivery_id", "D-R"}, {"grant_id", "G-R"}, {"provider_id", "PV-1"}, {"quantity", 3}, {"cost_cents", 9000}, {"mode", "remote"}, {"last_date", "2021-05-05"}}),
      E("v12", "delivery_corrected", "2021-03-10", {{"delivery_id", "D-1"}, {"quantity", 90}, {"cost_cents", 1050}, {"reason", "left early"}}),
      kMerge,
      E("v13", "residence_changed", "2021-08-01", {{"person_id", "P-C1"}, {"municipality_id", "M-NEW"}}),
      // The successor claims the predecessor's deliveries (territorial reform).
      At(Claim("C-1", {{{"delivery_id", "D-1"}, {"amount_cents", 1050}}, {{"delivery_id", "D-2"}, {"amount_cents", 1400}}}, 2450, "M-NEW"), "2021-07-20"),
      E("v14", "claim_reviewed", "2021-08-01", {{"claim_id", "C-1"}, {"lines", {{{"delivery_id", "D-1"}, {"accepted", true}, {"approved_cents", 1050}}, {{"delivery_id", "D-2"}, {"accepted", false}, {"approved_cents", 0}, {"reason", "no contract"}}}}, {"approved_total_cents", 1050}}),
      E("v15", "reimbursement_paid", "2021-09-01", {{"claim_id", "C-1"}, {"payment_id", "PAY-1"}, {"amount_cents", 1000}, {"esf_cents", 850}, {"state_cents", 150}}),
      E("v16", "reimbursement_paid", "2021-10-01", {{"claim_id", "C-1"}, {"payment_id", "PAY-2"}, {"amount_cents", 50}, {"esf_cents", 43}, {"state_cents", 7}}),
      // The rejected line freed D-2: it can be claimed again.
      At(Claim("C-2", {{{"delivery_id", "D-2"}, {"amount_cents", 1400}}}, 1400, "M-NEW"), "2021-08-05"),
      E("v17", "delivery_voided", "2021-08-02", {{"delivery_id", "D-LEAP"}, {"reason", "recorded on the wrong grant"}}),
      E("v18", "grant_ended", "2021-12-31", {{"grant_id", "G-R"}, {"reason", "completed"}}),
  };
  for (const json& event : events) {
    Status status = AppendJson(*store, {event});
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  EXPECT_EQ(store->Head().position, BaseWorld().size() + events.size());
  VerifyReport report;
  ASSERT_TRUE(store->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u);
}

// The writer keeps the entity records validation has read in memory (event_store_impl.h, entity_cache_). A record
// changed by a later append, left unchanged by a rejected batch, or read again after a reopen must be seen as the
// store holds it.
TEST(ValidationAcceptsTest, ValidationSeesEveryDurableChangeOfARecordItHasRead) {
  TempDir dir;
  const json end_in_june = E("c-end-june", "grant_ended", "2021-06-30", {{"grant_id", "G-1"}, {"reason", "completed"}});
  const json end_in_july = E("c-end-july", "grant_ended", "2021-07-31", {{"grant_id", "G-1"}, {"reason", "completed"}});
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
    ASSERT_TRUE(AppendJson(*store, {Delivery("c1", "D-C1", "2021-03-01")}).ok());  // reads grant G-1
    // A batch that would end the grant in June, rejected as a whole (its second event reuses a delivery id).
    const Status rejected = AppendJson(*store, {end_in_june, Delivery("c-dup", "D-C1", "2021-03-02")});
    ASSERT_EQ(rejected.code(), StatusCode::kInvalidArgument) << rejected.ToString();
    const Status july = AppendJson(*store, {Delivery("c2", "D-C2", "2021-07-05")});
    ASSERT_TRUE(july.ok()) << "the rejected end must leave no trace: " << july.ToString();
    ASSERT_TRUE(AppendJson(*store, {end_in_july}).ok());
    const Status august = AppendJson(*store, {Delivery("c3", "D-C3", "2021-08-05")});
    EXPECT_EQ(august.code(), StatusCode::kInvalidArgument) << "the grant ended on 2021-07-31: " << august.ToString();
    EXPECT_EQ(august.field(), "effective_date");
  }
  auto reopened = OpenStore(dir.path());
  const Status august = AppendJson(*reopened, {Delivery("c4", "D-C4", "2021-08-06")});
  EXPECT_EQ(august.code(), StatusCode::kInvalidArgument) << august.ToString();
  const Status within = AppendJson(*reopened, {Delivery("c5", "D-C5", "2021-07-20")});
  EXPECT_TRUE(within.ok()) << within.ToString();
}

}  // namespace
}  // namespace di::ledger
