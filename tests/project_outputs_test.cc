// What a project is besides money (projections/project_outputs.h): partners over time (Latgale's 19 -> 17 + the
// centre, Zemgale's reform), activities with participants per year and kind (brief §6.5); and a municipality in two
// projects (Bauska in DI and in the individual budget pilot), whose grants are decided and paid by the project they
// name. On a real store, as of valid dates and as known at positions.
#include <gtest/gtest.h>

#include "di/ledger/civil_date.h"
#include "di/projections/funding.h"
#include "di/projections/entitlements.h"
#include "di/projections/project_outputs.h"
#include "di/projections/replay.h"
#include "test_util.h"

namespace di::projections {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;

json E(const std::string& id, const std::string& type, const std::string& date, json data) {
  return di::testing::MakeEvent(id, type, date, std::move(data));
}
int32_t D(const char* text) {
  int32_t days = 0;
  EXPECT_TRUE(ledger::ParseDate(text, &days));
  return days;
}

class ProjectOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore(dir_.path()); }
  void Append(const std::vector<json>& events) {
    ledger::Status status = AppendJson(*store_, events);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  LedgerModel Model(uint64_t known_at = kKnownNow) {
    LedgerModel model;
    EXPECT_TRUE(ReplayInto(*store_, known_at, &model).ok());
    return model;
  }
  // The partners as the whole model says and as the few events LoadProjectOutputs folds say: the same answer.
  PartnersReport Partners(const char* valid, uint64_t known_at = kKnownNow, const std::string& project = "") {
    PartnersReport full, loaded;
    EXPECT_TRUE(ComputePartners(Model(known_at), D(valid), project, &full).ok());
    LedgerModel few;
    const uint64_t position = known_at == kKnownNow ? store_->Head().position : known_at;
    EXPECT_TRUE(LoadProjectOutputs(*store_, position, &few).ok());
    EXPECT_TRUE(ComputePartners(few, D(valid), project, &loaded).ok());
    loaded.known_at_position = full.known_at_position;  // each model's last folded event; the callers set the asked one
    EXPECT_EQ(PartnersToJson(full).dump(), PartnersToJson(loaded).dump());
    return full;
  }
  ActivitiesReport Activities(const char* valid, int32_t year = 0, uint64_t known_at = kKnownNow) {
    ActivitiesReport report;
    EXPECT_TRUE(ComputeActivities(Model(known_at), D(valid), "", year, &report).ok());
    return report;
  }

  TempDir dir_;
  std::unique_ptr<ledger::EventStore> store_;
};

// Latgale (LG 5, LG 32): municipalities registered with the project, the state social care centre with three
// branches joining, two municipalities leaving; then a merger of two of the rest.
TEST_F(ProjectOutputsTest, PartnersOnADateFollowJoinsLeavesAndMergers) {
  json project = BaseWorld()[0];
  project["data"]["project_id"] = "PR-LG";
  std::vector<json> events = {project};
  for (const char* id : {"M-A", "M-B", "M-C", "M-D"}) {
    events.push_back(E(std::string("e-") + id, "municipality_registered", "2016-01-20",
                       {{"municipality_id", id}, {"name", std::string("novads ") + id}, {"project_id", "PR-LG"}}));
  }
  events.push_back(E("e-vsac", "provider_registered", "2016-01-25",
                     {{"provider_id", "VSAC-LG"}, {"name", "VSAC Latgale"}, {"kind", "legal_person"},
                      {"registers", {{{"register", "social_service_providers"}, {"registration_number", "SP-9"}}}}}));
  events.push_back(E("e-join", "partner_joined", "2016-02-01",
                     {{"project_id", "PR-LG"}, {"partner_id", "VSAC-LG"}, {"kind", "state_social_care_centre"},
                      {"branches", {"VSAC-LG-REZEKNE", "VSAC-LG-KALKUNI", "VSAC-LG-KRASTINI"}}}));
  Append(events);
  const uint64_t before_leaving = store_->Head().position;
  Append({E("e-leave-b", "partner_left", "2020-12-31", {{"project_id", "PR-LG"}, {"partner_id", "M-B"}, {"reason", "withdrew"}}),
          E("e-leave-d", "partner_left", "2020-12-31", {{"project_id", "PR-LG"}, {"partner_id", "M-D"}})});
  Append({E("e-merge", "municipalities_merged", "2021-07-01",
            {{"successor_id", "M-AC"}, {"successor_name", "novads AC"}, {"predecessor_ids", {"M-A", "M-C"}},
             {"project_id", "PR-LG"}})});

  // Before the centre joined: the four municipalities.
  PartnersReport report = Partners("2016-01-31");
  ASSERT_EQ(report.projects.size(), 1u);
  EXPECT_EQ(report.projects[0].partners, 4);
  // 2020-12-30: 4 municipalities and the centre with its 3 branches; on 2020-12-31 two have left.
  report = Partners("2020-12-30");
  EXPECT_EQ(report.projects[0].partners, 5);
  EXPECT_EQ(report.projects[0].by_kind.at("municipality"), 4);
  EXPECT_EQ(report.projects[0].by_kind.at("state_social_care_centre"), 1);
  EXPECT_EQ(report.projects[0].branches, 3);
  report = Partners("2020-12-31");
  EXPECT_EQ(report.projects[0].partners, 3);
  ASSERT_EQ(report.former.size(), 2u);
  EXPECT_EQ(report.former[0].partner_id, "M-B");
  EXPECT_EQ(report.former[0].reason, "withdrew");
  EXPECT_EQ(report.former[0].until, D("2020-12-31"));
  EXPECT_EQ(report.former[0].basis, "registered");
  EXPECT_FALSE(report.former[0].positions.empty());
  // The same valid date as known before the leaves were recorded: still five.
  EXPECT_EQ(Partners("2020-12-31", before_leaving).projects[0].partners, 5);
  // After the merger: the successor (a partner from the merger) and the centre.
  report = Partners("2021-07-01");
  EXPECT_EQ(report.projects[0].partners, 2);
  ASSERT_EQ(report.partners.size(), 2u);
  EXPECT_EQ(report.partners[0].partner_id, "M-AC");
  EXPECT_EQ(report.partners[0].from, D("2021-07-01"));
  EXPECT_EQ(report.partners[1].partner_id, "VSAC-LG");
  EXPECT_EQ(report.partners[1].name, "VSAC Latgale");
  EXPECT_EQ(report.former.size(), 4u);  // M-A and M-C merged away, M-B and M-D left
  const json as_json = PartnersToJson(report);
  EXPECT_EQ(as_json["former"][0]["reason"], "merged into M-AC");
  EXPECT_EQ(as_json["partners"][1]["branches"], json({"VSAC-LG-REZEKNE", "VSAC-LG-KALKUNI", "VSAC-LG-KRASTINI"}));
  const std::string csv = PartnersToCsv(report);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "project_id,partner_id,name,kind,basis,from,until,status,reason,branches");
  EXPECT_NE(csv.find("PR-LG,VSAC-LG,VSAC Latgale,state_social_care_centre,joined,2016-02-01,,partner,,VSAC-LG-REZEKNE "
                     "VSAC-LG-KALKUNI VSAC-LG-KRASTINI\n"),
            std::string::npos)
      << csv;
  // A project nobody registered.
  PartnersReport unknown;
  EXPECT_EQ(ComputePartners(Model(), D("2021-07-01"), "PR-9", &unknown).code(), ledger::StatusCode::kNotFound);
}

// Zemgale's camps (brief §6.5): counted per project, year and kind, when held, with a correction of a count.
TEST_F(ProjectOutputsTest, ActivitiesPerProjectYearAndKind) {
  std::vector<json> events = {BaseWorld()[0]};
  auto held = [](const std::string& id, const std::string& kind, const char* first, const char* last, int participants,
                 const char* recorded) {
    return E("e-" + id, "project_activity_held", recorded,
             {{"project_id", "PR-1"}, {"activity_id", id}, {"kind", kind}, {"title", id}, {"first_date", first},
              {"last_date", last}, {"participants", participants}});
  };
  events.push_back(held("CAMP-2018", "camp", "2018-08-20", "2018-08-24", 30, "2018-08-31"));
  events.push_back(held("CAMP-2019", "camp", "2019-07-01", "2019-07-05", 28, "2019-07-10"));
  events.push_back(held("TRAINING-2022", "training", "2022-11-14", "2022-12-09", 25, "2022-12-09"));
  events.push_back(held("FAMILY-2023-1", "camp", "2023-07-13", "2023-07-16", 40, "2023-07-16"));
  events.push_back(held("FAMILY-2023-2", "camp", "2023-07-20", "2023-07-23", 40, "2023-07-23"));
  Append(events);
  const uint64_t before_correction = store_->Head().position;
  json corrected = held("CAMP-2019", "camp", "2019-07-01", "2019-07-05", 27, "2019-07-12");
  corrected["id"] = "e-CAMP-2019-fixed";
  Append({corrected});

  ActivitiesReport report = Activities("2023-12-31");
  ASSERT_EQ(report.rows.size(), 4u);
  EXPECT_EQ(report.rows[0].year, 2018);
  EXPECT_EQ(report.rows[0].participants, 30);
  EXPECT_EQ(report.rows[0].calendar_days, 5);
  EXPECT_EQ(report.rows[1].participants, 27);  // corrected
  EXPECT_EQ(report.rows[2].kind, "training");
  EXPECT_EQ(report.rows[2].calendar_days, 26);
  EXPECT_EQ(report.rows[3].activities, 2);     // two family camps in 2023
  EXPECT_EQ(report.rows[3].participants, 80);
  EXPECT_EQ(report.activities.size(), 5u);
  ASSERT_EQ(report.activities[1].positions.size(), 2u);  // the record and its correction
  // As known before the correction: 28.
  EXPECT_EQ(Activities("2023-12-31", 0, before_correction).rows[1].participants, 28);
  // Valid date 2023-07-22: the second family camp is not over yet.
  EXPECT_EQ(Activities("2023-07-22").rows[3].activities, 1);
  // One year.
  report = Activities("2023-12-31", 2019);
  ASSERT_EQ(report.rows.size(), 1u);
  EXPECT_EQ(report.rows[0].year, 2019);
  EXPECT_EQ(ActivitiesToCsv(report), "project_id,year,kind,activities,participants,calendar_days\nPR-1,2019,camp,1,27,5\n");
}

// Bauska in DI (PR-1, its own project) and in the individual budget pilot (PR-IBM, no budget known at first): a grant
// naming the pilot is decided under the pilot's rules and paid by the pilot's budget, the others by PR-1's.
TEST_F(ProjectOutputsTest, AMunicipalityInTwoProjectsIsDecidedAndPaidByTheProjectItsGrantNames) {
  json pilot = BaseWorld()[0];
  pilot["id"] = "e-pilot";
  pilot["effective_date"] = "2019-11-01";
  pilot["data"]["project_id"] = "PR-IBM";
  pilot["data"]["period_start"] = "2019-11-01";
  for (const char* field : {"agreement_number", "budget_total_cents", "budget_esf_cents", "budget_state_cents"}) {
    pilot["data"].erase(field);
  }
  auto rules = [](const std::string& id, json project_ids, int64_t minutes) {
    json data = {{"rule_set_id", id},
                 {"title", id},
                 {"document",
                  {{"format", "di-ledger-rules/1"},
                   {"rule_set", id},
                   {"version", "v1"},
                   {"services_paid_until", "2023-08-31"},
                   {"rules",
                    {{{"id", "support"},
                      {"services", {"support_person_for_decisions"}},
                      {"target_groups", {"adult_mental_disability"}},
                      {"effective_from", "2015-07-01"},
                      // Caps are counted per cap id whichever project's rules charge them: an id of each project's.
                      {"caps", {{{"id", "support-month-" + id}, {"quantity", minutes}, {"period", "month"}}}}}}}}}};
    if (!project_ids.is_null()) data["project_ids"] = project_ids;
    return E("e-rules-" + id, "rules_enacted", "2015-07-01", data);
  };
  std::vector<json> events = {rules("GENERAL", nullptr, 600)};
  for (const json& event : BaseWorld()) events.push_back(event);
  events.push_back(pilot);
  events.push_back(rules("IBM", {"PR-IBM"}, 120));
  events.push_back(E("e-join", "partner_joined", "2019-11-01",
                     {{"project_id", "PR-IBM"}, {"partner_id", "M-2"}, {"kind", "municipality"}}));
  auto grant = [](const std::string& id, const char* project) {
    json data = {{"grant_id", id}, {"person_id", "P-A1"}, {"municipality_id", "M-2"},
                 {"service", "support_person_for_decisions"}, {"quantity", 600}, {"period", "month"},
                 {"valid_from", "2021-01-01"}, {"valid_until", "2021-12-31"}, {"cost_basis", "actual_cost"}};
    if (project != nullptr) data["project_id"] = project;
    return E("e-" + id, "service_granted", "2020-12-20", data);
  };
  events.push_back(grant("G-DI", nullptr));
  events.push_back(grant("G-IBM", "PR-IBM"));
  auto delivered = [](const std::string& id, const std::string& grant_id) {
    return E("e-" + id, "service_delivered", "2021-03-03",
             {{"delivery_id", id}, {"grant_id", grant_id}, {"provider_id", "PV-1"}, {"quantity", 180},
              {"cost_cents", 1800}, {"mode", "in_person"}});
  };
  events.push_back(delivered("D-DI", "G-DI"));
  events.push_back(delivered("D-IBM", "G-IBM"));
  Append(events);

  // The pilot's rules: 120 of the 180 minutes, 1800 * 120 / 180 = 1200 cents; PR-1's (the general set): all 180.
  FundingReport report;
  FundingQuery query;
  query.group_by = {"project"};
  ASSERT_TRUE(ComputeFunding(Model(), D("2021-12-31"), query, &report).ok());
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_EQ(report.rows[0].project_id, "PR-1");
  EXPECT_EQ(report.rows[0].figures.eligible_cents, 1800);
  EXPECT_EQ(report.rows[1].project_id, "PR-IBM");
  EXPECT_EQ(report.rows[1].figures.eligible_cents, 1200);

  // Claimed from the pilot; reviewed once its budget (90 % ESF) is recorded: ESF 1200 * 0.9 = 1080.
  Append({E("e-c", "reimbursement_claimed", "2021-04-10",
            {{"claim_id", "C-IBM"}, {"project_id", "PR-IBM"}, {"municipality_id", "M-2"}, {"period_start", "2021-03-01"},
             {"period_end", "2021-03-31"}, {"lines", {{{"delivery_id", "D-IBM"}, {"amount_cents", 1200}}}},
             {"total_cents", 1200}})});
  const json review = E("e-r", "claim_reviewed", "2021-05-01",
                        {{"claim_id", "C-IBM"},
                         {"lines", {{{"delivery_id", "D-IBM"}, {"accepted", true}, {"approved_cents", 1200}}}},
                         {"approved_total_cents", 1200}});
  EXPECT_EQ(AppendJson(*store_, {review}).code(), ledger::StatusCode::kInvalidArgument);
  Append({E("e-b", "budget_amended", "2019-11-01",
            {{"project_id", "PR-IBM"}, {"total_cents", 1000000}, {"esf_cents", 900000}, {"state_cents", 100000}}),
          review});
  ASSERT_TRUE(ComputeFunding(Model(), D("2021-12-31"), query, &report).ok());
  EXPECT_EQ(report.rows[1].figures.approved_cents, 1200);
  EXPECT_EQ(report.rows[1].figures.approved_esf_cents, 1080);
  EXPECT_EQ(report.rows[1].figures.approved_state_cents, 120);
  ASSERT_EQ(report.budgets.size(), 2u);
  EXPECT_EQ(report.budgets[1].project_id, "PR-IBM");
  EXPECT_EQ(report.budgets[1].approved_cents, 1200);

  // The pilot's partners: M-2 joined; PR-1's: M-1 and M-2, registered with it.
  const PartnersReport partners = Partners("2021-03-03");
  ASSERT_EQ(partners.projects.size(), 2u);
  EXPECT_EQ(partners.projects[0].partners, 2);
  EXPECT_EQ(partners.projects[1].partners, 1);
}

}  // namespace
}  // namespace di::projections
