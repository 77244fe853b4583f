// Households and persons of the region history.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "region_simulator.h"

namespace di::workload::region {


// ---------------------------------------------------------------------------------------------------------
// Households and persons
// ---------------------------------------------------------------------------------------------------------

std::vector<Household> Simulator::PlanHouseholds() {
  std::vector<Household> households;
  if (options_.persons <= 0 || enrol_last_ < services_start_) return households;
  Rng rng(options_.seed, Stream::kHouseholds);
  const int persons = options_.persons;
  const int candidates = std::min(persons, 2 + persons / 300);
  const int adults = std::min(persons - candidates, persons * 37 / 100);
  const int ft_children = std::min(persons - candidates - adults, persons * 43 / 100);
  const int children_in_care = persons - candidates - adults - ft_children;
  // Enrolment is front-loaded: by the end of 2019 about 70 % of the GRT adults eventually assessed had
  // been assessed (domain brief §6.2), with a steady trickle until the last months of services.
  struct YearWindow {
    int32_t first, last;
    int weight;
  };
  std::vector<YearWindow> years;
  std::vector<int> weights;
  for (int year = CivilFromDays(services_start_).year; year <= CivilFromDays(enrol_last_).year; ++year) {
    static constexpr int kWeightByYear[] = {13, 16, 17, 16, 11, 11, 10, 6};  // 2016..2023
    const int weight = year >= 2016 && year <= 2023 ? kWeightByYear[year - 2016] : 10;
    years.push_back(YearWindow{std::max(Date(year, 1, 1), services_start_),
                               std::min(Date(year, 12, 31), enrol_last_), weight});
    weights.push_back(weight);
  }
  auto add = [&](HouseholdKind kind, int children) {
    const YearWindow& year = years[rng.Weighted(weights)];
    const int32_t day =
        std::min(Workday(static_cast<int32_t>(rng.Between(year.first, year.last))), enrol_last_);
    households.push_back(Household{kind, children, std::max(day, services_start_), households.size()});
  };
  for (int i = 0; i < adults; ++i) add(HouseholdKind::kAdult, 0);
  for (int remaining = ft_children; remaining > 0;) {
    const int children = remaining >= 2 && rng.Chance(60) ? 2 : 1;
    add(HouseholdKind::kFamily, children);
    remaining -= children;
  }
  for (int i = 0; i < children_in_care; ++i) add(HouseholdKind::kChildInCare, 0);
  for (int i = 0; i < candidates; ++i) add(HouseholdKind::kCandidate, 0);
  std::sort(households.begin(), households.end(), [](const Household& a, const Household& b) {
    return a.enrol_on != b.enrol_on ? a.enrol_on < b.enrol_on : a.index < b.index;
  });
  return households;
}

void Simulator::EnrolHousehold(const Household& household) {
  Rng rng(options_.seed, Stream::kHousehold, household.index);
  switch (household.kind) {
    case HouseholdKind::kAdult:
      PlanAdult(rng, household.enrol_on);
      break;
    case HouseholdKind::kFamily:
      PlanFamily(rng, household.enrol_on, household.children);
      break;
    case HouseholdKind::kChildInCare:
      PlanChildInCare(rng, household.enrol_on);
      break;
    case HouseholdKind::kCandidate:
      PlanCandidate(rng, household.enrol_on);
      break;
  }
}

int Simulator::EnrolPerson(TargetGroup group, int32_t birth_date, int home, int32_t enrol_on, int relation,
                           const std::vector<int>& children) {
  Person person;
  person.id = NumberedId("P-", persons_.size() + 1, 6);
  person.group = group;
  person.birth_date = birth_date;
  person.enrolled_on = enrol_on;
  person.home = home;
  Json data;
  data["person_id"] = person.id;
  data["project_id"] = kProjectId;
  data["target_group"] = kTargetGroupNames[static_cast<int>(group)];
  data["birth_date"] = FormatDate(birth_date);
  data["residence_municipality_id"] = municipalities_[MunicipalityOn(home, enrol_on)].id;
  if (group == TargetGroup::kParentOfChild) {
    Json child_ids = Json::array();
    for (const int child : children) child_ids.push_back(persons_[child].id);
    Json representative;
    representative["relation"] = kRelationNames[relation];
    representative["child_ids"] = std::move(child_ids);
    data["representative"] = std::move(representative);
  }
  log_.Add(enrol_on, EventType::PERSON_ENROLLED, "enrol:" + person.id, enrol_on, kProjectActor,
           std::move(data));
  persons_.push_back(std::move(person));
  return static_cast<int>(persons_.size()) - 1;
}

// Disability status with its validity; expiring statuses are renewed before they lapse (recorded by the
// social service from the VDEĀK decision).
void Simulator::RecordDisabilities(int person_index, int32_t on, bool child, Rng& rng) {
  const int32_t birth = persons_[person_index].birth_date;
  const int32_t earliest = child ? birth : AddYears(birth, 18);
  int32_t valid_from = std::max(earliest, on - static_cast<int32_t>(rng.Between(30, child ? 700 : 2500)));
  int32_t recorded_on = on;
  const int32_t end = child ? std::min(LastDayAsChild(birth), services_end_) : services_end_;
  while (true) {
    int32_t valid_until = kNoDate;
    if (child) {
      valid_until =
          std::min(LastDayAsChild(birth), AddYears(valid_from, static_cast<int>(rng.Between(1, 5))) - 1);
    } else if (rng.Chance(500)) {
      valid_until = AddYears(valid_from, static_cast<int>(rng.Between(2, 5))) - 1;
    }
    if (valid_until != kNoDate && valid_until < recorded_on + 60)
      valid_until = child ? LastDayAsChild(birth) : kNoDate;
    Person& person = persons_[person_index];
    Json data;
    data["person_id"] = person.id;
    data["group"] = child ? "child_disability" : (rng.Chance(350) ? "group_one" : "group_two");
    data["cause"] = child ? "functional_impairment" : "mental_disorder";
    data["valid_from"] = FormatDate(valid_from);
    if (valid_until != kNoDate) data["valid_until"] = FormatDate(valid_until);
    log_.Add(recorded_on, EventType::DISABILITY_RECORDED,
             "disability:" + person.id + ":" + std::to_string(++person.disability_records), recorded_on,
             Clerk(ResidenceOn(person_index, recorded_on), recorded_on), std::move(data));
    if (valid_until == kNoDate || valid_until >= end) return;
    recorded_on = std::max(recorded_on + 1, Workday(valid_until - static_cast<int32_t>(rng.Between(10, 40))));
    valid_from = valid_until + 1;
  }
}

// VDEĀK special-care opinions; returns the last day covered by consecutive opinions (renewed 80 % of the
// time, otherwise care and respite stop when the opinion lapses).
int32_t Simulator::RecordOpinions(int person_index, int32_t on, Rng& rng) {
  const int32_t birth = persons_[person_index].birth_date;
  const int32_t end = std::min(LastDayAsChild(birth), services_end_);
  int32_t valid_from = std::max(birth, on - static_cast<int32_t>(rng.Between(0, 365)));
  int32_t recorded_on = on;
  while (true) {
    int32_t valid_until =
        std::min(LastDayAsChild(birth), AddYears(valid_from, static_cast<int>(rng.Between(1, 3))) - 1);
    if (valid_until < recorded_on + 60) valid_until = LastDayAsChild(birth);
    Person& person = persons_[person_index];
    Json data;
    data["person_id"] = person.id;
    if (rng.Chance(800)) {
      data["opinion_number"] = NumberedId("VDEAVK-" + std::to_string(CivilFromDays(valid_from).year) + "-",
                                          rng.Between(1, 99999), 5);
    }
    data["valid_from"] = FormatDate(valid_from);
    data["valid_until"] = FormatDate(valid_until);
    log_.Add(recorded_on, EventType::SPECIAL_CARE_OPINION_RECORDED,
             "opinion:" + person.id + ":" + std::to_string(++person.opinion_records), recorded_on,
             Clerk(ResidenceOn(person_index, recorded_on), recorded_on), std::move(data));
    if (valid_until >= end || !rng.Chance(800)) return std::min(valid_until, end);
    recorded_on = std::max(recorded_on + 1, Workday(valid_until - static_cast<int32_t>(rng.Between(10, 40))));
    valid_from = valid_until + 1;
    if (valid_from + 90 < end && rng.Chance(100)) {
      // The renewal comes late: the family goes on with care and respite for some weeks without a valid
      // opinion (a finding of the eligibility check), and the new opinion is recorded when it arrives.
      valid_from += static_cast<int32_t>(rng.Between(14, 60));
      recorded_on = std::max(recorded_on, Workday(valid_from + static_cast<int32_t>(rng.Between(0, 10))));
    }
  }
}

// Parents' occupation decides the size of the child-care entitlement from 2021-07-01. Most periods end
// with a month; some change mid-month (a new job starting on the 15th), which the rules must split.
void Simulator::RecordParentActivities(int parent, int32_t on, int32_t until, Rng& rng) {
  int32_t valid_from = on - static_cast<int32_t>(rng.Between(0, 90));
  Activity activity = static_cast<Activity>(rng.Weighted(kActivityWeights));
  while (valid_from <= until) {
    int32_t valid_until = valid_from + static_cast<int32_t>(rng.Between(90, 365));
    if (rng.Chance(800)) valid_until = MonthEnd(valid_until);
    const bool open_ended = valid_until >= until && rng.Chance(300);
    const int32_t recorded_on = std::max(valid_from, on);
    Person& person = persons_[parent];
    Json data;
    data["person_id"] = person.id;
    data["activity"] = kActivityNames[static_cast<int>(activity)];
    data["valid_from"] = FormatDate(valid_from);
    if (!open_ended) data["valid_until"] = FormatDate(valid_until);
    log_.Add(recorded_on, EventType::PARENT_ACTIVITY_RECORDED,
             "activity:" + person.id + ":" + std::to_string(++person.activity_records), recorded_on,
             Clerk(ResidenceOn(parent, recorded_on), recorded_on), std::move(data));
    person.activities.push_back(ActivitySpan{valid_from, open_ended ? INT32_MAX : valid_until, activity});
    if (open_ended) return;
    valid_from = valid_until + 1;
    if (!rng.Chance(700)) activity = static_cast<Activity>(rng.Weighted(kActivityWeights));
  }
}

bool Simulator::ParentActiveOn(int child, int32_t day) const {
  const int parent = persons_[child].parent;
  if (parent < 0) return true;
  for (const ActivitySpan& span : persons_[parent].activities) {
    if (day >= span.from && day <= span.until) return span.activity != Activity::kNotActive;
  }
  return false;
}

void Simulator::MovePerson(int person_index, int32_t on, int new_home) {
  Person& person = persons_[person_index];
  person.moved_on = on;
  person.moved_to = new_home;
  const int municipality = MunicipalityOn(new_home, on);
  Json data;
  data["person_id"] = person.id;
  data["municipality_id"] = municipalities_[municipality].id;
  log_.Add(on, EventType::RESIDENCE_CHANGED,
           "residence:" + person.id + ":" + std::to_string(++person.residence_changes), on,
           Clerk(municipality, on), std::move(data));
}

namespace {

// What the support plan recommends and an adult takes up (domain brief §3.3; take-up shares follow the
// 01.08.2021 counts: consultations and day centres most, group homes and respite least).
struct Choice {
  Service service;
  int per_mille;
};
constexpr Choice kAdultChoices[] = {
    {Service::ADULT_DAY_CENTRE, 450},
    {Service::ADULT_SPECIALISED_WORKSHOP, 140},
    {Service::ADULT_GROUP_HOME, 90},
    {Service::ADULT_HOME_CARE, 180},
    {Service::ADULT_RESPITE, 60},
    {Service::ADULT_SPECIALIST_CONSULTATION, 550},
    {Service::ADULT_PSYCHOLOGIST_CONSULTATION, 320},
    {Service::ADULT_SUPPORT_GROUP, 280},
    {Service::SOCIAL_MENTOR, 80},
};

}  // namespace

// The career of a person first assessed on `first_assessment_on`: adults on the support intensity scale,
// children by a social worker and a psychologist, planned rehabilitation (a day centre may be added later).
Simulator::CareerPlan Simulator::NewCareer(int person, bool adult, int32_t first_assessment_on,
                                           int32_t planned_end) const {
  CareerPlan plan;
  plan.person = person;
  plan.adult = adult;
  plan.method = adult ? "support_intensity_scale" : "child_needs_assessment";
  plan.assessor = adult ? "Sociālais darbinieks, psihiatrs un ergoterapeits" : "Sociālais darbinieks un psihologs";
  plan.first_assessment_on = first_assessment_on;
  plan.planned_end = planned_end;
  if (!adult) {
    plan.services = {Service::CHILD_REHABILITATION};
    plan.optional_services = {Service::CHILD_DAY_CENTRE};
  }
  return plan;
}

void Simulator::PlanAdult(Rng& rng, int32_t enrol_on) {
  static constexpr std::array<int, 4> kAgeBandWeights = {20, 40, 30, 10};
  static constexpr std::array<std::pair<int, int>, 4> kAgeBands = {{{18, 29}, {30, 49}, {50, 64}, {65, 80}}};
  const auto [min_age, max_age] = kAgeBands[rng.Weighted(kAgeBandWeights)];
  const int32_t birth = BirthDateForAge(enrol_on, static_cast<int>(rng.Between(min_age, max_age)), rng);
  const int home = PickHome(rng);
  const int person = EnrolPerson(TargetGroup::kAdultMentalDisability, birth, home, enrol_on);
  RecordDisabilities(person, enrol_on, /*child=*/false, rng);
  const Departure departure = AdultDeparture(rng, person, home, enrol_on);
  PlanTransition(person, enrol_on, departure);
  CareerPlan plan =
      NewCareer(person, /*adult=*/true, Workday(enrol_on + static_cast<int32_t>(rng.Between(7, 60))), services_end_);
  plan.departure = departure;
  plan.receives_services = rng.Chance(850);
  for (const Choice& choice : kAdultChoices) {
    if (rng.Chance(choice.per_mille)) {
      plan.services.push_back(choice.service);
    } else if (rng.Chance(80)) {
      plan.also_recommended.push_back(choice.service);
    } else {
      plan.optional_services.push_back(choice.service);
    }
  }
  if (plan.services.empty()) {
    // Everyone assessed is offered at least individual consultations.
    const Service fallback = Service::ADULT_SPECIALIST_CONSULTATION;
    plan.services.push_back(fallback);
    std::erase(plan.also_recommended, fallback);
    std::erase(plan.optional_services, fallback);
  }
  PlanAssessedCareer(plan, rng);
}

void Simulator::PlanTransition(int person, int32_t enrol_on, const Departure& departure) {
  Rng rng(options_.seed, Stream::kTransitions, static_cast<uint64_t>(person));
  if (!rng.Chance(250)) return;  // a resident of the centre, one adult in four
  // Prepared in the centre's programme (2018 on), before any departure, within the years simulated.
  const int32_t earliest = std::max(enrol_on + 90, Date(2018, 1, 1));
  const int32_t latest = std::min(departure.on == kNoDate ? services_end_ : departure.on - 1, Date(2023, 6, 30));
  if (earliest > latest) return;
  const int32_t prepared_on = Workday(static_cast<int32_t>(rng.Between(earliest, latest)));
  if (prepared_on > latest || prepared_on + 14 > horizon_) return;
  Json prepared;
  prepared["person_id"] = persons_[person].id;
  prepared["note"] = "VSAC \"Zemgale\": sagatavots dzīvei sabiedrībā";
  log_.Add(prepared_on + static_cast<int32_t>(rng.Between(0, 14)), EventType::TRANSITION_PREPARED,
           "prepared:" + persons_[person].id, prepared_on, kProjectActor, std::move(prepared));
  if (!rng.Chance(600)) return;  // most of those prepared move out (53 of 84, Z 419)
  const int32_t moved_on = prepared_on + static_cast<int32_t>(rng.Between(30, 400));
  if (moved_on > latest || moved_on + 14 > horizon_) return;
  Json moved;
  moved["person_id"] = persons_[person].id;
  moved["note"] = "grupu dzīvoklis";
  log_.Add(moved_on + static_cast<int32_t>(rng.Between(0, 14)), EventType::INDEPENDENT_LIFE_STARTED,
           "independent:" + persons_[person].id, moved_on, kProjectActor, std::move(moved));
}

// Some adults die or withdraw from services; some move to another municipality (their services move with them).
Departure Simulator::AdultDeparture(Rng& rng, int person, int home, int32_t enrol_on) {
  const int64_t fate = rng.Between(0, 999);
  const int32_t latest = services_end_ - 60;
  if (enrol_on + 150 >= latest) return Departure{};
  if (fate < 40) {
    return Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, latest)), "person_deceased", nullptr};
  }
  if (fate < 110) {
    return Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, latest)), "withdrawn_by_person",
                     "Klients atteicās no pakalpojuma"};
  }
  if (fate < 160) {
    int new_home = PickHome(rng);
    if (new_home == home) new_home = (home + 7) % kPreReformCount;
    MovePerson(person, static_cast<int32_t>(rng.Between(enrol_on + 150, latest)), new_home);
  }
  return Departure{};
}

// FT children sharing one enrolled parent: care and respite on a special-care opinion, rehabilitation on an
// assessment and a plan, and the parent's own services after the first assessed child's plan.
void Simulator::PlanFamily(Rng& rng, int32_t enrol_on, int child_count) {
  const int home = PickHome(rng);
  int32_t family_end = enrol_on;
  const std::vector<int> children = EnrolChildren(rng, enrol_on, child_count, home, &family_end);
  const int parent = EnrolParent(rng, enrol_on, home, children, family_end);
  std::vector<bool> disabled;
  std::vector<int32_t> opinion_until;
  for (const int child : children) {
    const bool has_disability = rng.Chance(850);
    disabled.push_back(has_disability);
    if (has_disability) RecordDisabilities(child, enrol_on, /*child=*/true, rng);
    opinion_until.push_back(rng.Chance(600) ? RecordOpinions(child, enrol_on, rng) : kNoDate);
  }
  Departure departure;
  if (rng.Chance(60) && enrol_on + 150 < family_end - 60) {
    departure = Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, family_end - 60)),
                          "withdrawn_by_person", "Ģimene atteicās no pakalpojuma"};
  }
  int32_t parent_services_from = kNoDate;
  int32_t parent_services_until = kNoDate;
  for (size_t i = 0; i < children.size(); ++i) {
    const int child = children[i];
    const int32_t last_as_child = std::min(LastDayAsChild(persons_[child].birth_date), services_end_);
    if (opinion_until[i] != kNoDate) {
      PlanCareAndRespite(rng, child, parent, enrol_on, std::min(opinion_until[i], last_as_child), departure);
    }
    // Rehabilitation needs a disability, an assessment and a support plan.
    if (!disabled[i] || !rng.Chance(700)) continue;
    CareerPlan plan = NewCareer(child, /*adult=*/false, Workday(enrol_on + static_cast<int32_t>(rng.Between(10, 90))),
                                last_as_child);
    plan.departure = departure;
    plan.receives_services = rng.Chance(900);
    if (rng.Chance(120)) plan.services.push_back(Service::CHILD_DAY_CENTRE);
    plan.submitted_by = parent;
    const CareerResult result = PlanAssessedCareer(plan, rng);
    if (plan.receives_services && result.first_plan_on != kNoDate && parent_services_from == kNoDate &&
        rng.Chance(800)) {
      parent_services_from = result.first_plan_on;
      parent_services_until = result.services_until;
    }
  }
  if (parent_services_from != kNoDate) {
    PlanParentServices(rng, parent, home, parent_services_from, parent_services_until, departure);
  }
}

// Enrols the children of a family; `family_end` becomes the last day any of them is a child (and services run).
std::vector<int> Simulator::EnrolChildren(Rng& rng, int32_t enrol_on, int count, int home, int32_t* family_end) {
  std::vector<int> children;
  for (int i = 0; i < count; ++i) {
    const int age = static_cast<int>(rng.Chance(100) ? rng.Between(0, 2) : rng.Between(1, 16));
    const int32_t birth = BirthDateForAge(enrol_on, age, rng);
    const int child = EnrolPerson(TargetGroup::kChildFunctionalImpairment, birth, home, enrol_on);
    children.push_back(child);
    *family_end = std::max(*family_end, std::min(LastDayAsChild(birth), services_end_));
  }
  return children;
}

// The parent is enrolled right after the children the enrolment refers to, with the activities that decide
// the child-care entitlement.
int Simulator::EnrolParent(Rng& rng, int32_t enrol_on, int home, const std::vector<int>& children,
                           int32_t family_end) {
  int32_t oldest_birth = persons_[children[0]].birth_date;
  for (const int child : children) oldest_birth = std::min(oldest_birth, persons_[child].birth_date);
  const int32_t parent_birth = BirthDateForAge(oldest_birth, static_cast<int>(rng.Between(20, 42)), rng);
  static constexpr std::array<int, 3> kRelationWeights = {880, 50, 70};
  const int relation = static_cast<int>(rng.Weighted(kRelationWeights));
  const int parent =
      EnrolPerson(TargetGroup::kParentOfChild, parent_birth, home, enrol_on, relation, children);
  for (const int child : children) persons_[child].parent = parent;
  persons_[parent].children = children;
  RecordParentActivities(parent, enrol_on, family_end, rng);
  return parent;
}

// Care and respite need only the special-care opinion (no assessment, no plan): until `stop_on`.
void Simulator::PlanCareAndRespite(Rng& rng, int child, int parent, int32_t enrol_on, int32_t stop_on,
                                   const Departure& departure) {
  BlockRequest request;
  request.person = child;
  if (rng.Chance(800)) request.services.push_back(Service::CHILD_CARE);
  if (rng.Chance(300) || request.services.empty()) request.services.push_back(Service::RESPITE);
  request.apply_on = Workday(enrol_on + static_cast<int32_t>(rng.Between(5, 40)));
  request.start_on = request.apply_on;
  request.stop_on = stop_on;
  request.submitted_by = parent;
  if (rng.Chance(900)) PlanBlockAroundDeparture(request, departure, rng);
}

// Parents' rehabilitation follows an assessed child's plan; Jelgava city also offers a family assistant and
// a parents' support group (domain brief §3.2 E, F).
void Simulator::PlanParentServices(Rng& rng, int parent, int home, int32_t from, int32_t until,
                                   const Departure& departure) {
  BlockRequest request;
  request.person = parent;
  request.services = {Service::PARENT_REHABILITATION};
  if (kPreReform[home].region == kJelgavaCity) {
    if (rng.Chance(400)) request.services.push_back(Service::PARENT_SUPPORT_GROUP);
    if (rng.Chance(250)) request.services.push_back(Service::FAMILY_ASSISTANT);
  } else if (rng.Chance(120)) {
    request.services.push_back(Service::PARENT_SUPPORT_GROUP);
  }
  request.apply_on = Workday(from + static_cast<int32_t>(rng.Between(20, 60)));
  request.start_on = request.apply_on;
  request.stop_on = until;
  PlanBlockAroundDeparture(request, departure, rng);
}

void Simulator::PlanChildInCare(Rng& rng, int32_t enrol_on) {
  const int age = static_cast<int>(rng.Chance(700) ? rng.Between(10, 16) : rng.Between(3, 9));
  const int32_t birth = BirthDateForAge(enrol_on, age, rng);
  const int home = PickHome(rng);
  const int person = EnrolPerson(TargetGroup::kChildInCare, birth, home, enrol_on);
  if (rng.Chance(250)) RecordDisabilities(person, enrol_on, /*child=*/true, rng);
  const int32_t last_as_child = std::min(LastDayAsChild(birth), services_end_);
  CareerPlan plan = NewCareer(person, /*adult=*/false, Workday(enrol_on + static_cast<int32_t>(rng.Between(7, 60))),
                              last_as_child);
  if (rng.Chance(300) && enrol_on + 150 < last_as_child - 60) {
    plan.departure = Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, last_as_child - 60)),
                               "no_longer_eligible", "Bērns ievietots audžuģimenē"};
  }
  // BSAC children are assessed and get a support plan for their move to family care; the reimbursed
  // services of the project (child care, respite, rehabilitation, day centres) are for FT children and
  // their parents, so the plan's recommendations are not granted from the project (no rule covers them).
  plan.receives_services = false;
  if (rng.Chance(100)) plan.services.push_back(Service::CHILD_DAY_CENTRE);
  PlanAssessedCareer(plan, rng);
}

void Simulator::PlanCandidate(Rng& rng, int32_t enrol_on) {
  // Potential foster / adoptive families take part in information events only (no entitlements).
  const int32_t birth = BirthDateForAge(enrol_on, static_cast<int>(rng.Between(28, 55)), rng);
  EnrolPerson(TargetGroup::kFosterOrAdoptiveCandidate, birth, PickHome(rng), enrol_on);
}


}  // namespace di::workload::region
