// Set-up of the region history: the project, the municipalities, budgets, expenses and the providers.

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

// Project-level activities named in the sources (domain brief §6.5, §4), with plausible costs.
struct PlannedExpense {
  int year, month, day;
  const char* category;
  int64_t min_euro, max_euro;
  const char* description;
};
// clang-format off
constexpr PlannedExpense kPlannedExpenses[] = {
    {2016, 3, 15, "information_event", 400, 1200, "Informatīvais seminārs pašvaldību sociālajiem dienestiem"},
    {2016, 6, 20, "planning", 8000, 15000, "Zemgales reģiona DI plāna izstrāde, 1. posms"},
    {2016, 10, 12, "training", 3000, 6000, "Apmācības atbalsta intensitātes skalas lietošanā"},
    {2017, 2, 28, "planning", 15000, 25000, "Zemgales reģiona DI plāns 2017-2020"},
    {2017, 5, 18, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
    {2017, 9, 21, "training", 2500, 6000, "Apmācības sociālajiem darbiniekiem darbam ar bērniem ar FT"},
    {2017, 11, 15, "planning", 20000, 40000, "Bērnu sociālās aprūpes centru reorganizācijas plāni"},
    {2018, 3, 22, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
    {2018, 8, 6, "camp", 8000, 11000, "Integrējošā nometne jauniešiem \"Satekas\" (30 dalībnieki, 13-17 g.)"},
    {2018, 10, 17, "exchange_trip", 2000, 5000, "Pieredzes apmaiņas brauciens uz Kurzemes plānošanas reģionu"},
    {2019, 4, 11, "information_event", 300, 900, "Informatīvais vakars potenciālajiem aizbildņiem"},
    {2019, 7, 15, "camp", 8000, 10500, "Nometne \"Dimantu kalns\" (28 dalībnieki)"},
    {2019, 9, 10, "transition_preparation", 10000, 25000, "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
    {2019, 10, 23, "exchange_trip", 2000, 5000, "Pieredzes apmaiņas brauciens"},
    {2020, 2, 13, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
    {2020, 7, 20, "camp", 7000, 9500, "Nometne \"Mauriņi\" (25 dalībnieki)"},
    {2020, 9, 15, "transition_preparation", 10000, 25000, "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
    {2020, 11, 18, "training", 2000, 4000, "Attālinātas apmācības pakalpojumu sniedzējiem"},
    {2021, 3, 17, "information_event", 200, 600, "Tiešsaistes informatīvais vakars audžuģimenēm"},
    {2021, 7, 12, "camp", 12000, 16000, "Nometne \"Mauriņi\", divas grupas (42 bērni, 7-12 g.)"},
    {2021, 9, 14, "transition_preparation", 10000, 25000, "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
    {2021, 10, 6, "exchange_trip", 2000, 5000, "Pieredzes apmaiņas brauciens"},
    {2021, 11, 24, "information_event", 300, 900, "Pasākums bērniem ar invaliditāti un viņu ģimenēm"},
    {2022, 3, 16, "information_event", 300, 900, "Informatīvais vakars potenciālajām audžuģimenēm"},
    {2022, 6, 30, "video", 12000, 18000, "18 video stāsti par sabiedrībā balstītiem pakalpojumiem"},
    {2022, 8, 8, "camp", 10000, 14000, "Piecu nakšu nometne jauniešiem (12-17 g.)"},
    {2022, 9, 13, "transition_preparation", 8000, 20000, "VSAC \"Zemgale\" klientu sagatavošana dzīvei sabiedrībā"},
    {2022, 11, 7, "training", 6000, 10000, "Apmācības (8 dienas, 2022. gada novembris-decembris)"},
    {2023, 2, 14, "information_event", 300, 800, "Diskusija vecākiem (Jelgava)"},
    {2023, 7, 13, "camp", 9000, 13000, "Ģimeņu nometne \"Rati\", 1. grupa (40 dalībnieki)"},
    {2023, 7, 17, "camp", 8000, 12000, "Jauniešu integrējošā nometne \"Valle\""},
    {2023, 7, 20, "camp", 9000, 13000, "Ģimeņu nometne \"Rati\", 2. grupa (40 dalībnieki)"},
    {2023, 9, 14, "information_event", 300, 900, "Diskusija par pakalpojumu ilgtspēju (Jēkabpils)"},
};
// clang-format on

// The project's own activities with their participants as the sources count them (brief §6.5; Z 116-175, Z 337,
// Z 549-557): the camps and the 2022 training. Days before 2023 are the expense days above (the sources give the
// month); 0 participants where the sources give no count.
struct PlannedActivity {
  const char* id;
  const char* kind;
  int first_year, first_month, first_day;
  int days;
  int participants;
  const char* title;
  const char* venue;
};
// clang-format off
constexpr PlannedActivity kPlannedActivities[] = {
    {"A-CAMP-2018", "camp", 2018, 8, 6, 5, 30, "Integrējošā nometne jauniešiem (13-17 g.)", "Satekas, Vecumnieku pagasts"},
    {"A-CAMP-2019", "camp", 2019, 7, 15, 5, 28, "Nometne", "Dimantu kalns"},
    {"A-CAMP-2020", "camp", 2020, 7, 20, 5, 25, "Nometne", "Mauriņi"},
    {"A-CAMP-2021", "camp", 2021, 7, 12, 5, 42, "Nometne, divas grupas (7-12 g.)", "Mauriņi"},
    {"A-VIDEO-2022", "video", 2022, 6, 30, 1, 0, "18 video stāsti", ""},
    {"A-CAMP-2022", "camp", 2022, 8, 8, 6, 0, "Piecu nakšu nometne jauniešiem (12-17 g.)", ""},
    {"A-TRAINING-2022", "training", 2022, 11, 7, 40, 0, "Apmācības (8 dienas)", ""},
    {"A-FAMILY-2023-1", "camp", 2023, 7, 13, 4, 40, "Ģimeņu nometne, 1. grupa", "Rati, Aizkraukles novads"},
    {"A-YOUTH-2023", "camp", 2023, 7, 17, 5, 0, "Jauniešu integrējošā nometne (12-17 g.)", "Valle, Bauskas novads"},
    {"A-FAMILY-2023-2", "camp", 2023, 7, 20, 4, 40, "Ģimeņu nometne, 2. grupa", "Rati, Aizkraukles novads"},
};
// clang-format on

struct Expense {
  int32_t on;
  const char* category;
  int64_t cents;
  std::string description;
};

// The project's expenses in date order: the named activities at a seeded cost, and the assessment fees,
// paid quarterly, interleaved with them.
std::vector<Expense> PlanExpenses(uint64_t seed) {
  Rng rng(seed, Stream::kExpenses);
  std::vector<Expense> expenses;
  for (const PlannedExpense& planned : kPlannedExpenses) {
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
  return expenses;
}

struct ProviderSeed {
  const char* id;
  const char* name;
  int region;
  int year, month, day;  // first available (ERAF-built sites opened from 2020)
  std::vector<Service> services;
};
using S = Service;
// Service sites named in domain brief §7.3, plus a few region-wide providers (region -1; the two synthetic
// "SIA"/"biedrība" names stand for the many small providers the sources do not name).
// clang-format off
const std::vector<ProviderSeed> kProviderSeeds = {
    {"PR-SPROGU-SKOLA", "Sociālā dienesta grupu dzīvokļi \"Sproģu skola\"", kAizkraukle, 2016, 1, 4,
     {S::ADULT_GROUP_HOME}},
    {"PR-VIGANTE", "Grupu māja \"Vīgante\"", kAizkraukle, 2018, 9, 3, {S::ADULT_GROUP_HOME}},
    {"PR-VIETALVA", "Vietalvas grupu dzīvoklis", kAizkraukle, 2019, 5, 2, {S::ADULT_GROUP_HOME}},
    {"PR-PLAVINAS-DAC", "Pļaviņu dienas aprūpes centrs", kAizkraukle, 2020, 9, 1,
     {S::ADULT_DAY_CENTRE, S::CHILD_DAY_CENTRE, S::ADULT_GROUP_HOME}},
    {"PR-SPROGI-DAC", "Sproģu dienas aprūpes centrs", kAizkraukle, 2016, 1, 4, {S::ADULT_DAY_CENTRE}},
    {"PR-NERETA-GD", "Neretas grupu dzīvokļi", kAizkraukle, 2020, 11, 2, {S::ADULT_GROUP_HOME}},
    {"PR-SARKANA-SKOLA", "Multifunkcionālais centrs \"Sarkanā skola\"", kBauska, 2016, 1, 4,
     {S::ADULT_DAY_CENTRE, S::CHILD_DAY_CENTRE}},
    {"PR-RUNDALE-DAC", "Rundāles dienas aprūpes centrs \"Saulaine\"", kBauska, 2020, 6, 15,
     {S::ADULT_DAY_CENTRE, S::CHILD_DAY_CENTRE}},
    {"PR-BAUSKA-DAC", "Bauskas sociālā dienesta dienas aprūpes centrs", kBauska, 2016, 1, 4,
     {S::ADULT_DAY_CENTRE, S::ADULT_SPECIALISED_WORKSHOP}},
    {"PR-IECAVA-APRUPE", "Sociālā dienesta aprūpe mājās (Iecava)", kBauska, 2016, 1, 4, {S::ADULT_HOME_CARE}},
    {"PR-SOLIS", "Dienas aprūpes centrs \"Solis\"", kDobele, 2016, 1, 4, {S::ADULT_DAY_CENTRE}},
    {"PR-DOBELE-GD", "Sociālais pakalpojums \"Grupu dzīvokļi\" (Dobele)", kDobele, 2016, 1, 4, {S::ADULT_GROUP_HOME}},
    {"PR-DARE-AUDEAMUS", "SIA \"Dare Audeamus\"", kDobele, 2017, 3, 1,
     {S::ADULT_SPECIALISED_WORKSHOP, S::ADULT_DAY_CENTRE}},
    {"PR-BENE-DAC", "Bēnes dienas aprūpes centrs bērniem", kDobele, 2020, 9, 1, {S::CHILD_DAY_CENTRE}},
    {"PR-LAIPA", "Multifunkcionālais sociālo pakalpojumu centrs \"Laipa\"", kJelgavaCounty, 2020, 2, 3,
     {S::ADULT_DAY_CENTRE, S::ADULT_GROUP_HOME, S::ADULT_SPECIALISED_WORKSHOP}},
    {"PR-ZILE", "Sociālo pakalpojumu centrs \"Zīle\"", kJelgavaCounty, 2020, 9, 1,
     {S::ADULT_DAY_CENTRE, S::CHILD_DAY_CENTRE, S::CHILD_REHABILITATION}},
    {"PR-UPE", "Dienas aprūpes centrs \"Upe\"", kJelgavaCounty, 2016, 1, 4, {S::ADULT_DAY_CENTRE}},
    {"PR-CERIBA", "Biedrības \"Cerību sala\" dienas aprūpes centrs \"Cerība\"", kJekabpils, 2016, 1, 4,
     {S::ADULT_DAY_CENTRE}},
    {"PR-SAKA", "Grupu māja \"Saka\"", kJekabpils, 2016, 1, 4, {S::ADULT_GROUP_HOME}},
    {"PR-ROSME", "Multifunkcionālais centrs \"Rosme\"", kJekabpils, 2018, 1, 2,
     {S::ADULT_DAY_CENTRE, S::ADULT_SPECIALISED_WORKSHOP}},
    {"PR-RAKSTI", "Dienas aprūpes centrs \"Raksti\"", kJekabpils, 2019, 1, 2, {S::ADULT_DAY_CENTRE}},
    {"PR-DIENVIDI", "Grupu dzīvokļi \"Dienvidi\"", kJekabpils, 2019, 1, 2, {S::ADULT_GROUP_HOME}},
    {"PR-RITI", "Grupu dzīvokļi \"Rīti\"", kJekabpils, 2017, 4, 3, {S::ADULT_GROUP_HOME}},
    {"PR-CF-BIEDRIBA", "Cistiskās fibrozes biedrība", kJekabpils, 2016, 1, 4,
     {S::CHILD_REHABILITATION, S::PARENT_REHABILITATION}},
    {"PR-ATBALSTS", "Dienas aprūpes centrs \"Atbalsts\"", kJelgavaCity, 2016, 1, 4,
     {S::ADULT_DAY_CENTRE, S::ADULT_SPECIALISED_WORKSHOP}},
    {"PR-JELGAVA-GD", "Jelgavas sociālo lietu pārvaldes grupu dzīvokļi", kJelgavaCity, 2016, 1, 4,
     {S::ADULT_GROUP_HOME}},
    {"PR-HARMONIJA", "Dienas aprūpes centrs \"Harmonija\"", kJelgavaCity, 2016, 1, 4,
     {S::ADULT_DAY_CENTRE, S::CHILD_DAY_CENTRE}},
    {"PR-JELGAVA-DI-GD", "DI grupu dzīvokļi, Stacijas iela 13, Jelgava", kJelgavaCity, 2022, 10, 3,
     {S::ADULT_GROUP_HOME}},
    {"PR-IESPEJA", "Sociālais uzņēmums \"Iespēja izaugsmei\"", kJelgavaCity, 2017, 9, 1,
     {S::CHILD_REHABILITATION, S::PARENT_REHABILITATION, S::FAMILY_ASSISTANT, S::PARENT_SUPPORT_GROUP,
      S::SOCIAL_MENTOR, S::ADULT_SUPPORT_GROUP}},
    {"PR-POGA", "Rehabilitācijas centrs \"Poga\"", -1, 2016, 1, 4, {S::CHILD_REHABILITATION, S::PARENT_REHABILITATION}},
    {"PR-APRUPE-ZEMGALE", "SIA \"Aprūpes birojs Zemgalē\"", -1, 2016, 1, 4,
     {S::CHILD_CARE, S::ADULT_HOME_CARE, S::SOCIAL_MENTOR, S::FAMILY_ASSISTANT}},
    {"PR-ATELPA-ZEMGALE", "Biedrība \"Atelpas māja Zemgalē\"", -1, 2016, 1, 4, {S::RESPITE, S::ADULT_RESPITE}},
    {"PR-SPECIALISTI-ZEMGALE", "SIA \"Speciālistu prakse Zemgalē\"", -1, 2016, 1, 4,
     {S::ADULT_SPECIALIST_CONSULTATION, S::ADULT_SUPPORT_GROUP, S::PARENT_SUPPORT_GROUP, S::CHILD_REHABILITATION,
      S::PARENT_REHABILITATION}},
};
// clang-format on

}  // namespace

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
  log_.Add(agreement_signed_, EventType::PROJECT_REGISTERED, std::string("project:") + kProjectId,
           agreement_signed_, kProjectActor, std::move(data));
}

void Simulator::RegisterMunicipalities() {
  for (const MunicipalitySeed& seed : kPreReform) {
    municipalities_.push_back(Municipality{seed.id, seed.name, seed.region, seed.population_hundreds});
    Json data;
    data["municipality_id"] = seed.id;
    data["name"] = seed.name;
    data["project_id"] = kProjectId;
    log_.Add(agreement_signed_, EventType::MUNICIPALITY_REGISTERED, std::string("municipality:") + seed.id,
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
    log_.Add(reform_, EventType::MUNICIPALITIES_MERGED, std::string("merge:") + kRegions[region].successor_id,
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
    log_.Add(on, EventType::BUDGET_AMENDED, std::string("budget:") + kProjectId + ":" + FormatDate(on), on,
             kFinanceActor, std::move(data));
  }
}

void Simulator::RecordProjectExpenses() {
  for (const Expense& expense : PlanExpenses(options_.seed)) {
    if (expense.on < services_start_) continue;
    const std::string expense_id = NumberedId("X-", ++expenses_, 4);
    Json data;
    data["project_id"] = kProjectId;
    data["expense_id"] = expense_id;
    data["category"] = expense.category;
    data["amount_cents"] = expense.cents;
    data["description"] = expense.description;
    log_.Add(expense.on, EventType::PROJECT_EXPENSE_RECORDED, "expense:" + expense_id, expense.on,
             kProjectActor, std::move(data));
  }
}

void Simulator::RecordProjectActivities() {
  for (const PlannedActivity& planned : kPlannedActivities) {
    const int32_t first = Date(planned.first_year, planned.first_month, planned.first_day);
    const int32_t last = first + planned.days - 1;
    const int32_t recorded = last + 7;  // reported a week after
    if (first < services_start_ || recorded > horizon_) continue;
    Json data;
    data["project_id"] = kProjectId;
    data["activity_id"] = planned.id;
    data["kind"] = planned.kind;
    data["title"] = planned.title;
    data["first_date"] = FormatDate(first);
    data["last_date"] = FormatDate(last);
    data["participants"] = planned.participants;
    if (planned.venue[0] != '\0') data["venue"] = planned.venue;
    log_.Add(recorded, EventType::PROJECT_ACTIVITY_HELD, std::string("activity:") + planned.id, recorded, kProjectActor,
             std::move(data));
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
  log_.Add(registered_on, EventType::PROVIDER_REGISTERED, "provider:" + provider.id, registered_on,
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
  log_.Add(needed_on, EventType::PROVIDER_CONTRACTED, "contract:" + contract_id, needed_on,
           Clerk(municipality, needed_on), std::move(data));
}

void Simulator::RegisterProviders() {
  Rng rng(options_.seed, Stream::kSetup);
  std::vector<int> created;
  for (const ProviderSeed& seed : kProviderSeeds) {
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
    created.push_back(AddPractitioner(
        NumberedId("PR-PSY-", i, 2), "Psihologs (fiziska persona) " + NumberedId("PSY-", i, 2),
        Register::kPsychologists, NumberedId("PSIH-", rng.Between(1000, 9999), 4),
        {Service::ADULT_PSYCHOLOGIST_CONSULTATION, Service::ADULT_SPECIALIST_CONSULTATION,
         Service::CHILD_REHABILITATION, Service::PARENT_REHABILITATION},
        (i - 1) % kRegionCount));
  }
  for (int i = 1; i <= 6; ++i) {
    created.push_back(AddPractitioner(
        NumberedId("PR-SPEC-", i, 2),
        std::string(i % 2 == 1 ? "Fizioterapeits" : "Ergoterapeits") + " (fiziska persona) " +
            NumberedId("SPEC-", i, 2),
        Register::kMedicalPractitioners, NumberedId("AP-", rng.Between(100000, 999999), 6),
        {Service::ADULT_SPECIALIST_CONSULTATION, Service::CHILD_REHABILITATION}, (i - 1) % kRegionCount));
  }
  SignFrameworkContracts(created);
}

int Simulator::AddPractitioner(std::string id, std::string name, Register register_kind,
                               std::string registration_number, std::vector<Service> services, int region) {
  Provider provider;
  provider.id = std::move(id);
  provider.name = std::move(name);
  provider.natural_person = true;
  provider.register_kind = register_kind;
  provider.registration_number = std::move(registration_number);
  provider.services = std::move(services);
  provider.region = region;
  provider.available_from = first_contracts_;
  return AddProvider(std::move(provider), first_contracts_);
}

// Framework contracts: each municipality contracts the providers working in its region (pre-reform
// contracts run until the reform; the successors sign new ones from 2021-07-01).
void Simulator::SignFrameworkContracts(const std::vector<int>& providers) {
  for (const int index : providers) {
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

}  // namespace di::workload::region
