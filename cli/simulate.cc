// Synthetic history of the Zemgale DI project (see simulate.h).
//
// How the generator works
// -----------------------
// Every event gets a *record day* (the simulated day it is entered into the ledger, never before its
// effective date) and a sequence number (the order in which the generator created it). Events wait in a
// priority queue and are written in (record day, sequence) order. The generator only creates an event
// after the events it references, and never gives it an earlier record day than theirs, so the file order
// always respects references, while late entries (a delivery typed in a week after it happened) still
// show up naturally.
//
// The simulation walks month by month. In each month it
//   1. enrols the households whose enrolment falls in the month and plans their whole career at once
//      (assessments, support plans, applications, decisions, grant chains with renewals, amendments,
//      suspensions and early ends): these are few events per person and are queued with future record
//      days;
//   2. generates the month's deliveries for every active grant (the bulk of the events), with the odd
//      correction or void recorded a few days later;
//   3. files the month's reimbursement claims (2-6 weeks after month end) with review and payments.
// Before a month is processed, every queued event recorded before that month is written out: nothing
// generated later can be recorded earlier, which the log checks. Memory therefore holds the planned
// careers and roughly two months of deliveries, not the whole history.
//
// Entitlements follow the default rule set (projections/rules/mk313.json, docs/rules.md), so that most
// of the delivered cost is eligible, as in a project whose municipalities know the rules:
//   - a grant ends with the entitlement it was decided under (the 2021-07-01 amendments, the abolition of
//     the count caps in 2022, a child's fifth birthday and, for child care, the parent's activity), and
//     what follows is a new decision under the new terms;
//   - a grant for a number of sessions covers the sessions its rhythm needs, within what is left of the
//     rules' count cap over the support plan or the rules' window (drawn down grant by grant); an
//     extension adds the sessions for the extra months; while a cap is used up the chain of grants pauses
//     until the next entitlement starts;
//   - GRT services stop when the two free years after the first plan run out before 2021-07-01, and
//     resume with a new plan once the amendment lifts the limit; children in care (BSAC) are assessed
//     and planned for but get none of the reimbursed services, for which the rules have no rule;
//   - providers keep each delivery within the grant's quantity per period and the rules' caps per person
//     (the weekly/monthly care hours and their 40 h leisure part, the 30 respite days a year).
// A deliberate few percent of the cost is not: providers that deliver beyond the grant or the caps, care
// for a parent's changed activity that was not re-decided, GRT services that went on for some months past
// the free period, late special-care opinions and late plan reviews. These are the findings the
// eligibility and funding reports show.
//
// Determinism: one xoshiro256** generator per purpose (household, grant-month, claim...), seeded from the
// options' seed by SplitMix64, with an unbiased integer range reduction written here. No floating point,
// no clock, no hash-ordered containers.
#include "simulate.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "di/ledger/civil_date.h"

namespace di::cli {
namespace {

using Json = nlohmann::ordered_json;
using ::di::ledger::AgeInYears;
using ::di::ledger::CivilDate;
using ::di::ledger::CivilFromDays;
using ::di::ledger::DaysFromCivil;
using ::di::ledger::DaysInMonth;
using ::di::ledger::FormatDate;
using ::di::ledger::kNoDate;

// ---------------------------------------------------------------------------------------------------------
// Deterministic random numbers
// ---------------------------------------------------------------------------------------------------------

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Purposes of the independent random streams. A stream is identified by the seed, its purpose and up to
// two numbers (e.g. grant number and month), so changing how much randomness one part of the simulation
// consumes does not shift every other part.
enum class Stream : uint64_t {
  kHouseholds = 1,
  kHousehold,
  kDeliveries,
  kClaims,
  kSetup,
  kExpenses,
  kRecordedTimes,
};

// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
class Rng {
 public:
  Rng(uint64_t seed, Stream stream, uint64_t a = 0, uint64_t b = 0) {
    uint64_t mix = seed;
    uint64_t key = SplitMix64(&mix) ^ (static_cast<uint64_t>(stream) * 0xD6E8FEB86659FD93ULL);
    key = SplitMix64(&key) ^ a;
    key = SplitMix64(&key) ^ (b * 0xA0761D6478BD642FULL);
    for (uint64_t& word : state_) word = SplitMix64(&key);
  }

  uint64_t Next() {
    const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = std::rotl(state_[3], 45);
    return result;
  }

  // Uniform integer in [lo, hi] (hi < lo yields lo). Rejection sampling keeps it unbiased.
  int64_t Between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t reject_below = (0 - range) % range;  // 2^64 mod range
    uint64_t r = Next();
    while (r < reject_below) r = Next();
    return lo + static_cast<int64_t>(r % range);
  }

  bool Chance(int per_mille) { return Between(0, 999) < per_mille; }

  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Between(0, static_cast<int64_t>(N) - 1))];
  }

  // Index drawn with the given integer weights.
  template <typename Weights>
  size_t Weighted(const Weights& weights) {
    int64_t total = 0;
    for (const auto w : weights) total += w;
    int64_t r = Between(0, total - 1);
    for (size_t i = 0; i < std::size(weights); ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return std::size(weights) - 1;
  }

 private:
  std::array<uint64_t, 4> state_;
};

// ---------------------------------------------------------------------------------------------------------
// Calendar helpers (day numbers as in di::ledger)
// ---------------------------------------------------------------------------------------------------------

int32_t Date(int year, int month, int day) { return DaysFromCivil(year, month, day); }

// Monday = 0 ... Sunday = 6 (1970-01-01, day 0, was a Thursday).
int Weekday(int32_t day) {
  int remainder = static_cast<int>(day % 7);
  if (remainder < 0) remainder += 7;
  return (remainder + 3) % 7;
}

// Number of the Monday-based week; used to skip every other week for fortnightly sessions.
// (Simulated days are all after 1970, so plain division is floor division.)
int64_t WeekIndex(int32_t day) { return (static_cast<int64_t>(day) + 3) / 7; }

// Offices work on weekdays: administrative events falling on a weekend move to the next Monday.
int32_t Workday(int32_t day) {
  const int weekday = Weekday(day);
  return weekday == 5 ? day + 2 : weekday == 6 ? day + 1 : day;
}

int32_t AddMonths(int32_t day, int months) {
  const CivilDate date = CivilFromDays(day);
  int month_index = date.year * 12 + (date.month - 1) + months;
  const int year = month_index / 12;
  const int month = month_index % 12 + 1;
  return Date(year, month, std::min(date.day, DaysInMonth(year, month)));
}

int32_t AddYears(int32_t day, int years) { return AddMonths(day, 12 * years); }

int32_t MonthStart(int32_t day) {
  const CivilDate date = CivilFromDays(day);
  return Date(date.year, date.month, 1);
}

int32_t MonthEnd(int32_t day) {
  const CivilDate date = CivilFromDays(day);
  return Date(date.year, date.month, DaysInMonth(date.year, date.month));
}

int32_t YearEnd(int32_t day) { return Date(CivilFromDays(day).year, 12, 31); }

// Last day on which a person born on `birth_date` is still 17 (children's services stop then).
int32_t LastDayAsChild(int32_t birth_date) { return AddYears(birth_date, 18) - 1; }

// A birth date giving exactly `age` completed years on `on`.
int32_t BirthDateForAge(int32_t on, int age, Rng& rng) {
  int32_t birth = AddYears(on, -age) - static_cast<int32_t>(rng.Between(0, 364));
  while (AgeInYears(birth, on) > age) ++birth;
  while (AgeInYears(birth, on) < age) --birth;
  return birth;
}

// ---------------------------------------------------------------------------------------------------------
// Money: integer cents only
// ---------------------------------------------------------------------------------------------------------

// round(numerator / denominator) with halves rounded up, for non-negative numerator, positive denominator.
int64_t DivideHalfUp(int64_t numerator, int64_t denominator) {
  return (2 * numerator + denominator) / (2 * denominator);
}

// amount * part / whole, rounded half-up, without overflowing 64 bits: the quotient of amount / whole is
// multiplied exactly, and only the remainder (< whole) is scaled, which keeps products below 2^63 for any
// budget figure of this project.
int64_t ShareHalfUp(int64_t amount, int64_t part, int64_t whole) {
  const int64_t quotient = amount / whole;
  const int64_t remainder = amount % whole;
  return quotient * part + DivideHalfUp(remainder * part, whole);
}

// ---------------------------------------------------------------------------------------------------------
// Vocabulary (names are the JSON spellings of the schema enumerants)
// ---------------------------------------------------------------------------------------------------------

enum class Service : uint8_t {
  kChildCare,
  kRespite,
  kChildRehabilitation,
  kChildDayCentre,
  kParentRehabilitation,
  kAdultHomeCare,
  kAdultDayCentre,
  kAdultSpecialisedWorkshop,
  kAdultGroupHome,
  kAdultRespite,
  kAdultSpecialistConsultation,
  kAdultPsychologistConsultation,
  kAdultSupportGroup,
  kSocialMentor,
  kFamilyAssistant,
  kParentSupportGroup,
};
constexpr int kServiceCount = 16;

enum class Unit : uint8_t { kMinutes, kDays, kSessions };

// How deliveries of a service are spread over a month.
enum class Pattern : uint8_t {
  kVisits,       // on fixed weekdays (care visits, day-centre days, sessions)
  kWeeklyStays,  // continuous residence, entered per week with a last date (group homes)
  kBlocks,       // occasional multi-day stays (respite)
};

struct ServiceProfile {
  const char* name;
  Unit unit;
  Pattern pattern;
  int min_visits_per_week;
  int max_visits_per_week;
  int min_visit_quantity;  // minutes per visit (kMinutes); otherwise unused
  int max_visit_quantity;
  int64_t min_rate_cents;  // per hour (kMinutes), per day (kDays), per session (kSessions)
  int64_t max_rate_cents;
  int fortnightly_per_mille;  // share of grants with sessions every other week
  int stay_per_mille;         // kBlocks: chance of a stay in a month
  int min_stay_days;
  int max_stay_days;
  bool closes_in_lockdown;  // suspended during the COVID-19 emergency of spring 2020
  bool remote_in_lockdown;  // delivered remotely during the emergency
};

// Indexed by Service. Rates are typical 2016-2023 municipal prices in Zemgale.
constexpr ServiceProfile kProfiles[kServiceCount] = {
    {"child_care", Unit::kMinutes, Pattern::kVisits, 3, 5, 60, 480, 500, 850, 0, 0, 0, 0, false, false},
    {"respite", Unit::kDays, Pattern::kBlocks, 0, 0, 0, 0, 2500, 4500, 0, 350, 1, 5, true, false},
    {"child_rehabilitation", Unit::kSessions, Pattern::kVisits, 1, 3, 0, 0, 2000, 4500, 150, 0, 0, 0, false,
     true},
    {"child_day_centre", Unit::kDays, Pattern::kVisits, 3, 5, 0, 0, 1500, 3000, 0, 0, 0, 0, true, false},
    {"parent_rehabilitation", Unit::kSessions, Pattern::kVisits, 1, 2, 0, 0, 2000, 4000, 300, 0, 0, 0, false,
     true},
    {"adult_home_care", Unit::kMinutes, Pattern::kVisits, 3, 5, 30, 240, 600, 800, 0, 0, 0, 0, false, false},
    {"adult_day_centre", Unit::kDays, Pattern::kVisits, 4, 5, 0, 0, 1500, 3000, 0, 0, 0, 0, true, false},
    {"adult_specialised_workshop", Unit::kDays, Pattern::kVisits, 3, 5, 0, 0, 1500, 2500, 0, 0, 0, 0, true,
     false},
    {"adult_group_home", Unit::kDays, Pattern::kWeeklyStays, 0, 0, 0, 0, 1800, 3500, 0, 0, 0, 0, false,
     false},
    {"adult_respite", Unit::kDays, Pattern::kBlocks, 0, 0, 0, 0, 2500, 4500, 0, 200, 3, 10, true, false},
    {"adult_specialist_consultation", Unit::kSessions, Pattern::kVisits, 1, 2, 0, 0, 2500, 4500, 300, 0, 0, 0,
     false, true},
    {"adult_psychologist_consultation", Unit::kSessions, Pattern::kVisits, 1, 1, 0, 0, 3000, 3000, 300, 0, 0,
     0, false, true},
    {"adult_support_group", Unit::kSessions, Pattern::kVisits, 1, 2, 0, 0, 1000, 2000, 0, 0, 0, 0, true,
     false},
    {"social_mentor", Unit::kMinutes, Pattern::kVisits, 1, 2, 60, 180, 800, 1200, 0, 0, 0, 0, false, true},
    {"family_assistant", Unit::kMinutes, Pattern::kVisits, 2, 3, 120, 240, 600, 800, 0, 0, 0, 0, false,
     false},
    {"parent_support_group", Unit::kSessions, Pattern::kVisits, 1, 1, 0, 0, 1500, 2500, 600, 0, 0, 0, true,
     false},
};

const ServiceProfile& ProfileOf(Service service) { return kProfiles[static_cast<int>(service)]; }

enum class TargetGroup : uint8_t {
  kAdultMentalDisability,
  kChildFunctionalImpairment,
  kParentOfChild,
  kChildInCare,
  kFosterOrAdoptiveCandidate,
};
constexpr const char* kTargetGroupNames[] = {"adult_mental_disability", "child_functional_impairment",
                                             "parent_of_child", "child_in_care",
                                             "foster_or_adoptive_candidate"};

enum class Period : uint8_t { kWeek, kMonth, kYear, kGrantPeriod };
constexpr const char* kPeriodNames[] = {"week", "month", "year", "grant_period"};

enum class Activity : uint8_t { kWorking, kStudying, kEmploymentAgencyMeasure, kDayCentre, kNotActive };
constexpr const char* kActivityNames[] = {"working", "studying", "employment_agency_measure", "day_centre",
                                          "not_active"};
constexpr std::array<int, 5> kActivityWeights = {55, 6, 6, 3, 30};

constexpr const char* kRelationNames[] = {"parent", "legal_representative", "foster_parent"};

enum class EventType : uint8_t {
  kProjectRegistered,
  kBudgetAmended,
  kProjectExpenseRecorded,
  kMunicipalityRegistered,
  kMunicipalitiesMerged,
  kProviderRegistered,
  kProviderContracted,
  kPersonEnrolled,
  kResidenceChanged,
  kDisabilityRecorded,
  kSpecialCareOpinionRecorded,
  kParentActivityRecorded,
  kNeedsAssessed,
  kSupportPlanApproved,
  kApplicationSubmitted,
  kApplicationDecided,
  kServiceGranted,
  kGrantAmended,
  kGrantEnded,
  kServiceSuspended,
  kServiceResumed,
  kServiceDelivered,
  kDeliveryCorrected,
  kDeliveryVoided,
  kReimbursementClaimed,
  kClaimReviewed,
  kReimbursementPaid,
};
constexpr const char* kEventTypeNames[] = {
    "project_registered",
    "budget_amended",
    "project_expense_recorded",
    "municipality_registered",
    "municipalities_merged",
    "provider_registered",
    "provider_contracted",
    "person_enrolled",
    "residence_changed",
    "disability_recorded",
    "special_care_opinion_recorded",
    "parent_activity_recorded",
    "needs_assessed",
    "support_plan_approved",
    "application_submitted",
    "application_decided",
    "service_granted",
    "grant_amended",
    "grant_ended",
    "service_suspended",
    "service_resumed",
    "service_delivered",
    "delivery_corrected",
    "delivery_voided",
    "reimbursement_claimed",
    "claim_reviewed",
    "reimbursement_paid",
};

// ---------------------------------------------------------------------------------------------------------
// Project facts (domain brief §4, §5.1, §6.1, §7)
// ---------------------------------------------------------------------------------------------------------

constexpr char kProjectId[] = "9.2.2.1-15-I-001";
constexpr char kProjectActor[] = "project:zpr";
constexpr char kFinanceActor[] = "finance:zpr";

// Budget versions in cents with the stated ESF amounts (the sources' figures, which are a few cents
// off an exact 85 %; domain brief §5.1 says to keep the stated amounts). The state part is the rest.
struct BudgetVersion {
  int year, month, day;
  int64_t total_cents;
  int64_t esf_cents;
  const char* reason;
};
constexpr BudgetVersion kBudgetVersions[] = {
    {2015, 7, 1, 677834800, 576159580, nullptr},
    {2021, 5, 18, 941235000, 800049743, "Projekta budžeta palielinājums pakalpojumu izmaksu segšanai"},
    {2022, 10, 18, 865635000, 735789743,
     "Grozījumi SAM 9.2.2.1 MK noteikumos (spēkā no 18.10.2022): budžeta un rādītāju precizēšana"},
    {2023, 1, 15, 975635000, 845789743,
     "ESF finansējuma palielinājums (ESF 86,69 %), valsts budžeta daļa nemainīga"},
};

struct TargetRow {
  const char* indicator;
  const char* target_group;
  int count;
};
// Three generations of output-indicator targets (domain brief §6.1).
const std::vector<TargetRow> kTargetsInitial = {
    {"persons_assessed", "adult_mental_disability", 300},
    {"persons_assessed", "child_in_care", 334},
    {"persons_assessed", "child_functional_impairment", 356},
    {"support_plans", "adult_mental_disability", 300},
    {"support_plans", "child_in_care", 334},
    {"support_plans", "child_functional_impairment", 356},
    {"persons_receiving_services", "adult_mental_disability", 251},
    {"persons_prepared_for_transition", "adult_mental_disability", 84},
};
const std::vector<TargetRow> kTargets2022 = {
    {"persons_assessed", "adult_mental_disability", 542},
    {"persons_assessed", "child_in_care", 276},
    {"persons_assessed", "child_functional_impairment", 631},
    {"support_plans", "adult_mental_disability", 542},
    {"support_plans", "child_in_care", 276},
    {"support_plans", "child_functional_impairment", 631},
    {"persons_receiving_services", "adult_mental_disability", 249},
    {"persons_receiving_services", "child_functional_impairment", 440},
    {"persons_prepared_for_transition", "adult_mental_disability", 53},
};
const std::vector<TargetRow> kTargets2023 = {
    {"persons_assessed", "adult_mental_disability", 545},
    {"persons_assessed", "child_in_care", 276},
    {"persons_assessed", "child_functional_impairment", 630},
    {"support_plans", "adult_mental_disability", 545},
    {"support_plans", "child_in_care", 276},
    {"support_plans", "child_functional_impairment", 630},
    {"persons_receiving_services", "adult_mental_disability", 351},
    {"persons_receiving_services", "child_functional_impairment", 521},
    {"persons_prepared_for_transition", "adult_mental_disability", 53},
};

// The six post-reform municipalities ("regions" of the simulation); pre-reform ones point at them.
enum Region : int { kAizkraukle, kBauska, kDobele, kJelgavaCounty, kJekabpils, kJelgavaCity, kRegionCount };

struct RegionSeed {
  const char* successor_id;
  const char* successor_name;
};
constexpr RegionSeed kRegions[kRegionCount] = {
    {"M21-AIZKRAUKLE", "Aizkraukles novads"}, {"M21-BAUSKA", "Bauskas novads"},
    {"M21-DOBELE", "Dobeles novads"},         {"M21-JELGAVA", "Jelgavas novads"},
    {"M21-JEKABPILS", "Jēkabpils novads"},    {"M21-JELGAVA-CITY", "Jelgavas valstspilsēta"},
};

struct MunicipalitySeed {
  const char* id;
  const char* name;
  Region region;
  int population_hundreds;  // approximate 2020 population: the weight for where persons live
};
// The 22 pre-reform municipalities of the Zemgale planning region (domain brief §7.1).
constexpr MunicipalitySeed kPreReform[] = {
    {"M-AIZKRAUKLE", "Aizkraukles novads", kAizkraukle, 80},
    {"M-JAUNJELGAVA", "Jaunjelgavas novads", kAizkraukle, 50},
    {"M-KOKNESE", "Kokneses novads", kAizkraukle, 50},
    {"M-NERETA", "Neretas novads", kAizkraukle, 33},
    {"M-PLAVINAS", "Pļaviņu novads", kAizkraukle, 50},
    {"M-SKRIVERI", "Skrīveru novads", kAizkraukle, 35},
    {"M-BAUSKA", "Bauskas novads", kBauska, 230},
    {"M-IECAVA", "Iecavas novads", kBauska, 90},
    {"M-RUNDALE", "Rundāles novads", kBauska, 35},
    {"M-VECUMNIEKI", "Vecumnieku novads", kBauska, 80},
    {"M-AUCE", "Auces novads", kDobele, 67},
    {"M-DOBELE", "Dobeles novads", kDobele, 200},
    {"M-TERVETE", "Tērvetes novads", kDobele, 35},
    {"M-JELGAVA", "Jelgavas novads", kJelgavaCounty, 230},
    {"M-OZOLNIEKI", "Ozolnieku novads", kJelgavaCounty, 100},
    {"M-JEKABPILS-CITY", "Jēkabpils pilsēta", kJekabpils, 220},
    {"M-JEKABPILS", "Jēkabpils novads", kJekabpils, 45},
    {"M-AKNISTE", "Aknīstes novads", kJekabpils, 25},
    {"M-KRUSTPILS", "Krustpils novads", kJekabpils, 55},
    {"M-SALA", "Salas novads", kJekabpils, 33},
    {"M-VIESITE", "Viesītes novads", kJekabpils, 35},
    {"M-JELGAVA-CITY", "Jelgavas pilsēta", kJelgavaCity, 560},
};
constexpr int kPreReformCount = static_cast<int>(std::size(kPreReform));

enum class Register : uint8_t {
  kNone,
  kSocialServiceProviders,
  kMedicalPractitioners,
  kMedicalInstitutions,
  kPsychologists
};
constexpr const char* kRegisterNames[] = {"", "social_service_providers", "medical_practitioners",
                                          "medical_institutions", "psychologists"};

// ---------------------------------------------------------------------------------------------------------
// Event log: pending events ordered by (record day, creation sequence)
// ---------------------------------------------------------------------------------------------------------

class EventLog {
 public:
  EventLog(std::ostream& out, uint64_t seed) : out_(out), times_(seed, Stream::kRecordedTimes) {
    ledger::ParseUtcMicros(kLatestSimulatedRecordedAt, &latest_micros_);
  }

  // Nothing may be recorded before `day` any more (its predecessors may already be written).
  void SetFloor(int32_t day) { floor_ = day; }

  void Add(int32_t record_day, EventType type, const std::string& id, int32_t effective_date,
           const std::string& actor, Json data, const std::string& causation_id = {}) {
    record_day = std::max(record_day, effective_date);
    if (record_day < floor_) {
      throw std::logic_error("simulate: event " + id + " would be recorded on " + FormatDate(record_day) +
                             ", after later events were written");
    }
    Json event;
    event["id"] = id;
    event["type"] = kEventTypeNames[static_cast<int>(type)];
    event["effective_date"] = FormatDate(effective_date);
    event["actor"] = actor;
    if (!causation_id.empty()) event["causation_id"] = causation_id;
    event["data"] = std::move(data);
    pending_.push(Pending{record_day, next_sequence_++, type, event.dump()});
  }

  // Writes every pending event recorded before `day`.
  void WriteRecordedBefore(int32_t day) {
    while (!pending_.empty() && pending_.top().record_day < day) {
      const Pending& top = pending_.top();
      // The line is `{"id":...}`: "recorded_at" goes first, as in the ledger's recorded form.
      out_ << "{\"recorded_at\":\"" << ledger::FormatUtcMicros(RecordedAt(top.record_day)) << "\","
           << std::string_view(top.line).substr(1) << '\n';
      ++summary_.events;
      switch (top.type) {
        case EventType::kPersonEnrolled:
          ++summary_.persons;
          break;
        case EventType::kServiceDelivered:
          ++summary_.deliveries;
          break;
        case EventType::kReimbursementClaimed:
          ++summary_.claims;
          break;
        default:
          break;
      }
      pending_.pop();
    }
  }

  const SimulateSummary& summary() const { return summary_; }

 private:
  static constexpr int64_t kMicrosPerSecond = 1000000;
  static constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

  // The recorded time of the next event written, recorded on `day`: the office opens between 07:30 and 09:00, and
  // entries follow each other 20 s to 6 min apart (a clerk typing in a batch of timesheets), up to the end of the
  // day. Events come in record-day order, so the times never decrease; the ceiling keeps them out of the future.
  int64_t RecordedAt(int32_t day) {
    const int64_t day_start = static_cast<int64_t>(day) * kMicrosPerDay;
    if (day != last_day_) {
      last_day_ = day;
      last_micros_ = std::max(last_micros_, day_start + times_.Between(27000, 32400) * kMicrosPerSecond +
                                                times_.Between(0, kMicrosPerSecond - 1));
    } else {
      last_micros_ = std::min(last_micros_ + times_.Between(20 * kMicrosPerSecond, 360 * kMicrosPerSecond),
                              std::max(last_micros_, day_start + kMicrosPerDay - 1));
    }
    return std::min(last_micros_, latest_micros_);
  }

  struct Pending {
    int32_t record_day;
    uint64_t sequence;
    EventType type;
    std::string line;
  };
  struct RecordedLater {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.record_day != b.record_day ? a.record_day > b.record_day : a.sequence > b.sequence;
    }
  };

  std::ostream& out_;
  Rng times_;                        // of the recorded times, a stream of its own: the events do not move
  int64_t latest_micros_ = 0;        // kLatestSimulatedRecordedAt
  int32_t last_day_ = kNoDate;       // record day of the last event written
  int64_t last_micros_ = INT64_MIN;  // its recorded time
  std::priority_queue<Pending, std::vector<Pending>, RecordedLater> pending_;
  uint64_t next_sequence_ = 0;
  int32_t floor_ = INT32_MIN;
  SimulateSummary summary_;
};

std::string NumberedId(std::string_view prefix, uint64_t number, int width) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%0*llu", width, static_cast<unsigned long long>(number));
  return std::string(prefix) + digits;
}

Json ServiceList(const std::vector<Service>& services) {
  Json list = Json::array();
  for (const Service service : services) list.push_back(ProfileOf(service).name);
  return list;
}

Json TargetList(const std::vector<TargetRow>& rows) {
  Json list = Json::array();
  for (const TargetRow& row : rows) {
    Json target;
    target["indicator"] = row.indicator;
    target["target_group"] = row.target_group;
    target["count"] = row.count;
    list.push_back(std::move(target));
  }
  return list;
}

// ---------------------------------------------------------------------------------------------------------
// Simulation state
// ---------------------------------------------------------------------------------------------------------

struct Municipality {
  std::string id;
  std::string name;
  Region region;
  int weight;
};

struct Provider {
  std::string id;
  std::string name;
  bool natural_person = false;
  Register register_kind = Register::kNone;
  std::string registration_number;
  Register second_register = Register::kNone;
  std::string second_registration_number;
  std::vector<Service> services;
  int region = -1;  // Region, or -1 for providers serving the whole planning region
  int32_t available_from = 0;
  bool personal_carer = false;  // natural person chosen by a family for child care
  // Earliest contracted day per municipality (index), so a grant never names a provider the municipality
  // had not contracted by then.
  std::vector<std::pair<int, int32_t>> contracted_from;

  bool Offers(Service service) const {
    return std::find(services.begin(), services.end(), service) != services.end();
  }
};

struct ActivitySpan {
  int32_t from;
  int32_t until;  // inclusive; INT32_MAX when open-ended
  Activity activity;
};

struct Person {
  std::string id;
  TargetGroup group;
  int32_t birth_date;
  int32_t enrolled_on;
  int home;                    // pre-reform municipality of the declared residence
  int32_t moved_on = kNoDate;  // a move to another municipality, if any
  int moved_to = -1;
  int parent = -1;  // FT children: the enrolled parent
  int carer = -1;   // child care by a natural person chosen by the family (provider index)
  int residence_changes = 0;
  int disability_records = 0;
  int opinion_records = 0;
  int activity_records = 0;
  std::vector<ActivitySpan> activities;  // parents
  std::vector<int> children;             // parents: the represented FT children
  int32_t first_assessed_on = kNoDate;
  // Usage of the rules' person-level caps over a week, month or year, keyed by CapKey().
  std::map<int64_t, int64_t> cap_usage;
};

// A cap of the rules that counts a person's deliveries over a week, month or year across grants; the
// generator keeps deliveries under it, as the municipality's social service does when it plans the care.
// The first three values match Period, so a periodic grant's own quantity is counted the same way.
enum class CapPeriodKind : uint8_t { kWeek, kMonth, kYear };
struct PersonCap {
  uint8_t id = 0;  // one per cap id of the rule set
  CapPeriodKind period = CapPeriodKind::kMonth;
  bool leisure_only = false;  // counts deliveries for leisure only (the 40 h sub-cap of child care)
  int64_t limit = 0;
};

int64_t CapInstance(CapPeriodKind period, int32_t day) {
  switch (period) {
    case CapPeriodKind::kWeek:
      return WeekIndex(day);
    case CapPeriodKind::kMonth: {
      const CivilDate date = CivilFromDays(day);
      return static_cast<int64_t>(date.year) * 12 + date.month;
    }
    case CapPeriodKind::kYear:
      return CivilFromDays(day).year;
  }
  return 0;
}

int64_t CapKey(const PersonCap& cap, int32_t day) {
  return (static_cast<int64_t>(cap.id) << 40) + CapInstance(cap.period, day);
}

struct Grant {
  uint32_t number;
  std::string id;
  int person;
  Service service;
  int municipality;
  int32_t decided_on;
  int32_t valid_from;
  int32_t last_day;  // valid_until after amendments, or the day of grant_ended
  int provider;
  int provider_after = -1;
  int32_t provider_changes_on = kNoDate;
  int32_t suspended_from = kNoDate;
  int32_t resumed_on = kNoDate;
  bool unit_cost = false;
  int64_t rate_cents = 0;  // actual price per hour/day/session, or the unit cost
  int64_t rate_after_cents = 0;
  int32_t rate_changes_on = kNoDate;
  int64_t quantity = 0;  // per period; for kGrantPeriod the total after the planned amendments
  Period period = Period::kGrantPeriod;
  // The quantity in force from a day on (ascending days; planned amendments only ever raise it, so the
  // ledger's "quantity after amendments" never falls below what was delivered under an earlier value).
  std::vector<std::pair<int32_t, int64_t>> quantity_steps;
  // Most providers keep within the granted quantity and the rules' caps; the others deliver as usual and
  // leave the excess to the eligibility check (the findings a report must show).
  bool keeps_limits = true;
  int64_t period_instance = INT64_MIN;  // the grant's current week/month/year (0 for kGrantPeriod)
  int64_t period_used = 0;
  std::array<PersonCap, 2> person_caps{};
  int person_cap_count = 0;
  uint8_t weekdays = 0;  // bit 0 = Monday
  bool fortnightly = false;
  bool weekly_entries = false;  // day services entered once a week with a last date
  int visit_quantity = 1;
  int stay_per_mille = 0;  // kBlocks: chance of a stay starting in a given month
  bool leisure_only = false;
  int leisure_per_mille = 0;
  int amendments = 0;
  int suspensions = 0;

  bool SuspendedOn(int32_t day) const {
    return suspended_from != kNoDate && day >= suspended_from && day < resumed_on;
  }
  int ProviderOn(int32_t day) const {
    return provider_changes_on != kNoDate && day >= provider_changes_on ? provider_after : provider;
  }
  int64_t RateOn(int32_t day) const {
    return rate_changes_on != kNoDate && day >= rate_changes_on ? rate_after_cents : rate_cents;
  }
  int64_t QuantityOn(int32_t day) const {
    int64_t in_force = quantity_steps.empty() ? quantity : quantity_steps.front().second;
    for (const auto& [from, value] : quantity_steps) {
      if (day >= from) in_force = value;
    }
    return in_force;
  }
  void AddPersonCap(uint8_t id, CapPeriodKind period, bool leisure_only, int64_t limit) {
    person_caps[static_cast<size_t>(person_cap_count++)] = PersonCap{id, period, leisure_only, limit};
  }
};

enum class HouseholdKind : uint8_t { kAdult, kFamily, kChildInCare, kCandidate };

struct Household {
  HouseholdKind kind;
  int children = 0;  // kFamily: FT children sharing one enrolled parent
  int32_t enrol_on;
  uint64_t index;  // stable identity for the household's random stream
};

// An application for one or more services and the grants that follow it.
struct BlockRequest {
  int person = -1;
  std::vector<Service> services;
  int32_t apply_on = 0;
  int32_t start_on = 0;        // services start no earlier than this
  int32_t stop_on = 0;         // services end on this day at the latest
  bool stop_is_break = false;  // stop_on ends running grants early (grant_ended) instead of being planned
  const char* end_reason = "completed";
  const char* end_note = nullptr;
  std::string plan_id;
  int submitted_by = -1;
  bool may_be_refused = true;
};

// The person's unplanned departure from services, if any.
struct Departure {
  int32_t on = kNoDate;
  const char* reason = nullptr;
  const char* note = nullptr;
};

struct ClaimableDelivery {
  uint32_t number;
  int municipality;  // the grant's municipality
  int64_t amount_cents;
};

constexpr std::array<const char*, 4> kRefusalReasons = {
    "Iesniegumam nav pievienoti nepieciešamie dokumenti",
    "Persona nav deklarējusi dzīvesvietu pašvaldības administratīvajā teritorijā",
    "Pieprasītais pakalpojums nav norādīts individuālajā atbalsta plānā",
    "Pašvaldībā pašlaik nav pieejams pakalpojuma sniedzējs",
};
constexpr std::array<const char*, 3> kRejectionReasons = {
    "Nav iesniegti pakalpojuma sniegšanu apliecinoši dokumenti",
    "Pakalpojums sniegts pārsniedzot piešķirto apjomu",
    "Pakalpojuma sniedzējs pakalpojuma sniegšanas dienā nebija reģistrēts attiecīgajā reģistrā",
};
constexpr std::array<const char*, 3> kPartialReasons = {
    "Izmaksas apstiprinātas atbilstoši līgumā noteiktajai cenai",
    "Daļa izmaksu nav attiecināmas (transporta izdevumi)",
    "Apstiprināts faktiski sniegtais apjoms atbilstoši apmeklējuma uzskaitei",
};
constexpr std::array<const char*, 2> kVoidReasons = {
    "Pakalpojums netika sniegts (klients neieradās)",
    "Dubults ieraksts",
};
constexpr std::array<const char*, 2> kIndividualSuspensionReasons = {
    "Klients ārstējas stacionārā",
    "Pēc klienta lūguma uz laiku",
};

// ---------------------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------------------

class Simulator {
 public:
  Simulator(const SimulateOptions& options, std::ostream& out);
  SimulateSummary Run();

 private:
  // Set-up of the project, the partners and the providers.
  void RegisterProject();
  void RegisterMunicipalities();
  void MergeMunicipalities();
  void AmendBudget();
  void RecordProjectExpenses();
  void RegisterProviders();
  int AddProvider(Provider provider, int32_t registered_on);
  void EnsureContract(int provider, int municipality, int32_t needed_on);

  // Persons.
  std::vector<Household> PlanHouseholds();
  void EnrolHousehold(const Household& household);
  void PlanAdult(Rng& rng, int32_t enrol_on);
  void PlanFamily(Rng& rng, int32_t enrol_on, int children);
  void PlanChildInCare(Rng& rng, int32_t enrol_on);
  void PlanCandidate(Rng& rng, int32_t enrol_on);
  int EnrolPerson(TargetGroup group, int32_t birth_date, int home, int32_t enrol_on, int relation = 0,
                  const std::vector<int>& children = {});
  void RecordDisabilities(int person, int32_t on, bool child, Rng& rng);
  int32_t RecordOpinions(int person, int32_t on, Rng& rng);
  void RecordParentActivities(int parent, int32_t on, int32_t until, Rng& rng);
  void MovePerson(int person, int32_t on, int new_home);

  // Assessment, plans and services.
  struct CareerPlan {
    int person;
    const char* method;
    const char* assessor;
    int32_t first_assessment_on;
    int32_t planned_end;  // services end (age-out, project end)
    Departure departure;
    bool receives_services;
    std::vector<Service> services;
    std::vector<Service> also_recommended;
    std::vector<Service> optional_services;  // may be added at a re-assessment
    int submitted_by = -1;
    bool adult;
  };
  struct CareerResult {
    int32_t first_plan_on = kNoDate;
    int32_t services_until = kNoDate;
  };
  CareerResult PlanAssessedCareer(const CareerPlan& plan, Rng& rng);
  void PlanBlockAroundDeparture(BlockRequest request, const Departure& departure, Rng& rng);
  void PlanServiceBlock(const BlockRequest& request, Rng& rng);
  void PlanGrantChain(const BlockRequest& request, Service service, int municipality, int32_t decided_on,
                      int32_t valid_from, std::string application_id, std::string causation, Rng& rng);
  int32_t NaturalGrantEnd(int person, Service service, int32_t valid_from, Rng& rng) const;
  bool MustRegrant(int person, Service service, int32_t valid_until) const;
  int32_t EntitlementEnd(int person, Service service, int32_t day, bool follow_activity) const;
  int32_t ActivityChange(int child, int32_t day) const;
  // A count cap of the rules over a support plan or a dated window, as the person's remaining quantity.
  struct CountCap {
    std::string key;        // person, cap and instance (plan or window)
    int64_t limit = 0;
    std::string share_key;  // when several granted services share the cap: this service's share
    int share_of = 1;
  };
  bool CountCapOn(const BlockRequest& request, Service service, int32_t day, CountCap* cap) const;
  int64_t CountCapRoom(const CountCap& cap) const;
  void TakeFromCountCap(const CountCap& cap, int64_t quantity);
  bool HasEntitlement(const BlockRequest& request, Service service, int32_t day) const;
  int64_t SessionsFor(const Grant& grant, int32_t from, int32_t until) const;
  int ChooseProvider(int person, Service service, int municipality, int32_t on, Rng& rng);
  int CreateGrant(const BlockRequest& request, Service service, int municipality, int32_t decided_on,
                  int32_t valid_from, int32_t valid_until, const std::string& application_id,
                  const std::string& causation, Rng& rng);
  void PlanGrantLife(Grant& grant, int32_t valid_until, const BlockRequest& request, Rng& rng);
  std::string SubmitApplication(int person, const std::vector<Service>& services, int32_t on,
                                int submitted_by, Rng& rng);
  std::string DecideApplication(const std::string& application_id, int municipality, int32_t on,
                                const char* refusal_reason);
  void AmendGrant(Grant& grant, int32_t on, Json changes, const char* reason);
  bool ParentActiveOn(int child, int32_t day) const;

  // Monthly work.
  void DeliverMonth(int32_t month_start, int32_t month_end, std::vector<ClaimableDelivery>* claimable);
  int64_t Room(const Grant& grant, int32_t day, bool leisure) const;
  void UseCaps(Grant& grant, int32_t day, int64_t quantity, bool leisure);
  void RecordDelivery(Grant& grant, int32_t first, int32_t last, int64_t quantity, const char* purpose,
                      int32_t month_end, Rng& rng, std::vector<ClaimableDelivery>* claimable);
  int64_t DeliveryCost(const Grant& grant, int64_t quantity, int32_t day) const;
  void ClaimMonth(int32_t month_start, int32_t month_end, const std::vector<ClaimableDelivery>& deliveries);
  const BudgetVersion& BudgetOn(int32_t day) const;

  // Helpers.
  int SuccessorOf(int municipality) const {
    return municipality >= kPreReformCount
               ? municipality
               : kPreReformCount + static_cast<int>(municipalities_[municipality].region);
  }
  int MunicipalityOn(int pre_reform, int32_t day) const {
    return day >= reform_ ? SuccessorOf(pre_reform) : pre_reform;
  }
  int ResidenceOn(int person, int32_t day) const {
    const Person& p = persons_[person];
    const int pre = p.moved_on != kNoDate && day >= p.moved_on ? p.moved_to : p.home;
    return MunicipalityOn(pre, day);
  }
  // The social service that records events for a municipality's grants on a day (after the reform the
  // successor's staff handle the predecessors' files).
  std::string Clerk(int municipality, int32_t day) const {
    return "clerk:" + municipalities_[day >= reform_ ? SuccessorOf(municipality) : municipality].id;
  }
  int PickHome(Rng& rng) const {
    std::array<int, kPreReformCount> weights{};
    for (int i = 0; i < kPreReformCount; ++i) weights[i] = kPreReform[i].population_hundreds;
    return static_cast<int>(rng.Weighted(weights));
  }

  SimulateOptions options_;
  EventLog log_;

  // Key dates (domain brief §4).
  const int32_t project_start_ = Date(2015, 7, 1);
  const int32_t project_end_ = Date(2023, 12, 31);
  const int32_t agreement_signed_ = Date(2015, 12, 8);
  const int32_t services_end_ = Date(2023, 8, 31);
  const int32_t reform_ = Date(2021, 7, 1);
  const int32_t rules_unlimited_ = Date(2022, 6, 16);
  const int32_t lockdown_start_ = Date(2020, 3, 13);
  const int32_t lockdown_end_ = Date(2020, 6, 10);
  const int32_t unit_cost_update_ = Date(2022, 7, 1);
  const int32_t first_contracts_ = Date(2016, 1, 4);

  int32_t services_start_;
  int32_t horizon_;
  int32_t enrol_last_;

  std::vector<Municipality> municipalities_;  // 22 pre-reform, then the 6 successors
  std::vector<Provider> providers_;
  int general_care_provider_ = -1;
  std::vector<Person> persons_;
  std::vector<Grant> grants_;
  std::map<std::string, int64_t> count_caps_;  // CountCap key -> remaining quantity

  uint64_t contracts_ = 0;
  uint64_t assessments_ = 0;
  uint64_t plans_ = 0;
  uint64_t applications_ = 0;
  uint64_t deliveries_ = 0;
  uint64_t payments_ = 0;
  uint64_t expenses_ = 0;
  uint64_t carers_ = 0;
};

Simulator::Simulator(const SimulateOptions& options, std::ostream& out) : options_(options), log_(out, options.seed) {
  // The project starts services in 2016; earlier first years would precede the agreement.
  services_start_ = std::max(Date(std::max(options_.first_year, 1900), 1, 1), Date(2016, 1, 1));
  const int last_year = std::min(options_.first_year + std::max(options_.years, 0) - 1, 2199);
  horizon_ = options_.years > 0 ? Date(std::max(last_year, 1900), 12, 31) : services_start_ - 1;
  // Nobody is enrolled in the last three months of services: there would be nothing left to provide.
  enrol_last_ = std::min(horizon_, Date(2023, 5, 31));
}

SimulateSummary Simulator::Run() {
  RegisterProject();
  RegisterMunicipalities();
  MergeMunicipalities();
  AmendBudget();
  RecordProjectExpenses();
  RegisterProviders();

  const std::vector<Household> households = PlanHouseholds();
  size_t next_household = 0;
  std::vector<ClaimableDelivery> claimable;
  const int32_t last_month = std::min(horizon_, project_end_);
  for (int32_t month_start = MonthStart(services_start_); month_start <= last_month;
       month_start = MonthEnd(month_start) + 1) {
    const int32_t month_end = MonthEnd(month_start);
    log_.WriteRecordedBefore(month_start);
    log_.SetFloor(month_start);
    while (next_household < households.size() && households[next_household].enrol_on <= month_end) {
      EnrolHousehold(households[next_household++]);
    }
    claimable.clear();
    DeliverMonth(month_start, month_end, &claimable);
    ClaimMonth(month_start, month_end, claimable);
  }
  // Everything recorded within the simulated years is written; later events (claims of the last months,
  // planned renewals) fall outside the simulated period and are dropped. Dropping a suffix of record days
  // never orphans a reference, because nothing references an event recorded later than itself.
  log_.WriteRecordedBefore(horizon_ + 1);
  return log_.summary();
}

// ---------------------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------------------

void Simulator::RegisterProject() {
  const BudgetVersion& initial = kBudgetVersions[0];
  Json data;
  data["project_id"] = kProjectId;
  data["name"] = "Atver sirdi Zemgalē";
  data["region"] = "Zemgale";
  data["agreement_number"] = "9.2.2.1/15/I/001";
  data["period_start"] = FormatDate(project_start_);
  data["period_end"] = FormatDate(project_end_);
  data["services_paid_until"] = FormatDate(services_end_);
  data["budget_total_cents"] = initial.total_cents;
  data["budget_esf_cents"] = initial.esf_cents;
  data["budget_state_cents"] = initial.total_cents - initial.esf_cents;
  data["targets"] = TargetList(kTargetsInitial);
  log_.Add(agreement_signed_, EventType::kProjectRegistered, std::string("project:") + kProjectId,
           agreement_signed_, kProjectActor, std::move(data));
}

void Simulator::RegisterMunicipalities() {
  for (const MunicipalitySeed& seed : kPreReform) {
    municipalities_.push_back(Municipality{seed.id, seed.name, seed.region, seed.population_hundreds});
    Json data;
    data["municipality_id"] = seed.id;
    data["name"] = seed.name;
    data["project_id"] = kProjectId;
    log_.Add(agreement_signed_, EventType::kMunicipalityRegistered, std::string("municipality:") + seed.id,
             agreement_signed_, kProjectActor, std::move(data));
  }
  for (int region = 0; region < kRegionCount; ++region) {
    municipalities_.push_back(Municipality{kRegions[region].successor_id, kRegions[region].successor_name,
                                           static_cast<Region>(region), 0});
  }
}

void Simulator::MergeMunicipalities() {
  // Queued now with the reform's record day; everything referring to a successor is created later.
  for (int region = 0; region < kRegionCount; ++region) {
    Json predecessors = Json::array();
    for (const MunicipalitySeed& seed : kPreReform) {
      if (seed.region == region) predecessors.push_back(seed.id);
    }
    Json data;
    data["successor_id"] = kRegions[region].successor_id;
    data["successor_name"] = kRegions[region].successor_name;
    data["predecessor_ids"] = std::move(predecessors);
    data["project_id"] = kProjectId;
    log_.Add(reform_, EventType::kMunicipalitiesMerged, std::string("merge:") + kRegions[region].successor_id,
             reform_, kProjectActor, std::move(data));
  }
}

void Simulator::AmendBudget() {
  for (size_t i = 1; i < std::size(kBudgetVersions); ++i) {
    const BudgetVersion& version = kBudgetVersions[i];
    const int32_t on = Date(version.year, version.month, version.day);
    Json data;
    data["project_id"] = kProjectId;
    data["total_cents"] = version.total_cents;
    data["esf_cents"] = version.esf_cents;
    data["state_cents"] = version.total_cents - version.esf_cents;
    data["reason"] = version.reason;
    if (version.year == 2022) data["targets"] = TargetList(kTargets2022);
    if (version.year == 2023) data["targets"] = TargetList(kTargets2023);
    log_.Add(on, EventType::kBudgetAmended, std::string("budget:") + kProjectId + ":" + FormatDate(on), on,
             kFinanceActor, std::move(data));
  }
}

void Simulator::RecordProjectExpenses() {
  struct PlannedExpense {
    int year, month, day;
    const char* category;
    int64_t min_euro, max_euro;
    const char* description;
  };
  // Project-level activities named in the sources (domain brief §6.5, §4), with plausible costs.
  static constexpr PlannedExpense kPlanned[] = {
      {2016, 3, 15, "information_event", 400, 1200,
       "Informatīvais seminārs pašvaldību sociālajiem dienestiem"},
      {2016, 6, 20, "planning", 8000, 15000, "Zemgales reģiona DI plāna izstrāde, 1. posms"},
      {2016, 10, 12, "training", 3000, 6000, "Apmācības atbalsta intensitātes skalas lietošanā"},
      {2017, 2, 28, "planning", 15000, 25000, "Zemgales reģiona DI plāns 2017-2020"},
      {2017, 5, 18, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
      {2017, 9, 21, "training", 2500, 6000, "Apmācības sociālajiem darbiniekiem darbam ar bērniem ar FT"},
      {2017, 11, 15, "planning", 20000, 40000, "Bērnu sociālās aprūpes centru reorganizācijas plāni"},
      {2018, 3, 22, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
      {2018, 8, 6, "camp", 8000, 11000,
       "Integrējošā nometne jauniešiem \"Satekas\" (30 dalībnieki, 13-17 g.)"},
      {2018, 10, 17, "exchange_trip", 2000, 5000,
       "Pieredzes apmaiņas brauciens uz Kurzemes plānošanas reģionu"},
      {2019, 4, 11, "information_event", 300, 900, "Informatīvais vakars potenciālajiem aizbildņiem"},
      {2019, 7, 15, "camp", 8000, 10500, "Nometne \"Dimantu kalns\" (28 dalībnieki)"},
      {2019, 9, 10, "transition_preparation", 10000, 25000,
       "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
      {2019, 10, 23, "exchange_trip", 2000, 5000, "Pieredzes apmaiņas brauciens"},
      {2020, 2, 13, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
      {2020, 7, 20, "camp", 7000, 9500, "Nometne \"Mauriņi\" (25 dalībnieki)"},
      {2020, 9, 15, "transition_preparation", 10000, 25000,
       "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
      {2020, 11, 18, "training", 2000, 4000, "Attālinātas apmācības pakalpojumu sniedzējiem"},
      {2021, 3, 17, "information_event", 200, 600, "Tiešsaistes informatīvais vakars audžuģimenēm"},
      {2021, 7, 12, "camp", 12000, 16000, "Nometne \"Mauriņi\", divas grupas (42 bērni, 7-12 g.)"},
      {2021, 9, 14, "transition_preparation", 10000, 25000,
       "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
      {2021, 10, 6, "exchange_trip", 2000, 5000, "Pieredzes apmaiņas brauciens"},
      {2021, 11, 24, "information_event", 300, 900, "Pasākums bērniem ar invaliditāti un viņu ģimenēm"},
      {2022, 3, 16, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
      {2022, 6, 30, "video", 12000, 18000, "18 video stāsti par sabiedrībā balstītiem pakalpojumiem"},
      {2022, 8, 8, "camp", 10000, 14000, "Piecu nakšu nometne jauniešiem (12-17 g.)"},
      {2022, 9, 13, "transition_preparation", 8000, 20000,
       "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
      {2022, 11, 7, "training", 6000, 10000, "Apmācības (8 dienas, 2022. gada novembris-decembris)"},
      {2023, 2, 14, "information_event", 300, 800, "Diskusija vecākiem (Jelgava)"},
      {2023, 7, 13, "camp", 9000, 13000, "Ģimeņu nometne \"Rati\", 1. grupa (40 dalībnieki)"},
      {2023, 7, 17, "camp", 8000, 12000, "Jauniešu integrējošā nometne \"Valle\""},
      {2023, 7, 20, "camp", 9000, 13000, "Ģimeņu nometne \"Rati\", 2. grupa (40 dalībnieki)"},
      {2023, 9, 14, "information_event", 300, 900, "Diskusija par pakalpojumu ilgtspēju (Jēkabpils)"},
  };
  Rng rng(options_.seed, Stream::kExpenses);
  // Assessment fees are paid quarterly, interleaved with the named activities in date order.
  struct Expense {
    int32_t on;
    const char* category;
    int64_t cents;
    std::string description;
  };
  std::vector<Expense> expenses;
  for (const PlannedExpense& planned : kPlanned) {
    expenses.push_back(Expense{Date(planned.year, planned.month, planned.day), planned.category,
                               rng.Between(planned.min_euro * 100, planned.max_euro * 100),
                               planned.description});
  }
  for (int32_t quarter = Date(2016, 4, 20); quarter <= Date(2023, 7, 20); quarter = AddMonths(quarter, 3)) {
    expenses.push_back(Expense{quarter, "assessment", rng.Between(400000, 1500000),
                               "Individuālo vajadzību izvērtēšana: speciālistu atlīdzība par ceturksni"});
  }
  std::stable_sort(expenses.begin(), expenses.end(),
                   [](const Expense& a, const Expense& b) { return a.on < b.on; });
  for (const Expense& expense : expenses) {
    if (expense.on < services_start_) continue;
    const std::string expense_id = NumberedId("X-", ++expenses_, 4);
    Json data;
    data["project_id"] = kProjectId;
    data["expense_id"] = expense_id;
    data["category"] = expense.category;
    data["amount_cents"] = expense.cents;
    data["description"] = expense.description;
    log_.Add(expense.on, EventType::kProjectExpenseRecorded, "expense:" + expense_id, expense.on,
             kProjectActor, std::move(data));
  }
}

int Simulator::AddProvider(Provider provider, int32_t registered_on) {
  Json data;
  data["provider_id"] = provider.id;
  data["name"] = provider.name;
  data["kind"] = provider.natural_person ? "natural_person" : "legal_person";
  if (provider.register_kind != Register::kNone) {
    Json registers = Json::array();
    Json entry;
    entry["register"] = kRegisterNames[static_cast<int>(provider.register_kind)];
    entry["registration_number"] = provider.registration_number;
    registers.push_back(std::move(entry));
    if (provider.second_register != Register::kNone) {
      Json second;
      second["register"] = kRegisterNames[static_cast<int>(provider.second_register)];
      second["registration_number"] = provider.second_registration_number;
      registers.push_back(std::move(second));
    }
    data["registers"] = std::move(registers);
  }
  log_.Add(registered_on, EventType::kProviderRegistered, "provider:" + provider.id, registered_on,
           kProjectActor, std::move(data));
  provider.available_from = std::max(provider.available_from, registered_on);
  providers_.push_back(std::move(provider));
  return static_cast<int>(providers_.size()) - 1;
}

// Contracts exist per provider and municipality. When a grant needs a contract earlier than any recorded
// one (careers are planned household by household, not in date order), a contract covering the gap is
// added, so every grant's provider is under contract with the granting municipality on the decision day.
void Simulator::EnsureContract(int provider_index, int municipality, int32_t needed_on) {
  Provider& provider = providers_[provider_index];
  // A pre-reform municipality's contracts end with the municipality.
  int32_t contract_end = municipality < kPreReformCount ? reform_ - 1 : services_end_;
  auto known = std::find_if(provider.contracted_from.begin(), provider.contracted_from.end(),
                            [municipality](const auto& entry) { return entry.first == municipality; });
  if (known == provider.contracted_from.end()) {
    provider.contracted_from.emplace_back(municipality, needed_on);
  } else if (known->second <= needed_on) {
    return;
  } else {
    contract_end = known->second - 1;  // covers the gap before the contract already recorded
    known->second = needed_on;
  }
  const std::string contract_id = NumberedId("K-", ++contracts_, 5);
  Json data;
  data["contract_id"] = contract_id;
  data["provider_id"] = provider.id;
  data["municipality_id"] = municipalities_[municipality].id;
  data["services"] = ServiceList(provider.services);
  data["period_start"] = FormatDate(needed_on);
  data["period_end"] = FormatDate(std::max(contract_end, needed_on));
  log_.Add(needed_on, EventType::kProviderContracted, "contract:" + contract_id, needed_on,
           Clerk(municipality, needed_on), std::move(data));
}

void Simulator::RegisterProviders() {
  using S = Service;
  struct ProviderSeed {
    const char* id;
    const char* name;
    int region;
    int year, month, day;  // first available (ERAF-built sites opened from 2020)
    std::vector<Service> services;
  };
  // Service sites named in domain brief §7.3, plus a few region-wide providers (the two synthetic
  // "SIA"/"biedrība" names stand for the many small providers the sources do not name).
  const std::vector<ProviderSeed> seeds = {
      {"PR-SPROGU-SKOLA",
       "Sociālā dienesta grupu dzīvokļi \"Sproģu skola\"",
       kAizkraukle,
       2016,
       1,
       4,
       {S::kAdultGroupHome}},
      {"PR-VIGANTE", "Grupu māja \"Vīgante\"", kAizkraukle, 2018, 9, 3, {S::kAdultGroupHome}},
      {"PR-VIETALVA", "Vietalvas grupu dzīvoklis", kAizkraukle, 2019, 5, 2, {S::kAdultGroupHome}},
      {"PR-PLAVINAS-DAC",
       "Pļaviņu dienas aprūpes centrs",
       kAizkraukle,
       2020,
       9,
       1,
       {S::kAdultDayCentre, S::kChildDayCentre, S::kAdultGroupHome}},
      {"PR-SPROGI-DAC", "Sproģu dienas aprūpes centrs", kAizkraukle, 2016, 1, 4, {S::kAdultDayCentre}},
      {"PR-NERETA-GD", "Neretas grupu dzīvokļi", kAizkraukle, 2020, 11, 2, {S::kAdultGroupHome}},
      {"PR-SARKANA-SKOLA",
       "Multifunkcionālais centrs \"Sarkanā skola\"",
       kBauska,
       2016,
       1,
       4,
       {S::kAdultDayCentre, S::kChildDayCentre}},
      {"PR-RUNDALE-DAC",
       "Rundāles dienas aprūpes centrs \"Saulaine\"",
       kBauska,
       2020,
       6,
       15,
       {S::kAdultDayCentre, S::kChildDayCentre}},
      {"PR-BAUSKA-DAC",
       "Bauskas sociālā dienesta dienas aprūpes centrs",
       kBauska,
       2016,
       1,
       4,
       {S::kAdultDayCentre, S::kAdultSpecialisedWorkshop}},
      {"PR-IECAVA-APRUPE",
       "Sociālā dienesta aprūpe mājās (Iecava)",
       kBauska,
       2016,
       1,
       4,
       {S::kAdultHomeCare}},
      {"PR-SOLIS", "Dienas aprūpes centrs \"Solis\"", kDobele, 2016, 1, 4, {S::kAdultDayCentre}},
      {"PR-DOBELE-GD",
       "Sociālais pakalpojums \"Grupu dzīvokļi\" (Dobele)",
       kDobele,
       2016,
       1,
       4,
       {S::kAdultGroupHome}},
      {"PR-DARE-AUDEAMUS",
       "SIA \"Dare Audeamus\"",
       kDobele,
       2017,
       3,
       1,
       {S::kAdultSpecialisedWorkshop, S::kAdultDayCentre}},
      {"PR-BENE-DAC", "Bēnes dienas aprūpes centrs bērniem", kDobele, 2020, 9, 1, {S::kChildDayCentre}},
      {"PR-LAIPA",
       "Multifunkcionālais sociālo pakalpojumu centrs \"Laipa\"",
       kJelgavaCounty,
       2020,
       2,
       3,
       {S::kAdultDayCentre, S::kAdultGroupHome, S::kAdultSpecialisedWorkshop}},
      {"PR-ZILE",
       "Sociālo pakalpojumu centrs \"Zīle\"",
       kJelgavaCounty,
       2020,
       9,
       1,
       {S::kAdultDayCentre, S::kChildDayCentre, S::kChildRehabilitation}},
      {"PR-UPE", "Dienas aprūpes centrs \"Upe\"", kJelgavaCounty, 2016, 1, 4, {S::kAdultDayCentre}},
      {"PR-CERIBA",
       "Biedrības \"Cerību sala\" dienas aprūpes centrs \"Cerība\"",
       kJekabpils,
       2016,
       1,
       4,
       {S::kAdultDayCentre}},
      {"PR-SAKA", "Grupu māja \"Saka\"", kJekabpils, 2016, 1, 4, {S::kAdultGroupHome}},
      {"PR-ROSME",
       "Multifunkcionālais centrs \"Rosme\"",
       kJekabpils,
       2018,
       1,
       2,
       {S::kAdultDayCentre, S::kAdultSpecialisedWorkshop}},
      {"PR-RAKSTI", "Dienas aprūpes centrs \"Raksti\"", kJekabpils, 2019, 1, 2, {S::kAdultDayCentre}},
      {"PR-DIENVIDI", "Grupu dzīvokļi \"Dienvidi\"", kJekabpils, 2019, 1, 2, {S::kAdultGroupHome}},
      {"PR-RITI", "Grupu dzīvokļi \"Rīti\"", kJekabpils, 2017, 4, 3, {S::kAdultGroupHome}},
      {"PR-CF-BIEDRIBA",
       "Cistiskās fibrozes biedrība",
       kJekabpils,
       2016,
       1,
       4,
       {S::kChildRehabilitation, S::kParentRehabilitation}},
      {"PR-ATBALSTS",
       "Dienas aprūpes centrs \"Atbalsts\"",
       kJelgavaCity,
       2016,
       1,
       4,
       {S::kAdultDayCentre, S::kAdultSpecialisedWorkshop}},
      {"PR-JELGAVA-GD",
       "Jelgavas sociālo lietu pārvaldes grupu dzīvokļi",
       kJelgavaCity,
       2016,
       1,
       4,
       {S::kAdultGroupHome}},
      {"PR-HARMONIJA",
       "Dienas aprūpes centrs \"Harmonija\"",
       kJelgavaCity,
       2016,
       1,
       4,
       {S::kAdultDayCentre, S::kChildDayCentre}},
      {"PR-JELGAVA-DI-GD",
       "DI grupu dzīvokļi, Stacijas iela 13, Jelgava",
       kJelgavaCity,
       2022,
       10,
       3,
       {S::kAdultGroupHome}},
      {"PR-IESPEJA",
       "Sociālais uzņēmums \"Iespēja izaugsmei\"",
       kJelgavaCity,
       2017,
       9,
       1,
       {S::kChildRehabilitation, S::kParentRehabilitation, S::kFamilyAssistant, S::kParentSupportGroup,
        S::kSocialMentor, S::kAdultSupportGroup}},
      {"PR-POGA",
       "Rehabilitācijas centrs \"Poga\"",
       -1,
       2016,
       1,
       4,
       {S::kChildRehabilitation, S::kParentRehabilitation}},
      {"PR-APRUPE-ZEMGALE",
       "SIA \"Aprūpes birojs Zemgalē\"",
       -1,
       2016,
       1,
       4,
       {S::kChildCare, S::kAdultHomeCare, S::kSocialMentor, S::kFamilyAssistant}},
      {"PR-ATELPA-ZEMGALE",
       "Biedrība \"Atelpas māja Zemgalē\"",
       -1,
       2016,
       1,
       4,
       {S::kRespite, S::kAdultRespite}},
      {"PR-SPECIALISTI-ZEMGALE",
       "SIA \"Speciālistu prakse Zemgalē\"",
       -1,
       2016,
       1,
       4,
       {S::kAdultSpecialistConsultation, S::kAdultSupportGroup, S::kParentSupportGroup,
        S::kChildRehabilitation, S::kParentRehabilitation}},
  };
  Rng rng(options_.seed, Stream::kSetup);
  std::vector<int> created;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const ProviderSeed& seed = seeds[i];
    Provider provider;
    provider.id = seed.id;
    provider.name = seed.name;
    provider.services = seed.services;
    provider.region = seed.region;
    provider.register_kind = Register::kSocialServiceProviders;
    provider.registration_number = NumberedId("SPSR-", 1000 + rng.Between(0, 8999), 4);
    if (provider.id == "PR-POGA" || provider.id == "PR-SPECIALISTI-ZEMGALE") {
      provider.second_register = Register::kMedicalInstitutions;
      provider.second_registration_number = NumberedId("AI-", rng.Between(100000, 999999), 6);
    }
    const int32_t available = std::max(Date(seed.year, seed.month, seed.day), first_contracts_);
    provider.available_from = available;
    created.push_back(AddProvider(std::move(provider), available));
  }
  // Psychologists and specialists in private practice (natural persons in the professional registers),
  // each working in one region. Named by register role only: natural persons' names are personal data.
  for (int i = 1; i <= 8; ++i) {
    Provider provider;
    provider.id = NumberedId("PR-PSY-", i, 2);
    provider.name = "Psihologs (fiziska persona) " + NumberedId("PSY-", i, 2);
    provider.natural_person = true;
    provider.register_kind = Register::kPsychologists;
    provider.registration_number = NumberedId("PSIH-", rng.Between(1000, 9999), 4);
    provider.services = {Service::kAdultPsychologistConsultation, Service::kAdultSpecialistConsultation,
                         Service::kChildRehabilitation, Service::kParentRehabilitation};
    provider.region = (i - 1) % kRegionCount;
    provider.available_from = first_contracts_;
    created.push_back(AddProvider(std::move(provider), first_contracts_));
  }
  for (int i = 1; i <= 6; ++i) {
    Provider provider;
    provider.id = NumberedId("PR-SPEC-", i, 2);
    provider.name = std::string(i % 2 == 1 ? "Fizioterapeits" : "Ergoterapeits") + " (fiziska persona) " +
                    NumberedId("SPEC-", i, 2);
    provider.natural_person = true;
    provider.register_kind = Register::kMedicalPractitioners;
    provider.registration_number = NumberedId("AP-", rng.Between(100000, 999999), 6);
    provider.services = {Service::kAdultSpecialistConsultation, Service::kChildRehabilitation};
    provider.region = (i - 1) % kRegionCount;
    provider.available_from = first_contracts_;
    created.push_back(AddProvider(std::move(provider), first_contracts_));
  }
  // Framework contracts: each municipality contracts the providers working in its region (pre-reform
  // contracts run until the reform; the successors sign new ones from 2021-07-01).
  for (const int index : created) {
    const Provider& provider = providers_[index];
    if (provider.id == "PR-APRUPE-ZEMGALE") general_care_provider_ = index;
    for (int m = 0; m < static_cast<int>(municipalities_.size()); ++m) {
      if (provider.region >= 0 && provider.region != municipalities_[m].region) continue;
      const bool pre_reform = m < kPreReformCount;
      const int32_t start = std::max(provider.available_from, pre_reform ? first_contracts_ : reform_);
      if (pre_reform && start >= reform_) continue;
      EnsureContract(index, m, start);
    }
  }
}

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
  log_.Add(enrol_on, EventType::kPersonEnrolled, "enrol:" + person.id, enrol_on, kProjectActor,
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
    log_.Add(recorded_on, EventType::kDisabilityRecorded,
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
    log_.Add(recorded_on, EventType::kSpecialCareOpinionRecorded,
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
    log_.Add(recorded_on, EventType::kParentActivityRecorded,
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
  log_.Add(on, EventType::kResidenceChanged,
           "residence:" + person.id + ":" + std::to_string(++person.residence_changes), on,
           Clerk(municipality, on), std::move(data));
}

void Simulator::PlanAdult(Rng& rng, int32_t enrol_on) {
  static constexpr std::array<int, 4> kAgeBandWeights = {20, 40, 30, 10};
  static constexpr std::array<std::pair<int, int>, 4> kAgeBands = {{{18, 29}, {30, 49}, {50, 64}, {65, 80}}};
  const auto [min_age, max_age] = kAgeBands[rng.Weighted(kAgeBandWeights)];
  const int32_t birth = BirthDateForAge(enrol_on, static_cast<int>(rng.Between(min_age, max_age)), rng);
  const int home = PickHome(rng);
  const int person = EnrolPerson(TargetGroup::kAdultMentalDisability, birth, home, enrol_on);
  RecordDisabilities(person, enrol_on, /*child=*/false, rng);

  Departure departure;
  const int64_t fate = rng.Between(0, 999);
  const int32_t latest = services_end_ - 60;
  if (enrol_on + 150 < latest) {
    if (fate < 40) {
      departure =
          Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, latest)), "person_deceased", nullptr};
    } else if (fate < 110) {
      departure = Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, latest)), "withdrawn_by_person",
                            "Klients atteicās no pakalpojuma"};
    } else if (fate < 160) {
      int new_home = PickHome(rng);
      if (new_home == home) new_home = (home + 7) % kPreReformCount;
      MovePerson(person, static_cast<int32_t>(rng.Between(enrol_on + 150, latest)), new_home);
    }
  }

  // What the support plan recommends and the person takes up (domain brief §3.3; take-up shares follow
  // the 01.08.2021 counts: consultations and day centres most, group homes and respite least).
  struct Choice {
    Service service;
    int per_mille;
  };
  static constexpr Choice kChoices[] = {
      {Service::kAdultDayCentre, 450},
      {Service::kAdultSpecialisedWorkshop, 140},
      {Service::kAdultGroupHome, 90},
      {Service::kAdultHomeCare, 180},
      {Service::kAdultRespite, 60},
      {Service::kAdultSpecialistConsultation, 550},
      {Service::kAdultPsychologistConsultation, 320},
      {Service::kAdultSupportGroup, 280},
      {Service::kSocialMentor, 80},
  };
  CareerPlan plan;
  plan.person = person;
  plan.method = "support_intensity_scale";
  plan.assessor = "Sociālais darbinieks, psihiatrs un ergoterapeits";
  plan.first_assessment_on = Workday(enrol_on + static_cast<int32_t>(rng.Between(7, 60)));
  plan.planned_end = services_end_;
  plan.departure = departure;
  plan.receives_services = rng.Chance(850);
  plan.adult = true;
  for (const Choice& choice : kChoices) {
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
    const Service fallback = Service::kAdultSpecialistConsultation;
    plan.services.push_back(fallback);
    std::erase(plan.also_recommended, fallback);
    std::erase(plan.optional_services, fallback);
  }
  PlanAssessedCareer(plan, rng);
}

void Simulator::PlanFamily(Rng& rng, int32_t enrol_on, int child_count) {
  const int home = PickHome(rng);
  std::vector<int> children;
  std::vector<bool> disabled;
  std::vector<int32_t> opinion_until;
  int32_t family_end = enrol_on;
  for (int i = 0; i < child_count; ++i) {
    const int age = static_cast<int>(rng.Chance(100) ? rng.Between(0, 2) : rng.Between(1, 16));
    const int32_t birth = BirthDateForAge(enrol_on, age, rng);
    const int child = EnrolPerson(TargetGroup::kChildFunctionalImpairment, birth, home, enrol_on);
    children.push_back(child);
    family_end = std::max(family_end, std::min(LastDayAsChild(birth), services_end_));
  }
  // The parent is enrolled right after the children the enrolment refers to.
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
    // Care and respite need only the special-care opinion (no assessment, no plan).
    if (opinion_until[i] != kNoDate) {
      BlockRequest request;
      request.person = child;
      if (rng.Chance(800)) request.services.push_back(Service::kChildCare);
      if (rng.Chance(300) || request.services.empty()) request.services.push_back(Service::kRespite);
      request.apply_on = Workday(enrol_on + static_cast<int32_t>(rng.Between(5, 40)));
      request.start_on = request.apply_on;
      request.stop_on = std::min(opinion_until[i], last_as_child);
      request.submitted_by = parent;
      if (rng.Chance(900)) PlanBlockAroundDeparture(request, departure, rng);
    }
    // Rehabilitation needs a disability, an assessment and a support plan.
    if (disabled[i] && rng.Chance(700)) {
      CareerPlan plan;
      plan.person = child;
      plan.method = "child_needs_assessment";
      plan.assessor = "Sociālais darbinieks un psihologs";
      plan.first_assessment_on = Workday(enrol_on + static_cast<int32_t>(rng.Between(10, 90)));
      plan.planned_end = last_as_child;
      plan.departure = departure;
      plan.receives_services = rng.Chance(900);
      plan.services = {Service::kChildRehabilitation};
      if (rng.Chance(120)) plan.services.push_back(Service::kChildDayCentre);
      plan.optional_services = {Service::kChildDayCentre};
      plan.submitted_by = parent;
      plan.adult = false;
      const CareerResult result = PlanAssessedCareer(plan, rng);
      if (plan.receives_services && result.first_plan_on != kNoDate && parent_services_from == kNoDate &&
          rng.Chance(800)) {
        parent_services_from = result.first_plan_on;
        parent_services_until = result.services_until;
      }
    }
  }
  // Parents' rehabilitation follows an assessed child's plan; Jelgava city also offers a family assistant
  // and a parents' support group (domain brief §3.2 E, F).
  if (parent_services_from != kNoDate) {
    BlockRequest request;
    request.person = parent;
    request.services = {Service::kParentRehabilitation};
    if (kPreReform[home].region == kJelgavaCity) {
      if (rng.Chance(400)) request.services.push_back(Service::kParentSupportGroup);
      if (rng.Chance(250)) request.services.push_back(Service::kFamilyAssistant);
    } else if (rng.Chance(120)) {
      request.services.push_back(Service::kParentSupportGroup);
    }
    request.apply_on = Workday(parent_services_from + static_cast<int32_t>(rng.Between(20, 60)));
    request.start_on = request.apply_on;
    request.stop_on = parent_services_until;
    PlanBlockAroundDeparture(request, departure, rng);
  }
}

void Simulator::PlanChildInCare(Rng& rng, int32_t enrol_on) {
  const int age = static_cast<int>(rng.Chance(700) ? rng.Between(10, 16) : rng.Between(3, 9));
  const int32_t birth = BirthDateForAge(enrol_on, age, rng);
  const int home = PickHome(rng);
  const int person = EnrolPerson(TargetGroup::kChildInCare, birth, home, enrol_on);
  if (rng.Chance(250)) RecordDisabilities(person, enrol_on, /*child=*/true, rng);
  const int32_t last_as_child = std::min(LastDayAsChild(birth), services_end_);
  CareerPlan plan;
  plan.person = person;
  plan.method = "child_needs_assessment";
  plan.assessor = "Sociālais darbinieks un psihologs";
  plan.first_assessment_on = Workday(enrol_on + static_cast<int32_t>(rng.Between(7, 60)));
  plan.planned_end = last_as_child;
  if (rng.Chance(300) && enrol_on + 150 < last_as_child - 60) {
    plan.departure = Departure{static_cast<int32_t>(rng.Between(enrol_on + 120, last_as_child - 60)),
                               "no_longer_eligible", "Bērns ievietots audžuģimenē"};
  }
  // BSAC children are assessed and get a support plan for their move to family care; the reimbursed
  // services of the project (child care, respite, rehabilitation, day centres) are for FT children and
  // their parents, so the plan's recommendations are not granted from the project (no rule covers them).
  plan.receives_services = false;
  plan.services = {Service::kChildRehabilitation};
  if (rng.Chance(100)) plan.services.push_back(Service::kChildDayCentre);
  plan.optional_services = {Service::kChildDayCentre};
  plan.adult = false;
  PlanAssessedCareer(plan, rng);
}

void Simulator::PlanCandidate(Rng& rng, int32_t enrol_on) {
  // Potential foster / adoptive families take part in information events only (no entitlements).
  const int32_t birth = BirthDateForAge(enrol_on, static_cast<int>(rng.Between(28, 55)), rng);
  EnrolPerson(TargetGroup::kFosterOrAdoptiveCandidate, birth, PickHome(rng), enrol_on);
}

// ---------------------------------------------------------------------------------------------------------
// Assessments, plans, applications and grants
// ---------------------------------------------------------------------------------------------------------

Simulator::CareerResult Simulator::PlanAssessedCareer(const CareerPlan& plan, Rng& rng) {
  CareerResult result;
  int32_t assess_on = plan.first_assessment_on;
  int32_t plan_from = kNoDate;
  std::vector<Service> services = plan.services;
  bool first = true;
  // Before the 2021 amendments GRT services were free for two years after the first plan. Municipalities
  // stopped them then and resumed them once the amendment of 2021-07-01 lifted the limit; some renewed the
  // plan first and went on for a few months before they stopped (deliveries the eligibility check finds
  // outside the free period).
  bool past_free_period = false;
  bool stopped_past_free_period = false;
  while (true) {
    if (assess_on >= plan.planned_end - 30) break;
    if (plan.departure.on != kNoDate && assess_on >= plan.departure.on) break;
    Person& person = persons_[plan.person];
    if (person.first_assessed_on == kNoDate) person.first_assessed_on = assess_on;
    const std::string assessment_id = NumberedId("A-", ++assessments_, 6);
    {
      Json data;
      data["assessment_id"] = assessment_id;
      data["person_id"] = person.id;
      data["method"] = plan.method;
      if (rng.Chance(700)) data["assessor"] = plan.assessor;
      log_.Add(assess_on, EventType::kNeedsAssessed, "assessment:" + assessment_id, assess_on, kProjectActor,
               std::move(data));
    }
    int32_t plan_on = Workday(assess_on + static_cast<int32_t>(rng.Between(7, 30)));
    if (first) {
      plan_from = plan_on;
      result.first_plan_on = plan_on;
    } else {
      plan_on = std::max(assess_on, std::min(plan_on, plan_from - 1));
    }
    // Before the 2021 amendments adult services were free for two years after the plan; children's
    // plans are reviewed every one or two years.
    int32_t plan_until = kNoDate;
    if (!plan.adult) {
      plan_until = std::min(plan.planned_end, AddYears(plan_from, static_cast<int>(rng.Between(1, 2))) - 1);
      plan_until = std::max(plan_until, plan_from);
    } else if (plan_from < reform_ || rng.Chance(400)) {
      plan_until = AddYears(plan_from, 2) - 1;
    }
    if (!first) {
      // At a re-assessment the plan may drop a service or add one.
      if (services.size() > 1 && rng.Chance(200))
        services.erase(services.begin() + rng.Between(0, services.size() - 1));
      if (!plan.optional_services.empty() && rng.Chance(200)) {
        const Service added = plan.optional_services[rng.Between(0, plan.optional_services.size() - 1)];
        if (std::find(services.begin(), services.end(), added) == services.end()) services.push_back(added);
      }
    }
    std::vector<Service> recommended = services;
    for (const Service extra : plan.also_recommended) {
      // The ledger rejects a service listed twice.
      if (std::find(recommended.begin(), recommended.end(), extra) == recommended.end()) {
        recommended.push_back(extra);
      }
    }
    const std::string plan_id = NumberedId("IAP-", ++plans_, 6);
    {
      Json data;
      data["plan_id"] = plan_id;
      data["person_id"] = person.id;
      data["assessment_id"] = assessment_id;
      data["recommended_services"] = ServiceList(recommended);
      data["valid_from"] = FormatDate(plan_from);
      if (plan_until != kNoDate) data["valid_until"] = FormatDate(plan_until);
      log_.Add(plan_on, EventType::kSupportPlanApproved, "plan:" + plan_id, plan_on, kProjectActor,
               std::move(data), "assessment:" + assessment_id);
    }
    const int32_t cycle_end =
        plan_until == kNoDate ? plan.planned_end : std::min(plan_until, plan.planned_end);
    // Now and then a child's review comes late: services go on for some weeks after the plan expired
    // (without a plan that lists them: a finding), and the next plan starts when the review is done.
    int32_t review_delay = 0;
    if (!plan.adult && plan.receives_services && plan_until != kNoDate &&
        plan_until + 120 < plan.planned_end && rng.Chance(120)) {
      review_delay = static_cast<int32_t>(rng.Between(14, 60));
    }
    if (plan.receives_services) {
      BlockRequest request;
      request.person = plan.person;
      request.services = services;
      request.apply_on =
          Workday(plan_on + static_cast<int32_t>(first ? rng.Between(5, 30) : rng.Between(0, 5)));
      request.start_on = first ? request.apply_on : plan_from;
      request.stop_on = cycle_end + review_delay;
      if (past_free_period) {
        request.stop_on = std::min(cycle_end, plan_from + static_cast<int32_t>(rng.Between(30, 180)));
        request.stop_is_break = true;
        request.end_note = "Beidzies bezmaksas pakalpojumu periods (divi gadi pēc pirmā atbalsta plāna)";
      }
      request.plan_id = plan_id;
      request.submitted_by = plan.submitted_by;
      PlanBlockAroundDeparture(request, plan.departure, rng);
      result.services_until =
          plan.departure.on != kNoDate ? std::min(cycle_end, plan.departure.on) : cycle_end;
    }
    if (!plan.receives_services || plan_until == kNoDate || plan_until >= plan.planned_end) break;
    if (plan.departure.on != kNoDate && plan.departure.on <= plan_until) break;
    int32_t next_from = plan_until + 1 + review_delay;
    const bool stopped_in_this_plan = past_free_period;
    past_free_period = plan.adult && next_from < reform_ && !stopped_past_free_period && rng.Chance(450);
    stopped_past_free_period = stopped_past_free_period || past_free_period;
    if (plan.adult && (next_from < reform_ || stopped_in_this_plan) && !past_free_period) {
      // The two free years are over: services stop, and most persons are re-assessed for a new plan once
      // the limit is lifted on 2021-07-01 (which replaces a plan still in force).
      if (!rng.Chance(750)) break;
      next_from = Workday(reform_ + static_cast<int32_t>(rng.Between(0, 90)));
      if (next_from >= plan.planned_end - 60) break;
      if (plan.departure.on != kNoDate && plan.departure.on <= next_from) break;
    }
    assess_on = Workday(std::max(plan_on + 1, next_from - static_cast<int32_t>(rng.Between(25, 60))));
    plan_from = next_from;
    first = false;
  }
  return result;
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
  log_.Add(on, EventType::kApplicationSubmitted, "application:" + application_id, on, Clerk(municipality, on),
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
  log_.Add(on, EventType::kApplicationDecided, event_id, on, Clerk(municipality, on), std::move(data),
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
  if ((service == Service::kRespite || service == Service::kAdultRespite) && year_end_is_far) {
    end = YearEnd(valid_from);
  } else if (service == Service::kRespite || service == Service::kAdultRespite) {
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
  const bool follows_activity = service != Service::kChildCare || !rng.Chance(200);
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
    case Service::kChildCare: {
      ends_before(reform_);
      const int32_t birth = persons_[person].birth_date;
      int32_t fifth_birthday = AddYears(birth, 5) - 1;
      while (AgeInYears(birth, fifth_birthday) < 5) ++fifth_birthday;
      ends_before(fifth_birthday);
      if (day >= reform_ && follow_activity) ends_before(ActivityChange(person, day));
      break;
    }
    case Service::kChildRehabilitation:
    case Service::kParentRehabilitation:
    case Service::kAdultSpecialistConsultation:
    case Service::kAdultPsychologistConsultation:
    case Service::kAdultSupportGroup:
      ends_before(reform_);
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
// before 2022-06-16 limit rehabilitation, consultations and support groups per support plan or over a
// dated window (domain brief §4; projections/rules/mk313.json).
bool Simulator::CountCapOn(const BlockRequest& request, Service service, int32_t day, CountCap* cap) const {
  if (day >= rules_unlimited_) return false;
  const bool v1 = day >= reform_;
  const Person& person = persons_[request.person];
  switch (service) {
    case Service::kChildRehabilitation:
      // 10 sessions of at most 4 therapies per plan, then 100 sessions per plan.
      cap->key = person.id + (v1 ? "|child-rehab-100|" : "|child-rehab-v0|") + request.plan_id;
      cap->limit = v1 ? 100 : 40;
      return true;
    case Service::kParentRehabilitation: {
      if (!v1) {
        cap->key = person.id + "|parent-rehab-v0";
        cap->limit = 20;
        return true;
      }
      // 40 sessions for each assessed child over the rest of the project.
      int64_t assessed = 0;
      for (const int child : person.children) {
        const int32_t on = persons_[child].first_assessed_on;
        if (on != kNoDate && on <= horizon_) ++assessed;
      }
      cap->key = person.id + "|parent-rehab-2021";
      cap->limit = 40 * assessed;
      return true;
    }
    case Service::kAdultSpecialistConsultation:
    case Service::kAdultPsychologistConsultation: {
      if (!v1) return false;
      // One cap of 100 for psychologist and specialist consultations: each has its share.
      cap->key = person.id + "|grt-consultations-2021";
      cap->limit = 100;
      cap->share_key = cap->key + "|" + ProfileOf(service).name;
      cap->share_of = 0;
      for (const Service other : request.services) {
        if (other == Service::kAdultSpecialistConsultation ||
            other == Service::kAdultPsychologistConsultation) {
          ++cap->share_of;
        }
      }
      cap->share_of = std::max(cap->share_of, 1);
      return true;
    }
    case Service::kAdultSupportGroup:
      if (!v1) return false;
      cap->key = person.id + "|grt-support-groups-2021";
      cap->limit = 100;
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

// The most sessions the grant's rhythm produces from `from` to `until` (double sessions included).
int64_t Simulator::SessionsFor(const Grant& grant, int32_t from, int32_t until) const {
  if (until < from) return 0;
  const int64_t weeks = (until - from) / 7 + 1;
  const int64_t visits = std::popcount(grant.weekdays) * (grant.fortnightly ? (weeks + 1) / 2 : weeks);
  return visits + visits / 10 + 1;
}

int Simulator::ChooseProvider(int person_index, Service service, int municipality, int32_t on, Rng& rng) {
  const int region = municipalities_[municipality].region;
  int chosen = -1;
  if (service == Service::kChildCare) {
    Person& child = persons_[person_index];
    if (child.carer < 0 && rng.Chance(400)) {
      // The parent names a relative or acquaintance (not living in the household) as the carer, and the
      // municipality contracts that natural person (domain brief §3.1 A).
      Provider carer;
      carer.id = NumberedId("PR-CARER-", ++carers_, 5);
      carer.name = "Aprūpētājs (fiziska persona) " + NumberedId("CARER-", carers_, 5);
      carer.natural_person = true;
      carer.services = {Service::kChildCare};
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
      throw std::logic_error(std::string("simulate: no provider offers ") + ProfileOf(service).name);
    chosen = pool[static_cast<size_t>(rng.Between(0, static_cast<int64_t>(pool.size()) - 1))];
  }
  EnsureContract(chosen, municipality, on);
  return chosen;
}

int Simulator::CreateGrant(const BlockRequest& request, Service service, int municipality, int32_t decided_on,
                           int32_t valid_from, int32_t valid_until, const std::string& application_id,
                           const std::string& causation, Rng& rng) {
  const int person_index = request.person;
  const ServiceProfile& profile = ProfileOf(service);
  Grant grant;
  grant.person = person_index;
  grant.service = service;
  grant.municipality = municipality;
  grant.decided_on = decided_on;
  grant.valid_from = valid_from;
  grant.last_day = valid_until;

  // Delivery rhythm: fixed weekdays (in a random order of preference), some sessions every other week.
  int visits_per_week =
      static_cast<int>(rng.Between(profile.min_visits_per_week, profile.max_visits_per_week));
  std::array<int, 5> weekdays = {0, 1, 2, 3, 4};
  for (int i = 4; i > 0; --i) std::swap(weekdays[i], weekdays[rng.Between(0, i)]);
  auto set_weekdays = [&]() {
    grant.weekdays = 0;
    for (int i = 0; i < visits_per_week && i < 5; ++i) {
      grant.weekdays |= static_cast<uint8_t>(1u << weekdays[i]);
    }
  };
  set_weekdays();
  grant.fortnightly = rng.Chance(profile.fortnightly_per_mille);
  grant.weekly_entries =
      profile.unit == Unit::kDays && profile.pattern == Pattern::kVisits && rng.Chance(200);
  // Most providers keep within the granted quantity; a few deliver more than granted or than the rules
  // allow (child care by the hours the family needs, sessions beyond the course), which the eligibility
  // check reports.
  static constexpr int kOverrunPerMille[kServiceCount] = {
      250,  // child_care
      0,    // respite: see below
      250, 40, 250,     // child_rehabilitation, child_day_centre, parent_rehabilitation
      150, 40, 40, 20,  // adult_home_care, adult_day_centre, adult_specialised_workshop, adult_group_home
      40, 150, 150, 150,  // adult_respite, adult_specialist_consultation, adult_psychologist_consultation,
                          // adult_support_group
      150, 150, 150,    // social_mentor, family_assistant, parent_support_group
  };
  grant.keeps_limits = !rng.Chance(kOverrunPerMille[static_cast<int>(service)]);
  // A few families rely on respite heavily; some of them go past the 30 days a year.
  const bool heavy_respite = rng.Chance(100);
  grant.stay_per_mille = heavy_respite ? 800 : profile.stay_per_mille;
  if (service == Service::kRespite) grant.keeps_limits = !(heavy_respite && rng.Chance(600));

  // Entitled quantity per period under the rules in force when the grant starts (domain brief §3, §4;
  // grants end with the entitlement they were decided under, see EntitlementEnd).
  const bool v1 = valid_from >= reform_;
  Period period = Period::kGrantPeriod;
  switch (service) {
    case Service::kChildCare: {
      const int age = AgeInYears(persons_[person_index].birth_date, valid_from);
      const bool young = age <= 4;
      if (!v1) {
        period = Period::kWeek;
        grant.quantity = (young ? 50 : 10) * 60;
        grant.AddPersonCap(young ? 1 : 2, CapPeriodKind::kWeek, false, grant.quantity);
        grant.leisure_per_mille = 100;
      } else {
        // 200 h (age 0-4) or 80 h a month when the parent works, studies or attends a measure, of which
        // at most 40 h leisure; otherwise 40 h of leisure only.
        const bool active = ParentActiveOn(person_index, valid_from);
        period = Period::kMonth;
        grant.quantity = (!active ? 40 : young ? 200 : 80) * 60;
        grant.leisure_only = !active;
        if (active) grant.AddPersonCap(young ? 3 : 4, CapPeriodKind::kMonth, false, grant.quantity);
        grant.AddPersonCap(5, CapPeriodKind::kMonth, true, 40 * 60);
        grant.leisure_per_mille = (young ? 120 : 200) * (grant.keeps_limits ? 1 : 2);
      }
      break;
    }
    case Service::kRespite:
      period = Period::kYear;
      grant.quantity = 30;
      grant.AddPersonCap(6, CapPeriodKind::kYear, false, 30);
      break;
    case Service::kAdultRespite:
      period = Period::kYear;
      grant.quantity = 30;
      break;
    case Service::kChildDayCentre:
    case Service::kAdultDayCentre:
      period = Period::kMonth;
      grant.quantity = 22;
      break;
    case Service::kAdultHomeCare:
      period = Period::kMonth;
      grant.quantity = 60 * rng.Between(20, 40);
      break;
    case Service::kAdultSpecialisedWorkshop:
      // Days a month for the weekly rhythm (a month has at most five of each weekday).
      period = Period::kMonth;
      grant.quantity = std::min(22, visits_per_week * 4 + static_cast<int>(rng.Between(2, 3)));
      break;
    case Service::kAdultGroupHome:
      period = Period::kMonth;
      grant.quantity = 31;
      break;
    case Service::kSocialMentor:
      period = Period::kMonth;
      grant.quantity = 60 * rng.Between(8, 20);
      break;
    case Service::kFamilyAssistant:
      period = Period::kMonth;
      grant.quantity = 60 * rng.Between(20, 40);
      break;
    case Service::kAdultSpecialistConsultation:
      // Unit-cost methodology until 2021-06-30, actual cost afterwards.
      grant.unit_cost = !v1;
      if (grant.unit_cost) grant.rate_cents = 2500;
      break;
    case Service::kAdultPsychologistConsultation:
      grant.unit_cost = true;  // psychologists stay on the unit cost after 2021-07-01
      grant.rate_cents = valid_from >= unit_cost_update_ ? 3600 : 3000;
      break;
    case Service::kChildRehabilitation:
    case Service::kParentRehabilitation:
    case Service::kAdultSupportGroup:
    case Service::kParentSupportGroup:
      break;
  }
  if (period == Period::kGrantPeriod) {
    // Sessions for the whole validity: what the rhythm needs, within what is left of the rules' count cap
    // (per support plan, or over the rules' window); a smaller entitlement is spread out over the grant
    // with fewer sessions a week or every other week.
    CountCap cap;
    const bool capped = CountCapOn(request, service, valid_from, &cap);
    const int64_t room = capped ? CountCapRoom(cap) : INT64_MAX;
    if (room <= 0) return -1;
    int64_t quantity = SessionsFor(grant, valid_from, valid_until);
    if (service == Service::kChildRehabilitation && !v1) {
      quantity = std::min<int64_t>(quantity, 10 * rng.Between(2, 4));  // courses of 10 sessions per therapy
    }
    quantity = std::min(quantity, room);
    // (A provider that overruns keeps a rhythm of up to about two thirds as many sessions again.)
    const int64_t tolerance = grant.keeps_limits ? quantity / 5 : quantity * 2 / 3;
    {
      while (SessionsFor(grant, valid_from, valid_until) > quantity + tolerance &&
             (visits_per_week > 1 || !grant.fortnightly)) {
        if (visits_per_week > 1) {
          --visits_per_week;
          set_weekdays();
        } else {
          grant.fortnightly = true;
        }
      }
    }
    if (capped) {
      TakeFromCountCap(cap, quantity);
    } else {
      if (!grant.keeps_limits) quantity = std::max<int64_t>(1, quantity * rng.Between(70, 90) / 100);
      quantity = (quantity + 4) / 5 * 5;
    }
    grant.quantity = quantity;
  }
  grant.period = period;
  grant.quantity_steps.emplace_back(valid_from, grant.quantity);

  grant.number = static_cast<uint32_t>(grants_.size() + 1);
  grant.id = NumberedId("G-", grant.number, 7);
  grant.provider = ChooseProvider(person_index, service, municipality, decided_on, rng);
  if (!grant.unit_cost) {
    grant.rate_cents = rng.Between(profile.min_rate_cents / 10, profile.max_rate_cents / 10) * 10;
  }
  if (providers_[grant.provider].personal_carer) grant.rate_cents = rng.Between(50, 65) * 10;

  // Minutes per visit sized so that a month's visits land a little under the entitlement (providers that
  // overrun: around or over it).
  if (profile.unit == Unit::kMinutes && visits_per_week > 0) {
    const int64_t monthly = period == Period::kWeek ? grant.quantity * 13 / 3 : grant.quantity;
    const int64_t target = monthly * (grant.keeps_limits ? rng.Between(70, 95) : rng.Between(115, 145)) / 100;
    int64_t per_visit = target * 3 / (13 * visits_per_week);
    per_visit = (per_visit + 7) / 15 * 15;
    grant.visit_quantity = static_cast<int>(
        std::clamp<int64_t>(per_visit, profile.min_visit_quantity, profile.max_visit_quantity));
  }

  Json data;
  data["grant_id"] = grant.id;
  data["person_id"] = persons_[person_index].id;
  data["municipality_id"] = municipalities_[municipality].id;
  data["service"] = profile.name;
  data["quantity"] = grant.quantity;
  data["period"] = kPeriodNames[static_cast<int>(period)];
  data["valid_from"] = FormatDate(valid_from);
  data["valid_until"] = FormatDate(valid_until);
  data["cost_basis"] = grant.unit_cost ? "unit_cost" : "actual_cost";
  if (grant.unit_cost) data["unit_cost_cents"] = grant.rate_cents;
  if (!application_id.empty()) data["application_id"] = application_id;
  if (!request.plan_id.empty()) data["plan_id"] = request.plan_id;
  data["provider_id"] = providers_[grant.provider].id;
  log_.Add(decided_on, EventType::kServiceGranted, "grant:" + grant.id, decided_on,
           Clerk(municipality, decided_on), std::move(data), causation);
  grants_.push_back(std::move(grant));
  return static_cast<int>(grants_.size()) - 1;
}

void Simulator::AmendGrant(Grant& grant, int32_t on, Json changes, const char* reason) {
  Json data;
  data["grant_id"] = grant.id;
  for (auto& [key, value] : changes.items()) data[key] = value;
  data["reason"] = reason;
  log_.Add(on, EventType::kGrantAmended, "amendment:" + grant.id + ":" + std::to_string(++grant.amendments),
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
  int32_t last_decision = decided_on;
  while (valid_from <= request.stop_on && valid_from <= services_end_) {
    if (application_id.empty()) {
      if (!HasEntitlement(request, service, valid_from)) {
        const int32_t end = EntitlementEnd(request.person, service, valid_from, true);
        if (end == INT32_MAX) return;
        valid_from = end + 1;
        continue;
      }
      // A new application (single service) decided before the grant starts. When the entitlement starts
      // before the block's own decision, the grant starts after the new decision.
      const int32_t previous_end = valid_from - 1;
      int32_t apply_on =
          std::max(last_decision, Workday(previous_end - static_cast<int32_t>(rng.Between(15, 40))));
      if (apply_on > previous_end) apply_on = std::max(last_decision, previous_end - 3);
      decided_on = apply_on + static_cast<int32_t>(rng.Between(3, 14));
      if (apply_on <= previous_end) {
        decided_on = std::min(previous_end, decided_on);
      } else {
        valid_from = decided_on + static_cast<int32_t>(rng.Between(0, 10));
        if (valid_from > request.stop_on || valid_from > services_end_) return;
      }
      application_id = SubmitApplication(request.person, {service}, apply_on, request.submitted_by, rng);
      municipality = ResidenceOn(request.person, decided_on);
      if (rng.Chance(10)) {
        DecideApplication(application_id, municipality, decided_on, rng.Pick(kRefusalReasons));
        return;
      }
      causation = DecideApplication(application_id, municipality, decided_on, nullptr);
      last_decision = decided_on;
    }
    const int32_t natural_end = NaturalGrantEnd(request.person, service, valid_from, rng);
    int32_t valid_until = request.stop_is_break ? natural_end : std::min(natural_end, request.stop_on);
    if (valid_until < valid_from) return;
    const int index = CreateGrant(request, service, municipality, decided_on, valid_from, valid_until,
                                  application_id, causation, rng);
    if (index < 0) return;
    // Renewals by amendment keep the same grant. Each extension is dated after the previous one, so the
    // ledger applies them in the planned order; a grant for a number of sessions gets the sessions for
    // the extension with it.
    int32_t last_amended_on = grants_[index].decided_on;
    while (valid_until < request.stop_on && valid_until < services_end_ &&
           !MustRegrant(request.person, service, valid_until) && rng.Chance(450)) {
      const int32_t extended_to =
          request.stop_is_break
              ? NaturalGrantEnd(request.person, service, valid_until + 1, rng)
              : std::min(NaturalGrantEnd(request.person, service, valid_until + 1, rng), request.stop_on);
      const int32_t amend_on =
          std::max(last_amended_on + 1, Workday(valid_until - static_cast<int32_t>(rng.Between(10, 30))));
      if (amend_on > valid_until) break;
      Grant& grant = grants_[index];
      Json changes;
      changes["valid_until"] = FormatDate(extended_to);
      const char* reason = "Pagarināts pakalpojuma saņemšanas termiņš";
      if (grant.period == Period::kGrantPeriod) {
        int64_t more = SessionsFor(grant, valid_until + 1, extended_to);
        CountCap cap;
        if (CountCapOn(request, service, valid_until + 1, &cap)) {
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
    PlanGrantLife(grants_[index], valid_until, request, rng);
    if (grants_[index].last_day < valid_until) return;  // ended early
    if (valid_until >= request.stop_on || valid_until >= services_end_) return;
    last_decision = std::max(last_decision, grants_[index].decided_on);
    application_id.clear();
    valid_from = valid_until + 1;
  }
}

// Amendments, suspensions and the early end of one grant whose validity (after extensions) is known.
void Simulator::PlanGrantLife(Grant& grant, int32_t valid_until, const BlockRequest& request, Rng& rng) {
  const ServiceProfile& profile = ProfileOf(grant.service);
  int32_t last_day = valid_until;
  const bool ends_early = request.stop_is_break && request.stop_on < valid_until;
  if (ends_early) last_day = request.stop_on;
  grant.last_day = last_day;
  const int32_t span = last_day - grant.valid_from;

  // A re-assessment raises the hours of home care, mentoring or family assistance, or the workshop days, of
  // a monthly grant (child care hours are set by the rules). The ledger applies a grant's quantity to its
  // whole validity, so a reduction would turn earlier deliveries into excess: that is decided as a new
  // grant instead.
  const bool adjustable = (profile.unit == Unit::kMinutes && grant.service != Service::kChildCare) ||
                          grant.service == Service::kAdultSpecialisedWorkshop;
  if (span > 60 && adjustable && grant.period != Period::kGrantPeriod && rng.Chance(80)) {
    const int32_t on = static_cast<int32_t>(rng.Between(grant.valid_from + 30, last_day - 10));
    grant.quantity = std::max<int64_t>(grant.quantity + 1, grant.quantity * rng.Between(110, 150) / 100);
    if (grant.service == Service::kAdultSpecialisedWorkshop) {
      grant.quantity = std::min<int64_t>(grant.quantity, 23);
    }
    grant.quantity_steps.emplace_back(on, grant.quantity);
    Json changes;
    changes["quantity"] = grant.quantity;
    AmendGrant(grant, on, std::move(changes), "Pārskatīts pakalpojuma apjoms pēc atkārtota izvērtējuma");
  }
  if (span > 90 && grant.service != Service::kChildCare && rng.Chance(30)) {
    const int32_t on = static_cast<int32_t>(rng.Between(grant.valid_from + 30, last_day - 30));
    // A pre-reform municipality can no longer contract after the reform; its successor would re-grant.
    if (grant.municipality >= kPreReformCount || on < reform_) {
      std::vector<int> alternatives;
      const int region = municipalities_[grant.municipality].region;
      for (int i = 0; i < static_cast<int>(providers_.size()); ++i) {
        const Provider& provider = providers_[i];
        if (i != grant.provider && !provider.personal_carer && provider.Offers(grant.service) &&
            provider.available_from <= on && (provider.region == region || provider.region < 0)) {
          alternatives.push_back(i);
        }
      }
      if (!alternatives.empty()) {
        const int next = alternatives[static_cast<size_t>(rng.Between(0, alternatives.size() - 1))];
        EnsureContract(next, grant.municipality, on);
        grant.provider_after = next;
        grant.provider_changes_on = on;
        Json changes;
        changes["provider_id"] = providers_[next].id;
        AmendGrant(grant, on, std::move(changes), "Mainīts pakalpojuma sniedzējs pēc klienta izvēles");
      }
    }
  }
  if (grant.unit_cost && grant.service == Service::kAdultPsychologistConsultation &&
      grant.valid_from < unit_cost_update_ && last_day > unit_cost_update_) {
    grant.rate_after_cents = 3600;
    grant.rate_changes_on = unit_cost_update_;
    Json changes;
    changes["unit_cost_cents"] = grant.rate_after_cents;
    AmendGrant(grant, unit_cost_update_, std::move(changes), "Aktualizētas vienas vienības izmaksas");
  }
  // Day centres, workshops, groups and respite closed during the 2020 emergency (domain brief §8.5).
  int32_t suspend_on = kNoDate;
  int32_t resume_on = kNoDate;
  const char* reason = nullptr;
  if (profile.closes_in_lockdown && grant.valid_from < lockdown_start_ && last_day >= lockdown_end_ + 14) {
    suspend_on = lockdown_start_;
    resume_on = lockdown_end_;
    reason = "Ārkārtējā situācija (COVID-19): pakalpojuma sniegšana klātienē pārtraukta";
  } else if (span > 150 && rng.Chance(20)) {
    suspend_on = Workday(static_cast<int32_t>(rng.Between(grant.valid_from + 30, last_day - 90)));
    resume_on = suspend_on + static_cast<int32_t>(rng.Between(14, 56));
    reason = rng.Pick(kIndividualSuspensionReasons);
  }
  if (suspend_on != kNoDate) {
    grant.suspended_from = suspend_on;
    grant.resumed_on = resume_on;
    const std::string number = std::to_string(++grant.suspensions);
    Json suspended;
    suspended["grant_id"] = grant.id;
    suspended["reason"] = reason;
    log_.Add(suspend_on, EventType::kServiceSuspended, "suspension:" + grant.id + ":" + number, suspend_on,
             Clerk(grant.municipality, suspend_on), std::move(suspended));
    Json resumed;
    resumed["grant_id"] = grant.id;
    log_.Add(resume_on, EventType::kServiceResumed, "resumption:" + grant.id + ":" + number, resume_on,
             Clerk(grant.municipality, resume_on), std::move(resumed),
             "suspension:" + grant.id + ":" + number);
  }
  if (ends_early) {
    Json data;
    data["grant_id"] = grant.id;
    data["reason"] = request.end_reason;
    if (request.end_note != nullptr) data["note"] = request.end_note;
    log_.Add(last_day, EventType::kGrantEnded, "end:" + grant.id, last_day,
             Clerk(grant.municipality, last_day), std::move(data));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------------------

int64_t Simulator::DeliveryCost(const Grant& grant, int64_t quantity, int32_t day) const {
  const int64_t rate = grant.RateOn(day);
  return ProfileOf(grant.service).unit == Unit::kMinutes ? DivideHalfUp(quantity * rate, 60)
                                                         : quantity * rate;
}

// What is left of the grant's quantity for its period on `day` and of the rules' person-level caps that
// count the delivery (the leisure sub-cap only for leisure).
int64_t Simulator::Room(const Grant& grant, int32_t day, bool leisure) const {
  const int64_t instance =
      grant.period == Period::kGrantPeriod ? 0 : CapInstance(static_cast<CapPeriodKind>(grant.period), day);
  int64_t room = grant.QuantityOn(day) - (instance == grant.period_instance ? grant.period_used : 0);
  const Person& person = persons_[grant.person];
  for (int i = 0; i < grant.person_cap_count; ++i) {
    const PersonCap& cap = grant.person_caps[static_cast<size_t>(i)];
    if (cap.leisure_only && !leisure) continue;
    const auto used = person.cap_usage.find(CapKey(cap, day));
    room = std::min(room, cap.limit - (used == person.cap_usage.end() ? 0 : used->second));
  }
  return std::max<int64_t>(0, room);
}

void Simulator::UseCaps(Grant& grant, int32_t day, int64_t quantity, bool leisure) {
  const int64_t instance =
      grant.period == Period::kGrantPeriod ? 0 : CapInstance(static_cast<CapPeriodKind>(grant.period), day);
  if (instance != grant.period_instance) {
    grant.period_instance = instance;
    grant.period_used = 0;
  }
  grant.period_used += quantity;
  Person& person = persons_[grant.person];
  for (int i = 0; i < grant.person_cap_count; ++i) {
    const PersonCap& cap = grant.person_caps[static_cast<size_t>(i)];
    if (!cap.leisure_only || leisure) person.cap_usage[CapKey(cap, day)] += quantity;
  }
}

void Simulator::DeliverMonth(int32_t month_start, int32_t month_end,
                             std::vector<ClaimableDelivery>* claimable) {
  const CivilDate month = CivilFromDays(month_start);
  const uint64_t month_key = static_cast<uint64_t>(month.year * 12 + month.month);
  for (Grant& grant : grants_) {
    if (grant.valid_from > month_end || grant.last_day < month_start) continue;
    const ServiceProfile& profile = ProfileOf(grant.service);
    Rng rng(options_.seed, Stream::kDeliveries, grant.number, month_key);
    const int32_t from = std::max(month_start, grant.valid_from);
    const int32_t to = std::min(std::min(month_end, grant.last_day), services_end_);
    // The quantity the provider records: within the grant and the rules' caps when it keeps to them.
    auto within_limits = [&](int32_t day, int64_t quantity, bool leisure) {
      if (!grant.keeps_limits) return quantity;
      const int64_t room = Room(grant, day, leisure);
      if (profile.unit != Unit::kMinutes) return std::min(quantity, room);
      const int64_t minutes = std::min(quantity, room / 15 * 15);
      return minutes >= std::min<int64_t>(30, quantity) ? minutes : 0;  // no visits of a few minutes
    };
    switch (profile.pattern) {
      case Pattern::kVisits: {
        int32_t week_first = kNoDate;
        int32_t week_last = kNoDate;
        int64_t week_days = 0;
        auto flush_week = [&]() {
          if (week_days > 0) {
            const int64_t days = within_limits(week_first, week_days, false);
            if (days > 0) {
              RecordDelivery(grant, week_first, week_last > week_first ? week_last : kNoDate, days, nullptr,
                             month_end, rng, claimable);
              UseCaps(grant, week_first, days, false);
            }
          }
          week_days = 0;
        };
        for (int32_t day = from; day <= to; ++day) {
          const int weekday = Weekday(day);
          if (weekday == 0) flush_week();
          if ((grant.weekdays >> weekday & 1) == 0) continue;
          if (grant.fortnightly && WeekIndex(day) % 2 == 1) continue;
          if (grant.SuspendedOn(day)) continue;
          if (rng.Chance(50)) continue;  // illness, holidays, cancelled visits
          if (grant.weekly_entries) {
            if (week_days == 0) week_first = day;
            week_last = day;
            ++week_days;
            continue;
          }
          int64_t quantity = 1;
          if (profile.unit == Unit::kMinutes) {
            quantity = std::clamp<int64_t>(grant.visit_quantity + 15 * rng.Between(-2, 2), 15, 1440);
          } else if (profile.unit == Unit::kSessions && rng.Chance(50)) {
            quantity = 2;  // a double session
          }
          // Child care is for care or for meaningful leisure; the leisure hours have a sub-cap.
          const bool child_care = grant.service == Service::kChildCare;
          bool leisure = child_care && (grant.leisure_only || rng.Chance(grant.leisure_per_mille));
          int64_t delivered = within_limits(day, quantity, leisure);
          if (leisure && delivered < quantity && !grant.leisure_only) {
            leisure = false;
            delivered = within_limits(day, quantity, false);
          }
          if (delivered <= 0) continue;
          const char* purpose = child_care ? (leisure ? "leisure" : "care") : nullptr;
          RecordDelivery(grant, day, kNoDate, delivered, purpose, month_end, rng, claimable);
          UseCaps(grant, day, delivered, leisure);
        }
        flush_week();
        break;
      }
      case Pattern::kWeeklyStays: {
        // Monday-to-Sunday stays, cut at the month's edges so each entry belongs to one month's claim.
        for (int32_t week_start = from; week_start <= to;) {
          int32_t first = week_start;
          int32_t last = std::min(to, week_start + (6 - Weekday(week_start)));
          week_start = last + 1;
          if (grant.suspended_from != kNoDate && first < grant.resumed_on && last >= grant.suspended_from) {
            if (first < grant.suspended_from) {
              last = grant.suspended_from - 1;
            } else if (last >= grant.resumed_on) {
              first = grant.resumed_on;
            } else {
              continue;
            }
          }
          if (first > last) continue;
          const int64_t days = last - first + 1;
          const int64_t away = days > 3 && rng.Chance(150) ? rng.Between(1, 2) : 0;  // home visits, hospital
          const int64_t delivered = within_limits(first, days - away, false);
          if (delivered <= 0) continue;
          RecordDelivery(grant, first, last > first ? last : kNoDate, delivered, nullptr, month_end, rng,
                         claimable);
          UseCaps(grant, first, delivered, false);
        }
        break;
      }
      case Pattern::kBlocks: {
        if (!rng.Chance(grant.stay_per_mille) || from > to) break;
        // Families that go past the 30 days a year book longer stays.
        const int32_t length =
            static_cast<int32_t>(rng.Between(profile.min_stay_days, profile.max_stay_days)) +
            (grant.keeps_limits ? 0 : 1);
        const int32_t first = static_cast<int32_t>(rng.Between(from, std::max(from, to - length + 1)));
        int32_t last = std::min(to, first + length - 1);
        if (grant.suspended_from != kNoDate && first < grant.resumed_on && last >= grant.suspended_from)
          break;
        // A stay is booked within the days left for the year.
        const int64_t days = within_limits(first, last - first + 1, false);
        if (days <= 0) break;
        last = first + static_cast<int32_t>(days) - 1;
        RecordDelivery(grant, first, last > first ? last : kNoDate, days, nullptr, month_end, rng, claimable);
        UseCaps(grant, first, days, false);
        break;
      }
    }
  }
}

void Simulator::RecordDelivery(Grant& grant, int32_t first, int32_t last, int64_t quantity,
                               const char* purpose, int32_t month_end, Rng& rng,
                               std::vector<ClaimableDelivery>* claimable) {
  const ServiceProfile& profile = ProfileOf(grant.service);
  const uint32_t number = static_cast<uint32_t>(++deliveries_);
  const std::string delivery_id = NumberedId("D-", number, 8);
  const int provider = grant.ProviderOn(first);
  int64_t cost = DeliveryCost(grant, quantity, first);
  const bool lockdown = first >= lockdown_start_ && first < lockdown_end_;
  const char* mode = "in_person";
  if ((lockdown && profile.remote_in_lockdown && rng.Chance(800)) ||
      (profile.unit == Unit::kSessions && first >= lockdown_end_ && rng.Chance(30))) {
    mode = "remote";
  }
  Json data;
  data["delivery_id"] = delivery_id;
  data["grant_id"] = grant.id;
  data["provider_id"] = providers_[provider].id;
  data["quantity"] = quantity;
  data["cost_cents"] = cost;
  data["mode"] = mode;
  if (purpose != nullptr) data["purpose"] = purpose;
  if (last != kNoDate) data["last_date"] = FormatDate(last);
  // Entered the same day or within the next days (timesheets typed in at the end of the week).
  const int32_t end = last != kNoDate ? last : first;
  int32_t recorded_on = end + static_cast<int32_t>(rng.Chance(600) ? rng.Between(0, 2) : rng.Between(3, 10));
  if (grant.suspended_from != kNoDate && end < grant.suspended_from) {
    recorded_on = std::max(end, std::min(recorded_on, grant.suspended_from - 1));
  }
  const std::string actor = !providers_[provider].natural_person && rng.Chance(450)
                                ? "provider:" + providers_[provider].id
                                : Clerk(grant.municipality, recorded_on);
  log_.Add(recorded_on, EventType::kServiceDelivered, "delivery:" + delivery_id, first, actor,
           std::move(data));

  // A few entries are corrected or voided before the month's claim is filed (month end + 14 days at
  // the earliest), so the claim lists the corrected amounts.
  const int64_t fate = rng.Between(0, 999);
  if (fate < 25) {
    const int32_t fixed_on =
        static_cast<int32_t>(rng.Between(recorded_on + 1, std::max(recorded_on + 1, month_end + 12)));
    if (fate < 10) {
      Json voided;
      voided["delivery_id"] = delivery_id;
      voided["reason"] = rng.Pick(kVoidReasons);
      log_.Add(fixed_on, EventType::kDeliveryVoided, "void:" + delivery_id, fixed_on,
               Clerk(grant.municipality, fixed_on), std::move(voided), "delivery:" + delivery_id);
      return;
    }
    int64_t corrected_quantity = quantity;
    const char* reason = "Labots pakalpojuma apjoms atbilstoši uzskaites tabelei";
    const char* corrected_purpose = nullptr;
    if (profile.unit == Unit::kMinutes && quantity > 15) {
      corrected_quantity = std::max<int64_t>(15, quantity - 15 * rng.Between(1, 4));
    } else if (profile.unit != Unit::kMinutes && quantity > 1) {
      corrected_quantity = quantity - 1;
    }
    int64_t corrected_cost = DeliveryCost(grant, corrected_quantity, first);
    if (corrected_quantity == quantity) {
      corrected_cost = std::max<int64_t>(1, cost * rng.Between(80, 95) / 100);
      reason = "Precizētas izmaksas atbilstoši rēķinam";
    }
    if (purpose != nullptr && std::string_view(purpose) == "care" && rng.Chance(300)) {
      corrected_purpose = "leisure";
      reason = "Precizēts aprūpes mērķis (jēgpilna brīvā laika pavadīšana)";
    }
    Json corrected;
    corrected["delivery_id"] = delivery_id;
    corrected["quantity"] = corrected_quantity;
    corrected["cost_cents"] = corrected_cost;
    corrected["reason"] = reason;
    if (corrected_purpose != nullptr) corrected["purpose"] = corrected_purpose;
    log_.Add(fixed_on, EventType::kDeliveryCorrected, "correction:" + delivery_id, fixed_on,
             Clerk(grant.municipality, fixed_on), std::move(corrected), "delivery:" + delivery_id);
    cost = corrected_cost;
  }
  if (cost > 0) claimable->push_back(ClaimableDelivery{number, grant.municipality, cost});
}

// ---------------------------------------------------------------------------------------------------------
// Claims, reviews, payments
// ---------------------------------------------------------------------------------------------------------

const BudgetVersion& Simulator::BudgetOn(int32_t day) const {
  const BudgetVersion* in_force = &kBudgetVersions[0];
  for (const BudgetVersion& version : kBudgetVersions) {
    if (Date(version.year, version.month, version.day) <= day) in_force = &version;
  }
  return *in_force;
}

void Simulator::ClaimMonth(int32_t month_start, int32_t month_end,
                           const std::vector<ClaimableDelivery>& deliveries) {
  if (deliveries.empty()) return;
  const CivilDate month = CivilFromDays(month_start);
  Rng rng(options_.seed, Stream::kClaims, static_cast<uint64_t>(month.year * 12 + month.month));
  // Claims for months up to April 2021 are filed by the old municipalities before the reform; from May
  // 2021 on they are filed (after 2021-07-01) by the successors, which answer for their predecessors.
  const bool by_successor = month_end + 42 >= reform_;
  std::vector<std::vector<const ClaimableDelivery*>> by_claimant(municipalities_.size());
  for (const ClaimableDelivery& delivery : deliveries) {
    const int claimant = by_successor ? SuccessorOf(delivery.municipality) : delivery.municipality;
    by_claimant[claimant].push_back(&delivery);
  }
  char period[16];
  std::snprintf(period, sizeof(period), "%04d-%02d", month.year, month.month);
  for (int claimant = 0; claimant < static_cast<int>(by_claimant.size()); ++claimant) {
    const auto& lines = by_claimant[claimant];
    if (lines.empty()) continue;
    int32_t claimed_on = month_end + static_cast<int32_t>(rng.Between(14, 42));
    if (by_successor) claimed_on = std::max(claimed_on, reform_ + static_cast<int32_t>(rng.Between(1, 10)));
    claimed_on = Workday(claimed_on);
    const std::string claim_id = std::string("C-") + period + "-" + municipalities_[claimant].id;
    const std::string claim_event = "claim:" + claim_id;
    const std::string clerk = "clerk:" + municipalities_[claimant].id;
    Json claim_lines = Json::array();
    int64_t total = 0;
    for (const ClaimableDelivery* line : lines) {
      Json entry;
      entry["delivery_id"] = NumberedId("D-", line->number, 8);
      entry["amount_cents"] = line->amount_cents;
      claim_lines.push_back(std::move(entry));
      total += line->amount_cents;
    }
    Json claim;
    claim["claim_id"] = claim_id;
    claim["project_id"] = kProjectId;
    claim["municipality_id"] = municipalities_[claimant].id;
    claim["period_start"] = FormatDate(month_start);
    claim["period_end"] = FormatDate(month_end);
    claim["lines"] = std::move(claim_lines);
    claim["total_cents"] = total;
    log_.Add(claimed_on, EventType::kReimbursementClaimed, claim_event, claimed_on, clerk, std::move(claim));

    // The project team reviews the claim; now and then a delivery is withdrawn after the claim was
    // filed, and the review rejects that line.
    const int32_t reviewed_on = Workday(claimed_on + static_cast<int32_t>(rng.Between(14, 40)));
    Json review_lines = Json::array();
    int64_t approved_total = 0;
    for (const ClaimableDelivery* line : lines) {
      const std::string delivery_id = NumberedId("D-", line->number, 8);
      Json entry;
      entry["delivery_id"] = delivery_id;
      const int64_t outcome = rng.Between(0, 9999);
      int64_t approved = line->amount_cents;
      const char* reason = nullptr;
      if (outcome < 30) {
        const int32_t voided_on = static_cast<int32_t>(rng.Between(claimed_on + 1, reviewed_on - 1));
        Json voided;
        voided["delivery_id"] = delivery_id;
        voided["reason"] = "Pakalpojuma sniegšanas fakts atsaukts pēc pieprasījuma iesniegšanas";
        log_.Add(voided_on, EventType::kDeliveryVoided, "void:" + delivery_id, voided_on,
                 Clerk(claimant, voided_on), std::move(voided), "delivery:" + delivery_id);
        approved = 0;
        reason = "Pakalpojuma ieraksts anulēts";
      } else if (outcome < 130) {
        approved = 0;
        reason = rng.Pick(kRejectionReasons);
      } else if (outcome < 250 && line->amount_cents >= 2) {
        approved = std::min(line->amount_cents - 1, line->amount_cents * rng.Between(50, 95) / 100);
        reason = rng.Pick(kPartialReasons);
      }
      entry["accepted"] = approved > 0;
      entry["approved_cents"] = approved;
      if (reason != nullptr) entry["reason"] = reason;
      review_lines.push_back(std::move(entry));
      approved_total += approved;
    }
    Json review;
    review["claim_id"] = claim_id;
    review["lines"] = std::move(review_lines);
    review["approved_total_cents"] = approved_total;
    log_.Add(reviewed_on, EventType::kClaimReviewed, "review:" + claim_id, reviewed_on, kProjectActor,
             std::move(review), claim_event);
    if (approved_total <= 0) continue;

    // Payment, split ESF / state budget by the budget ratio in force on the claim's date (ESF rounded
    // half-up to the cent, state = the rest); some claims are paid in two instalments, each carrying the
    // split of the running paid total less what the earlier one carried, so that the claim paid in full
    // carries exactly its approved split (docs/projections.md, reconciliation).
    const BudgetVersion& budget = BudgetOn(claimed_on);
    int64_t paid_so_far = 0, esf_so_far = 0;
    std::vector<int64_t> instalments = {approved_total};
    if (approved_total >= 100 && rng.Chance(150)) {
      const int64_t first_part = approved_total * rng.Between(50, 90) / 100;
      instalments = {first_part, approved_total - first_part};
    }
    int32_t paid_on = Workday(reviewed_on + static_cast<int32_t>(rng.Between(7, 30)));
    for (const int64_t amount : instalments) {
      const std::string payment_id = NumberedId("PAY-", ++payments_, 6);
      paid_so_far += amount;
      const int64_t esf = ShareHalfUp(paid_so_far, budget.esf_cents, budget.total_cents) - esf_so_far;
      esf_so_far += esf;
      Json payment;
      payment["claim_id"] = claim_id;
      payment["payment_id"] = payment_id;
      payment["amount_cents"] = amount;
      payment["esf_cents"] = esf;
      payment["state_cents"] = amount - esf;
      payment["payment_reference"] =
          "ZPR-" + std::to_string(CivilFromDays(paid_on).year) + "-" + NumberedId("", payments_, 6);
      log_.Add(paid_on, EventType::kReimbursementPaid, "payment:" + payment_id, paid_on, kFinanceActor,
               std::move(payment), "review:" + claim_id);
      paid_on = Workday(paid_on + static_cast<int32_t>(rng.Between(20, 60)));
    }
  }
}

}  // namespace

SimulateSummary WriteSimulatedHistory(const SimulateOptions& options, std::ostream& out) {
  Simulator simulator(options, out);
  return simulator.Run();
}

}  // namespace di::cli
