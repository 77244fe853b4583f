// Assessments, plans, applications and the entitlements a grant is decided under.

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
// Assessments, plans, applications and grants
// ---------------------------------------------------------------------------------------------------------

Simulator::CareerResult Simulator::PlanAssessedCareer(const CareerPlan& plan, Rng& rng) {
  CareerResult result;
  CareerCycle cycle;
  cycle.assess_on = plan.first_assessment_on;
  cycle.services = plan.services;
  while (cycle.assess_on < plan.planned_end - 30 &&
         (plan.departure.on == kNoDate || cycle.assess_on < plan.departure.on)) {
    const std::string assessment_id = RecordAssessment(plan, cycle.assess_on, rng);
    DatePlan(plan, cycle, rng);
    if (cycle.first) result.first_plan_on = cycle.plan_on;
    if (!cycle.first) ReviseServices(plan, &cycle.services, rng);
    const std::string plan_id = ApprovePlan(plan, cycle, assessment_id);
    // Now and then a child's review comes late: services go on for some weeks after the plan expired
    // (without a plan that lists them: a finding), and the next plan starts when the review is done.
    cycle.review_delay = 0;
    if (!plan.adult && plan.receives_services && cycle.plan_until != kNoDate &&
        cycle.plan_until + 120 < plan.planned_end && rng.Chance(120)) {
      cycle.review_delay = static_cast<int32_t>(rng.Between(14, 60));
    }
    if (plan.receives_services) {
      RequestServices(plan, cycle, plan_id, rng);
      result.services_until =
          plan.departure.on != kNoDate ? std::min(cycle.end, plan.departure.on) : cycle.end;
    }
    if (!NextCycle(plan, cycle, rng)) break;
  }
  return result;
}

std::string Simulator::RecordAssessment(const CareerPlan& plan, int32_t on, Rng& rng) {
  Person& person = persons_[plan.person];
  if (person.first_assessed_on == kNoDate) person.first_assessed_on = on;
  const std::string assessment_id = NumberedId("A-", ++assessments_, 6);
  Json data;
  data["assessment_id"] = assessment_id;
  data["person_id"] = person.id;
  data["method"] = plan.method;
  if (rng.Chance(700)) data["assessor"] = plan.assessor;
  log_.Add(on, EventType::NEEDS_ASSESSED, "assessment:" + assessment_id, on, kProjectActor, std::move(data));
  return assessment_id;
}

// The plan is approved some days after the assessment (a later plan before the one in force ends). Before the
// 2021 amendments adult services were free for two years after the plan; children's plans are reviewed every
// one or two years.
void Simulator::DatePlan(const CareerPlan& plan, CareerCycle& cycle, Rng& rng) {
  cycle.plan_on = Workday(cycle.assess_on + static_cast<int32_t>(rng.Between(7, 30)));
  if (cycle.first) {
    cycle.plan_from = cycle.plan_on;
  } else {
    cycle.plan_on = std::max(cycle.assess_on, std::min(cycle.plan_on, cycle.plan_from - 1));
  }
  cycle.plan_until = kNoDate;
  if (!plan.adult) {
    cycle.plan_until =
        std::min(plan.planned_end, AddYears(cycle.plan_from, static_cast<int>(rng.Between(1, 2))) - 1);
    cycle.plan_until = std::max(cycle.plan_until, cycle.plan_from);
  } else if (cycle.plan_from < amendments_2021_ || rng.Chance(400)) {
    cycle.plan_until = AddYears(cycle.plan_from, rules_.grt_free_years) - 1;
  }
  cycle.end = cycle.plan_until == kNoDate ? plan.planned_end : std::min(cycle.plan_until, plan.planned_end);
}

// At a re-assessment the plan may drop a service or add one.
void Simulator::ReviseServices(const CareerPlan& plan, std::vector<Service>* services, Rng& rng) {
  if (services->size() > 1 && rng.Chance(200)) {
    services->erase(services->begin() + rng.Between(0, services->size() - 1));
  }
  if (!plan.optional_services.empty() && rng.Chance(200)) {
    const Service added = plan.optional_services[rng.Between(0, plan.optional_services.size() - 1)];
    if (std::find(services->begin(), services->end(), added) == services->end()) services->push_back(added);
  }
}

std::string Simulator::ApprovePlan(const CareerPlan& plan, const CareerCycle& cycle,
                                   const std::string& assessment_id) {
  std::vector<Service> recommended = cycle.services;
  for (const Service extra : plan.also_recommended) {
    // The ledger rejects a service listed twice.
    if (std::find(recommended.begin(), recommended.end(), extra) == recommended.end()) {
      recommended.push_back(extra);
    }
  }
  const std::string plan_id = NumberedId("IAP-", ++plans_, 6);
  Json data;
  data["plan_id"] = plan_id;
  data["person_id"] = persons_[plan.person].id;
  data["assessment_id"] = assessment_id;
  data["recommended_services"] = ServiceList(recommended);
  data["valid_from"] = FormatDate(cycle.plan_from);
  if (cycle.plan_until != kNoDate) data["valid_until"] = FormatDate(cycle.plan_until);
  log_.Add(cycle.plan_on, EventType::SUPPORT_PLAN_APPROVED, "plan:" + plan_id, cycle.plan_on, kProjectActor,
           std::move(data), "assessment:" + assessment_id);
  return plan_id;
}

// The services of the plan, applied for after it (the first) or from its start (a renewal), until the cycle
// ends (and a late review); past the free period they stop a few months into the plan.
void Simulator::RequestServices(const CareerPlan& plan, const CareerCycle& cycle, const std::string& plan_id,
                                Rng& rng) {
  BlockRequest request;
  request.person = plan.person;
  request.services = cycle.services;
  request.apply_on =
      Workday(cycle.plan_on + static_cast<int32_t>(cycle.first ? rng.Between(5, 30) : rng.Between(0, 5)));
  request.start_on = cycle.first ? request.apply_on : cycle.plan_from;
  request.stop_on = cycle.end + cycle.review_delay;
  if (cycle.past_free_period) {
    request.stop_on = std::min(cycle.end, cycle.plan_from + static_cast<int32_t>(rng.Between(30, 180)));
    request.stop_is_break = true;
    request.end_note = "Beidzies bezmaksas pakalpojumu periods (divi gadi pēc pirmā atbalsta plāna)";
  }
  request.plan_id = plan_id;
  request.submitted_by = plan.submitted_by;
  PlanBlockAroundDeparture(request, plan.departure, rng);
}

// Moves the cycle on to the next assessment; false when the career has no next plan (no services, an
// open-ended plan, the end or a departure). An adult's services stop when the two free years run out before
// the 2021 amendments (some go on for a few months first), and most persons are re-assessed for a new plan
// once the limit is lifted on 2021-07-01 (which replaces a plan still in force).
bool Simulator::NextCycle(const CareerPlan& plan, CareerCycle& cycle, Rng& rng) {
  if (!plan.receives_services || cycle.plan_until == kNoDate || cycle.plan_until >= plan.planned_end) return false;
  if (plan.departure.on != kNoDate && plan.departure.on <= cycle.plan_until) return false;
  int32_t next_from = cycle.plan_until + 1 + cycle.review_delay;
  const bool stopped_in_this_plan = cycle.past_free_period;
  cycle.past_free_period = plan.adult && next_from < amendments_2021_ && !cycle.stopped_past_free_period &&
                           rng.Chance(450);
  cycle.stopped_past_free_period = cycle.stopped_past_free_period || cycle.past_free_period;
  if (plan.adult && (next_from < amendments_2021_ || stopped_in_this_plan) && !cycle.past_free_period) {
    if (!rng.Chance(750)) return false;
    next_from = Workday(amendments_2021_ + static_cast<int32_t>(rng.Between(0, 90)));
    if (next_from >= plan.planned_end - 60) return false;
    if (plan.departure.on != kNoDate && plan.departure.on <= next_from) return false;
  }
  cycle.assess_on =
      Workday(std::max(cycle.plan_on + 1, next_from - static_cast<int32_t>(rng.Between(25, 60))));
  cycle.plan_from = next_from;
  cycle.first = false;
  return true;
}

// Splits a block of services around the person's move (grants end, the new municipality decides anew)
// and cuts it at an unplanned departure.
void Simulator::PlanBlockAroundDeparture(BlockRequest request, const Departure& departure, Rng& rng) {
  if (departure.on != kNoDate && departure.on <= request.stop_on) {
    request.stop_on = departure.on;
    request.stop_is_break = true;
    request.end_reason = departure.reason;
    request.end_note = departure.note;
  }
  const Person& person = persons_[request.person];
  if (person.moved_on != kNoDate && request.apply_on < person.moved_on &&
      person.moved_on <= request.stop_on) {
    BlockRequest before = request;
    before.stop_on = person.moved_on - 1;
    before.stop_is_break = true;
    before.end_reason = "person_moved";
    before.end_note = "Deklarētā dzīvesvieta mainīta uz citu pašvaldību";
    PlanServiceBlock(before, rng);
    BlockRequest after = request;
    after.apply_on = Workday(person.moved_on + static_cast<int32_t>(rng.Between(14, 45)));
    after.start_on = after.apply_on;
    PlanServiceBlock(after, rng);
    return;
  }
  PlanServiceBlock(request, rng);
}

std::string Simulator::SubmitApplication(int person, const std::vector<Service>& services, int32_t on,
                                         int submitted_by, Rng& rng) {
  const std::string application_id = NumberedId("APP-", ++applications_, 6);
  const int municipality = ResidenceOn(person, on);
  // During the 2020 emergency applications were taken by phone and e-mail (domain brief §8.5).
  static constexpr std::array<int, 4> kUsualChannels = {600, 250, 150, 0};
  static constexpr std::array<int, 4> kLockdownChannels = {100, 300, 300, 300};
  const bool lockdown = on >= lockdown_start_ && on < lockdown_end_;
  static constexpr const char* kChannels[] = {"written", "electronic", "email", "phone"};
  Json data;
  data["application_id"] = application_id;
  data["person_id"] = persons_[person].id;
  data["municipality_id"] = municipalities_[municipality].id;
  data["services"] = ServiceList(services);
  data["channel"] = kChannels[lockdown ? rng.Weighted(kLockdownChannels) : rng.Weighted(kUsualChannels)];
  if (submitted_by >= 0) data["submitted_by_id"] = persons_[submitted_by].id;
  log_.Add(on, EventType::APPLICATION_SUBMITTED, "application:" + application_id, on, Clerk(municipality, on),
           std::move(data));
  return application_id;
}

// Returns the decision's event id.
std::string Simulator::DecideApplication(const std::string& application_id, int municipality, int32_t on,
                                         const char* refusal_reason) {
  Json data;
  data["application_id"] = application_id;
  data["decision"] = refusal_reason == nullptr ? "granted" : "refused";
  if (refusal_reason != nullptr) data["reason"] = refusal_reason;
  const std::string event_id = "decision:" + application_id;
  log_.Add(on, EventType::APPLICATION_DECIDED, event_id, on, Clerk(municipality, on), std::move(data),
           "application:" + application_id);
  return event_id;
}

void Simulator::PlanServiceBlock(const BlockRequest& request, Rng& rng) {
  if (request.services.empty() || request.apply_on > request.stop_on - 10) return;
  // Services whose entitlement under the rules in force is used up (a count cap over the plan or the
  // rules' window) are applied for again when the next entitlement starts.
  std::vector<Service> now;
  std::vector<Service> later;
  for (const Service service : request.services) {
    (HasEntitlement(request, service, request.start_on) ? now : later).push_back(service);
  }
  const int32_t apply_on = request.apply_on;
  if (now.empty()) {
    for (const Service service : later) {
      PlanGrantChain(request, service, ResidenceOn(request.person, apply_on), apply_on, request.start_on, {},
                     {}, rng);
    }
    return;
  }
  const std::string application_id =
      SubmitApplication(request.person, now, apply_on, request.submitted_by, rng);
  const int32_t decided_on = Workday(apply_on + static_cast<int32_t>(rng.Between(5, 25)));
  const int municipality = ResidenceOn(request.person, decided_on);
  if (request.may_be_refused && rng.Chance(45)) {
    DecideApplication(application_id, municipality, decided_on, rng.Pick(kRefusalReasons));
    if (rng.Chance(600)) {
      // The family completes the documents and applies again.
      BlockRequest again = request;
      again.apply_on = Workday(decided_on + static_cast<int32_t>(rng.Between(20, 60)));
      again.start_on = std::max(again.start_on, again.apply_on);
      again.may_be_refused = false;
      PlanServiceBlock(again, rng);
    }
    return;
  }
  const std::string decision = DecideApplication(application_id, municipality, decided_on, nullptr);
  for (const Service service : now) {
    const int32_t valid_from =
        std::max(request.start_on, decided_on + static_cast<int32_t>(rng.Between(0, 10)));
    PlanGrantChain(request, service, municipality, decided_on, valid_from, application_id, decision, rng);
  }
  for (const Service service : later) {
    PlanGrantChain(request, service, municipality, decided_on, request.start_on, {}, {}, rng);
  }
}

// A grant normally runs for a year (or to the end of the calendar year for yearly entitlements), never
// past the end of the entitlement it was decided under, and never past the last day services are paid.
int32_t Simulator::NaturalGrantEnd(int person, Service service, int32_t valid_from, Rng& rng) const {
  // Decisions "until the end of the year" are only taken when most of a quarter remains.
  const bool year_end_is_far = YearEnd(valid_from) - valid_from >= 90;
  int32_t end;
  if ((service == Service::RESPITE || service == Service::ADULT_RESPITE) && year_end_is_far) {
    end = YearEnd(valid_from);
  } else if (service == Service::RESPITE || service == Service::ADULT_RESPITE) {
    end = Date(CivilFromDays(valid_from).year + 1, 12, 31);
  } else if (rng.Chance(300)) {
    end = AddMonths(valid_from, 6) - 1;
  } else if (rng.Chance(300) && year_end_is_far) {
    end = YearEnd(valid_from);
  } else {
    end = AddYears(valid_from, 1) - 1;
  }
  // A change of the parent's activity changes the child-care entitlement; now and then the social
  // service misses it and the grant runs on under the old terms.
  const bool follows_activity = service != Service::CHILD_CARE || !rng.Chance(200);
  end = std::min(end, EntitlementEnd(person, service, valid_from, follows_activity));
  return std::min(end, services_end_);
}

// Whether a grant ending on `valid_until` ends with its entitlement, so that what follows is a new
// decision under the new terms rather than an extension.
bool Simulator::MustRegrant(int person, Service service, int32_t valid_until) const {
  return valid_until < services_end_ && EntitlementEnd(person, service, valid_until, true) == valid_until;
}

// The last day of the entitlement that `day` falls in. The 2021-07-01 amendments changed child care from
// weekly to monthly caps, consultations from unit cost to actual cost and the count caps of rehabilitation,
// consultations and support groups; the count caps were abolished in 2022. Child care also depends on the
// child's age band (the fifth birthday) and, from 2021-07-01, on the parent's activity.
int32_t Simulator::EntitlementEnd(int person, Service service, int32_t day, bool follow_activity) const {
  int32_t end = INT32_MAX;
  auto ends_before = [&](int32_t boundary) {
    if (boundary > day) end = std::min(end, boundary - 1);
  };
  switch (service) {
    case Service::CHILD_CARE: {
      ends_before(amendments_2021_);
      const int32_t birth = persons_[person].birth_date;
      int32_t fifth_birthday = AddYears(birth, 5) - 1;
      while (AgeInYears(birth, fifth_birthday) < 5) ++fifth_birthday;
      ends_before(fifth_birthday);
      if (day >= amendments_2021_ && follow_activity) ends_before(ActivityChange(person, day));
      break;
    }
    case Service::CHILD_REHABILITATION:
      ends_before(rules_.child_rehab_100_from);
      ends_before(rules_unlimited_);
      break;
    case Service::PARENT_REHABILITATION:
    case Service::ADULT_SPECIALIST_CONSULTATION:
    case Service::ADULT_PSYCHOLOGIST_CONSULTATION:
    case Service::ADULT_SUPPORT_GROUP:
      ends_before(amendments_2021_);
      ends_before(rules_unlimited_);
      break;
    default:
      break;
  }
  return end;
}

// The first day after `day` on which the child's parent is active when not active on `day`, or the other
// way round (INT32_MAX if that never changes).
int32_t Simulator::ActivityChange(int child, int32_t day) const {
  const int parent = persons_[child].parent;
  if (parent < 0) return INT32_MAX;
  const bool active = ParentActiveOn(child, day);
  int32_t change = INT32_MAX;
  for (const ActivitySpan& span : persons_[parent].activities) {
    for (const int32_t boundary : {span.from, span.until == INT32_MAX ? INT32_MAX : span.until + 1}) {
      if (boundary > day && boundary < change && ParentActiveOn(child, boundary) != active) change = boundary;
    }
  }
  return change;
}

// The count cap of the rules in force on `day` that grants of `service` draw on, if any: the rules
// before count_caps_abolished (2022-06-16 in the default rules) limit rehabilitation, consultations and support groups per support plan or over a
// dated window (domain brief §4; projections/rules/mk313.json).
bool Simulator::CountCapOn(const BlockRequest& request, Service service, int32_t day, CountCap* cap) const {
  if (day >= rules_unlimited_) return false;
  const bool v1 = day >= amendments_2021_;
  const Person& person = persons_[request.person];
  switch (service) {
    case Service::CHILD_REHABILITATION: {
      // 10 sessions of at most 4 therapies per plan, then 100 sessions per plan.
      const bool hundred = day >= rules_.child_rehab_100_from;
      cap->key = person.id + (hundred ? "|child-rehab-100|" : "|child-rehab-v0|") + request.plan_id;
      cap->limit = hundred ? rules_.child_rehab_100_plan : rules_.child_rehab_v0_plan;
      return true;
    }
    case Service::PARENT_REHABILITATION: {
      if (!v1) {
        cap->key = person.id + "|parent-rehab-v0";
        cap->limit = rules_.parent_rehab_v0;
        return true;
      }
      // 40 sessions for each assessed child over the rest of the project.
      int64_t assessed = 0;
      for (const int child : person.children) {
        const int32_t on = persons_[child].first_assessed_on;
        if (on != kNoDate && on <= horizon_) ++assessed;
      }
      cap->key = person.id + "|parent-rehab-2021";
      cap->limit = rules_.parent_rehab_2021_per_child * assessed;
      return true;
    }
    case Service::ADULT_SPECIALIST_CONSULTATION:
    case Service::ADULT_PSYCHOLOGIST_CONSULTATION: {
      if (!v1) return false;
      // One cap of 100 for psychologist and specialist consultations: each has its share.
      cap->key = person.id + "|grt-consultations-2021";
      cap->limit = rules_.grt_consultations_2021;
      cap->share_key = cap->key + "|" + NameOf(service);
      cap->share_of = 0;
      for (const Service other : request.services) {
        if (other == Service::ADULT_SPECIALIST_CONSULTATION ||
            other == Service::ADULT_PSYCHOLOGIST_CONSULTATION) {
          ++cap->share_of;
        }
      }
      cap->share_of = std::max(cap->share_of, 1);
      return true;
    }
    case Service::ADULT_SUPPORT_GROUP:
      if (!v1) return false;
      cap->key = person.id + "|grt-support-groups-2021";
      cap->limit = rules_.grt_support_groups_2021;
      return true;
    default:
      return false;
  }
}

int64_t Simulator::CountCapRoom(const CountCap& cap) const {
  const auto it = count_caps_.find(cap.key);
  const int64_t left = it == count_caps_.end() ? cap.limit : it->second;
  if (cap.share_key.empty()) return left;
  const auto share = count_caps_.find(cap.share_key);
  return std::min(left, share == count_caps_.end() ? left / cap.share_of : share->second);
}

void Simulator::TakeFromCountCap(const CountCap& cap, int64_t quantity) {
  auto it = count_caps_.try_emplace(cap.key, cap.limit).first;
  if (!cap.share_key.empty()) {
    count_caps_.try_emplace(cap.share_key, it->second / cap.share_of).first->second -= quantity;
  }
  it->second -= quantity;
}

bool Simulator::HasEntitlement(const BlockRequest& request, Service service, int32_t day) const {
  CountCap cap;
  return !CountCapOn(request, service, day, &cap) || CountCapRoom(cap) > 0;
}

// The most sessions the grant's rhythm produces from `from` to `until` (two sessions on one day included).
int64_t Simulator::SessionsFor(const Grant& grant, int32_t from, int32_t until) const {
  if (until < from) return 0;
  const int64_t weeks = (until - from) / 7 + 1;
  const int64_t visits = std::popcount(grant.weekdays) * (grant.fortnightly ? (weeks + 1) / 2 : weeks);
  return visits + visits / 10 + 1;
}

int Simulator::ChooseProvider(int person_index, Service service, int municipality, int32_t on, Rng& rng) {
  const int region = municipalities_[municipality].region;
  int chosen = -1;
  if (service == Service::CHILD_CARE) {
    Person& child = persons_[person_index];
    if (child.carer < 0 && rng.Chance(400)) {
      // The parent names a relative or acquaintance (not living in the household) as the carer, and the
      // municipality contracts that natural person (domain brief §3.1 A).
      Provider carer;
      carer.id = NumberedId("PR-CARER-", ++carers_, 5);
      carer.name = "Aprūpētājs (fiziska persona) " + NumberedId("CARER-", carers_, 5);
      carer.natural_person = true;
      carer.services = {Service::CHILD_CARE};
      carer.personal_carer = true;
      carer.available_from = on;
      child.carer = AddProvider(std::move(carer), on);
    }
    chosen = child.carer >= 0 ? child.carer : general_care_provider_;
  } else {
    std::vector<int> regional;
    std::vector<int> region_wide;
    std::vector<int> elsewhere;
    for (int i = 0; i < static_cast<int>(providers_.size()); ++i) {
      const Provider& provider = providers_[i];
      if (provider.personal_carer || !provider.Offers(service) || provider.available_from > on) continue;
      if (provider.region == region) {
        regional.push_back(i);
      } else if (provider.region < 0) {
        region_wide.push_back(i);
      } else {
        elsewhere.push_back(i);
      }
    }
    // Municipalities prefer their own sites, then region-wide providers, and otherwise buy the service
    // from a neighbouring municipality's provider (domain brief §5.3).
    const std::vector<int>& pool = !regional.empty() && (region_wide.empty() || rng.Chance(800)) ? regional
                                   : !region_wide.empty()                                        ? region_wide
                                                                                                 : elsewhere;
    if (pool.empty())
      throw std::logic_error(std::string("simulate: no provider offers ") + NameOf(service));
    chosen = pool[static_cast<size_t>(rng.Between(0, static_cast<int64_t>(pool.size()) - 1))];
  }
  EnsureContract(chosen, municipality, on);
  return chosen;
}


}  // namespace di::workload::region
