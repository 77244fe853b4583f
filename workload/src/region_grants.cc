// Grants of the region history: their quantities, providers, amendments and life.

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

namespace {

// Most providers keep within the granted quantity; a few deliver more than granted or than the rules allow
// (child care by the hours the family needs, sessions beyond the course), which the eligibility check reports.
constexpr int kOverrunPerMille[kServiceCount] = {
    250,  // child_care
    0,    // respite: see KeepsToLimits
    250, 40, 250,     // child_rehabilitation, child_day_centre, parent_rehabilitation
    150, 40, 40, 20,  // adult_home_care, adult_day_centre, adult_specialised_workshop, adult_group_home
    40, 150, 150, 150,  // adult_respite, adult_specialist_consultation, adult_psychologist_consultation,
                        // adult_support_group
    150, 150, 150,    // social_mentor, family_assistant, parent_support_group
};

}  // namespace

int Simulator::CreateGrant(const BlockRequest& request, Service service, int municipality, int32_t decided_on,
                           int32_t valid_from, int32_t valid_until, const std::string& application_id,
                           const std::string& causation, Rng& rng) {
  Grant grant;
  grant.person = request.person;
  grant.service = service;
  grant.municipality = municipality;
  grant.decided_on = decided_on;
  grant.valid_from = valid_from;
  grant.last_day = valid_until;
  Rhythm rhythm = ChooseRhythm(grant, rng);
  KeepsToLimits(grant, rng);
  Entitle(grant, rhythm.visits_per_week, rng);
  if (grant.period == Period::kGrantPeriod && !SizeSessions(request, grant, rhythm, rng)) return -1;
  grant.quantity_steps.emplace_back(valid_from, grant.quantity);
  grant.number = static_cast<uint32_t>(grants_.size() + 1);
  grant.id = NumberedId("G-", grant.number, 7);
  grant.provider = ChooseProvider(request.person, service, municipality, decided_on, rng);
  PriceGrant(grant, rhythm.visits_per_week, rng);
  RecordGrant(grant, request, application_id, causation);
  grants_.push_back(std::move(grant));
  return static_cast<int>(grants_.size()) - 1;
}

// Delivery rhythm: fixed weekdays (in a random order of preference), some sessions every other week.
Simulator::Rhythm Simulator::ChooseRhythm(Grant& grant, Rng& rng) {
  const ServiceProfile& profile = ProfileOf(grant.service);
  Rhythm rhythm;
  rhythm.visits_per_week = static_cast<int>(rng.Between(profile.min_visits_per_week, profile.max_visits_per_week));
  for (int i = 4; i > 0; --i) std::swap(rhythm.weekdays[i], rhythm.weekdays[rng.Between(0, i)]);
  grant.weekdays = rhythm.Weekdays();
  grant.fortnightly = rng.Chance(profile.fortnightly_per_mille);
  grant.weekly_entries =
      UnitOf(grant.service) == Unit::DAYS && profile.pattern == Pattern::kVisits && rng.Chance(200);
  return rhythm;
}

// Whether the provider keeps within the granted quantity and the rules' caps (kOverrunPerMille). A few
// families rely on respite heavily; some of them go past the 30 days a year.
void Simulator::KeepsToLimits(Grant& grant, Rng& rng) {
  grant.keeps_limits = !rng.Chance(kOverrunPerMille[static_cast<int>(grant.service)]);
  const bool heavy_respite = rng.Chance(100);
  grant.stay_per_mille = heavy_respite ? 800 : ProfileOf(grant.service).stay_per_mille;
  if (grant.service == Service::RESPITE) grant.keeps_limits = !(heavy_respite && rng.Chance(600));
}

// Entitled quantity per period under the rules in force when the grant starts (domain brief §3, §4; grants
// end with the entitlement they were decided under, see EntitlementEnd). Services counted in sessions are
// granted for the whole validity (SizeSessions).
void Simulator::Entitle(Grant& grant, int visits_per_week, Rng& rng) {
  const bool v1 = grant.valid_from >= amendments_2021_;
  switch (grant.service) {
    case Service::CHILD_CARE:
      EntitleChildCare(grant);
      break;
    case Service::RESPITE:
      grant.Entitle(Period::kYear, rules_.respite_year);
      grant.AddPersonCap(6, CapPeriodKind::kYear, false, rules_.respite_year);
      break;
    case Service::ADULT_RESPITE:
      grant.Entitle(Period::kYear, 30);
      break;
    case Service::CHILD_DAY_CENTRE:
    case Service::ADULT_DAY_CENTRE:
      grant.Entitle(Period::kMonth, 22);
      break;
    case Service::ADULT_HOME_CARE:
    case Service::FAMILY_ASSISTANT:
      grant.Entitle(Period::kMonth, 60 * rng.Between(20, 40));
      break;
    case Service::ADULT_SPECIALISED_WORKSHOP:
      // Days a month for the weekly rhythm (a month has at most five of each weekday).
      grant.Entitle(Period::kMonth, std::min(22, visits_per_week * 4 + static_cast<int>(rng.Between(2, 3))));
      break;
    case Service::ADULT_GROUP_HOME:
      grant.Entitle(Period::kMonth, 31);
      break;
    case Service::SOCIAL_MENTOR:
      grant.Entitle(Period::kMonth, 60 * rng.Between(8, 20));
      break;
    case Service::ADULT_SPECIALIST_CONSULTATION:
      // Unit-cost methodology until 2021-06-30, actual cost afterwards.
      grant.unit_cost = !v1;
      if (grant.unit_cost) grant.rate_cents = 2500;
      break;
    case Service::ADULT_PSYCHOLOGIST_CONSULTATION:
      grant.unit_cost = true;  // psychologists stay on the unit cost after 2021-07-01
      grant.rate_cents = grant.valid_from >= unit_cost_update_ ? 3600 : 3000;
      break;
    case Service::CHILD_REHABILITATION:
    case Service::PARENT_REHABILITATION:
    case Service::ADULT_SUPPORT_GROUP:
    case Service::PARENT_SUPPORT_GROUP:
    case Service::SUPPORT_PERSON_FOR_DECISIONS:  // not in the region's catalogue (kServiceCount)
    case Service::FAMILY_LIKE_CARE:
      break;
  }
}

// Child care by the week before the 2021 amendments, by the month from them: 200 h (age 0-4) or 80 h a
// month when the parent works, studies or attends a measure, of which at most 40 h leisure; otherwise 40 h
// of leisure only.
void Simulator::EntitleChildCare(Grant& grant) {
  const int age = AgeInYears(persons_[grant.person].birth_date, grant.valid_from);
  const bool young = age <= 4;
  if (grant.valid_from < amendments_2021_) {
    grant.Entitle(Period::kWeek, young ? rules_.child_care_v0_young_week : rules_.child_care_v0_older_week);
    grant.AddPersonCap(young ? 1 : 2, CapPeriodKind::kWeek, false, grant.quantity);
    grant.leisure_per_mille = 100;
    return;
  }
  const bool active = ParentActiveOn(grant.person, grant.valid_from);
  grant.Entitle(Period::kMonth, !active ? rules_.child_care_2021_leisure_month
                                : young ? rules_.child_care_2021_young_month
                                        : rules_.child_care_2021_older_month);
  grant.leisure_only = !active;
  if (active) grant.AddPersonCap(young ? 3 : 4, CapPeriodKind::kMonth, false, grant.quantity);
  grant.AddPersonCap(5, CapPeriodKind::kMonth, true, rules_.child_care_2021_leisure_month);
  grant.leisure_per_mille = (young ? 120 : 200) * (grant.keeps_limits ? 1 : 2);
}

// Sessions for the whole validity: what the rhythm needs, within what is left of the rules' count cap (per
// support plan, or over the rules' window); a smaller entitlement is spread out over the grant with fewer
// sessions a week or every other week. False if the count cap is used up.
bool Simulator::SizeSessions(const BlockRequest& request, Grant& grant, Rhythm& rhythm, Rng& rng) {
  const int32_t valid_from = grant.valid_from;
  const int32_t valid_until = grant.last_day;
  CountCap cap;
  const bool capped = CountCapOn(request, grant.service, valid_from, &cap);
  const int64_t room = capped ? CountCapRoom(cap) : INT64_MAX;
  if (room <= 0) return false;
  int64_t quantity = SessionsFor(grant, valid_from, valid_until);
  if (grant.service == Service::CHILD_REHABILITATION && valid_from < amendments_2021_) {
    quantity = std::min<int64_t>(quantity, 10 * rng.Between(2, 4));  // courses of 10 sessions per therapy
  }
  quantity = std::min(quantity, room);
  // (A provider that overruns keeps a rhythm of up to about two thirds as many sessions again.)
  const int64_t tolerance = grant.keeps_limits ? quantity / 5 : quantity * 2 / 3;
  while (SessionsFor(grant, valid_from, valid_until) > quantity + tolerance &&
         (rhythm.visits_per_week > 1 || !grant.fortnightly)) {
    if (rhythm.visits_per_week > 1) {
      --rhythm.visits_per_week;
      grant.weekdays = rhythm.Weekdays();
    } else {
      grant.fortnightly = true;
    }
  }
  if (capped) {
    TakeFromCountCap(cap, quantity);
  } else {
    if (!grant.keeps_limits) quantity = std::max<int64_t>(1, quantity * rng.Between(70, 90) / 100);
    quantity = (quantity + 4) / 5 * 5;
  }
  grant.quantity = quantity;
  return true;
}

// The price (unless a unit cost), and for services counted in minutes the minutes per visit, sized so that a
// month's visits land a little under the entitlement (providers that overrun: around or over it).
void Simulator::PriceGrant(Grant& grant, int visits_per_week, Rng& rng) {
  const ServiceProfile& profile = ProfileOf(grant.service);
  if (!grant.unit_cost) {
    grant.rate_cents = rng.Between(profile.min_rate_cents / 10, profile.max_rate_cents / 10) * 10;
  }
  if (providers_[grant.provider].personal_carer) grant.rate_cents = rng.Between(50, 65) * 10;
  if (UnitOf(grant.service) == Unit::MINUTES && visits_per_week > 0) {
    const int64_t monthly = grant.period == Period::kWeek ? grant.quantity * 13 / 3 : grant.quantity;
    const int64_t target = monthly * (grant.keeps_limits ? rng.Between(70, 95) : rng.Between(115, 145)) / 100;
    int64_t per_visit = target * 3 / (13 * visits_per_week);
    per_visit = (per_visit + 7) / 15 * 15;
    grant.visit_quantity = static_cast<int>(
        std::clamp<int64_t>(per_visit, profile.min_visit_quantity, profile.max_visit_quantity));
  }
}

// service_granted, valid until the grant's last day as decided.
void Simulator::RecordGrant(const Grant& grant, const BlockRequest& request, const std::string& application_id,
                            const std::string& causation) {
  Json data;
  data["grant_id"] = grant.id;
  data["person_id"] = persons_[grant.person].id;
  data["municipality_id"] = municipalities_[grant.municipality].id;
  data["service"] = NameOf(grant.service);
  data["quantity"] = grant.quantity;
  data["period"] = kPeriodNames[static_cast<int>(grant.period)];
  data["valid_from"] = FormatDate(grant.valid_from);
  data["valid_until"] = FormatDate(grant.last_day);
  data["cost_basis"] = grant.unit_cost ? "unit_cost" : "actual_cost";
  if (grant.unit_cost) data["unit_cost_cents"] = grant.rate_cents;
  if (!application_id.empty()) data["application_id"] = application_id;
  if (!request.plan_id.empty()) data["plan_id"] = request.plan_id;
  data["provider_id"] = providers_[grant.provider].id;
  log_.Add(grant.decided_on, EventType::SERVICE_GRANTED, "grant:" + grant.id, grant.decided_on,
           Clerk(grant.municipality, grant.decided_on), std::move(data), causation);
}

void Simulator::AmendGrant(Grant& grant, int32_t on, Json changes, const char* reason) {
  Json data;
  data["grant_id"] = grant.id;
  for (auto& [key, value] : changes.items()) data[key] = value;
  data["reason"] = reason;
  log_.Add(on, EventType::GRANT_AMENDED, "amendment:" + grant.id + ":" + std::to_string(++grant.amendments),
           on, Clerk(grant.municipality, on), std::move(data));
}

// A chain of grants for one service: the first from the block's decision, then renewals either by
// extending the grant (grant_amended valid_until) or by a new application and grant, until the block
// stops. A grant ends with the entitlement it was decided under; while a count cap of the rules is used
// up the chain pauses, and the person applies again when the next entitlement starts. An unplanned stop
// ends the running grant early (grant_ended). Without an application, the chain starts with one.
void Simulator::PlanGrantChain(const BlockRequest& request, Service service, int municipality,
                               int32_t decided_on, int32_t valid_from, std::string application_id,
                               std::string causation, Rng& rng) {
  ChainLink link{municipality, decided_on, valid_from, std::move(application_id), std::move(causation)};
  int32_t last_decision = decided_on;
  while (link.valid_from <= request.stop_on && link.valid_from <= services_end_) {
    if (link.application_id.empty()) {
      if (!HasEntitlement(request, service, link.valid_from)) {
        const int32_t end = EntitlementEnd(request.person, service, link.valid_from, true);
        if (end == INT32_MAX) return;
        link.valid_from = end + 1;
        continue;
      }
      if (!ApplyAgain(request, service, last_decision, &link, rng)) return;
      last_decision = link.decided_on;
    }
    const int32_t natural_end = NaturalGrantEnd(request.person, service, link.valid_from, rng);
    int32_t valid_until = request.stop_is_break ? natural_end : std::min(natural_end, request.stop_on);
    if (valid_until < link.valid_from) return;
    const int index = CreateGrant(request, service, link.municipality, link.decided_on, link.valid_from, valid_until,
                                  link.application_id, link.causation, rng);
    if (index < 0) return;
    valid_until = ExtendGrant(request, grants_[index], valid_until, rng);
    PlanGrantLife(grants_[index], valid_until, request, rng);
    if (grants_[index].last_day < valid_until) return;  // ended early
    if (valid_until >= request.stop_on || valid_until >= services_end_) return;
    last_decision = std::max(last_decision, grants_[index].decided_on);
    link.application_id.clear();
    link.valid_from = valid_until + 1;
  }
}

// A new application (single service) decided before the grant starts. When the entitlement starts before the
// block's own decision, the grant starts after the new decision. False if there is no grant: the application
// is refused, or the grant would start after the block or the services.
bool Simulator::ApplyAgain(const BlockRequest& request, Service service, int32_t last_decision, ChainLink* link,
                           Rng& rng) {
  const int32_t previous_end = link->valid_from - 1;
  int32_t apply_on =
      std::max(last_decision, Workday(previous_end - static_cast<int32_t>(rng.Between(15, 40))));
  if (apply_on > previous_end) apply_on = std::max(last_decision, previous_end - 3);
  link->decided_on = apply_on + static_cast<int32_t>(rng.Between(3, 14));
  if (apply_on <= previous_end) {
    link->decided_on = std::min(previous_end, link->decided_on);
  } else {
    link->valid_from = link->decided_on + static_cast<int32_t>(rng.Between(0, 10));
    if (link->valid_from > request.stop_on || link->valid_from > services_end_) return false;
  }
  link->application_id = SubmitApplication(request.person, {service}, apply_on, request.submitted_by, rng);
  link->municipality = ResidenceOn(request.person, link->decided_on);
  if (rng.Chance(10)) {
    DecideApplication(link->application_id, link->municipality, link->decided_on, rng.Pick(kRefusalReasons));
    return false;
  }
  link->causation = DecideApplication(link->application_id, link->municipality, link->decided_on, nullptr);
  return true;
}

// Renewals by amendment keep the same grant. Each extension is dated after the previous one, so the ledger
// applies them in the planned order; a grant for a number of sessions gets the sessions for the extension
// with it. Returns the grant's valid_until after the extensions.
int32_t Simulator::ExtendGrant(const BlockRequest& request, Grant& grant, int32_t valid_until, Rng& rng) {
  int32_t last_amended_on = grant.decided_on;
  while (valid_until < request.stop_on && valid_until < services_end_ &&
         !MustRegrant(request.person, grant.service, valid_until) && rng.Chance(450)) {
    const int32_t extended_to =
        request.stop_is_break
            ? NaturalGrantEnd(request.person, grant.service, valid_until + 1, rng)
            : std::min(NaturalGrantEnd(request.person, grant.service, valid_until + 1, rng), request.stop_on);
    const int32_t amend_on =
        std::max(last_amended_on + 1, Workday(valid_until - static_cast<int32_t>(rng.Between(10, 30))));
    if (amend_on > valid_until) break;
    Json changes;
    changes["valid_until"] = FormatDate(extended_to);
    const char* reason = "Pagarināts pakalpojuma saņemšanas termiņš";
    if (grant.period == Period::kGrantPeriod) {
      int64_t more = SessionsFor(grant, valid_until + 1, extended_to);
      CountCap cap;
      if (CountCapOn(request, grant.service, valid_until + 1, &cap)) {
        more = std::min(more, CountCapRoom(cap));
        if (more <= 0) break;
        TakeFromCountCap(cap, more);
      } else {
        more = (more + 4) / 5 * 5;
      }
      grant.quantity += more;
      grant.quantity_steps.emplace_back(amend_on, grant.quantity);
      changes["quantity"] = grant.quantity;
      reason = "Pagarināts pakalpojuma saņemšanas termiņš un piešķirtas papildu reizes";
    }
    last_amended_on = amend_on;
    AmendGrant(grant, amend_on, std::move(changes), reason);
    valid_until = extended_to;
  }
  return valid_until;
}

// Amendments, suspensions and the early end of one grant whose validity (after extensions) is known.
void Simulator::PlanGrantLife(Grant& grant, int32_t valid_until, const BlockRequest& request, Rng& rng) {
  const bool ends_early = request.stop_is_break && request.stop_on < valid_until;
  grant.last_day = ends_early ? request.stop_on : valid_until;
  ReassessQuantity(grant, rng);
  ChangeProvider(grant, rng);
  UpdateUnitCost(grant);
  PlanSuspension(grant, rng);
  if (ends_early) {
    Json data;
    data["grant_id"] = grant.id;
    data["reason"] = request.end_reason;
    if (request.end_note != nullptr) data["note"] = request.end_note;
    log_.Add(grant.last_day, EventType::GRANT_ENDED, "end:" + grant.id, grant.last_day,
             Clerk(grant.municipality, grant.last_day), std::move(data));
  }
}

// A re-assessment raises the hours of home care, mentoring or family assistance, or the workshop days, of a
// monthly grant (child care hours are set by the rules). The ledger applies a grant's quantity to its whole
// validity, so a reduction would turn earlier deliveries into excess: that is decided as a new grant instead.
void Simulator::ReassessQuantity(Grant& grant, Rng& rng) {
  const bool adjustable = (UnitOf(grant.service) == Unit::MINUTES && grant.service != Service::CHILD_CARE) ||
                          grant.service == Service::ADULT_SPECIALISED_WORKSHOP;
  if (grant.last_day - grant.valid_from <= 60 || !adjustable || grant.period == Period::kGrantPeriod ||
      !rng.Chance(80)) {
    return;
  }
  const int32_t on = static_cast<int32_t>(rng.Between(grant.valid_from + 30, grant.last_day - 10));
  grant.quantity = std::max<int64_t>(grant.quantity + 1, grant.quantity * rng.Between(110, 150) / 100);
  if (grant.service == Service::ADULT_SPECIALISED_WORKSHOP) {
    grant.quantity = std::min<int64_t>(grant.quantity, 23);
  }
  grant.quantity_steps.emplace_back(on, grant.quantity);
  Json changes;
  changes["quantity"] = grant.quantity;
  AmendGrant(grant, on, std::move(changes), "Pārskatīts pakalpojuma apjoms pēc atkārtota izvērtējuma");
}

// Now and then the person chooses another provider of the region (a pre-reform municipality can no longer
// contract after the reform; its successor would re-grant).
void Simulator::ChangeProvider(Grant& grant, Rng& rng) {
  if (grant.last_day - grant.valid_from <= 90 || grant.service == Service::CHILD_CARE || !rng.Chance(30)) return;
  const int32_t on = static_cast<int32_t>(rng.Between(grant.valid_from + 30, grant.last_day - 30));
  if (grant.municipality < kPreReformCount && on >= reform_) return;
  std::vector<int> alternatives;
  const int region = municipalities_[grant.municipality].region;
  for (int i = 0; i < static_cast<int>(providers_.size()); ++i) {
    const Provider& provider = providers_[i];
    if (i != grant.provider && !provider.personal_carer && provider.Offers(grant.service) &&
        provider.available_from <= on && (provider.region == region || provider.region < 0)) {
      alternatives.push_back(i);
    }
  }
  if (alternatives.empty()) return;
  const int next = alternatives[static_cast<size_t>(rng.Between(0, alternatives.size() - 1))];
  EnsureContract(next, grant.municipality, on);
  grant.provider_after = next;
  grant.provider_changes_on = on;
  Json changes;
  changes["provider_id"] = providers_[next].id;
  AmendGrant(grant, on, std::move(changes), "Mainīts pakalpojuma sniedzējs pēc klienta izvēles");
}

// Psychologists' unit cost rises on 2022-07-01.
void Simulator::UpdateUnitCost(Grant& grant) {
  if (!grant.unit_cost || grant.service != Service::ADULT_PSYCHOLOGIST_CONSULTATION ||
      grant.valid_from >= unit_cost_update_ || grant.last_day <= unit_cost_update_) {
    return;
  }
  grant.rate_after_cents = 3600;
  grant.rate_changes_on = unit_cost_update_;
  Json changes;
  changes["unit_cost_cents"] = grant.rate_after_cents;
  AmendGrant(grant, unit_cost_update_, std::move(changes), "Aktualizētas vienas vienības izmaksas");
}

// Day centres, workshops, groups and respite closed during the 2020 emergency (domain brief §8.5); a few
// grants are suspended for a stay in hospital or at the person's request.
void Simulator::PlanSuspension(Grant& grant, Rng& rng) {
  const int32_t span = grant.last_day - grant.valid_from;
  int32_t suspend_on = kNoDate;
  int32_t resume_on = kNoDate;
  const char* reason = nullptr;
  if (ProfileOf(grant.service).closes_in_lockdown && grant.valid_from < lockdown_start_ &&
      grant.last_day >= lockdown_end_ + 14) {
    suspend_on = lockdown_start_;
    resume_on = lockdown_end_;
    reason = "Ārkārtējā situācija (COVID-19): pakalpojuma sniegšana klātienē pārtraukta";
  } else if (span > 150 && rng.Chance(20)) {
    suspend_on = Workday(static_cast<int32_t>(rng.Between(grant.valid_from + 30, grant.last_day - 90)));
    resume_on = suspend_on + static_cast<int32_t>(rng.Between(14, 56));
    reason = rng.Pick(kIndividualSuspensionReasons);
  }
  if (suspend_on == kNoDate) return;
  grant.suspended_from = suspend_on;
  grant.resumed_on = resume_on;
  const std::string number = std::to_string(++grant.suspensions);
  Json suspended;
  suspended["grant_id"] = grant.id;
  suspended["reason"] = reason;
  log_.Add(suspend_on, EventType::SERVICE_SUSPENDED, "suspension:" + grant.id + ":" + number, suspend_on,
           Clerk(grant.municipality, suspend_on), std::move(suspended));
  Json resumed;
  resumed["grant_id"] = grant.id;
  log_.Add(resume_on, EventType::SERVICE_RESUMED, "resumption:" + grant.id + ":" + number, resume_on,
           Clerk(grant.municipality, resume_on), std::move(resumed), "suspension:" + grant.id + ":" + number);
}

}  // namespace di::workload::region
