// The adversarial history's world: projects, municipalities, rule sets, persons and the facts about them.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "di/projections/default_rules.h"
#include "fuzzy_generator.h"

namespace di::workload::fuzzy {

void Generator::PlanWorld() {
  const int total = options_.persons;
  const int children = std::max(3, total * 2 / 5);
  const int parents = std::max(2, total / 5);
  const int adults = total - 2 - children - parents;  // 2: one child in care, one foster candidate
  const std::vector<std::string> child_ids = PlanChildren(children);
  PersonState& in_care = AddPerson("child_in_care", static_cast<int32_t>(Between(Date(2008, 1, 1), Date(2013, 12, 31))));
  in_care.enrol_month = static_cast<int>(Between(0, 30));
  in_care.grants_wanted = 1;
  const std::string in_care_id = in_care.id;
  PlanAdults(adults);
  PersonState& candidate = AddPerson("foster_or_adoptive_candidate", Date(1980, 5, 5));
  candidate.enrol_month = static_cast<int>(Between(0, 70));
  candidate.grants_wanted = Chance(300) ? 1 : 0;
  PlanParents(parents, child_ids, in_care_id);
  PlanSpecialDates(child_ids);
  merger_month_ = Chance(500) ? 65 : 66;  // recorded in June, or in July after some July grants
  merger_after_grants_ = merger_month_ == 66;
  rules_month_ = static_cast<int>(Between(69, 83));
  broken_rules_month_ = Chance(500) ? static_cast<int>(Between(40, 90)) : -1;
  kurzeme_rules_month_ = Chance(700) ? static_cast<int>(Between(20, 90)) : -1;
  broken_rules_for_kurzeme_ = Chance(500);
  closure_month_ = Chance(800) ? static_cast<int>(Between(30, 80)) : -1;
  reopen_month_ = Chance(800) ? closure_month_ + static_cast<int>(Between(1, 6)) : -1;
}

PersonState& Generator::AddPerson(const std::string& group, int32_t birth) {
  static const std::vector<std::string> kResidences = {"M-BAUSKA", "M-VECUMNIEKI", "M-JELGAVA", "M-LIEPAJA"};
  PersonState person;
  person.id = NumberedId("P-", person_order_.size() + 1, 2);
  person.group = group;
  person.birth = birth;
  person.residence_id = Pick(kResidences);
  person.project_id = person.residence_id == "M-LIEPAJA" ? "PR-KUR" : "PR-ZEM";
  person_order_.push_back(person.id);
  return persons_[person.id] = person;
}

int Generator::EnrolMonthFrom(int32_t earliest) {
  int index = 0;
  while (index < 71 && MonthStartOf(index + 1) <= earliest) ++index;
  return index;
}

std::vector<std::string> Generator::PlanChildren(int count) {
  // Birth dates where the rules change their mind: the fifth birthday on 2021-06-30 / 07-01 / 2022-06-16 /
  // 2023-08-31, 29 February, the eighteenth birthday during the project.
  std::vector<int32_t> births = {Date(2016, 2, 29), Date(2016, 7, 1),  Date(2016, 6, 30), Date(2017, 6, 16),
                                 Date(2018, 8, 31), Date(2004, 5, 10), Date(2012, 3, 1),  Date(2020, 2, 29),
                                 Date(2015, 12, 31), Date(2009, 9, 9)};
  Shuffle(&births);
  std::vector<std::string> child_ids;
  for (int i = 0; i < count; ++i) {
    const int32_t birth = i < static_cast<int>(births.size())
                              ? births[i]
                              : static_cast<int32_t>(Between(Date(2006, 1, 1), Date(2019, 12, 31)));
    PersonState& child = AddPerson("child_functional_impairment", birth);
    const int32_t earliest = std::max(Date(2016, 1, 1), birth + 20);
    child.enrol_month = std::min(71, EnrolMonthFrom(earliest) + static_cast<int>(Between(0, 10)));
    // Enrolled while 0-17: a child born in 2004 must be enrolled before 2022-05-10.
    while (child.enrol_month > 0 && MonthStartOf(child.enrol_month) + 31 >= Birthday(birth, 18)) --child.enrol_month;
    child.never_opinion = Chance(120);
    child.grants_wanted = static_cast<int>(Between(2, 3));
    child_ids.push_back(child.id);
  }
  return child_ids;
}

void Generator::PlanAdults(int count) {
  for (int i = 0; i < count; ++i) {
    int32_t birth = static_cast<int32_t>(Between(Date(1960, 1, 1), Date(1995, 12, 31)));
    if (i == 0) birth = Date(2001, 3, 15);  // enrolled on the day they turn 18
    if (i == 1) birth = Date(1988, 2, 29);
    PersonState& adult = AddPerson("adult_mental_disability", birth);
    adult.enrol_month = static_cast<int>(Between(0, 60));
    if (i == 0) {
      adult.enrol_month = 38;  // 2019-03
      adult.enrol_date = Date(2019, 3, 15);
    }
    adult.grants_wanted = static_cast<int>(Between(2, 3));
  }
}

// Parents: the first two share a child (siblings 0 and 1 share parent 0; child 1 has two parents), the last
// one is a foster parent of the child in care; the rest represent 1-3 children each. A household lives
// together: the parent in the first child's municipality, and a child's municipality follows its first
// parent's household.
void Generator::PlanParents(int count, const std::vector<std::string>& child_ids, const std::string& in_care_id) {
  size_t next_child = 2;
  for (int i = 0; i < count; ++i) {
    PersonState& parent = AddPerson("parent_of_child", i == 0 ? Date(1988, 2, 29)
                                                             : static_cast<int32_t>(Between(Date(1975, 1, 1), Date(1995, 12, 31))));
    parent.relation = "parent";
    if (i == 0) {
      parent.children = {child_ids[0], child_ids[1]};
    } else if (i == 1) {
      parent.children = {child_ids[1]};
      if (next_child < child_ids.size()) parent.children.push_back(child_ids[next_child++]);
      parent.relation = "legal_representative";
    } else if (i == count - 1) {
      parent.children = {in_care_id};
      parent.relation = "foster_parent";
      if (next_child < child_ids.size() && Chance(500)) parent.children.push_back(child_ids[next_child++]);
    } else {
      const int want = static_cast<int>(Between(1, 3));
      for (int k = 0; k < want && next_child < child_ids.size(); ++k) parent.children.push_back(child_ids[next_child++]);
      if (parent.children.empty()) parent.children.push_back(child_ids[Below(child_ids.size())]);
    }
    parent.grants_wanted = static_cast<int>(Between(1, 2));
    const std::string parent_id = parent.id;
    int month = 0;
    for (const std::string& child_id : parent.children) {
      PersonState& child = persons_[child_id];
      month = std::max(month, child.enrol_month);
      child.parents.push_back(parent_id);
    }
    PersonState& stored = persons_[parent_id];
    stored.enrol_month = std::min(71, month + static_cast<int>(Between(0, 2)));
    stored.residence_id = persons_[stored.children.front()].residence_id;
    stored.project_id = persons_[stored.children.front()].project_id;
  }
  for (const std::string& id : person_order_) {
    const PersonState& person = persons_[id];
    if (person.group != "parent_of_child") continue;
    for (const std::string& child_id : person.children) {
      if (persons_[child_id].parents.front() == id) {
        persons_[child_id].residence_id = person.residence_id;
        persons_[child_id].project_id = person.project_id;
      }
    }
  }
}

// Special dates: the rules' boundaries (from the rules data), leap days, the straddling week, birthdays.
void Generator::PlanSpecialDates(const std::vector<std::string>& child_ids) {
  for (int32_t date : {Date(2016, 2, 29), Date(2020, 2, 29), rules_.amendments_2021 - 1, rules_.amendments_2021,
                       rules_.count_caps_abolished - 1, rules_.count_caps_abolished, rules_.services_paid_until,
                       rules_.services_paid_until + 1, Date(2016, 12, 31), Date(2019, 12, 31)}) {
    special_dates_[date].push_back("");
  }
  for (int32_t date = Date(2021, 6, 28); date <= Date(2021, 7, 4); ++date) special_dates_[date].push_back("");
  for (const std::string& id : child_ids) {
    const int32_t fifth = Birthday(persons_[id].birth, 5), eighteenth = Birthday(persons_[id].birth, 18);
    for (int32_t date : {fifth - 1, fifth, eighteenth - 1, eighteenth}) special_dates_[date].push_back(id);
  }
}

void Generator::Setup() {
  const int32_t start = rules_.project_start;
  EnactRules(start, nlohmann::json::parse(projections::DefaultRulesDocument()), "MK Nr. 313 as amended (defaults)");
  Emit("project_registered", Date(2015, 12, 8),
       {{"project_id", "PR-ZEM"}, {"name", "Atver sirdi Zemgalē"}, {"region", "Zemgale"},
        {"agreement_number", "9.2.2.1/15/I/001"}, {"period_start", "2015-07-01"}, {"period_end", "2023-12-31"},
        {"services_paid_until", FormatDate(rules_.services_paid_until)}, {"budget_total_cents", 677834800},
        {"budget_esf_cents", 576159580}, {"budget_state_cents", 101675220},
        {"targets", {{{"indicator", "persons_assessed"}, {"target_group", "adult_mental_disability"}, {"count", 5}},
                     {{"indicator", "persons_receiving_services"}, {"target_group", "child_functional_impairment"}, {"count", 6}}}}},
       "zpr:project-team");
  projects_["PR-ZEM"] = {start, 677834800, {}};
  Emit("project_registered", Date(2016, 1, 20),
       {{"project_id", "PR-KUR"}, {"name", "Kurzeme visiem"}, {"region", "Kurzeme"},
        {"agreement_number", "9.2.2.1/15/I/002"}, {"period_start", "2015-12-01"}, {"period_end", "2023-12-31"},
        {"services_paid_until", FormatDate(rules_.services_paid_until)}, {"budget_total_cents", 500000000},
        {"budget_esf_cents", 425000000}, {"budget_state_cents", 75000000}},
       "kpr:project-team");
  projects_["PR-KUR"] = {Date(2015, 12, 1), 500000000, {}};
  for (auto& [id, project] : projects_) {
    const int amendments = static_cast<int>(Between(2, 3));
    for (int i = 0; i < amendments; ++i) project.amendment_months.push_back(static_cast<int>(Between(6, 90)));
  }
  for (const auto& [id, project_id] : std::vector<std::pair<std::string, std::string>>{
           {"M-BAUSKA", "PR-ZEM"}, {"M-VECUMNIEKI", "PR-ZEM"}, {"M-JELGAVA", "PR-ZEM"}, {"M-LIEPAJA", "PR-KUR"}}) {
    Emit("municipality_registered", project_id == "PR-ZEM" ? Date(2015, 12, 8) : Date(2016, 1, 20),
         {{"municipality_id", id}, {"name", id.substr(2)}, {"project_id", project_id}}, "zpr:project-team");
    municipalities_[id] = {project_id, "", kNoDate, id == "M-JELGAVA" ? 1 : 3};
  }
  // The individual budget pilot (BA 23, 233): no agreement number, its budget not known until recorded late.
  Emit("project_registered", Date(2019, 11, 1),
       {{"project_id", "PR-IBM"}, {"name", "Individuālā budžeta modelis"}, {"region", "Latvia"},
        {"period_start", "2019-11-01"}, {"period_end", "2023-12-31"},
        {"services_paid_until", FormatDate(rules_.services_paid_until)}},
       "lm:project-team");
  Emit("partner_joined", Date(2019, 11, 1),
       {{"project_id", "PR-IBM"}, {"partner_id", "M-BAUSKA"}, {"kind", "municipality"}}, "lm:project-team");
  const Json social = {{{"register", "social_service_providers"}, {"registration_number", "SP-1234"}}};
  Emit("provider_registered", Date(2016, 1, 5),
       {{"provider_id", "PV-ATELPA"}, {"name", "Biedrība Atelpa"}, {"kind", "legal_person"}, {"registers", social}},
       "zpr:project-team");
  Emit("provider_registered", Date(2016, 1, 5), {{"provider_id", "PV-CARE-1"}, {"name", "Care provider 1"}, {"kind", "natural_person"}},
       "zpr:project-team");
  Emit("provider_registered", Date(2016, 1, 6), {{"provider_id", "PV-CARE-2"}, {"name", "Care provider 2"}, {"kind", "natural_person"}},
       "zpr:project-team");
  Emit("provider_registered", Date(2016, 1, 7),
       {{"provider_id", "PV-REHAB"}, {"name", "Rehabilitācijas centrs"}, {"kind", "legal_person"},
        {"registers", {{{"register", "social_service_providers"}, {"registration_number", "SP-77"}},
                       {{"register", "medical_institutions"}, {"registration_number", "MI-5"}}}}},
       "zpr:project-team");
  Emit("provider_registered", Date(2016, 1, 7),
       {{"provider_id", "PV-PSY"}, {"name", "Psihologs"}, {"kind", "natural_person"},
        {"registers", {{{"register", "psychologists"}, {"registration_number", "PS-9"}}}}},
       "zpr:project-team");
  providers_ = {"PV-ATELPA", "PV-CARE-1", "PV-CARE-2", "PV-REHAB", "PV-PSY"};
  Emit("partner_joined", Date(2016, 2, 1),
       {{"project_id", "PR-ZEM"}, {"partner_id", "PV-REHAB"}, {"kind", "state_social_care_centre"},
        {"branches", {"PV-REHAB-JELGAVA", "PV-REHAB-IECAVA"}}},
       "zpr:project-team");
  int contract = 0;
  for (const auto& [municipality, services] : std::vector<std::pair<std::string, Json>>{
           {"M-BAUSKA", {"respite", "child_care"}}, {"M-JELGAVA", {"adult_day_centre", "adult_group_home"}},
           {"M-LIEPAJA", {"child_rehabilitation", "parent_rehabilitation"}}}) {
    Emit("provider_contracted", Date(2016, 1, 15),
         {{"contract_id", NumberedId("K-", ++contract, 3)}, {"provider_id", contract == 1 ? "PV-ATELPA" : "PV-REHAB"},
          {"municipality_id", municipality}, {"services", services}, {"period_start", "2016-02-01"},
          {"period_end", "2023-08-31"}},
         SocialService(municipality));
  }
}

void Generator::EnactRules(int32_t date, const Json& document, const std::string& title, const std::string& project_id) {
  Json data = {{"rule_set_id", project_id.empty() ? "MK313" : "MK313-" + project_id},
               {"title", title},
               {"source_reference", "MK 16.06.2015 Nr. 313"},
               {"document", document}};
  if (!project_id.empty()) data["project_ids"] = Json::array({project_id});
  Emit("rules_enacted", date, std::move(data), "zpr:project-team");
  ++counts_.rules_enacted;
}

void Generator::RecordMerger() {
  const int32_t reform = Date(2021, 7, 1);
  Emit("municipalities_merged", reform,
       {{"successor_id", "M-BAUSKAS-NOV"}, {"successor_name", "Bauskas novads"},
        {"predecessor_ids", {"M-BAUSKA", "M-VECUMNIEKI"}}, {"project_id", "PR-ZEM"}},
       "zpr:project-team");
  municipalities_["M-BAUSKAS-NOV"] = {"PR-ZEM", "", kNoDate, 1};
  for (const char* id : {"M-BAUSKA", "M-VECUMNIEKI"}) {
    municipalities_[id].merged_into = "M-BAUSKAS-NOV";
    municipalities_[id].merged_on = reform;
  }
}

void Generator::ProjectOutputs() {
  // The pilot's budget, stated a year or more after its start; in force from the start.
  if (!pilot_budget_known_ && Today() >= Date(2020, 11, 1) && (Chance(200) || Today() >= Date(2021, 6, 1))) {
    RefuseReview(47, Today());  // a review of a claim filed meanwhile, tried before the budget is recorded: refused
    Emit("budget_amended", Date(2019, 11, 1),
         {{"project_id", "PR-IBM"}, {"total_cents", 120000000}, {"esf_cents", 102000000}, {"state_cents", 18000000},
          {"reason", "the pilot's budget as stated"}},
         "lm:finance");
    pilot_budget_known_ = true;
  }
  // A camp each August (brief §6.5), its count sometimes corrected later; a partner municipality for a while.
  if (month_ == 8) {
    const std::string id = "A-CAMP-" + std::to_string(year_);
    Json data = {{"project_id", "PR-ZEM"}, {"activity_id", id}, {"kind", "camp"},
                 {"title", "Nometne " + std::to_string(year_)}, {"first_date", FormatDate(Date(year_, 8, 10))},
                 {"last_date", FormatDate(Date(year_, 8, 14))}, {"participants", Between(20, 45)}};
    Emit("project_activity_held", Date(year_, 8, 20), data, "zpr:project-team");
    if (Chance(300)) {
      data["participants"] = Between(20, 45);
      Emit("project_activity_held", Date(year_, 8, 28), data, "zpr:project-team");
    }
  }
  if (year_ == 2018 && month_ == 3) {
    Emit("partner_joined", Today(), {{"project_id", "PR-ZEM"}, {"partner_id", "M-LIEPAJA"}, {"kind", "municipality"}},
         "zpr:project-team");
  }
  if (year_ == 2022 && month_ == 3) {
    Emit("partner_left", Today(), {{"project_id", "PR-ZEM"}, {"partner_id", "M-LIEPAJA"}, {"reason", "camps only"}},
         "zpr:project-team");
  }
}

void Generator::WorldEvents() {
  if (month_index_ == merger_month_ && !merger_after_grants_) RecordMerger();
  ProjectOutputs();
  if (month_index_ == rules_month_) {
    // A second version of the rules with changed parameters, enacted part-way: every replay as known after it
    // decides everything (also what happened before) under it.
    Json document = nlohmann::json::parse(projections::DefaultRulesDocument());
    document["version"] = "MK313-fuzz-" + std::to_string(seed_);
    Json& parameters = document["parameters"];
    parameters["count_caps_abolished"] = Chance(500) ? "2022-01-01" : "2022-09-01";
    if (Chance(500)) parameters["services_paid_until"] = "2023-06-30";
    if (Chance(500)) parameters["child_rehab_100_from"] = "2021-10-01";
    if (Chance(500)) {
      for (Json& rule : document["rules"]) {
        if (rule["id"] == "respite") rule["caps"][0]["scope"] = "family";  // respite per family (KU 11)
      }
    }
    EnactRules(Today(), document, "MK Nr. 313, changed parameters");
  }
  if (month_index_ == kurzeme_rules_month_) {
    // Kurzeme's own rules (docs/rules.md §3.0): respite per family (KU 11), sometimes an earlier last paid day.
    // From now on PR-KUR's deliveries, also the earlier ones, are decided under them; PR-ZEM's are not, and a later
    // version for every project does not replace them.
    Json document = nlohmann::json::parse(projections::DefaultRulesDocument());
    document["rule_set"] = "MK313-PR-KUR";
    document["version"] = "MK313-KU-fuzz-" + std::to_string(seed_);
    for (Json& rule : document["rules"]) {
      if (rule["id"] == "respite") rule["caps"][0]["scope"] = "family";
      // KU 26-29: child rehabilitation 10 of each kind, at most 4 kinds; parents at most 2 of 4 listed kinds.
      if (rule["id"] == "child-rehab-v0") {
        rule["caps"] = Json::array({{{"id", "child-rehab-ku"}, {"quantity", 10}, {"period", "support_plan"},
                                     {"per_kind", true}, {"max_kinds", 4}}});
      }
      if (rule["id"] == "parent-rehab-v0" || rule["id"] == "parent-rehab-2021") {
        rule["requires"]["kinds"] = {"psychologist", "rehabilitologist", "physiotherapy", "support_group"};
        rule["caps"][0]["per_kind"] = true;
        rule["caps"][0]["max_kinds"] = 2;
        rule["caps"][0]["id"] = rule["caps"][0]["id"].get<std::string>() + "-ku";
      }
      if (rule["id"] == "grt-support-group-2021") rule["caps"][0]["per_kind"] = true;  // 100 of each kind
      // A cost-volume limit (Z 491's kind; its value here is made up): EUR 300 of day centre a month, some 12 days.
      if (rule["id"] == "child-day-centre") {
        rule["caps"] = Json::array({{{"id", "child-dac-cost-ku"}, {"cost_cents", 30000}, {"period", "month"}}});
      }
    }
    if (Chance(500)) document["parameters"]["services_paid_until"] = "2023-05-31";
    EnactRules(Today(), document, "Kurzeme visiem: respite per family", "PR-KUR");
  }
  if (month_index_ == closure_month_) {
    // A provider closed (COVID-19, spring 2020), sometimes for one of its services only, often recorded late: its
    // deliveries on the closed days, already decided, become ineligible.
    closed_provider_ = Pick(providers_);
    closed_on_ = std::max(Date(2016, 2, 1), Today() - static_cast<int32_t>(Between(0, 60)));
    Json data = {{"provider_id", closed_provider_}, {"reason", "COVID-19"}};
    if (Chance(400)) data["services"] = Json::array({Chance(500) ? "child_rehabilitation" : "respite"});
    Emit("provider_closed", closed_on_, std::move(data), "zpr:project-team");
  }
  if (month_index_ == reopen_month_ && !closed_provider_.empty()) {
    Emit("provider_reopened", std::max(closed_on_, Today() - static_cast<int32_t>(Between(0, 20))),
         {{"provider_id", closed_provider_}}, "zpr:project-team");
  }
  if (month_index_ == broken_rules_month_) {
    // A rules document the engine cannot parse is still a fact; the rules before it stay in force (for every
    // project, or for Kurzeme alone).
    EnactRules(Today(), Json{{"format", "di-ledger-rules/1"}, {"rule_set", "MK313"}, {"version", "broken"}},
               "MK Nr. 313, a draft that does not parse", broken_rules_for_kurzeme_ ? "PR-KUR" : "");
  }
  for (auto& [id, project] : projects_) {
    for (int month : project.amendment_months) {
      if (month != month_index_) continue;
      // Sometimes in force from months back (recorded late): claims already filed change their ESF split.
      int32_t date = Chance(300) ? Today() - static_cast<int32_t>(Between(30, 150)) : Today();
      date = std::max(date, project.period_start);
      project.total_cents = project.total_cents * Between(103, 130) / 100;
      const int64_t ratio = Chance(500) ? 8500 : 8669;  // ESF share in basis points
      const int64_t esf = project.total_cents * ratio / 10000;
      Json data = {{"project_id", id}, {"total_cents", project.total_cents}, {"esf_cents", esf},
                   {"state_cents", project.total_cents - esf}, {"reason", "budget amendment"}};
      if (Chance(300)) {
        data["targets"] = {{{"indicator", "persons_receiving_services"}, {"target_group", "adult_mental_disability"},
                            {"count", Between(2, 9)}}};
      }
      Emit("budget_amended", date, data, "zpr:project-team");
      ++counts_.budget_amendments;
    }
    if (Chance(40)) {
      static const std::vector<std::string> kCategories = {"camp", "training", "assessment", "video", "other"};
      Emit("project_expense_recorded", Today(),
           {{"project_id", id}, {"expense_id", NumberedId("EXP-", ++expense_counter_, 4)},
            {"category", Pick(kCategories)}, {"amount_cents", Between(10000, 2000000)}},
           "zpr:finance");
    }
  }
}

void Generator::Enrol() {
  for (const std::string& id : person_order_) {  // children before the parents who represent them
    PersonState& person = persons_[id];
    if (person.enrolled || person.group == "parent_of_child" || person.enrol_month != month_index_) continue;
    EnrolPerson(person);
  }
  for (const std::string& id : person_order_) {
    PersonState& person = persons_[id];
    if (person.enrolled || person.group != "parent_of_child" || person.enrol_month > month_index_) continue;
    bool children_enrolled = true;
    for (const std::string& child : person.children) children_enrolled = children_enrolled && persons_[child].enrolled;
    if (children_enrolled) EnrolPerson(person);
  }
}

void Generator::EnrolPerson(PersonState& person) {
  int32_t date = person.enrol_date != kNoDate ? person.enrol_date : Today();
  if (person.enrol_date == kNoDate && Chance(200)) date -= static_cast<int32_t>(Between(30, 120));  // recorded late
  date = std::max(date, person.birth + 1);
  const bool child = person.group == "child_functional_impairment" || person.group == "child_in_care";
  if (child && AgeInYears(person.birth, date) > 17) date = Birthday(person.birth, 18) - 1;
  if (person.group == "adult_mental_disability" || person.group == "parent_of_child" ||
      person.group == "foster_or_adoptive_candidate") {
    date = std::max(date, Birthday(person.birth, 18));
  }
  person.residence_id = ActiveFor(person.residence_id, date);
  Json data = {{"person_id", person.id}, {"project_id", person.project_id}, {"target_group", person.group},
               {"birth_date", FormatDate(person.birth)}, {"residence_municipality_id", person.residence_id}};
  if (person.group == "parent_of_child") {
    data["representative"] = {{"relation", person.relation}, {"child_ids", person.children}};
  }
  Emit("person_enrolled", date, data, "zpr:project-team");
  person.enrolled = true;
  person.enrolled_on = date;
}

void Generator::PersonFacts() {
  for (const std::string& id : person_order_) {
    PersonState& person = persons_[id];
    if (!person.enrolled) continue;
    const std::string actor = SocialService(ActiveFor(person.residence_id, MonthEnd()));
    if (person.group == "child_functional_impairment") {
      MaybeDisability(person, {"child_disability"}, "functional_impairment", actor);
      MaybeOpinion(person, actor);
      MaybePlan(person, {"child_rehabilitation", "child_day_centre", "respite"}, 250);
    } else if (person.group == "adult_mental_disability") {
      MaybeDisability(person, {"group_two", "group_one", "group_two", "group_two", "group_one", "group_three"},
                      "mental_disorder", actor);
      MaybePlan(person,
                {"adult_home_care", "adult_day_centre", "adult_specialised_workshop", "adult_group_home", "adult_respite",
                 "adult_specialist_consultation", "adult_psychologist_consultation", "adult_support_group",
                 "social_mentor"},
                400);
      MaybeTransition(person);
    } else if (person.group == "child_in_care") {
      MaybePlan(person, {"child_day_centre"}, 50);
    } else if (person.group == "parent_of_child") {
      MaybeActivity(person, actor);
    }
    if (Chance(4)) {
      // A move: to another municipality active today (a successor after the reform).
      std::vector<std::string> active;
      const int32_t date = Today();
      for (const auto& [municipality_id, municipality] : municipalities_) {
        if (Active(municipality_id, date) && municipality_id != person.residence_id) active.push_back(municipality_id);
      }
      if (!active.empty()) {
        person.residence_id = Pick(active);
        Emit("residence_changed", date, {{"person_id", person.id}, {"municipality_id", person.residence_id}}, actor);
      }
    }
  }
}

// Disabilities, valid from up to 300 days before the enrolment; some are renewed after a gap.
constexpr Renewal kDisabilityRenewal = {800, 400, 45, 300, 1, 60, 150, 300, 1500};
// Special-care opinions: a renewal sometimes leaves a gap, and is sometimes recorded months after it took effect.
constexpr Renewal kOpinionRenewal = {650, 220, 30, 90, 5, 90, 120, 200, 1100};

std::optional<int32_t> Generator::RenewedFrom(bool recorded, int32_t until, int32_t enrolled_on, const Renewal& terms) {
  const bool first = !recorded;
  const bool expiring = !first && until != kNoDate && until < MonthEnd() + terms.lead_days;
  if (!(first ? Chance(terms.first_per_mille) : expiring && Chance(terms.renewal_per_mille))) return std::nullopt;
  return first ? enrolled_on - static_cast<int32_t>(Between(0, terms.backdated_days))
               : until + 1 + (Chance(300) ? static_cast<int32_t>(Between(terms.gap_min, terms.gap_max)) : 0);
}

int32_t Generator::RenewedUntil(int32_t from, const Renewal& terms) {
  if (Chance(terms.open_ended_per_mille)) return kNoDate;
  return from + static_cast<int32_t>(Between(terms.valid_min, terms.valid_max));
}

void Generator::MaybeDisability(PersonState& person, const std::vector<std::string>& groups, const std::string& cause, const std::string& actor) {
  const std::optional<int32_t> from =
      RenewedFrom(person.disability_recorded, person.disability_until, person.enrolled_on, kDisabilityRenewal);
  if (!from) return;
  Json data = {{"person_id", person.id}, {"group", Pick(groups)}, {"cause", cause}, {"valid_from", FormatDate(*from)}};
  person.disability_until = RenewedUntil(*from, kDisabilityRenewal);
  if (person.disability_until != kNoDate) data["valid_until"] = FormatDate(person.disability_until);
  Emit("disability_recorded", Today(), data, actor);
  person.disability_recorded = true;
}

void Generator::MaybeOpinion(PersonState& person, const std::string& actor) {
  if (person.never_opinion) return;
  const std::optional<int32_t> from =
      RenewedFrom(person.opinion_recorded, person.opinion_until, person.enrolled_on, kOpinionRenewal);
  if (!from) return;
  Json data = {{"person_id", person.id}, {"valid_from", FormatDate(*from)}};
  if (Chance(600)) data["opinion_number"] = "VDEAK " + std::to_string(Between(1000, 9999));
  person.opinion_until = RenewedUntil(*from, kOpinionRenewal);
  if (person.opinion_until != kNoDate) data["valid_until"] = FormatDate(person.opinion_until);
  Emit("special_care_opinion_recorded", Today(), data, actor);
  person.opinion_recorded = true;
}

void Generator::MaybePlan(PersonState& person, const std::vector<std::string>& services, int per_mille) {
  bool expired = false;
  if (!person.plan_ids.empty()) {
    const PlanState& last = plans_[person.plan_ids.back()];
    expired = last.valid_until != kNoDate && last.valid_until < MonthEnd();
  }
  if (!(person.plan_ids.empty() ? Chance(per_mille) : expired && Chance(300))) return;
  const int32_t assessed_on = Today();
  std::string assessment_id;
  if (person.assessment_ids.empty() || Chance(500)) {
    assessment_id = NumberedId("AS-", ++assessment_counter_, 3);
    Emit("needs_assessed", assessed_on,
         {{"assessment_id", assessment_id}, {"person_id", person.id},
          {"method", person.group == "adult_mental_disability" ? "support_intensity_scale" : "child_needs_assessment"}},
         "zpr:assessment-team");
    assessments_[assessment_id] = {person.id, assessed_on};
    person.assessment_ids.push_back(assessment_id);
  } else {
    assessment_id = person.assessment_ids.back();
  }
  const int32_t approved_on = std::max(assessments_[assessment_id].date, assessed_on) + static_cast<int32_t>(Between(0, 20));
  // A plan lists some of the services; one the person later gets may be missing (a finding).
  std::vector<std::string> listed = services;
  Shuffle(&listed);
  listed.resize(std::max<size_t>(1, listed.size() - Below(std::min<size_t>(3, listed.size()))));
  const std::string plan_id = NumberedId("PL-", ++plan_counter_, 3);
  Json data = {{"plan_id", plan_id}, {"person_id", person.id}, {"assessment_id", assessment_id},
               {"recommended_services", listed}, {"valid_from", FormatDate(approved_on)}};
  PlanState plan{person.id, approved_on, kNoDate};
  if (!Chance(250)) {
    plan.valid_until = approved_on + static_cast<int32_t>(Between(300, 1100));
    data["valid_until"] = FormatDate(plan.valid_until);
  }
  Emit("support_plan_approved", approved_on, data, "zpr:assessment-team");
  plans_[plan_id] = plan;
  person.plan_ids.push_back(plan_id);
}

void Generator::MaybeTransition(PersonState& person) {
  const bool prepare = !person.prepared_for_transition ? Chance(12) : !person.independent && Chance(3);
  const bool move_out = person.prepared_for_transition && !person.independent && Chance(25);
  if (!prepare && !move_out) return;
  const int32_t date = std::max(person.enrolled_on, Today() - static_cast<int32_t>(Between(0, 45)));
  if (prepare) {
    Json data = {{"person_id", person.id}};
    if (Chance(600)) data["centre_id"] = Pick(providers_);
    Emit("transition_prepared", date, std::move(data), "zpr:project-team");
    person.prepared_for_transition = true;
    return;
  }
  Emit("independent_life_started", date, {{"person_id", person.id}}, "zpr:project-team");
  person.independent = true;
}

void Generator::MaybeActivity(PersonState& person, const std::string& actor) {
  static const std::vector<std::string> kActivities = {"working", "working", "working", "studying",
                                                      "employment_agency_measure", "day_centre", "not_active",
                                                      "not_active"};
  const bool first = !person.activity_recorded;
  if (!(first || Chance(35))) return;
  std::string activity = Pick(kActivities);
  if (!first && activity == person.activity) activity = activity == "not_active" ? "working" : "not_active";
  // Changes take effect mid-month; some are recorded months later; later records win where they overlap.
  int32_t from = first ? person.enrolled_on - static_cast<int32_t>(Between(0, 365))
                       : Date(year_, month_, static_cast<int>(Between(2, 27)));
  if (!first && Chance(200)) from -= static_cast<int32_t>(Between(30, 180));
  Json data = {{"person_id", person.id}, {"activity", activity}, {"valid_from", FormatDate(from)}};
  if (!first && Chance(400)) data["valid_until"] = FormatDate(from + static_cast<int32_t>(Between(10, 200)));
  Emit("parent_activity_recorded", std::max(from, Today()), data, actor);
  person.activity_recorded = true;
  person.activity = activity;
}

}  // namespace di::workload::fuzzy
