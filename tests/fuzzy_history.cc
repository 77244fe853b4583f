// FuzzyHistory (see fuzzy_history.h).
//
// How it works: the generator walks month by month from 2016-01 to 2023-12. Each month it enrols the
// persons planned for it (children before the parents who represent them), records world events (the
// merger, rule sets, budget amendments), facts about persons (opinions, disabilities, activities, plans),
// grant life cycles, the month's deliveries (cap scenarios and boundary dates), late deliveries,
// corrections and voids, claims, reviews and payments. Every valid event is built against a mirror of the
// ledger's validation state (the `*State` structs below), updated only by valid events, so that the
// expectation of each event is known when it is written. Invalid events and retries are written at safe
// points (FlushNoise), between complete steps, where the mirror is consistent.
#include "fuzzy_history.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string_view>
#include <utility>

#include "di/ledger/civil_date.h"
#include "di/projections/default_rules.h"

namespace di::testing {
namespace {

using Json = nlohmann::json;
using ledger::AgeInYears;
using ledger::CivilDate;
using ledger::CivilFromDays;
using ledger::DaysFromCivil;
using ledger::DaysInMonth;
using ledger::FormatDate;
using ledger::kNoDate;
using Outcome = FuzzyHistoryInfo::Outcome;

constexpr int kFirstYear = 2016;
constexpr int kMonths = 96;  // 2016-01 .. 2023-12

enum class Unit { kMinutes, kDays, kSessions };

struct ServiceSpec {
  std::string_view name;
  Unit unit;
  int64_t cents_per_unit;  // a typical price, to make costs look like costs
};

constexpr ServiceSpec kServices[] = {
    {"child_care", Unit::kMinutes, 12},
    {"respite", Unit::kDays, 4500},
    {"child_rehabilitation", Unit::kSessions, 3500},
    {"child_day_centre", Unit::kDays, 2500},
    {"parent_rehabilitation", Unit::kSessions, 3000},
    {"adult_home_care", Unit::kMinutes, 10},
    {"adult_day_centre", Unit::kDays, 2200},
    {"adult_specialised_workshop", Unit::kDays, 2000},
    {"adult_group_home", Unit::kDays, 3000},
    {"adult_respite", Unit::kDays, 5000},
    {"adult_specialist_consultation", Unit::kSessions, 4000},
    {"adult_psychologist_consultation", Unit::kSessions, 3000},
    {"adult_support_group", Unit::kSessions, 1500},
    {"social_mentor", Unit::kMinutes, 15},
    {"family_assistant", Unit::kMinutes, 10},
    {"parent_support_group", Unit::kSessions, 1200},
};

const ServiceSpec& Spec(const std::string& service) {
  for (const ServiceSpec& spec : kServices) {
    if (spec.name == service) return spec;
  }
  return kServices[0];  // unreachable: services come from this table
}

// The most one delivery may hold per day of its span (docs/events.md §2.5).
int64_t MaxPerDay(Unit unit) {
  switch (unit) {
    case Unit::kMinutes: return 1440;
    case Unit::kDays: return 1;
    case Unit::kSessions: return 50;
  }
  return 1;
}

int32_t Day(int year, int month, int day) { return DaysFromCivil(year, month, day); }

// The day a person born on `birth` turns `years` (29 February: 1 March in common years).
int32_t Birthday(int32_t birth, int years) {
  const CivilDate civil = CivilFromDays(birth);
  const int year = civil.year + years;
  if (civil.month == 2 && civil.day == 29 && !ledger::IsLeapYear(year)) return Day(year, 3, 1);
  return Day(year, civil.month, civil.day);
}

struct MunicipalityState {
  std::string project_id;
  std::string merged_into;
  int32_t merged_on = kNoDate;
  int claim_every_months = 3;
};

struct PersonState {
  std::string id;
  std::string group;  // target group, JSON name
  std::string project_id;
  std::string residence_id;
  std::string relation;  // parents: parent / legal_representative / foster_parent
  int32_t birth = 0;
  int enrol_month = 0;  // month index the enrolment is recorded in
  int32_t enrol_date = kNoDate;  // fixed enrolment date (else one is drawn)
  bool enrolled = false;
  int32_t enrolled_on = kNoDate;
  std::vector<std::string> children;  // parents: represented children (enrolled first)
  std::vector<std::string> parents;   // children: their representatives
  std::vector<std::string> assessment_ids;
  std::vector<std::string> plan_ids;
  bool never_opinion = false;  // a child whose care is never backed by an opinion
  bool opinion_recorded = false;
  int32_t opinion_until = kNoDate;  // the latest opinion's last day (kNoDate: open-ended)
  bool disability_recorded = false;
  int32_t disability_until = kNoDate;
  bool activity_recorded = false;
  std::string activity;
  int grants_wanted = 1;
};

struct AssessmentState {
  std::string person_id;
  int32_t date = 0;
};

struct PlanState {
  std::string person_id;
  int32_t valid_from = 0;
  int32_t valid_until = kNoDate;
};

struct ApplicationState {
  std::string person_id;
  int32_t submitted_on = 0;
  bool decided = false;
};

struct GrantState {
  std::string id;
  std::string person_id;
  std::string municipality_id;
  std::string service;
  std::string period;  // week, month, year, grant_period
  std::string provider_id;
  int64_t quantity = 0;
  int32_t created_on = 0;  // the service_granted effective date
  int32_t valid_from = 0;
  int32_t valid_until = 0;
  int32_t ended_on = kNoDate;
  int32_t suspended_on = kNoDate;
  bool unit_cost = false;
  int64_t unit_cost_cents = 0;
  uint64_t stream_version = 0;  // events in grant/<id> so far

  int32_t LastDay() const { return ended_on != kNoDate ? ended_on : valid_until; }
  bool Open() const { return ended_on == kNoDate; }
};

struct DeliveryState {
  std::string grant_id;
  int32_t date = 0;
  int32_t last_date = 0;  // == date for a single day
  int64_t quantity = 0;
  int64_t cost_cents = 0;
  bool voided = false;
  std::string claim_id;  // the claim holding it ("" if none, or its line was rejected)
};

struct ClaimState {
  std::string project_id;
  std::string municipality_id;
  int32_t date = 0;
  std::vector<std::pair<std::string, int64_t>> lines;  // delivery id, claimed cents
  bool reviewed = false;
  int32_t reviewed_on = kNoDate;
  int64_t approved_total = 0;
  int64_t paid_total = 0;
};

struct ProjectState {
  int32_t period_start = 0;
  int64_t total_cents = 0;
  std::vector<int> amendment_months;
};

class Generator {
 public:
  Generator(uint64_t seed, const FuzzyHistoryOptions& options) : seed_(seed), random_(seed), options_(options) {
    options_.persons = std::clamp(options_.persons, 10, 25);
    options_.events = std::clamp(options_.events, 500, 50000);
    options_.invalid_per_mille = std::clamp(options_.invalid_per_mille, 0, 200);
    target_deliveries_ = options_.events * 58 / 100;
  }

  std::vector<Json> Run(FuzzyHistoryInfo* info) {
    PlanWorld();
    Setup();
    for (month_index_ = 0; month_index_ < kMonths; ++month_index_) {
      year_ = kFirstYear + month_index_ / 12;
      month_ = 1 + month_index_ % 12;
      deliveries_this_month_ = 0;
      Enrol();
      FlushNoise();
      WorldEvents();
      FlushNoise();
      PersonFacts();
      FlushNoise();
      GrantLifecycle();
      FlushNoise();
      if (month_index_ == merger_month_ && merger_after_grants_) RecordMerger();
      Deliveries();
      BoundaryDeliveries();
      FlushNoise();
      LateDeliveries();
      FlushNoise();
      CorrectionsAndVoids();
      FlushNoise();
      Claims();
      FlushNoise();
      Reviews();
      FlushNoise();
      Payments();
      FlushNoise();
    }
    if (info != nullptr) {
      counts_.expectations = expectations_;
      *info = counts_;
    }
    return std::move(history_);
  }

 private:
  // ------------------------------------------------------------------------------------------------------
  // Randomness: an unbiased range reduction over mt19937_64 (the standard distributions are not portable).
  // ------------------------------------------------------------------------------------------------------
  uint64_t Below(uint64_t n) {
    if (n <= 1) return 0;
    const uint64_t excess = (UINT64_MAX % n + 1) % n;  // 2^64 mod n: the values to reject at the top
    for (int attempt = 0; attempt < 64; ++attempt) {
      const uint64_t x = random_();
      if (excess == 0 || x < 0 - excess) return x % n;
    }
    return random_() % n;  // 64 rejections in a row: probability below 2^-64
  }
  int64_t Between(int64_t low, int64_t high) {
    if (high <= low) return low;
    return low + static_cast<int64_t>(Below(static_cast<uint64_t>(high - low) + 1));
  }
  bool Chance(int per_mille) { return static_cast<int>(Below(1000)) < per_mille; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }
  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i > 1; --i) std::swap((*items)[i - 1], (*items)[Below(i)]);
  }

  // ------------------------------------------------------------------------------------------------------
  // Time
  // ------------------------------------------------------------------------------------------------------
  int32_t MonthStart() const { return Day(year_, month_, 1); }
  int32_t MonthEnd() const { return MonthStart() + DaysInMonth(year_, month_) - 1; }
  int32_t Today() { return static_cast<int32_t>(Between(MonthStart(), MonthEnd())); }
  static int32_t MonthStartOf(int index) { return Day(kFirstYear + index / 12, 1 + index % 12, 1); }

  // ------------------------------------------------------------------------------------------------------
  // Writing events
  // ------------------------------------------------------------------------------------------------------
  std::string NextEventId(std::string_view prefix) {
    char id[32];
    std::snprintf(id, sizeof(id), "%.*s-%06d", static_cast<int>(prefix.size()), prefix.data(), ++event_counter_);
    return id;
  }
  static std::string NumberedId(std::string_view prefix, int number, int width) {
    char id[48];
    std::snprintf(id, sizeof(id), "%.*s-%0*d", static_cast<int>(prefix.size()), prefix.data(), width, number);
    return id;
  }

  Json MakeEvent(std::string_view prefix, const std::string& type, int32_t date, Json data, const std::string& actor) {
    return Json{{"id", NextEventId(prefix)},
                {"type", type},
                {"effective_date", FormatDate(date)},
                {"actor", actor},
                {"data", std::move(data)}};
  }

  // Writes a valid event. `stream_grant`: the grant whose stream it goes to (sometimes sends the stream's
  // version as expected_version, and counts the event in it). Returns the event id.
  std::string Emit(const std::string& type, int32_t date, Json data, const std::string& actor,
                   GrantState* stream_grant = nullptr, const std::string& causation_id = "") {
    Json event = MakeEvent("F", type, date, std::move(data), actor);
    if (!causation_id.empty()) event["causation_id"] = causation_id;
    if (stream_grant != nullptr) {
      if (Chance(60)) event["expected_version"] = stream_grant->stream_version;
      ++stream_grant->stream_version;
    }
    const std::string id = event["id"].get<std::string>();
    history_.push_back(std::move(event));
    expectations_.push_back({});
    appended_.push_back(history_.size() - 1);
    if (Chance(options_.invalid_per_mille)) ++pending_invalid_;
    if (Chance(3)) ++pending_retries_;
    return id;
  }

  void EmitRefused(Json event, std::string code, std::string field, std::string what) {
    history_.push_back(std::move(event));
    expectations_.push_back({Outcome::kRefused, std::move(code), std::move(field), std::move(what)});
    ++counts_.refused;
  }

  void FlushNoise() {
    for (; pending_invalid_ > 0; --pending_invalid_) EmitInvalid();
    for (; pending_retries_ > 0; --pending_retries_) {
      if (appended_.empty()) break;
      history_.push_back(history_[Pick(appended_)]);
      expectations_.push_back({Outcome::kRetry, "", "", ""});
      ++counts_.retries;
    }
  }

  static std::string SocialService(const std::string& municipality_id) { return municipality_id + ":social-service"; }

  // ------------------------------------------------------------------------------------------------------
  // Municipalities
  // ------------------------------------------------------------------------------------------------------
  // Active on `date` as the ledger knows it: registered, and not merged away on or before `date`.
  bool Active(const std::string& id, int32_t date) const {
    auto it = municipalities_.find(id);
    if (it == municipalities_.end()) return false;
    return it->second.merged_into.empty() || date < it->second.merged_on;
  }
  // The municipality that stands for `id` on `date`: itself, or its successor once merged.
  std::string ActiveFor(const std::string& id, int32_t date) const {
    std::string current = id;
    for (int depth = 0; depth < 4 && !Active(current, date); ++depth) {
      auto it = municipalities_.find(current);
      if (it == municipalities_.end() || it->second.merged_into.empty()) break;
      current = it->second.merged_into;
    }
    return current;
  }
  bool BelongsTo(std::string municipality_id, const std::string& claimant_id) const {
    for (int depth = 0; depth <= 16; ++depth) {
      if (municipality_id == claimant_id) return true;
      auto it = municipalities_.find(municipality_id);
      if (it == municipalities_.end() || it->second.merged_into.empty()) return false;
      municipality_id = it->second.merged_into;
    }
    return false;
  }

  // ------------------------------------------------------------------------------------------------------
  // The world
  // ------------------------------------------------------------------------------------------------------
  void PlanWorld() {
    const int total = options_.persons;
    const int children = std::max(3, total * 2 / 5);
    const int parents = std::max(2, total / 5);
    const int adults = total - 2 - children - parents;  // 2: one child in care, one foster candidate
    const std::vector<std::string> residences = {"M-BAUSKA", "M-VECUMNIEKI", "M-JELGAVA", "M-LIEPAJA"};
    // Birth dates where the rules change their mind: the fifth birthday on 2021-06-30 / 07-01 / 2022-06-16 /
    // 2023-08-31, 29 February, the eighteenth birthday during the project.
    std::vector<int32_t> births = {Day(2016, 2, 29), Day(2016, 7, 1),  Day(2016, 6, 30), Day(2017, 6, 16),
                                   Day(2018, 8, 31), Day(2004, 5, 10), Day(2012, 3, 1),  Day(2020, 2, 29),
                                   Day(2015, 12, 31), Day(2009, 9, 9)};
    Shuffle(&births);
    int number = 0;
    auto add = [&](const std::string& group, int32_t birth) -> PersonState& {
      PersonState person;
      person.id = NumberedId("P", ++number, 2);
      person.group = group;
      person.birth = birth;
      person.residence_id = Pick(residences);
      person.project_id = person.residence_id == "M-LIEPAJA" ? "PR-KUR" : "PR-ZEM";
      person_order_.push_back(person.id);
      return persons_[person.id] = person;
    };
    auto enrol_month_from = [&](int32_t earliest) {
      int index = 0;
      while (index < 71 && MonthStartOf(index + 1) <= earliest) ++index;
      return index;
    };
    std::vector<std::string> child_ids;
    for (int i = 0; i < children; ++i) {
      const int32_t birth = i < static_cast<int>(births.size())
                                ? births[i]
                                : static_cast<int32_t>(Between(Day(2006, 1, 1), Day(2019, 12, 31)));
      PersonState& child = add("child_functional_impairment", birth);
      const int32_t earliest = std::max(Day(2016, 1, 1), birth + 20);
      child.enrol_month = std::min(71, enrol_month_from(earliest) + static_cast<int>(Between(0, 10)));
      // Enrolled while 0-17: a child born in 2004 must be enrolled before 2022-05-10.
      while (child.enrol_month > 0 && MonthStartOf(child.enrol_month) + 31 >= Birthday(birth, 18)) --child.enrol_month;
      child.never_opinion = Chance(120);
      child.grants_wanted = static_cast<int>(Between(2, 3));
      child_ids.push_back(child.id);
    }
    PersonState& in_care = add("child_in_care", static_cast<int32_t>(Between(Day(2008, 1, 1), Day(2013, 12, 31))));
    in_care.enrol_month = static_cast<int>(Between(0, 30));
    in_care.grants_wanted = 1;
    const std::string in_care_id = in_care.id;
    for (int i = 0; i < adults; ++i) {
      int32_t birth = static_cast<int32_t>(Between(Day(1960, 1, 1), Day(1995, 12, 31)));
      if (i == 0) birth = Day(2001, 3, 15);  // enrolled on the day they turn 18
      if (i == 1) birth = Day(1988, 2, 29);
      PersonState& adult = add("adult_mental_disability", birth);
      adult.enrol_month = static_cast<int>(Between(0, 60));
      if (i == 0) {
        adult.enrol_month = 38;  // 2019-03
        adult.enrol_date = Day(2019, 3, 15);
      }
      adult.grants_wanted = static_cast<int>(Between(2, 3));
    }
    PersonState& candidate = add("foster_or_adoptive_candidate", Day(1980, 5, 5));
    candidate.enrol_month = static_cast<int>(Between(0, 70));
    candidate.grants_wanted = Chance(300) ? 1 : 0;
    // Parents: the first two share a child (siblings 0 and 1 share parent 0; child 1 has two parents), the
    // last one is a foster parent of the child in care; the rest represent 1-3 children each.
    size_t next_child = 2;
    for (int i = 0; i < parents; ++i) {
      PersonState& parent = add("parent_of_child", i == 0 ? Day(1988, 2, 29)
                                                          : static_cast<int32_t>(Between(Day(1975, 1, 1), Day(1995, 12, 31))));
      parent.relation = "parent";
      if (i == 0) {
        parent.children = {child_ids[0], child_ids[1]};
      } else if (i == 1) {
        parent.children = {child_ids[1]};
        if (next_child < child_ids.size()) parent.children.push_back(child_ids[next_child++]);
        parent.relation = "legal_representative";
      } else if (i == parents - 1) {
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
      // A household lives together: the parent in the first child's municipality.
      stored.residence_id = persons_[stored.children.front()].residence_id;
      stored.project_id = persons_[stored.children.front()].project_id;
    }
    // A child's municipality follows its first parent's household.
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
    // Special dates: the rules' boundaries, leap days, the straddling week, birthdays.
    for (int32_t date : {Day(2016, 2, 29), Day(2020, 2, 29), Day(2021, 6, 30), Day(2021, 7, 1), Day(2022, 6, 15),
                         Day(2022, 6, 16), Day(2023, 8, 31), Day(2023, 9, 1), Day(2016, 12, 31), Day(2019, 12, 31)}) {
      special_dates_[date].push_back("");
    }
    for (int32_t date = Day(2021, 6, 28); date <= Day(2021, 7, 4); ++date) special_dates_[date].push_back("");
    for (const std::string& id : child_ids) {
      const int32_t fifth = Birthday(persons_[id].birth, 5), eighteenth = Birthday(persons_[id].birth, 18);
      for (int32_t date : {fifth - 1, fifth, eighteenth - 1, eighteenth}) special_dates_[date].push_back(id);
    }
    merger_month_ = Chance(500) ? 65 : 66;  // recorded in June, or in July after some July grants
    merger_after_grants_ = merger_month_ == 66;
    rules_month_ = static_cast<int>(Between(69, 83));
    broken_rules_month_ = Chance(500) ? static_cast<int>(Between(40, 90)) : -1;
  }

  void Setup() {
    const int32_t start = Day(2015, 7, 1);
    EnactRules(start, nlohmann::json::parse(projections::DefaultRulesDocument()), "MK Nr. 313 as amended (defaults)");
    Emit("project_registered", Day(2015, 12, 8),
         {{"project_id", "PR-ZEM"}, {"name", "Atver sirdi Zemgalē"}, {"region", "Zemgale"},
          {"agreement_number", "9.2.2.1/15/I/001"}, {"period_start", "2015-07-01"}, {"period_end", "2023-12-31"},
          {"services_paid_until", "2023-08-31"}, {"budget_total_cents", 677834800},
          {"budget_esf_cents", 576159580}, {"budget_state_cents", 101675220},
          {"targets", {{{"indicator", "persons_assessed"}, {"target_group", "adult_mental_disability"}, {"count", 5}},
                       {{"indicator", "persons_receiving_services"}, {"target_group", "child_functional_impairment"}, {"count", 6}}}}},
         "zpr:project-team");
    projects_["PR-ZEM"] = {start, 677834800, {}};
    Emit("project_registered", Day(2016, 1, 20),
         {{"project_id", "PR-KUR"}, {"name", "Kurzeme visiem"}, {"region", "Kurzeme"},
          {"agreement_number", "9.2.2.1/15/I/002"}, {"period_start", "2015-12-01"}, {"period_end", "2023-12-31"},
          {"services_paid_until", "2023-08-31"}, {"budget_total_cents", 500000000},
          {"budget_esf_cents", 425000000}, {"budget_state_cents", 75000000}},
         "kpr:project-team");
    projects_["PR-KUR"] = {Day(2015, 12, 1), 500000000, {}};
    for (auto& [id, project] : projects_) {
      const int amendments = static_cast<int>(Between(2, 3));
      for (int i = 0; i < amendments; ++i) project.amendment_months.push_back(static_cast<int>(Between(6, 90)));
    }
    for (const auto& [id, project_id] : std::vector<std::pair<std::string, std::string>>{
             {"M-BAUSKA", "PR-ZEM"}, {"M-VECUMNIEKI", "PR-ZEM"}, {"M-JELGAVA", "PR-ZEM"}, {"M-LIEPAJA", "PR-KUR"}}) {
      Emit("municipality_registered", project_id == "PR-ZEM" ? Day(2015, 12, 8) : Day(2016, 1, 20),
           {{"municipality_id", id}, {"name", id.substr(2)}, {"project_id", project_id}}, "zpr:project-team");
      municipalities_[id] = {project_id, "", kNoDate, id == "M-JELGAVA" ? 1 : 3};
    }
    const Json social = {{{"register", "social_service_providers"}, {"registration_number", "SP-1234"}}};
    Emit("provider_registered", Day(2016, 1, 5),
         {{"provider_id", "PV-ATELPA"}, {"name", "Biedrība Atelpa"}, {"kind", "legal_person"}, {"registers", social}},
         "zpr:project-team");
    Emit("provider_registered", Day(2016, 1, 5), {{"provider_id", "PV-CARE-1"}, {"name", "Care provider 1"}, {"kind", "natural_person"}},
         "zpr:project-team");
    Emit("provider_registered", Day(2016, 1, 6), {{"provider_id", "PV-CARE-2"}, {"name", "Care provider 2"}, {"kind", "natural_person"}},
         "zpr:project-team");
    Emit("provider_registered", Day(2016, 1, 7),
         {{"provider_id", "PV-REHAB"}, {"name", "Rehabilitācijas centrs"}, {"kind", "legal_person"},
          {"registers", {{{"register", "social_service_providers"}, {"registration_number", "SP-77"}},
                         {{"register", "medical_institutions"}, {"registration_number", "MI-5"}}}}},
         "zpr:project-team");
    Emit("provider_registered", Day(2016, 1, 7),
         {{"provider_id", "PV-PSY"}, {"name", "Psihologs"}, {"kind", "natural_person"},
          {"registers", {{{"register", "psychologists"}, {"registration_number", "PS-9"}}}}},
         "zpr:project-team");
    providers_ = {"PV-ATELPA", "PV-CARE-1", "PV-CARE-2", "PV-REHAB", "PV-PSY"};
    int contract = 0;
    for (const auto& [municipality, services] : std::vector<std::pair<std::string, Json>>{
             {"M-BAUSKA", {"respite", "child_care"}}, {"M-JELGAVA", {"adult_day_centre", "adult_group_home"}},
             {"M-LIEPAJA", {"child_rehabilitation", "parent_rehabilitation"}}}) {
      Emit("provider_contracted", Day(2016, 1, 15),
           {{"contract_id", NumberedId("K", ++contract, 3)}, {"provider_id", contract == 1 ? "PV-ATELPA" : "PV-REHAB"},
            {"municipality_id", municipality}, {"services", services}, {"period_start", "2016-02-01"},
            {"period_end", "2023-08-31"}},
           SocialService(municipality));
    }
  }

  void EnactRules(int32_t date, const Json& document, const std::string& title) {
    Emit("rules_enacted", date,
         {{"rule_set_id", "MK313"}, {"title", title}, {"source_reference", "MK 16.06.2015 Nr. 313"}, {"document", document}},
         "zpr:project-team");
    ++counts_.rules_enacted;
  }

  void RecordMerger() {
    const int32_t reform = Day(2021, 7, 1);
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

  void WorldEvents() {
    if (month_index_ == merger_month_ && !merger_after_grants_) RecordMerger();
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
    if (month_index_ == broken_rules_month_) {
      // A rules document the engine cannot parse is still a fact; the rules before it stay in force.
      EnactRules(Today(), Json{{"format", "di-ledger-rules/1"}, {"rule_set", "MK313"}, {"version", "broken"}},
                 "MK Nr. 313, a draft that does not parse");
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
             {{"project_id", id}, {"expense_id", NumberedId("EXP", ++expense_counter_, 4)},
              {"category", Pick(kCategories)}, {"amount_cents", Between(10000, 2000000)}},
             "zpr:finance");
      }
    }
  }

  void Enrol() {
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

  void EnrolPerson(PersonState& person) {
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

  // ------------------------------------------------------------------------------------------------------
  // Facts about persons
  // ------------------------------------------------------------------------------------------------------
  void PersonFacts() {
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

  void MaybeDisability(PersonState& person, const std::vector<std::string>& groups, const std::string& cause,
                       const std::string& actor) {
    const bool first = !person.disability_recorded;
    const bool expiring = !first && person.disability_until != kNoDate && person.disability_until < MonthEnd() + 45;
    if (!(first ? Chance(800) : expiring && Chance(400))) return;
    const int32_t from = first ? person.enrolled_on - static_cast<int32_t>(Between(0, 300))
                               : person.disability_until + 1 + (Chance(300) ? static_cast<int32_t>(Between(1, 60)) : 0);
    Json data = {{"person_id", person.id}, {"group", Pick(groups)}, {"cause", cause}, {"valid_from", FormatDate(from)}};
    person.disability_until = kNoDate;
    if (!Chance(150)) {
      person.disability_until = from + static_cast<int32_t>(Between(300, 1500));
      data["valid_until"] = FormatDate(person.disability_until);
    }
    Emit("disability_recorded", Today(), data, actor);
    person.disability_recorded = true;
  }

  void MaybeOpinion(PersonState& person, const std::string& actor) {
    if (person.never_opinion) return;
    const bool first = !person.opinion_recorded;
    const bool expiring = !first && person.opinion_until != kNoDate && person.opinion_until < MonthEnd() + 30;
    if (!(first ? Chance(650) : expiring && Chance(220))) return;
    // A renewal sometimes leaves a gap, and is sometimes recorded months after it took effect.
    const int32_t from = first ? person.enrolled_on - static_cast<int32_t>(Between(0, 90))
                               : person.opinion_until + 1 + (Chance(300) ? static_cast<int32_t>(Between(5, 90)) : 0);
    Json data = {{"person_id", person.id}, {"valid_from", FormatDate(from)}};
    if (Chance(600)) data["opinion_number"] = "VDEAK " + std::to_string(Between(1000, 9999));
    person.opinion_until = kNoDate;
    if (!Chance(120)) {
      person.opinion_until = from + static_cast<int32_t>(Between(200, 1100));
      data["valid_until"] = FormatDate(person.opinion_until);
    }
    Emit("special_care_opinion_recorded", Today(), data, actor);
    person.opinion_recorded = true;
  }

  void MaybePlan(PersonState& person, const std::vector<std::string>& services, int per_mille) {
    bool expired = false;
    if (!person.plan_ids.empty()) {
      const PlanState& last = plans_[person.plan_ids.back()];
      expired = last.valid_until != kNoDate && last.valid_until < MonthEnd();
    }
    if (!(person.plan_ids.empty() ? Chance(per_mille) : expired && Chance(300))) return;
    const int32_t assessed_on = Today();
    std::string assessment_id;
    if (person.assessment_ids.empty() || Chance(500)) {
      assessment_id = NumberedId("AS", ++assessment_counter_, 3);
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
    const std::string plan_id = NumberedId("PL", ++plan_counter_, 3);
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

  void MaybeActivity(PersonState& person, const std::string& actor) {
    static const std::vector<std::string> kActivities = {"working", "working", "working", "studying",
                                                        "employment_agency_measure", "day_centre", "not_active",
                                                        "not_active"};
    const bool first = !person.activity_recorded;
    if (!(first || Chance(35))) return;
    std::string activity = Pick(kActivities);
    if (!first && activity == person.activity) activity = activity == "not_active" ? "working" : "not_active";
    // Changes take effect mid-month; some are recorded months later; later records win where they overlap.
    int32_t from = first ? person.enrolled_on - static_cast<int32_t>(Between(0, 365))
                         : Day(year_, month_, static_cast<int>(Between(2, 27)));
    if (!first && Chance(200)) from -= static_cast<int32_t>(Between(30, 180));
    Json data = {{"person_id", person.id}, {"activity", activity}, {"valid_from", FormatDate(from)}};
    if (!first && Chance(400)) data["valid_until"] = FormatDate(from + static_cast<int32_t>(Between(10, 200)));
    Emit("parent_activity_recorded", std::max(from, Today()), data, actor);
    person.activity_recorded = true;
    person.activity = activity;
  }

  // ------------------------------------------------------------------------------------------------------
  // Grants
  // ------------------------------------------------------------------------------------------------------
  std::vector<std::string> ServicesOf(const PersonState& person) const {
    if (person.group == "child_functional_impairment") {
      return {"child_care", "child_care", "child_care", "respite", "respite", "child_rehabilitation",
              "child_day_centre", "family_assistant"};
    }
    if (person.group == "parent_of_child") {
      return {"parent_rehabilitation", "parent_rehabilitation", "parent_rehabilitation", "parent_support_group",
              "family_assistant"};
    }
    if (person.group == "adult_mental_disability") {
      return {"adult_home_care", "adult_day_centre", "adult_specialised_workshop", "adult_group_home", "adult_respite",
              "adult_specialist_consultation", "adult_specialist_consultation", "adult_psychologist_consultation",
              "adult_psychologist_consultation", "adult_support_group", "social_mentor"};
    }
    if (person.group == "child_in_care") return {"child_day_centre", "child_rehabilitation"};
    return {"parent_support_group"};  // a foster candidate: no rule covers them
  }

  // The grant's period and quantity per period: often exactly a rule's cap, sometimes above or below it.
  void ChooseShape(const std::string& service, std::string* period, int64_t* quantity) {
    struct Shape {
      const char* period;
      std::vector<int64_t> quantities;
    };
    std::vector<Shape> shapes;
    if (service == "child_care") shapes = {{"month", {12000, 4800, 2400, 13000, 6000}}, {"week", {3000, 600, 1200}}};
    else if (service == "respite") shapes = {{"year", {30, 20, 40}}};
    else if (service == "child_rehabilitation") shapes = {{"grant_period", {40, 100, 20}}, {"month", {4, 8}}};
    else if (service == "child_day_centre") shapes = {{"month", {20, 22, 15}}};
    else if (service == "parent_rehabilitation") shapes = {{"grant_period", {20, 40, 80}}, {"year", {20}}};
    else if (service == "parent_support_group") shapes = {{"month", {2, 4}}};
    else if (service == "family_assistant" || service == "social_mentor") shapes = {{"month", {1200, 2400}}};
    else if (service == "adult_home_care") shapes = {{"month", {2400, 4800, 6000}}};
    else if (service == "adult_day_centre" || service == "adult_specialised_workshop") shapes = {{"month", {16, 20, 22}}};
    else if (service == "adult_group_home") shapes = {{"month", {31, 30}}};
    else if (service == "adult_respite") shapes = {{"year", {30, 14}}};
    else if (service == "adult_specialist_consultation") shapes = {{"grant_period", {50, 100}}, {"month", {8}}};
    else if (service == "adult_psychologist_consultation") shapes = {{"grant_period", {100, 40}}, {"month", {4}}};
    else shapes = {{"month", {4, 8}}};  // adult_support_group
    const Shape& shape = Pick(shapes);
    *period = shape.period;
    *quantity = Pick(shape.quantities);
  }

  std::string ProviderFor(const std::string& service) {
    if (service == "respite" || service == "adult_respite") return "PV-ATELPA";
    if (service == "child_care") return Chance(500) ? "PV-CARE-1" : "PV-CARE-2";
    if (service == "adult_psychologist_consultation") return "PV-PSY";
    return "PV-REHAB";
  }

  bool HasActiveGrant(const PersonState& person, const std::string& service) const {
    for (const auto& [id, grant] : grants_) {
      if (grant.person_id == person.id && grant.service == service && grant.LastDay() >= MonthStart()) return true;
    }
    return false;
  }

  int ActiveGrants(const PersonState& person) const {
    int count = 0;
    for (const auto& [id, grant] : grants_) count += grant.person_id == person.id && grant.LastDay() >= MonthStart();
    return count;
  }

  void NewGrant(PersonState& person) {
    const std::string service = Pick(ServicesOf(person));
    if (HasActiveGrant(person, service) && !Chance(150)) return;  // now and then two grants for one service
    int32_t decided_on = Today();
    std::string application_id, decision_event;
    if (Chance(600)) {
      const int32_t submitted_on = static_cast<int32_t>(Between(MonthStart(), decided_on));
      application_id = NumberedId("AP", ++application_counter_, 4);
      Json services = {service};
      if (Chance(300) && service != "family_assistant") services.push_back("family_assistant");
      Json data = {{"application_id", application_id}, {"person_id", person.id},
                   {"municipality_id", ActiveFor(person.residence_id, submitted_on)}, {"services", services},
                   {"channel", Chance(800) ? "written" : "electronic"}};
      if (!person.parents.empty() && persons_[person.parents.front()].enrolled) data["submitted_by_id"] = person.parents.front();
      Emit("application_submitted", submitted_on, data, SocialService(ActiveFor(person.residence_id, submitted_on)));
      applications_[application_id] = {person.id, submitted_on, false};
      const bool refused = Chance(60);
      Json decision = {{"application_id", application_id}, {"decision", refused ? "refused" : "granted"}};
      if (refused) decision["reason"] = "does not meet the conditions";
      decision_event = Emit("application_decided", decided_on, decision, SocialService(ActiveFor(person.residence_id, decided_on)));
      applications_[application_id].decided = true;
      if (refused) {
        refused_applications_.push_back(application_id);
        return;
      }
    }
    GrantState grant;
    grant.id = NumberedId("G", ++grant_counter_, 4);
    grant.person_id = person.id;
    grant.service = service;
    grant.created_on = decided_on;
    grant.municipality_id = ActiveFor(person.residence_id, decided_on);
    if (Chance(50)) {  // granted by another municipality than the residence
      std::vector<std::string> active;
      for (const auto& [id, municipality] : municipalities_) {
        if (Active(id, decided_on)) active.push_back(id);
      }
      grant.municipality_id = Pick(active);
    }
    grant.valid_from = decided_on + static_cast<int32_t>(Between(0, 25));
    grant.valid_until = grant.valid_from + static_cast<int32_t>(Between(150, 1000));
    grant.valid_until = std::min(grant.valid_until, Day(2023, 12, 31));
    if (grant.valid_until > Day(2023, 8, 31) && Chance(600)) grant.valid_until = Day(2023, 8, 31);
    if (grant.valid_from > grant.valid_until) return;
    ChooseShape(service, &grant.period, &grant.quantity);
    grant.unit_cost = service == "adult_psychologist_consultation" || (service == "adult_specialist_consultation" && Chance(150));
    if (grant.unit_cost) grant.unit_cost_cents = service == "adult_psychologist_consultation" ? 3000 : 4000;
    Json data = {{"grant_id", grant.id}, {"person_id", person.id}, {"municipality_id", grant.municipality_id},
                 {"service", service}, {"quantity", grant.quantity}, {"period", grant.period},
                 {"valid_from", FormatDate(grant.valid_from)}, {"valid_until", FormatDate(grant.valid_until)},
                 {"cost_basis", grant.unit_cost ? "unit_cost" : "actual_cost"}};
    if (grant.unit_cost) data["unit_cost_cents"] = grant.unit_cost_cents;
    if (!application_id.empty()) data["application_id"] = application_id;
    if (!person.plan_ids.empty() && Chance(500)) data["plan_id"] = person.plan_ids.back();
    grant.provider_id = ProviderFor(service);
    if (Chance(800)) data["provider_id"] = grant.provider_id;
    GrantState& stored = grants_[grant.id] = grant;
    Emit("service_granted", decided_on, data, SocialService(grant.municipality_id), &stored, decision_event);
    ++counts_.grants;
  }

  void GrantLifecycle() {
    for (const std::string& id : person_order_) {
      PersonState& person = persons_[id];
      if (person.enrolled && ActiveGrants(person) < person.grants_wanted && Chance(250)) NewGrant(person);
    }
    for (auto& [id, grant] : grants_) {
      if (!grant.Open() || grant.valid_until < MonthStart() - 31) continue;
      const std::string actor = SocialService(ActiveFor(grant.municipality_id, MonthEnd()));
      if (Chance(25)) {
        Json data = {{"grant_id", id}, {"reason", "re-decided"}};
        const int32_t date = std::max(grant.created_on, Today());
        if (Chance(600)) data["quantity"] = std::max<int64_t>(1, grant.quantity * Between(50, 150) / 100);
        if (Chance(350)) {
          // Extended, or shortened (perhaps below deliveries already recorded).
          int32_t until = Chance(500) ? std::min(Day(2023, 12, 31), grant.valid_until + static_cast<int32_t>(Between(30, 365)))
                                      : Today() - static_cast<int32_t>(Between(0, 60));
          until = std::max(until, grant.valid_from);
          data["valid_until"] = FormatDate(until);
          grant.valid_until = until;
        }
        if (grant.unit_cost && Chance(500)) data["unit_cost_cents"] = grant.unit_cost_cents = Chance(500) ? 3200 : 2800;
        if (Chance(100)) data["provider_id"] = Pick(providers_);
        if (data.size() == 2) data["quantity"] = grant.quantity + 1;
        if (data.contains("quantity")) grant.quantity = data["quantity"].get<int64_t>();
        Emit("grant_amended", date, data, actor, &grant);
        ++counts_.grant_amendments;
        continue;
      }
      if (grant.suspended_on == kNoDate && Chance(10)) {
        const int32_t date = Today();
        if (date >= grant.valid_from && date <= grant.valid_until) {
          Emit("service_suspended", date, {{"grant_id", id}, {"reason", "in hospital"}}, actor, &grant);
          grant.suspended_on = date;
          ++counts_.suspensions;
        }
        continue;
      }
      if (grant.suspended_on != kNoDate && Chance(400)) {
        const int32_t date = std::max(grant.suspended_on, Today());
        Emit("service_resumed", date, {{"grant_id", id}}, actor, &grant);
        grant.suspended_on = kNoDate;
        ++counts_.resumptions;
        continue;
      }
      if (Chance(8)) {
        // Ended, sometimes recorded months after the last day (deliveries after it are already recorded).
        const int32_t low = std::max(grant.valid_from, MonthStart() - 120), high = std::min(grant.valid_until, MonthEnd());
        if (low <= high) {
          static const std::vector<std::string> kReasons = {"completed", "person_moved", "withdrawn_by_person",
                                                            "no_longer_eligible", "other"};
          const int32_t date = static_cast<int32_t>(Between(low, high));
          Json data = {{"grant_id", id}, {"reason", Pick(kReasons)}};
          if (data["reason"] == "other") data["note"] = "see the file";
          Emit("grant_ended", date, data, actor, &grant);
          grant.ended_on = date;
          grant.suspended_on = kNoDate;
          ++counts_.grant_ends;
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Deliveries
  // ------------------------------------------------------------------------------------------------------
  // The label of the grant's period containing `date`, for the generator's own usage count.
  std::string PeriodKey(const GrantState& grant, int32_t date) const {
    const CivilDate civil = CivilFromDays(date);
    if (grant.period == "month") return grant.id + "|" + FormatDate(date).substr(0, 7);
    if (grant.period == "year") return grant.id + "|" + std::to_string(civil.year);
    if (grant.period == "week") {
      const int weekday = ((date % 7) + 7 + 3) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
      return grant.id + "|w" + std::to_string(date - weekday);
    }
    return grant.id + "|grant";
  }

  int64_t Cost(const GrantState& grant, int64_t quantity) {
    if (Chance(25)) return 0;  // free: cannot be claimed
    const int64_t base = grant.unit_cost ? grant.unit_cost_cents : Spec(grant.service).cents_per_unit;
    int64_t cost = base * quantity * Between(90, 110) / 100;
    if (grant.unit_cost && Chance(400)) cost = std::max<int64_t>(0, base * quantity - 570 * quantity);  // 24.30, not 30.00
    return cost;
  }

  void Deliver(GrantState& grant, int32_t date, int32_t last_date, int64_t quantity) {
    const Unit unit = Spec(grant.service).unit;
    if (unit != Unit::kDays) last_date = date;
    last_date = std::min(last_date, grant.LastDay());
    if (date < grant.valid_from || last_date < date) return;
    quantity = std::clamp<int64_t>(quantity, 1, MaxPerDay(unit) * (last_date - date + 1));
    const std::string delivery_id = NumberedId("D", ++delivery_counter_, 6);
    Json data = {{"delivery_id", delivery_id}, {"grant_id", grant.id},
                 {"provider_id", Chance(900) ? grant.provider_id : Pick(providers_)}, {"quantity", quantity},
                 {"cost_cents", Cost(grant, quantity)}, {"mode", Chance(850) ? "in_person" : "remote"}};
    if (grant.service == "child_care") {
      const int64_t purpose = Below(100);
      if (purpose < 50) data["purpose"] = "care";
      else if (purpose < 85) data["purpose"] = "leisure";
    }
    if (last_date > date) data["last_date"] = FormatDate(last_date);
    const std::string actor = Chance(500) ? "provider:" + data["provider_id"].get<std::string>()
                                          : SocialService(ActiveFor(grant.municipality_id, MonthEnd()));
    Emit("service_delivered", date, data, actor, &grant);
    DeliveryState& delivery = deliveries_[delivery_id];
    delivery.grant_id = grant.id;
    delivery.date = date;
    delivery.last_date = last_date;
    delivery.quantity = quantity;
    delivery.cost_cents = data["cost_cents"].get<int64_t>();
    delivery_ids_.push_back(delivery_id);
    used_[PeriodKey(grant, date)] += quantity;
    ++counts_.deliveries;
    ++deliveries_this_month_;
    if (last_date > date) ++counts_.stays;
  }

  // One ordinary delivery on a day of [low, high].
  void LightDelivery(GrantState& grant, int32_t low, int32_t high) {
    const int32_t date = static_cast<int32_t>(Between(low, high));
    switch (Spec(grant.service).unit) {
      case Unit::kMinutes:
        Deliver(grant, date, date, Between(2, grant.service == "child_care" ? 30 : 8) * 30);
        break;
      case Unit::kSessions:
        Deliver(grant, date, date, Between(1, 2));
        break;
      case Unit::kDays:
        if (Chance(600)) {
          Deliver(grant, date, date, 1);
        } else {
          const int32_t span = static_cast<int32_t>(Between(2, 7));  // may run into the next month
          Deliver(grant, date, date + span - 1, Chance(800) ? span : span - 1);
        }
        break;
    }
  }

  // Deliveries totalling `total` within [low, high]: as few as the per-day limits allow, on distinct days.
  void FillPeriod(GrantState& grant, int32_t low, int32_t high, int64_t total) {
    const Unit unit = Spec(grant.service).unit;
    const int64_t days = high - low + 1;
    if (total <= 0 || days <= 0) return;
    if (unit == Unit::kDays) {
      const int64_t quantity = std::min(total, days);
      const int32_t start = static_cast<int32_t>(Between(low, high - (quantity - 1)));
      const int32_t span = static_cast<int32_t>(quantity) + (Chance(150) && start + quantity <= high ? 1 : 0);
      Deliver(grant, start, start + span - 1, quantity);
      return;
    }
    const int64_t per_delivery = unit == Unit::kMinutes ? 1200 : 6;
    int64_t count = std::min<int64_t>({(total + per_delivery - 1) / per_delivery, days, 16});
    total = std::min(total, MaxPerDay(unit) * count);
    std::vector<int32_t> offsets;
    for (int32_t offset = 0; offset < days; ++offset) offsets.push_back(offset);
    Shuffle(&offsets);
    offsets.resize(count);
    std::sort(offsets.begin(), offsets.end());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t quantity = total / count + (i < total % count ? 1 : 0);
      Deliver(grant, low + offsets[i], low + offsets[i], quantity);
    }
  }

  void Deliveries() {
    const int months_left = kMonths - month_index_;
    int64_t budget = (target_deliveries_ - counts_.deliveries + months_left - 1) / months_left;
    std::vector<std::string> active;
    for (const auto& [id, grant] : grants_) {
      if (grant.valid_from <= MonthEnd() && grant.LastDay() >= MonthStart()) active.push_back(id);
    }
    Shuffle(&active);
    for (const std::string& id : active) {
      if (budget <= 0) break;
      GrantState& grant = grants_[id];
      const int64_t before = counts_.deliveries;
      int32_t low = std::max(grant.valid_from, MonthStart()), high = std::min(grant.LastDay(), MonthEnd());
      if (grant.period == "week") {  // the week of a random day, within this month
        const int32_t day = static_cast<int32_t>(Between(low, high));
        const int32_t monday = day - ((day % 7) + 7 + 3) % 7;
        low = std::max(low, monday);
        high = std::min(high, monday + 6);
      }
      const int64_t used = used_[PeriodKey(grant, low)];
      const int64_t remaining = grant.quantity - used;
      const int64_t scenario = Below(100);
      if (scenario < 55 || remaining <= 0) {
        LightDelivery(grant, low, high);
        if (scenario >= 90) LightDelivery(grant, low, high);
      } else {
        // Exactly at the grant's quantity, one unit over, or across it.
        ++counts_.cap_scenarios;
        int64_t total = remaining;
        if (scenario >= 70 && scenario < 80) total += 1;
        if (scenario >= 80) total += Between(1, std::max<int64_t>(1, grant.quantity / 4));
        FillPeriod(grant, low, high, total);
      }
      budget -= counts_.deliveries - before;
      FlushNoise();
    }
  }

  void BoundaryDeliveries() {
    auto first = special_dates_.lower_bound(MonthStart());
    std::vector<std::pair<int32_t, std::string>> todo;
    for (auto it = first; it != special_dates_.end() && it->first <= MonthEnd(); ++it) {
      for (const std::string& person_id : it->second) todo.emplace_back(it->first, person_id);
    }
    if (Chance(350)) todo.emplace_back(MonthEnd(), "");
    for (const auto& [date, person_id] : todo) {
      int made = 0;
      for (auto& [id, grant] : grants_) {
        if (made >= 6) break;
        if (date < grant.valid_from || date > grant.LastDay()) continue;
        if (!person_id.empty() ? grant.person_id != person_id : !Chance(450)) continue;
        const int64_t before = counts_.deliveries;
        switch (Spec(grant.service).unit) {
          case Unit::kMinutes: Deliver(grant, date, date, Between(8, 24) * 60); break;
          case Unit::kSessions: Deliver(grant, date, date, Between(1, 3)); break;
          case Unit::kDays: {  // a stay across the boundary
            const int32_t span = static_cast<int32_t>(Between(2, 5));
            Deliver(grant, date - (Chance(500) ? 1 : 0), date + span - 1, span);
            break;
          }
        }
        made += static_cast<int>(counts_.deliveries - before);
        counts_.boundary_deliveries += counts_.deliveries - before;
      }
    }
  }

  void LateDeliveries() {
    if (!Chance(450)) return;
    const int count = static_cast<int>(Between(1, 3));
    for (int i = 0; i < count; ++i) {
      const int32_t low_bound = MonthStart() - 300, high_bound = MonthStart() - 31;
      std::vector<std::string> candidates;
      for (const auto& [id, grant] : grants_) {
        if (grant.valid_from <= high_bound && grant.LastDay() >= low_bound) candidates.push_back(id);
      }
      if (candidates.empty()) return;
      GrantState& grant = grants_[Pick(candidates)];
      const int64_t before = counts_.deliveries;
      LightDelivery(grant, std::max(grant.valid_from, low_bound), std::min(grant.LastDay(), high_bound));
      counts_.late_deliveries += counts_.deliveries - before;
    }
  }

  // A live delivery, mostly a recent one; "" if none was found in a bounded number of tries.
  std::string RandomLiveDelivery() {
    for (int attempt = 0; attempt < 20 && !delivery_ids_.empty(); ++attempt) {
      const size_t recent = std::min<size_t>(80, delivery_ids_.size());
      const std::string& id = Chance(600) ? delivery_ids_[delivery_ids_.size() - 1 - Below(recent)] : Pick(delivery_ids_);
      if (!deliveries_[id].voided) return id;
    }
    return "";
  }

  void CorrectionsAndVoids() {
    const int64_t corrections = (deliveries_this_month_ * 45 + static_cast<int64_t>(Below(1000))) / 1000;
    const int64_t voids = (deliveries_this_month_ * 28 + static_cast<int64_t>(Below(1000))) / 1000;
    for (int64_t i = 0; i < corrections; ++i) {
      const std::string id = RandomLiveDelivery();
      if (id.empty()) return;
      DeliveryState& delivery = deliveries_[id];
      GrantState& grant = grants_[delivery.grant_id];
      const Unit unit = Spec(grant.service).unit;
      const int64_t most = MaxPerDay(unit) * (delivery.last_date - delivery.date + 1);
      int64_t quantity = delivery.quantity + (Chance(500) ? 1 : -1) * Between(1, std::max<int64_t>(1, delivery.quantity / 3));
      if (Chance(200)) quantity = most;  // corrected up to the most the span allows: across any cap
      quantity = std::clamp<int64_t>(quantity, 1, most);
      const int64_t cost = Cost(grant, quantity);
      Json data = {{"delivery_id", id}, {"quantity", quantity}, {"cost_cents", cost}, {"reason", "timesheet"}};
      if (grant.service == "child_care" && Chance(300)) data["purpose"] = Chance(500) ? "care" : "leisure";
      Emit("delivery_corrected", std::max(delivery.date, Today()), data, SocialService(ActiveFor(grant.municipality_id, MonthEnd())),
           &grant);
      used_[PeriodKey(grant, delivery.date)] += quantity - delivery.quantity;
      delivery.quantity = quantity;
      delivery.cost_cents = cost;
      ++counts_.corrections;
      if (!delivery.claim_id.empty()) ++counts_.changes_of_claimed;
    }
    for (int64_t i = 0; i < voids; ++i) {
      const std::string id = RandomLiveDelivery();
      if (id.empty()) return;
      DeliveryState& delivery = deliveries_[id];
      GrantState& grant = grants_[delivery.grant_id];
      Emit("delivery_voided", std::max(delivery.date, Today()), {{"delivery_id", id}, {"reason", "did not happen"}},
           SocialService(ActiveFor(grant.municipality_id, MonthEnd())), &grant);
      used_[PeriodKey(grant, delivery.date)] -= delivery.quantity;
      delivery.voided = true;
      ++counts_.voids;
      if (!delivery.claim_id.empty()) ++counts_.changes_of_claimed;
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Claims, reviews, payments
  // ------------------------------------------------------------------------------------------------------
  bool Claimable(const DeliveryState& delivery, const std::string& claimant, int32_t from, int32_t until) const {
    if (delivery.voided || !delivery.claim_id.empty() || delivery.cost_cents <= 0) return false;
    if (delivery.date < from || delivery.date > until) return false;
    return BelongsTo(grants_.at(delivery.grant_id).municipality_id, claimant);
  }

  void FileClaim(const std::string& claimant, int32_t date, int32_t from, int32_t until) {
    Json lines = Json::array();
    std::vector<std::pair<std::string, int64_t>> claimed;
    int64_t total = 0;
    for (const auto& [id, delivery] : deliveries_) {
      if (claimed.size() >= 60) break;
      if (!Claimable(delivery, claimant, from, until) || Chance(70)) continue;
      const int64_t amount = Chance(900) ? delivery.cost_cents : Between(1, delivery.cost_cents);
      lines.push_back({{"delivery_id", id}, {"amount_cents", amount}});
      claimed.emplace_back(id, amount);
      total += amount;
    }
    if (claimed.empty()) return;
    const std::string claim_id = NumberedId("C", ++claim_counter_, 4);
    std::string project_id = municipalities_[claimant].project_id;
    if (Chance(30)) project_id = project_id == "PR-ZEM" ? "PR-KUR" : "PR-ZEM";  // not checked by the ledger
    Emit("reimbursement_claimed", date,
         {{"claim_id", claim_id}, {"project_id", project_id}, {"municipality_id", claimant},
          {"period_start", FormatDate(from)}, {"period_end", FormatDate(until)}, {"lines", lines}, {"total_cents", total}},
         claimant + ":finance");
    ClaimState& claim = claims_[claim_id];
    claim.project_id = project_id;
    claim.municipality_id = claimant;
    claim.date = date;
    claim.lines = claimed;
    for (const auto& [delivery_id, amount] : claimed) deliveries_[delivery_id].claim_id = claim_id;
    ++counts_.claims;
  }

  void Claims() {
    const int32_t date = static_cast<int32_t>(Between(MonthStart() + 3, MonthEnd() - 2));
    for (const auto& [id, municipality] : municipalities_) {
      if (!Active(id, date)) continue;
      const int every = municipality.claim_every_months;
      if (every == 1 || (month_ - 1) % 3 == 0) {
        const int first_month = month_index_ - every;
        FileClaim(id, date, first_month >= 0 ? MonthStartOf(first_month) : Day(2015, 7, 1), MonthStart() - 1);
      }
      // Once a year, a catch-up claim for everything older that is still unclaimed (late, rejected).
      if (month_ == 3 && Chance(600)) FileClaim(id, date, Day(2015, 7, 1), Day(year_ - 1, 12, 31));
    }
  }

  void Reviews() {
    for (auto& [id, claim] : claims_) {
      if (claim.reviewed || claim.date >= MonthStart() || !Chance(650)) continue;
      const int32_t date = Today();
      std::vector<std::pair<std::string, int64_t>> order = claim.lines;
      if (Chance(150)) Shuffle(&order);  // lines in another order than the claim's
      Json lines = Json::array();
      int64_t approved_total = 0;
      for (const auto& [delivery_id, claimed] : order) {
        const int64_t kind = Below(100);
        Json line = {{"delivery_id", delivery_id}};
        if (kind < 84 || (kind < 92 && claimed < 2)) {
          line["accepted"] = true;
          line["approved_cents"] = claimed;
        } else if (kind < 92) {
          line["accepted"] = true;
          line["approved_cents"] = Between(1, claimed - 1);
          line["reason"] = "partly documented";
          ++counts_.lines_partly_approved;
        } else {
          line["accepted"] = false;
          line["approved_cents"] = 0;
          line["reason"] = "not documented";
          ++counts_.lines_rejected;
          DeliveryState& delivery = deliveries_[delivery_id];
          if (delivery.claim_id == id) delivery.claim_id.clear();  // free to be claimed again
        }
        approved_total += line["approved_cents"].get<int64_t>();
        lines.push_back(std::move(line));
      }
      Emit("claim_reviewed", date, {{"claim_id", id}, {"lines", lines}, {"approved_total_cents", approved_total}},
           "zpr:finance");
      claim.reviewed = true;
      claim.reviewed_on = date;
      claim.approved_total = approved_total;
      ++counts_.reviews;
    }
  }

  void Payments() {
    for (auto& [id, claim] : claims_) {
      if (!claim.reviewed || claim.reviewed_on >= MonthStart() || claim.paid_total >= claim.approved_total) continue;
      if (!Chance(550)) continue;
      const int64_t remainder = claim.approved_total - claim.paid_total;
      const int64_t amount = Chance(650) ? remainder : Between(1, remainder);
      const int64_t esf = (amount * (Chance(500) ? 8500 : 8669) + 5000) / 10000;
      Json data = {{"claim_id", id}, {"payment_id", NumberedId("PAY", ++payment_counter_, 5)}, {"amount_cents", amount},
                   {"esf_cents", esf}, {"state_cents", amount - esf}};
      if (Chance(500)) data["payment_reference"] = "ZPR " + std::to_string(payment_counter_);
      Emit("reimbursement_paid", Today(), data, "zpr:finance");
      claim.paid_total += amount;
      ++counts_.payments;
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Events the ledger must refuse. Each is wrong in exactly one way, the first check that fails names the
  // expected field; none changes the mirror.
  // ------------------------------------------------------------------------------------------------------
  template <typename Predicate>
  GrantState* RandomGrant(Predicate predicate) {
    std::vector<GrantState*> found;
    for (auto& [id, grant] : grants_) {
      if (predicate(grant)) found.push_back(&grant);
    }
    return found.empty() ? nullptr : Pick(found);
  }
  template <typename Predicate>
  std::string RandomDeliveryId(Predicate predicate) {
    std::vector<std::string> found;
    for (const auto& [id, delivery] : deliveries_) {
      if (predicate(delivery)) found.push_back(id);
    }
    return found.empty() ? std::string() : Pick(found);
  }
  template <typename Predicate>
  std::string RandomClaimId(Predicate predicate) {
    std::vector<std::string> found;
    for (const auto& [id, claim] : claims_) {
      if (predicate(claim)) found.push_back(id);
    }
    return found.empty() ? std::string() : Pick(found);
  }

  Json DeliveryData(const GrantState& grant, int64_t quantity) {
    return {{"delivery_id", NumberedId("DX", ++refused_counter_, 5)}, {"grant_id", grant.id},
            {"provider_id", grant.provider_id}, {"quantity", quantity}, {"cost_cents", 1000}, {"mode", "in_person"}};
  }

  void Refuse(const std::string& type, int32_t date, Json data, std::string field, std::string what,
              std::string code = "invalid_argument") {
    EmitRefused(MakeEvent("X", type, date, std::move(data), "fuzz:clerk"), std::move(code), std::move(field), std::move(what));
  }

  bool TryInvalid(int kind) {
    const int32_t today = Today();
    auto open = [](const GrantState& grant) { return grant.Open(); };
    switch (kind) {
      case 0: {  // unknown grant
        if (grants_.empty()) return false;
        Json data = DeliveryData(grants_.begin()->second, 60);
        data["grant_id"] = "G-NOPE-" + std::to_string(refused_counter_);
        Refuse("service_delivered", today, data, "data.grant_id", "delivery on an unknown grant");
        return true;
      }
      case 1: {  // delivered the day before the grant starts
        GrantState* grant = RandomGrant([](const GrantState&) { return true; });
        if (grant == nullptr) return false;
        Refuse("service_delivered", grant->valid_from - 1, DeliveryData(*grant, 1), "effective_date",
               "delivery before the grant's validity");
        return true;
      }
      case 2: {  // 24 h and a minute in one day
        GrantState* grant = RandomGrant([](const GrantState& g) { return Spec(g.service).unit == Unit::kMinutes; });
        if (grant == nullptr) return false;
        Refuse("service_delivered", grant->valid_from, DeliveryData(*grant, 1441), "data.quantity", "1441 minutes in a day");
        return true;
      }
      case 3: {  // a span of days for a service counted in minutes
        GrantState* grant = RandomGrant([](const GrantState& g) { return Spec(g.service).unit == Unit::kMinutes; });
        if (grant == nullptr) return false;
        Json data = DeliveryData(*grant, 60);
        data["last_date"] = FormatDate(grant->valid_from + 1);
        Refuse("service_delivered", grant->valid_from, data, "data.last_date", "last_date on a minutes service");
        return true;
      }
      case 4: {  // three days in a two-day stay
        GrantState* grant = RandomGrant([](const GrantState& g) {
          return Spec(g.service).unit == Unit::kDays && g.LastDay() > g.valid_from;
        });
        if (grant == nullptr) return false;
        Json data = DeliveryData(*grant, 3);
        data["last_date"] = FormatDate(grant->valid_from + 1);
        Refuse("service_delivered", grant->valid_from, data, "data.quantity", "3 days in a 2-day span");
        return true;
      }
      case 5: {  // nothing delivered
        GrantState* grant = RandomGrant([](const GrantState&) { return true; });
        if (grant == nullptr) return false;
        Refuse("service_delivered", grant->valid_from, DeliveryData(*grant, 0), "data.quantity", "quantity 0");
        return true;
      }
      case 6: {  // a negative cost
        GrantState* grant = RandomGrant([](const GrantState&) { return true; });
        if (grant == nullptr) return false;
        Json data = DeliveryData(*grant, 1);
        data["cost_cents"] = -5;
        Refuse("service_delivered", grant->valid_from, data, "data.cost_cents", "negative cost");
        return true;
      }
      case 7: {  // correction of a voided delivery
        const std::string id = RandomDeliveryId([](const DeliveryState& d) { return d.voided; });
        if (id.empty()) return false;
        Refuse("delivery_corrected", std::max(deliveries_[id].date, today),
               {{"delivery_id", id}, {"quantity", 1}, {"cost_cents", 100}, {"reason", "typo"}}, "data.delivery_id",
               "correction of a voided delivery");
        return true;
      }
      case 8: {  // correction dated before the delivery
        const std::string id = RandomDeliveryId([](const DeliveryState& d) { return !d.voided; });
        if (id.empty()) return false;
        Refuse("delivery_corrected", deliveries_[id].date - 1,
               {{"delivery_id", id}, {"quantity", 1}, {"cost_cents", 100}, {"reason", "typo"}}, "effective_date",
               "correction before the delivery");
        return true;
      }
      case 9: {  // void of an unknown delivery
        Refuse("delivery_voided", today, {{"delivery_id", "D-NOPE"}, {"reason", "typo"}}, "data.delivery_id",
               "void of an unknown delivery");
        return true;
      }
      case 10:    // claim above the delivery's cost
      case 11: {  // claim whose total is not the sum of its lines
        const int32_t date = MonthEnd();
        const std::string id = RandomDeliveryId([&](const DeliveryState& d) {
          return !d.voided && d.claim_id.empty() && d.cost_cents >= 1 && d.date <= date;
        });
        if (id.empty()) return false;
        const DeliveryState& delivery = deliveries_[id];
        const std::string claimant = ActiveFor(grants_[delivery.grant_id].municipality_id, date);
        const int64_t amount = delivery.cost_cents + (kind == 10 ? 1 : 0);
        Refuse("reimbursement_claimed", date,
               {{"claim_id", NumberedId("CX", ++refused_counter_, 5)}, {"project_id", municipalities_[claimant].project_id},
                {"municipality_id", claimant}, {"period_start", FormatDate(delivery.date)},
                {"period_end", FormatDate(delivery.date)}, {"lines", {{{"delivery_id", id}, {"amount_cents", amount}}}},
                {"total_cents", amount + (kind == 11 ? 1 : 0)}},
               kind == 10 ? "data.lines[0].amount_cents" : "data.total_cents",
               kind == 10 ? "claims more than the delivery cost" : "total is not the sum of the lines");
        return true;
      }
      case 12: {  // claim by a municipality merged away
        const int32_t date = MonthEnd();
        if (Active("M-BAUSKA", date) || delivery_ids_.empty()) return false;
        Refuse("reimbursement_claimed", date,
               {{"claim_id", NumberedId("CX", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"}, {"municipality_id", "M-BAUSKA"},
                {"period_start", FormatDate(MonthStart())}, {"period_end", FormatDate(date)},
                {"lines", {{{"delivery_id", delivery_ids_.front()}, {"amount_cents", 100}}}}, {"total_cents", 100}},
               "data.municipality_id", "claim by a merged municipality");
        return true;
      }
      case 13: {  // a delivery claimed twice
        const int32_t date = MonthEnd();
        const std::string id = RandomDeliveryId([&](const DeliveryState& d) {
          return !d.voided && !d.claim_id.empty() && d.date <= date && d.cost_cents >= 1;
        });
        if (id.empty()) return false;
        const DeliveryState& delivery = deliveries_[id];
        const std::string claimant = ActiveFor(grants_[delivery.grant_id].municipality_id, date);
        Refuse("reimbursement_claimed", date,
               {{"claim_id", NumberedId("CX", ++refused_counter_, 5)}, {"project_id", municipalities_[claimant].project_id},
                {"municipality_id", claimant}, {"period_start", FormatDate(delivery.date)},
                {"period_end", FormatDate(delivery.date)}, {"lines", {{{"delivery_id", id}, {"amount_cents", 1}}}},
                {"total_cents", 1}},
               "data.lines[0].delivery_id", "delivery already in a claim");
        return true;
      }
      case 14: {  // the claimed period ends after the claim date
        const std::string claimant = ActiveFor("M-JELGAVA", today);
        if (delivery_ids_.empty()) return false;
        Refuse("reimbursement_claimed", today,
               {{"claim_id", NumberedId("CX", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"}, {"municipality_id", claimant},
                {"period_start", FormatDate(today - 10)}, {"period_end", FormatDate(today + 5)},
                {"lines", {{{"delivery_id", delivery_ids_.back()}, {"amount_cents", 100}}}}, {"total_cents", 100}},
               "data.period_end", "claim period ends after the claim date");
        return true;
      }
      case 15:    // review approving more than claimed
      case 16: {  // partly approved without a reason
        const std::string id = RandomClaimId([&](const ClaimState& c) {
          if (c.reviewed) return false;
          if (kind == 15) return true;
          return std::any_of(c.lines.begin(), c.lines.end(), [](const auto& line) { return line.second >= 2; });
        });
        if (id.empty()) return false;
        const ClaimState& claim = claims_[id];
        std::vector<std::pair<std::string, int64_t>> lines = claim.lines;
        if (kind == 16) {
          std::stable_partition(lines.begin(), lines.end(), [](const auto& line) { return line.second >= 2; });
        }
        Json review = Json::array();
        int64_t total = 0;
        for (size_t i = 0; i < lines.size(); ++i) {
          int64_t approved = lines[i].second;
          if (i == 0) approved = kind == 15 ? approved + 1 : approved - 1;
          review.push_back({{"delivery_id", lines[i].first}, {"accepted", true}, {"approved_cents", approved}});
          total += approved;
        }
        Refuse("claim_reviewed", std::max(claim.date, today),
               {{"claim_id", id}, {"lines", review}, {"approved_total_cents", total}},
               kind == 15 ? "data.lines[0].approved_cents" : "data.lines[0].reason",
               kind == 15 ? "approves more than claimed" : "partly approved without a reason");
        return true;
      }
      case 17: {  // a claim reviewed twice
        const std::string id = RandomClaimId([](const ClaimState& c) { return c.reviewed; });
        if (id.empty()) return false;
        Refuse("claim_reviewed", std::max(claims_[id].reviewed_on, today),
               {{"claim_id", id}, {"lines", {{{"delivery_id", claims_[id].lines.front().first}, {"accepted", false},
                                              {"approved_cents", 0}, {"reason", "again"}}}},
                {"approved_total_cents", 0}},
               "data.claim_id", "second review");
        return true;
      }
      case 18:    // paying more than approved
      case 19:    // ESF + state != amount
      case 20: {  // paid before the review
        const std::string id = RandomClaimId([&](const ClaimState& c) {
          return c.reviewed && (kind == 18 || c.approved_total > c.paid_total);
        });
        if (id.empty()) return false;
        const ClaimState& claim = claims_[id];
        const int64_t amount = kind == 18 ? claim.approved_total - claim.paid_total + 1 : 1;
        Json data = {{"claim_id", id}, {"payment_id", NumberedId("PAYX", ++refused_counter_, 5)}, {"amount_cents", amount},
                     {"esf_cents", amount}, {"state_cents", kind == 19 ? 1 : 0}};
        const int32_t date = kind == 20 ? claim.reviewed_on - 1 : std::max(claim.reviewed_on, today);
        Refuse("reimbursement_paid", date, data, kind == 20 ? "effective_date" : "data.amount_cents",
               kind == 18 ? "pays more than approved" : kind == 19 ? "ESF + state != amount" : "paid before the review");
        return true;
      }
      case 21: {  // payment on a claim not reviewed
        const std::string id = RandomClaimId([](const ClaimState& c) { return !c.reviewed; });
        if (id.empty()) return false;
        Refuse("reimbursement_paid", std::max(claims_[id].date, today),
               {{"claim_id", id}, {"payment_id", NumberedId("PAYX", ++refused_counter_, 5)}, {"amount_cents", 1},
                {"esf_cents", 1}, {"state_cents", 0}},
               "data.claim_id", "payment before any review");
        return true;
      }
      case 22: {  // amendment of an ended grant
        GrantState* grant = RandomGrant([](const GrantState& g) { return !g.Open(); });
        if (grant == nullptr) return false;
        Refuse("grant_amended", std::max(grant->created_on, today), {{"grant_id", grant->id}, {"quantity", 5}, {"reason", "late"}},
               "data.grant_id", "amendment of an ended grant");
        return true;
      }
      case 23: {  // validity ending before it starts
        GrantState* grant = RandomGrant(open);
        if (grant == nullptr) return false;
        Refuse("grant_amended", std::max(grant->created_on, today),
               {{"grant_id", grant->id}, {"valid_until", FormatDate(grant->valid_from - 1)}, {"reason", "typo"}},
               "data.valid_until", "valid_until before valid_from");
        return true;
      }
      case 24: {  // a unit cost on an actual-cost grant
        GrantState* grant = RandomGrant([](const GrantState& g) { return g.Open() && !g.unit_cost; });
        if (grant == nullptr) return false;
        Refuse("grant_amended", std::max(grant->created_on, today),
               {{"grant_id", grant->id}, {"unit_cost_cents", 999}, {"reason", "typo"}}, "data.unit_cost_cents",
               "unit cost on an actual-cost grant");
        return true;
      }
      case 25: {  // an amendment that changes nothing
        GrantState* grant = RandomGrant(open);
        if (grant == nullptr) return false;
        Refuse("grant_amended", std::max(grant->created_on, today), {{"grant_id", grant->id}, {"reason", "nothing"}},
               "data.quantity", "amendment without a change");
        return true;
      }
      case 26: {  // resuming a grant that is not suspended
        GrantState* grant = RandomGrant([](const GrantState& g) { return g.Open() && g.suspended_on == kNoDate; });
        if (grant == nullptr) return false;
        Refuse("service_resumed", today, {{"grant_id", grant->id}}, "data.grant_id", "resumed without a suspension");
        return true;
      }
      case 27: {  // suspended after the validity
        GrantState* grant = RandomGrant([](const GrantState& g) { return g.Open() && g.suspended_on == kNoDate; });
        if (grant == nullptr) return false;
        Refuse("service_suspended", grant->valid_until + 1, {{"grant_id", grant->id}, {"reason", "late"}}, "effective_date",
               "suspension after the validity");
        return true;
      }
      case 28: {  // ended before it started
        GrantState* grant = RandomGrant(open);
        if (grant == nullptr) return false;
        Refuse("grant_ended", grant->valid_from - 1, {{"grant_id", grant->id}, {"reason", "completed"}}, "effective_date",
               "end before the validity");
        return true;
      }
      case 29: {  // a child of 18
        const CivilDate civil = CivilFromDays(today);
        Refuse("person_enrolled", today,
               {{"person_id", NumberedId("PX", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"},
                {"target_group", "child_functional_impairment"},
                {"birth_date", FormatDate(Day(civil.year - 18, civil.month, std::min(civil.day, 28)))},
                {"residence_municipality_id", ActiveFor("M-JELGAVA", today)}},
               "data.birth_date", "child aged 18");
        return true;
      }
      case 30: {  // a parent of an unknown child
        Refuse("person_enrolled", today,
               {{"person_id", NumberedId("PX", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"},
                {"target_group", "parent_of_child"}, {"birth_date", "1985-01-01"},
                {"residence_municipality_id", ActiveFor("M-JELGAVA", today)},
                {"representative", {{"relation", "parent"}, {"child_ids", {"P-NOPE"}}}}},
               "data.representative.child_ids[0]", "parent of an unknown child");
        return true;
      }
      case 31: {  // a special-care opinion for someone not an FT child
        for (const std::string& id : person_order_) {
          const PersonState& person = persons_[id];
          if (!person.enrolled || person.group == "child_functional_impairment") continue;
          Refuse("special_care_opinion_recorded", today, {{"person_id", id}, {"valid_from", FormatDate(today)}},
                 "data.person_id", "opinion for a " + person.group);
          return true;
        }
        return false;
      }
      case 32: {  // a grant ending before it starts
        for (const std::string& id : person_order_) {
          if (!persons_[id].enrolled) continue;
          Refuse("service_granted", today,
                 {{"grant_id", NumberedId("GX", ++refused_counter_, 5)}, {"person_id", id},
                  {"municipality_id", ActiveFor("M-JELGAVA", today)}, {"service", "respite"}, {"quantity", 30},
                  {"period", "year"}, {"valid_from", FormatDate(today)}, {"valid_until", FormatDate(today - 1)},
                  {"cost_basis", "actual_cost"}},
                 "data.valid_until", "grant valid_until before valid_from");
          return true;
        }
        return false;
      }
      case 33: {  // a grant citing another person's application
        if (applications_.empty()) return false;
        const auto& [application_id, application] = *std::next(applications_.begin(), Below(applications_.size()));
        for (const std::string& id : person_order_) {
          if (!persons_[id].enrolled || id == application.person_id) continue;
          Refuse("service_granted", today,
                 {{"grant_id", NumberedId("GX", ++refused_counter_, 5)}, {"person_id", id},
                  {"municipality_id", ActiveFor("M-JELGAVA", today)}, {"service", "respite"}, {"quantity", 30},
                  {"period", "year"}, {"valid_from", FormatDate(today)}, {"valid_until", FormatDate(today + 30)},
                  {"cost_basis", "actual_cost"}, {"application_id", application_id}},
                 "data.application_id", "another person's application");
          return true;
        }
        return false;
      }
      case 34: {  // the same id, different content
        if (appended_.empty()) return false;
        Json event = history_[Pick(appended_)];
        event["actor"] = "someone:else";
        EmitRefused(std::move(event), "duplicate_id", "id", "an event id reused with other content");
        return true;
      }
      case 35:    // 29 February 2021
      case 36:    // an unknown key
      case 37:    // "unspecified" spelled out
      case 38: {  // a fractional quantity
        GrantState* grant = RandomGrant([&](const GrantState& g) { return kind != 37 || g.service == "child_care"; });
        if (grant == nullptr) return false;
        Json event = MakeEvent("X", "service_delivered", grant->valid_from, DeliveryData(*grant, 60), "fuzz:clerk");
        std::string field;
        if (kind == 35) event["effective_date"] = "2021-02-29", field = "effective_date";
        if (kind == 36) event["data"]["colour"] = "red", field = "data.colour";
        if (kind == 37) event["data"]["purpose"] = "unspecified", field = "data.purpose";
        if (kind == 38) event["data"]["quantity"] = 60.5, field = "data.quantity";
        EmitRefused(std::move(event), "invalid_argument", field, "codec: " + field);
        return true;
      }
      case 39: {  // a stale expected_version on an otherwise valid amendment
        GrantState* grant = RandomGrant(open);
        if (grant == nullptr) return false;
        Json event = MakeEvent("X", "grant_amended", std::max(grant->created_on, today),
                               {{"grant_id", grant->id}, {"quantity", grant->quantity + 1}, {"reason", "race"}}, "fuzz:clerk");
        event["expected_version"] = grant->stream_version + 2;
        EmitRefused(std::move(event), "conflict", "expected_version", "stale expected_version");
        return true;
      }
      case 40: {  // a plan approved before its assessment
        if (assessments_.empty()) return false;
        const auto& [assessment_id, assessment] = *std::next(assessments_.begin(), Below(assessments_.size()));
        Refuse("support_plan_approved", assessment.date - 1,
               {{"plan_id", NumberedId("PLX", ++refused_counter_, 5)}, {"person_id", assessment.person_id},
                {"assessment_id", assessment_id}, {"recommended_services", {"respite"}},
                {"valid_from", FormatDate(assessment.date)}},
               "effective_date", "plan before its assessment");
        return true;
      }
      case 41: {  // an application decided twice
        for (const auto& [id, application] : applications_) {
          if (!application.decided) continue;
          Refuse("application_decided", std::max(application.submitted_on, today),
                 {{"application_id", id}, {"decision", "granted"}}, "data.application_id", "decided twice");
          return true;
        }
        return false;
      }
      case 42: {  // a correction beyond the delivery's span
        const std::string id = RandomDeliveryId([](const DeliveryState& d) { return !d.voided; });
        if (id.empty()) return false;
        const DeliveryState& delivery = deliveries_[id];
        const int64_t most = MaxPerDay(Spec(grants_[delivery.grant_id].service).unit) * (delivery.last_date - delivery.date + 1);
        Refuse("delivery_corrected", std::max(delivery.date, today),
               {{"delivery_id", id}, {"quantity", most + 1}, {"cost_cents", 100}, {"reason", "typo"}}, "data.quantity",
               "correction beyond the span");
        return true;
      }
      case 43: {  // an unknown provider
        GrantState* grant = RandomGrant([](const GrantState&) { return true; });
        if (grant == nullptr) return false;
        Json data = DeliveryData(*grant, 1);
        data["provider_id"] = "PV-NOPE";
        Refuse("service_delivered", grant->valid_from, data, "data.provider_id", "unknown provider");
        return true;
      }
      case 44: {  // a void of a voided delivery
        const std::string id = RandomDeliveryId([](const DeliveryState& d) { return d.voided; });
        if (id.empty()) return false;
        Refuse("delivery_voided", std::max(deliveries_[id].date, today), {{"delivery_id", id}, {"reason", "again"}},
               "data.delivery_id", "void of a voided delivery");
        return true;
      }
    }
    return false;
  }

  void EmitInvalid() {
    constexpr int kKinds = 45;
    for (int attempt = 0; attempt < 16; ++attempt) {
      if (TryInvalid(static_cast<int>(Below(kKinds)))) return;
    }
    TryInvalid(9);  // always possible
  }

  // ------------------------------------------------------------------------------------------------------
  // State
  // ------------------------------------------------------------------------------------------------------
  const uint64_t seed_;
  std::mt19937_64 random_;
  FuzzyHistoryOptions options_;
  int64_t target_deliveries_ = 0;

  std::vector<Json> history_;
  std::vector<FuzzyHistoryInfo::Expectation> expectations_;
  std::vector<size_t> appended_;  // indexes of the valid events
  FuzzyHistoryInfo counts_;
  int pending_invalid_ = 0;
  int pending_retries_ = 0;

  int month_index_ = 0, year_ = kFirstYear, month_ = 1;
  int merger_month_ = 65;
  bool merger_after_grants_ = false;
  int rules_month_ = 70;
  int broken_rules_month_ = -1;
  int64_t deliveries_this_month_ = 0;

  int event_counter_ = 0, assessment_counter_ = 0, plan_counter_ = 0, application_counter_ = 0, grant_counter_ = 0,
      delivery_counter_ = 0, claim_counter_ = 0, payment_counter_ = 0, expense_counter_ = 0, refused_counter_ = 0;

  std::map<std::string, ProjectState> projects_;
  std::map<std::string, MunicipalityState> municipalities_;
  std::vector<std::string> providers_;
  std::vector<std::string> person_order_;  // plan order: children, the child in care, adults, candidate, parents
  std::map<std::string, PersonState> persons_;
  std::map<std::string, AssessmentState> assessments_;
  std::map<std::string, PlanState> plans_;
  std::map<std::string, ApplicationState> applications_;
  std::vector<std::string> refused_applications_;
  std::map<std::string, GrantState> grants_;
  std::map<std::string, DeliveryState> deliveries_;
  std::vector<std::string> delivery_ids_;  // in recording order
  std::map<std::string, int64_t> used_;    // grant period -> quantity delivered (the generator's own count)
  std::map<std::string, ClaimState> claims_;
  std::map<int32_t, std::vector<std::string>> special_dates_;  // date -> persons ("" = every grant)
};

}  // namespace

std::string FuzzyHistoryInfo::Summary() const {
  return "deliveries " + std::to_string(deliveries) + " (stays " + std::to_string(stays) + ", boundary " +
         std::to_string(boundary_deliveries) + ", late " + std::to_string(late_deliveries) + "), cap scenarios " +
         std::to_string(cap_scenarios) + ", corrections " + std::to_string(corrections) + ", voids " +
         std::to_string(voids) + " (of claimed deliveries: " + std::to_string(changes_of_claimed) + "), grants " +
         std::to_string(grants) + " (amended " + std::to_string(grant_amendments) + ", suspended " +
         std::to_string(suspensions) + ", resumed " + std::to_string(resumptions) + ", ended " +
         std::to_string(grant_ends) + "), claims " + std::to_string(claims) + ", reviews " + std::to_string(reviews) +
         " (lines partly " + std::to_string(lines_partly_approved) + ", rejected " + std::to_string(lines_rejected) +
         "), payments " + std::to_string(payments) + ", budget amendments " + std::to_string(budget_amendments) +
         ", rules enacted " + std::to_string(rules_enacted) + ", refused " + std::to_string(refused) + ", retries " +
         std::to_string(retries);
}

std::vector<nlohmann::json> FuzzyHistory(uint64_t seed, const FuzzyHistoryOptions& options, FuzzyHistoryInfo* info) {
  return Generator(seed, options).Run(info);
}

}  // namespace di::testing
