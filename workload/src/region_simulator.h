// The region history's simulation state and the Simulator (see region_history.h and region_simulator.cc).
#ifndef DI_WORKLOAD_SRC_REGION_SIMULATOR_H_
#define DI_WORKLOAD_SRC_REGION_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "region_calendar.h"
#include "region_event_log.h"
#include "region_random.h"
#include "region_vocabulary.h"
#include "rule_facts.h"

namespace di::workload::region {


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

inline int64_t CapInstance(CapPeriodKind period, int32_t day) {
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

inline int64_t CapKey(const PersonCap& cap, int32_t day) {
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
  void Entitle(Period new_period, int64_t new_quantity) {
    period = new_period;
    quantity = new_quantity;
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

inline constexpr std::array<const char*, 4> kRefusalReasons = {
    "Iesniegumam nav pievienoti nepieciešamie dokumenti",
    "Persona nav deklarējusi dzīvesvietu pašvaldības administratīvajā teritorijā",
    "Pieprasītais pakalpojums nav norādīts individuālajā atbalsta plānā",
    "Pašvaldībā pašlaik nav pieejams pakalpojuma sniedzējs",
};
inline constexpr std::array<const char*, 3> kRejectionReasons = {
    "Nav iesniegti pakalpojuma sniegšanu apliecinoši dokumenti",
    "Pakalpojums sniegts pārsniedzot piešķirto apjomu",
    "Pakalpojuma sniedzējs pakalpojuma sniegšanas dienā nebija reģistrēts attiecīgajā reģistrā",
};
inline constexpr std::array<const char*, 3> kPartialReasons = {
    "Izmaksas apstiprinātas atbilstoši līgumā noteiktajai cenai",
    "Daļa izmaksu nav attiecināmas (transporta izdevumi)",
    "Apstiprināts faktiski sniegtais apjoms atbilstoši apmeklējuma uzskaitei",
};
inline constexpr std::array<const char*, 2> kVoidReasons = {
    "Pakalpojums netika sniegts (klients neieradās)",
    "Dubults ieraksts",
};
inline constexpr std::array<const char*, 2> kIndividualSuspensionReasons = {
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
  void RecordProjectActivities();
  void RegisterProviders();
  int AddProvider(Provider provider, int32_t registered_on);
  // A natural person in a professional register, available from the first contracts.
  int AddPractitioner(std::string id, std::string name, Register register_kind, std::string registration_number,
                      std::vector<Service> services, int region);
  void SignFrameworkContracts(const std::vector<int>& providers);
  void EnsureContract(int provider, int municipality, int32_t needed_on);

  // Persons.
  std::vector<Household> PlanHouseholds();
  void EnrolHousehold(const Household& household);
  void PlanAdult(Rng& rng, int32_t enrol_on);
  Departure AdultDeparture(Rng& rng, int person, int home, int32_t enrol_on);
  // Some adults live in the state social care centre (VSAC) and are prepared for community life, some then move
  // out (brief §3.3 (H): the indicators persons_prepared_for_transition / persons_started_independent_life).
  void PlanTransition(int person, int32_t enrol_on, const Departure& departure);
  void PlanFamily(Rng& rng, int32_t enrol_on, int children);
  std::vector<int> EnrolChildren(Rng& rng, int32_t enrol_on, int count, int home, int32_t* family_end);
  int EnrolParent(Rng& rng, int32_t enrol_on, int home, const std::vector<int>& children, int32_t family_end);
  void PlanCareAndRespite(Rng& rng, int child, int parent, int32_t enrol_on, int32_t stop_on,
                          const Departure& departure);
  void PlanParentServices(Rng& rng, int parent, int home, int32_t from, int32_t until, const Departure& departure);
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
    int person = -1;
    const char* method = nullptr;
    const char* assessor = nullptr;
    int32_t first_assessment_on = kNoDate;
    int32_t planned_end = kNoDate;  // services end (age-out, project end)
    Departure departure;
    bool receives_services = false;
    std::vector<Service> services;
    std::vector<Service> also_recommended;
    std::vector<Service> optional_services;  // may be added at a re-assessment
    int submitted_by = -1;
    bool adult = false;
  };
  struct CareerResult {
    int32_t first_plan_on = kNoDate;
    int32_t services_until = kNoDate;
  };
  CareerPlan NewCareer(int person, bool adult, int32_t first_assessment_on, int32_t planned_end) const;
  CareerResult PlanAssessedCareer(const CareerPlan& plan, Rng& rng);
  // One cycle of a career: an assessment, the support plan that follows and the services it plans, and
  // what carries over to the next cycle.
  struct CareerCycle {
    bool first = true;
    int32_t assess_on = kNoDate;
    int32_t plan_on = kNoDate;     // the plan's approval
    int32_t plan_from = kNoDate;   // its validity: the first plan's day, then the day after the previous plan
    int32_t plan_until = kNoDate;  // kNoDate: open-ended
    int32_t end = kNoDate;         // the services planned end (the plan's end, at the latest the career's)
    int32_t review_delay = 0;      // days the next review comes late
    std::vector<Service> services;
    // Before the 2021 amendments GRT services were free for two years after the first plan. Municipalities
    // stopped them then and resumed them once the amendment of 2021-07-01 lifted the limit; some renewed the
    // plan first and went on for a few months before they stopped (deliveries the eligibility check finds
    // outside the free period).
    bool past_free_period = false;
    bool stopped_past_free_period = false;
  };
  std::string RecordAssessment(const CareerPlan& plan, int32_t on, Rng& rng);
  void DatePlan(const CareerPlan& plan, CareerCycle& cycle, Rng& rng);
  void ReviseServices(const CareerPlan& plan, std::vector<Service>* services, Rng& rng);
  std::string ApprovePlan(const CareerPlan& plan, const CareerCycle& cycle, const std::string& assessment_id);
  void RequestServices(const CareerPlan& plan, const CareerCycle& cycle, const std::string& plan_id, Rng& rng);
  bool NextCycle(const CareerPlan& plan, CareerCycle& cycle, Rng& rng);
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
  // The steps of CreateGrant.
  struct Rhythm {
    int visits_per_week = 0;
    std::array<int, 5> weekdays = {0, 1, 2, 3, 4};  // Monday = 0, in the order of preference
    uint8_t Weekdays() const {  // the first visits_per_week of them, as Grant::weekdays
      uint8_t mask = 0;
      for (int i = 0; i < visits_per_week && i < 5; ++i) mask |= static_cast<uint8_t>(1u << weekdays[i]);
      return mask;
    }
  };
  Rhythm ChooseRhythm(Grant& grant, Rng& rng);
  void KeepsToLimits(Grant& grant, Rng& rng);
  void Entitle(Grant& grant, int visits_per_week, Rng& rng);
  void EntitleChildCare(Grant& grant);
  bool SizeSessions(const BlockRequest& request, Grant& grant, Rhythm& rhythm, Rng& rng);
  void PriceGrant(Grant& grant, int visits_per_week, Rng& rng);
  void RecordGrant(const Grant& grant, const BlockRequest& request, const std::string& application_id,
                   const std::string& causation);
  // The steps of PlanGrantChain: where the chain stands (the decision the next grant follows), a new
  // application when the previous grant ran out, extensions of a grant.
  struct ChainLink {
    int municipality = -1;
    int32_t decided_on = kNoDate;
    int32_t valid_from = kNoDate;
    std::string application_id;  // "" when the next grant needs a new application
    std::string causation;
  };
  bool ApplyAgain(const BlockRequest& request, Service service, int32_t last_decision, ChainLink* link, Rng& rng);
  int32_t ExtendGrant(const BlockRequest& request, Grant& grant, int32_t valid_until, Rng& rng);
  void PlanGrantLife(Grant& grant, int32_t valid_until, const BlockRequest& request, Rng& rng);
  void ReassessQuantity(Grant& grant, Rng& rng);
  void ChangeProvider(Grant& grant, Rng& rng);
  void UpdateUnitCost(Grant& grant);
  void PlanSuspension(Grant& grant, Rng& rng);
  std::string SubmitApplication(int person, const std::vector<Service>& services, int32_t on,
                                int submitted_by, Rng& rng);
  std::string DecideApplication(const std::string& application_id, int municipality, int32_t on,
                                const char* refusal_reason);
  void AmendGrant(Grant& grant, int32_t on, Json changes, const char* reason);
  bool ParentActiveOn(int child, int32_t day) const;

  // Monthly work.
  void DeliverMonth(int32_t month_start, int32_t month_end, std::vector<ClaimableDelivery>* claimable);
  // One grant's deliveries in one month: the days it delivers on, the month's end (corrections come before
  // its claim), its random stream, and where the amounts to claim go.
  struct GrantMonth {
    Grant& grant;
    int32_t from;
    int32_t to;
    int32_t month_end;
    Rng rng;
    std::vector<ClaimableDelivery>* claimable;
  };
  int64_t WithinLimits(const Grant& grant, int32_t day, int64_t quantity, bool leisure) const;
  void DeliverVisits(GrantMonth& m);
  void DeliverVisit(GrantMonth& m, int32_t day);
  void DeliverWeeklyStays(GrantMonth& m);
  void DeliverStay(GrantMonth& m);
  // Records a delivery and counts it against the grant's quantity and the person's caps.
  void Deliver(GrantMonth& m, int32_t first, int32_t last, int64_t quantity, const char* purpose, bool leisure);
  int64_t Room(const Grant& grant, int32_t day, bool leisure) const;
  void UseCaps(Grant& grant, int32_t day, int64_t quantity, bool leisure);
  void RecordDelivery(GrantMonth& m, int32_t first, int32_t last, int64_t quantity, const char* purpose);
  void VoidDelivery(const std::string& delivery_id, int municipality, int32_t on, const char* reason);
  int64_t CorrectDelivery(const Grant& grant, const std::string& delivery_id, int32_t first, int64_t quantity,
                          int64_t cost, const char* purpose, int32_t on, Rng& rng);
  int64_t DeliveryCost(const Grant& grant, int64_t quantity, int32_t day) const;
  void ClaimMonth(int32_t month_start, int32_t month_end, const std::vector<ClaimableDelivery>& deliveries);
  void FileClaim(const std::string& claim_id, int claimant, int32_t claimed_on, int32_t month_start,
                 int32_t month_end, const std::vector<const ClaimableDelivery*>& lines);
  int64_t ReviewClaim(const std::string& claim_id, int claimant, int32_t claimed_on, int32_t reviewed_on,
                      const std::vector<const ClaimableDelivery*>& lines, Rng& rng);
  void PayClaim(const std::string& claim_id, int32_t claimed_on, int32_t reviewed_on, int64_t approved_total,
                Rng& rng);
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

  // The rules' dates and caps (projections/rules/mk313.json): read, not restated.
  const RuleFacts& rules_ = DefaultRuleFacts();

  // Key dates (domain brief §4); those of the rules from the rules.
  const int32_t project_start_ = rules_.project_start;
  const int32_t project_end_ = Date(2023, 12, 31);
  const int32_t agreement_signed_ = Date(2015, 12, 8);
  const int32_t services_end_ = rules_.services_paid_until;
  const int32_t reform_ = Date(2021, 7, 1);  // the territorial reform: municipalities merge
  const int32_t amendments_2021_ = rules_.amendments_2021;
  const int32_t rules_unlimited_ = rules_.count_caps_abolished;
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


}  // namespace di::workload::region

#endif  // DI_WORKLOAD_SRC_REGION_SIMULATOR_H_
