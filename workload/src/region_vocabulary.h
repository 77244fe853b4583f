// The region history's vocabulary and the project's facts: services and their delivery profiles, target
// groups, the budget versions, indicator targets, the municipalities of Zemgale before and after the reform.
#ifndef DI_WORKLOAD_SRC_REGION_VOCABULARY_H_
#define DI_WORKLOAD_SRC_REGION_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world.h"

namespace di::workload::region {

using Json = nlohmann::ordered_json;


// ---------------------------------------------------------------------------------------------------------
// Vocabulary (names are the JSON spellings of the schema enumerants)
// ---------------------------------------------------------------------------------------------------------

// Services, their names and units are the catalogue's (world.h).

// How deliveries of a service are spread over a month.
enum class Pattern : uint8_t {
  kVisits,       // on fixed weekdays (care visits, day-centre days, sessions)
  kWeeklyStays,  // continuous residence, entered per week with a last date (group homes)
  kBlocks,       // occasional multi-day stays (respite)
};

struct ServiceProfile {
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

// Indexed by Service (the catalogue's order). Rates are typical 2016-2023 municipal prices in Zemgale.
inline constexpr ServiceProfile kProfiles[kServiceCount] = {
    {Pattern::kVisits, 3, 5, 60, 480, 500, 850, 0, 0, 0, 0, false, false},  // child_care
    {Pattern::kBlocks, 0, 0, 0, 0, 2500, 4500, 0, 350, 1, 5, true, false},  // respite
    {Pattern::kVisits, 1, 3, 0, 0, 2000, 4500, 150, 0, 0, 0, false, true},  // child_rehabilitation
    {Pattern::kVisits, 3, 5, 0, 0, 1500, 3000, 0, 0, 0, 0, true, false},  // child_day_centre
    {Pattern::kVisits, 1, 2, 0, 0, 2000, 4000, 300, 0, 0, 0, false, true},  // parent_rehabilitation
    {Pattern::kVisits, 3, 5, 30, 240, 600, 800, 0, 0, 0, 0, false, false},  // adult_home_care
    {Pattern::kVisits, 4, 5, 0, 0, 1500, 3000, 0, 0, 0, 0, true, false},  // adult_day_centre
    {Pattern::kVisits, 3, 5, 0, 0, 1500, 2500, 0, 0, 0, 0, true, false},  // adult_specialised_workshop
    {Pattern::kWeeklyStays, 0, 0, 0, 0, 1800, 3500, 0, 0, 0, 0, false, false},  // adult_group_home
    {Pattern::kBlocks, 0, 0, 0, 0, 2500, 4500, 0, 200, 3, 10, true, false},  // adult_respite
    {Pattern::kVisits, 1, 2, 0, 0, 2500, 4500, 300, 0, 0, 0, false, true},  // adult_specialist_consultation
    {Pattern::kVisits, 1, 1, 0, 0, 3000, 3000, 300, 0, 0, 0, false, true},  // adult_psychologist_consultation
    {Pattern::kVisits, 1, 2, 0, 0, 1000, 2000, 0, 0, 0, 0, true, false},  // adult_support_group
    {Pattern::kVisits, 1, 2, 60, 180, 800, 1200, 0, 0, 0, 0, false, true},  // social_mentor
    {Pattern::kVisits, 2, 3, 120, 240, 600, 800, 0, 0, 0, 0, false, false},  // family_assistant
    {Pattern::kVisits, 1, 1, 0, 0, 1500, 2500, 600, 0, 0, 0, true, false},  // parent_support_group
};

static_assert(std::size(kProfiles) == kServiceCount);
inline const ServiceProfile& ProfileOf(Service service) { return kProfiles[static_cast<int>(service)]; }

enum class TargetGroup : uint8_t {
  kAdultMentalDisability,
  kChildFunctionalImpairment,
  kParentOfChild,
  kChildInCare,
  kFosterOrAdoptiveCandidate,
};
inline constexpr const char* kTargetGroupNames[] = {"adult_mental_disability", "child_functional_impairment",
                                             "parent_of_child", "child_in_care",
                                             "foster_or_adoptive_candidate"};

enum class Period : uint8_t { kWeek, kMonth, kYear, kGrantPeriod };
inline constexpr const char* kPeriodNames[] = {"week", "month", "year", "grant_period"};

enum class Activity : uint8_t { kWorking, kStudying, kEmploymentAgencyMeasure, kDayCentre, kNotActive };
inline constexpr const char* kActivityNames[] = {"working", "studying", "employment_agency_measure", "day_centre",
                                          "not_active"};
inline constexpr std::array<int, 5> kActivityWeights = {55, 6, 6, 3, 30};

inline constexpr const char* kRelationNames[] = {"parent", "legal_representative", "foster_parent"};

// Event types are the catalogue's (di/ledger/catalog.h): EventTypeName gives the JSON name.
using EventType = ledger::EventType;

// ---------------------------------------------------------------------------------------------------------
// Project facts (domain brief §4, §5.1, §6.1, §7)
// ---------------------------------------------------------------------------------------------------------

inline constexpr char kProjectId[] = "9.2.2.1-15-I-001";
inline constexpr char kProjectActor[] = "project:zpr";
inline constexpr char kFinanceActor[] = "finance:zpr";

// Budget versions in cents with the stated ESF amounts (the sources' figures, which are a few cents
// off an exact 85 %; domain brief §5.1 says to keep the stated amounts). The state part is the rest.
struct BudgetVersion {
  int year, month, day;
  int64_t total_cents;
  int64_t esf_cents;
  const char* reason;
};
inline constexpr BudgetVersion kBudgetVersions[] = {
    {2015, 7, 1, 677834800, 576159580, nullptr},
    {2021, 5, 18, 941235000, 800049743, "Projekta budžeta palielinājums pakalpojumu izmaksu segšanai"},
    {2022, 10, 18, 865635000, 735789743,
     "Grozījumi SAM 9.2.2.1 MK noteikumos (spēkā no 18.10.2022): budžeta un rādītāju precizēšana"},
    {2023, 1, 15, 975635000, 845789743,
     "ESF finansējuma palielinājums (ESF 86,69 %), valsts budžeta daļa nemainīga"},
};

// Three generations of output-indicator targets (domain brief §6.1): the agreement's, and those of the
// 2022 and 2023 budget amendments.
enum TargetGeneration : int { kTargetsInitial, kTargets2022, kTargets2023 };
struct TargetRow {
  const char* indicator;
  const char* target_group;
  int count[3];  // by TargetGeneration; 0: no target in that generation
};
inline constexpr TargetRow kTargets[] = {
    {"persons_assessed", "adult_mental_disability", {300, 542, 545}},
    {"persons_assessed", "child_in_care", {334, 276, 276}},
    {"persons_assessed", "child_functional_impairment", {356, 631, 630}},
    {"support_plans", "adult_mental_disability", {300, 542, 545}},
    {"support_plans", "child_in_care", {334, 276, 276}},
    {"support_plans", "child_functional_impairment", {356, 631, 630}},
    {"persons_receiving_services", "adult_mental_disability", {251, 249, 351}},
    {"persons_receiving_services", "child_functional_impairment", {0, 440, 521}},
    {"persons_prepared_for_transition", "adult_mental_disability", {84, 53, 53}},
};

// The six post-reform municipalities ("regions" of the simulation); pre-reform ones point at them.
enum Region : int { kAizkraukle, kBauska, kDobele, kJelgavaCounty, kJekabpils, kJelgavaCity, kRegionCount };

struct RegionSeed {
  const char* successor_id;
  const char* successor_name;
};
inline constexpr RegionSeed kRegions[kRegionCount] = {
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
inline constexpr MunicipalitySeed kPreReform[] = {
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
inline constexpr int kPreReformCount = static_cast<int>(std::size(kPreReform));

enum class Register : uint8_t {
  kNone,
  kSocialServiceProviders,
  kMedicalPractitioners,
  kMedicalInstitutions,
  kPsychologists
};
inline constexpr const char* kRegisterNames[] = {"", "social_service_providers", "medical_practitioners",
                                          "medical_institutions", "psychologists"};


}  // namespace di::workload::region

#endif  // DI_WORKLOAD_SRC_REGION_VOCABULARY_H_
