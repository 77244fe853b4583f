// The adversarial history's mirror of the ledger's validation state and its Generator (see
// di/workload/fuzzy_history.h; how it works: fuzzy_history.cc).
#ifndef DI_WORKLOAD_SRC_FUZZY_GENERATOR_H_
#define DI_WORKLOAD_SRC_FUZZY_GENERATOR_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "di/ledger/civil_date.h"
#include "di/workload/fuzzy_history.h"
#include "world.h"

namespace di::workload::fuzzy {


using Json = nlohmann::json;
using ledger::AgeInYears;
using ledger::CivilDate;
using ledger::CivilFromDays;
using ledger::DaysFromCivil;
using ledger::DaysInMonth;
using ledger::FormatDate;
using ledger::kNoDate;
using Outcome = FuzzyHistoryInfo::Outcome;

inline constexpr int kFirstYear = 2016;
inline constexpr int kMonths = 96;  // 2016-01 .. 2023-12

// A service (by JSON name, as the generator writes it): the catalogue's unit and a typical price.
struct ServiceSpec {
  Unit unit;
  int64_t cents_per_unit;  // a typical price, to make costs look like costs
};

// Indexed by Service (the catalogue's order).
inline constexpr int64_t kCentsPerUnit[kServiceCount] = {
    12,    // child_care
    4500,  // respite
    3500,  // child_rehabilitation
    2500,  // child_day_centre
    3000,  // parent_rehabilitation
    10,    // adult_home_care
    2200,  // adult_day_centre
    2000,  // adult_specialised_workshop
    3000,  // adult_group_home
    5000,  // adult_respite
    4000,  // adult_specialist_consultation
    3000,  // adult_psychologist_consultation
    1500,  // adult_support_group
    15,    // social_mentor
    10,    // family_assistant
    1200,  // parent_support_group
};

inline ServiceSpec Spec(const std::string& name) {
  static const std::map<std::string, Service, std::less<>> by_name = [] {
    std::map<std::string, Service, std::less<>> services;
    for (int i = 0; i < kServiceCount; ++i) services.emplace(NameOf(static_cast<Service>(i)), static_cast<Service>(i));
    return services;
  }();
  const auto it = by_name.find(name);
  const Service service = it == by_name.end() ? Service::CHILD_CARE : it->second;  // names come from the generator
  return ServiceSpec{UnitOf(service), kCentsPerUnit[static_cast<int>(service)]};
}

// The most one delivery may hold per day of its span (docs/events.md §2.5).
inline int64_t MaxPerDay(Unit unit) {
  switch (unit) {
    case Unit::MINUTES: return 1440;
    case Unit::DAYS: return 1;
    case Unit::SESSIONS: return 50;
  }
  return 1;
}

// The day a person born on `birth` turns `years` (29 February: 1 March in common years).
inline int32_t Birthday(int32_t birth, int years) {
  const CivilDate civil = CivilFromDays(birth);
  const int year = civil.year + years;
  if (civil.month == 2 && civil.day == 29 && !ledger::IsLeapYear(year)) return Date(year, 3, 1);
  return Date(year, civil.month, civil.day);
}

// How a record with a validity (a disability, a special-care opinion) is renewed: the chance of the first
// record and of a renewal once the validity ends within `lead_days` of the month's end; the first is valid
// from up to `backdated_days` before the enrolment, 30 % of renewals leave a gap of gap_min..gap_max days;
// a record is open-ended by `open_ended_per_mille`, else valid valid_min..valid_max days.
struct Renewal {
  int first_per_mille, renewal_per_mille, lead_days;
  int64_t backdated_days, gap_min, gap_max;
  int open_ended_per_mille;
  int64_t valid_min, valid_max;
};

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
  bool prepared_for_transition = false;  // adults: a transition_prepared recorded
  bool independent = false;              // adults: an independent_life_started recorded
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
  std::string project_id;  // the project that pays: the one it names, else its municipality's
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
  Generator(uint64_t seed, const FuzzyHistoryOptions& options);

  std::vector<Json> Run(FuzzyHistoryInfo* info);

 private:
  // ------------------------------------------------------------------------------------------------------
  // Randomness: an unbiased range reduction over mt19937_64 (the standard distributions are not portable).
  // ------------------------------------------------------------------------------------------------------
  uint64_t Below(uint64_t n);
  int64_t Between(int64_t low, int64_t high);
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
  int32_t MonthStart() const { return Date(year_, month_, 1); }
  int32_t MonthEnd() const { return MonthStart() + DaysInMonth(year_, month_) - 1; }
  int32_t Today() { return static_cast<int32_t>(Between(MonthStart(), MonthEnd())); }
  static int32_t MonthStartOf(int index) { return Date(kFirstYear + index / 12, 1 + index % 12, 1); }
  // The index of the month `earliest` falls in (at most 71).
  static int EnrolMonthFrom(int32_t earliest);

  // ------------------------------------------------------------------------------------------------------
  // Writing events
  // ------------------------------------------------------------------------------------------------------
  std::string NextEventId(std::string_view prefix);

  Json MakeEvent(std::string_view prefix, const std::string& type, int32_t date, Json data, const std::string& actor);

  // Writes a valid event. `stream_grant`: the grant whose stream it goes to (sometimes sends the stream's
  // version as expected_version, and counts the event in it). Returns the event id.
  std::string Emit(const std::string& type, int32_t date, Json data, const std::string& actor,
                   GrantState* stream_grant = nullptr, const std::string& causation_id = "");

  void EmitRefused(Json event, std::string code, std::string field, std::string what);

  void FlushNoise();

  static std::string SocialService(const std::string& municipality_id) { return municipality_id + ":social-service"; }

  // ------------------------------------------------------------------------------------------------------
  // Municipalities
  // ------------------------------------------------------------------------------------------------------
  // Active on `date` as the ledger knows it: registered, and not merged away on or before `date`.
  bool Active(const std::string& id, int32_t date) const;
  // The municipality that stands for `id` on `date`: itself, or its successor once merged.
  std::string ActiveFor(const std::string& id, int32_t date) const;
  bool BelongsTo(std::string municipality_id, const std::string& claimant_id) const;

  // ------------------------------------------------------------------------------------------------------
  // The world
  // ------------------------------------------------------------------------------------------------------
  // Plans the persons (who, born when, living where, enrolled in which month, representing whom) and the
  // months of the merger and of the rule sets.
  void PlanWorld();
  PersonState& AddPerson(const std::string& group, int32_t birth);
  std::vector<std::string> PlanChildren(int count);
  void PlanAdults(int count);
  void PlanParents(int count, const std::vector<std::string>& child_ids, const std::string& in_care_id);
  void PlanSpecialDates(const std::vector<std::string>& child_ids);

  void Setup();

  std::string TherapyKind(const std::string& service);  // "" : no kind recorded
  // `project_id`: the rules govern that project alone ("" : every project without rules of its own).
  void EnactRules(int32_t date, const Json& document, const std::string& title, const std::string& project_id = "");

  void RecordMerger();

  void WorldEvents();

  void Enrol();

  void EnrolPerson(PersonState& person);

  // ------------------------------------------------------------------------------------------------------
  // Facts about persons
  // ------------------------------------------------------------------------------------------------------
  void PersonFacts();

  // The first day of a record due this month (none if none is due), and its last (kNoDate: open-ended).
  std::optional<int32_t> RenewedFrom(bool recorded, int32_t until, int32_t enrolled_on, const Renewal& terms);
  int32_t RenewedUntil(int32_t from, const Renewal& terms);

  void MaybeDisability(PersonState& person, const std::vector<std::string>& groups, const std::string& cause,
                       const std::string& actor);

  void MaybeOpinion(PersonState& person, const std::string& actor);

  void MaybePlan(PersonState& person, const std::vector<std::string>& services, int per_mille);

  void MaybeActivity(PersonState& person, const std::string& actor);
  // An adult in a state social care centre prepared for community life, then moving out: dated up to 45 days back
  // (recorded late), a preparation now and then recorded twice.
  void MaybeTransition(PersonState& person);

  // ------------------------------------------------------------------------------------------------------
  // Grants
  // ------------------------------------------------------------------------------------------------------
  std::vector<std::string> ServicesOf(const PersonState& person) const;

  // The grant's period and quantity per period: often exactly a rule's cap, sometimes above or below it.
  void ChooseShape(const std::string& service, std::string* period, int64_t* quantity);

  std::string ProviderFor(const std::string& service);

  bool HasActiveGrant(const PersonState& person, const std::string& service) const;

  int ActiveGrants(const PersonState& person) const;

  void NewGrant(PersonState& person);

  void GrantLifecycle();

  // ------------------------------------------------------------------------------------------------------
  // Deliveries
  // ------------------------------------------------------------------------------------------------------
  // The label of the grant's period containing `date`, for the generator's own usage count.
  std::string PeriodKey(const GrantState& grant, int32_t date) const;

  int64_t Cost(const GrantState& grant, int64_t quantity);

  void Deliver(GrantState& grant, int32_t date, int32_t last_date, int64_t quantity);

  // One ordinary delivery on a day of [low, high].
  void LightDelivery(GrantState& grant, int32_t low, int32_t high);

  // Deliveries totalling `total` within [low, high]: as few as the per-day limits allow, on distinct days.
  void FillPeriod(GrantState& grant, int32_t low, int32_t high, int64_t total);

  void Deliveries();

  void BoundaryDeliveries();

  void LateDeliveries();

  // A live delivery, mostly a recent one; "" if none was found in a bounded number of tries.
  std::string RandomLiveDelivery();

  void CorrectionsAndVoids();

  // ------------------------------------------------------------------------------------------------------
  // Claims, reviews, payments
  // ------------------------------------------------------------------------------------------------------
  bool Claimable(const DeliveryState& delivery, const std::string& claimant, const std::string& project_id,
                 int32_t from, int32_t until) const;

  void FileClaim(const std::string& claimant, const std::string& project_id, int32_t date, int32_t from, int32_t until);
  // The individual budget pilot (PR-IBM, no budget until it is recorded late): M-BAUSKA a partner besides its own
  // project, some of its grants paid by the pilot; partners and activities of the projects.
  void ProjectOutputs();

  void Claims();

  void Reviews();

  void Payments();

  // ------------------------------------------------------------------------------------------------------
  // Events the ledger must refuse. Each is wrong in exactly one way, the first check that fails names the
  // expected field; none changes the mirror.
  // ------------------------------------------------------------------------------------------------------
  // The id of a random entry of `states` that satisfies `predicate` ("" if none does).
  template <typename State, typename Predicate>
  std::string RandomIdOf(const std::map<std::string, State>& states, Predicate predicate) {
    std::vector<std::string> found;
    for (const auto& [id, state] : states) {
      if (predicate(state)) found.push_back(id);
    }
    return found.empty() ? std::string() : Pick(found);
  }
  template <typename Predicate>
  GrantState* RandomGrant(Predicate predicate) {
    const std::string id = RandomIdOf(grants_, predicate);
    return id.empty() ? nullptr : &grants_[id];
  }

  // The data of refused events (each with an id of its own): a delivery on `grant`, a claim of one line, a
  // claim of one delivery by the municipality that stands for its grant's on `date`, a grant of respite.
  Json DeliveryData(const GrantState& grant, int64_t quantity);
  Json ClaimData(const std::string& project_id, const std::string& claimant, int32_t from, int32_t until,
                 const std::string& delivery_id, int64_t amount, int64_t total);
  Json DeliveryClaimData(const std::string& delivery_id, int32_t date, int64_t amount, int64_t total);
  Json RespiteGrantData(const std::string& person_id, int32_t valid_from, int32_t valid_until);

  void Refuse(const std::string& type, int32_t date, Json data, std::string field, std::string what,
              std::string code = "invalid_argument");

  // Writes a refused event of `kind` (0..44) if the mirror holds what it needs; false if it does not.
  bool TryInvalid(int kind);
  bool RefuseDelivery(int kind, int32_t today);
  bool RefuseDeliveryChange(int kind, int32_t today);
  bool RefuseClaim(int kind, int32_t today);
  bool RefuseReview(int kind, int32_t today);
  bool RefusePayment(int kind, int32_t today);
  bool RefuseGrantChange(int kind, int32_t today);
  bool RefusePersonRecord(int kind, int32_t today);
  bool RefuseDecision(int kind, int32_t today);
  bool RefuseMalformed(int kind);

  void EmitInvalid();

  // ------------------------------------------------------------------------------------------------------
  // State
  // ------------------------------------------------------------------------------------------------------
  const uint64_t seed_;
  const RuleFacts& rules_ = DefaultRuleFacts();  // the rules' dates (projections/rules/mk313.json)
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
  bool pilot_budget_known_ = false;
  bool merger_after_grants_ = false;
  int rules_month_ = 70;
  int broken_rules_month_ = -1;
  int kurzeme_rules_month_ = -1;          // PR-KUR enacts rules of its own (-1: never)
  int closure_month_ = -1;                // a provider closes (-1: never), and reopens (-1: not in the history)
  int reopen_month_ = -1;
  std::string closed_provider_;
  int32_t closed_on_ = 0;
  bool broken_rules_for_kurzeme_ = false;  // the draft that does not parse names PR-KUR alone
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

}  // namespace di::workload::fuzzy

#endif  // DI_WORKLOAD_SRC_FUZZY_GENERATOR_H_
