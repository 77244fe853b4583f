// LedgerModel: the facts the rules need, folded from the event stream (pure: Apply() does no I/O).
//
// It keeps what each event says, in valid time (dates) and transaction time (positions), so that
// eligibility can be decided for any valid date as known at any position: the caller simply applies
// the events up to the known-at position.
#ifndef DI_PROJECTIONS_LEDGER_MODEL_H_
#define DI_PROJECTIONS_LEDGER_MODEL_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "di/ledger/civil_date.h"
#include "di/ledger/event.h"
#include "di/projections/rules.h"

namespace di::projections {

// A dated fact with a validity interval [from, until] (until kNoDate: open-ended).
template <typename Value>
struct Validity {
  Value value;
  int32_t from = ledger::kNoDate;
  int32_t until = ledger::kNoDate;
  uint64_t position = 0;  // the event that recorded it
  bool CoversDate(int32_t date) const { return date >= from && (until == ledger::kNoDate || date <= until); }
};

struct PersonFacts {
  std::string id;
  bool enrolled = false;  // false for a person only referenced so far (as a represented child, say)
  schema::TargetGroup target_group = schema::TargetGroup::ADULT_MENTAL_DISABILITY;
  int32_t birth_date = 0;
  int32_t enrolled_on = ledger::kNoDate;  // effective date of person_enrolled (kNoDate: not enrolled)
  std::string residence_municipality_id;  // as last recorded (the current residence, as known)
  // Residences in valid time: (from, municipality), in recording order (enrolment, then residence changes).
  std::vector<std::pair<int32_t, std::string>> residences;
  std::vector<std::string> represented_child_ids;  // for parents
  std::vector<std::string> representative_ids;     // for children: their parents / representatives
  std::vector<Validity<bool>> special_care_opinions;
  std::vector<Validity<schema::DisabilityGroup>> disabilities;
  std::vector<Validity<schema::ParentActivity>> parent_activities;
  std::vector<std::string> plan_ids;
  bool assessed = false;
  std::vector<int32_t> assessment_dates;  // effective dates of needs_assessed
  std::string project_id;
  // The transition from a state social care centre to community life: the first effective date of each
  // (kNoDate: none recorded).
  int32_t prepared_for_transition_on = ledger::kNoDate;  // transition_prepared
  int32_t independent_life_from = ledger::kNoDate;       // independent_life_started

  // The residence in force on `date`: the latest residence from on or before it (of equal dates, the one
  // recorded last); before the first, the first (ResidenceInForce).
  const std::string& ResidenceOn(int32_t date) const;
};

// The residence in force on `date` among `residences` (PersonFacts::residences); `last_recorded` when there are none.
const std::string& ResidenceInForce(const std::vector<std::pair<int32_t, std::string>>& residences,
                                    const std::string& last_recorded, int32_t date);

struct PlanFacts {
  std::string id;
  int32_t approved_on = 0;
  std::string person_id;
  std::vector<schema::Service> services;
  int32_t valid_from = 0;
  int32_t valid_until = ledger::kNoDate;
};

struct GrantFacts {
  std::string id;
  std::string person_id;
  std::string municipality_id;
  schema::Service service = schema::Service::CHILD_CARE;
  int64_t quantity = 0;  // per period, as granted (see QuantityOn for amendments)
  // Amendments of the quantity, in force from their effective date: (from, quantity), recording order.
  std::vector<std::pair<int32_t, int64_t>> quantity_changes;
  schema::Period period = schema::Period::MONTH;
  int32_t valid_from = 0;
  int32_t valid_until = 0;            // after amendments
  int32_t ended_on = ledger::kNoDate;
  schema::CostBasis cost_basis = schema::CostBasis::ACTUAL_COST;
  int64_t unit_cost_cents = 0;       // as granted (see UnitCostOn for amendments)
  std::vector<std::pair<int32_t, int64_t>> unit_cost_changes;  // (from, rate), recording order
  std::vector<std::pair<int32_t, int32_t>> suspensions;  // [from, until] (until kNoDate: not resumed)
  std::string provider_id;            // the provider named when granted, or by the last amendment ("" if none)
  std::string project_id;             // the project it names ("" if none: its municipality's own project pays)
  std::vector<uint64_t> positions;    // events that shaped it

  // The quantity per period in force on `date`: the latest amendment in force on or before it.
  int64_t QuantityOn(int32_t date) const;
  // The unit rate in force on `date`, likewise.
  int64_t UnitCostOn(int32_t date) const;
  // The last day services can be delivered under it: the day it ended, else its (amended) validity.
  int32_t LastDay() const { return ended_on != ledger::kNoDate ? ended_on : valid_until; }
};

// A provider closed for a period (provider_closed .. provider_reopened): its deliveries of the services closed on
// those days are not eligible (docs/rules.md §3, step 4).
struct ClosureFacts {
  int32_t from = 0;
  int32_t until = ledger::kNoDate;       // the day before it reopened (kNoDate: still closed, as known)
  std::vector<schema::Service> services;  // empty: every service
  std::string reason;
  uint64_t position = 0;                  // the provider_closed event
  bool Covers(schema::Service service, int32_t date) const {
    return date >= from && (until == ledger::kNoDate || date <= until) &&
           (services.empty() || std::find(services.begin(), services.end(), service) != services.end());
  }
};

struct ProviderFacts {
  std::string id;
  std::string name;                    // as registered ("" if the model did not see the registration)
  std::vector<ClosureFacts> closures;  // in recording order, one open at most (the last)
};

struct DeliveryFacts {
  std::string id;
  std::string grant_id;
  std::string provider_id;
  int32_t date = 0;
  int32_t last_date = 0;
  int64_t quantity = 0;      // after corrections
  int64_t cost_cents = 0;    // after corrections
  schema::DeliveryPurpose purpose = schema::DeliveryPurpose::UNSPECIFIED;
  schema::DeliveryMode mode = schema::DeliveryMode::IN_PERSON;
  std::string kind;          // the kind of therapy or session ("" : not recorded), after corrections
  bool voided = false;
  uint64_t position = 0;                 // the service_delivered event
  std::vector<uint64_t> correction_positions;  // delivery_corrected / delivery_voided events
};

struct BudgetVersion {
  int32_t from = 0;          // in force from (effective date of the registration or amendment)
  int64_t total_cents = 0;
  int64_t esf_cents = 0;
  int64_t state_cents = 0;
  uint64_t position = 0;
};

struct IndicatorTargetFacts {
  schema::Indicator indicator = schema::Indicator::PERSONS_ASSESSED;
  schema::TargetGroup target_group = schema::TargetGroup::ADULT_MENTAL_DISABILITY;
  int64_t count = 0;
};

struct TargetsVersion {
  int32_t from = 0;  // in force from (registration or amendment date)
  std::vector<IndicatorTargetFacts> targets;
  uint64_t position = 0;
};

// A partnership in a project (sadarbības partneris) for a period: partner_joined .. partner_left. A municipality
// registered with the project is its partner from its registration without one; when it leaves, a partnership with
// `from` kNoDate records that.
struct PartnershipFacts {
  std::string partner_id;
  schema::PartnerKind kind = schema::PartnerKind::MUNICIPALITY;
  std::vector<std::string> branches;
  std::string note;
  int32_t from = ledger::kNoDate;      // kNoDate: since the municipality's registration with the project
  int32_t until = ledger::kNoDate;     // the day it left (not a partner from that day); kNoDate: still a partner
  std::string reason;                  // why it left
  std::vector<uint64_t> positions;     // the join and the leave
};

// A project's own activity (a camp, a training...) as last recorded: recording it again corrects it.
struct ActivityFacts {
  std::string id;
  schema::ActivityKind kind = schema::ActivityKind::OTHER;
  std::string title;
  int32_t first_date = 0;
  int32_t last_date = 0;
  int64_t participants = 0;
  std::string venue;
  std::string note;
  std::vector<uint64_t> positions;     // every record of it, the last one in force
};

struct ProjectFacts {
  std::string id;
  std::vector<TargetsVersion> targets;  // versions in recording order
  std::string name;
  int32_t services_paid_until = ledger::kNoDate;
  std::vector<BudgetVersion> budgets;  // in recording order; none while the budget is not known
  int64_t expenses_cents = 0;          // project-side costs (camps, training...), outside claims
  std::vector<PartnershipFacts> partnerships;   // in recording order
  std::map<std::string, ActivityFacts> activities;
};

struct MunicipalityFacts {
  std::string id;
  std::string name;
  std::string project_id;
  std::string merged_into;             // successor after the territorial reform
  int32_t merged_on = ledger::kNoDate;
  int32_t registered_on = ledger::kNoDate;  // the effective date of its registration (or of the merger creating it)
};

struct PaymentFacts {
  std::string id;
  int32_t date = 0;
  int64_t amount_cents = 0;
  int64_t esf_cents = 0;
  int64_t state_cents = 0;
  uint64_t position = 0;
};

struct ClaimFacts {
  std::string id;
  std::string project_id;
  std::string municipality_id;
  int32_t date = 0;
  int32_t period_start = 0;
  int32_t period_end = 0;
  std::vector<std::pair<std::string, int64_t>> lines;  // delivery id, claimed cents
  bool reviewed = false;
  int32_t reviewed_on = ledger::kNoDate;
  std::map<std::string, int64_t> approved;             // delivery id -> approved cents
  std::map<std::string, std::string> review_reasons;   // delivery id -> reason (rejected / partly approved)
  std::vector<PaymentFacts> payments;
  std::vector<uint64_t> positions;                     // claim, review, payments
};

class LedgerModel {
 public:
  // Folds one recorded event in (events must come in position order).
  void Apply(const ledger::StoredEvent& event);

  uint64_t last_position() const { return last_position_; }
  const std::map<std::string, PersonFacts>& persons() const { return persons_; }
  const std::map<std::string, PlanFacts>& plans() const { return plans_; }
  const std::map<std::string, GrantFacts>& grants() const { return grants_; }
  const std::map<std::string, DeliveryFacts>& deliveries() const { return deliveries_; }
  // The rule set governing a project (docs/rules.md §3.0): the last recorded `rules_enacted` naming it in
  // `project_ids`, else the last one naming no project (as known); null before any.
  const RuleSet* RulesOfProject(const std::string& project_id) const;
  // A recorded rules document that could not be used, and why, for that project ("" if none).
  const std::string& RulesProblemOfProject(const std::string& project_id) const;
  // The project a grant's deliveries are funded by and decided under: its municipality's (funding's row key).
  const std::string& ProjectOfGrant(const GrantFacts& grant) const;
  const RuleSet* RulesOfGrant(const GrantFacts& grant) const { return RulesOfProject(ProjectOfGrant(grant)); }
  // The rules enacted for every project without its own (the `rules_enacted` events without `project_ids`).
  const RuleSet* rules() const { return general_rules_.rules.get(); }

  const std::map<std::string, ProjectFacts>& projects() const { return projects_; }
  const std::map<std::string, MunicipalityFacts>& municipalities() const { return municipalities_; }
  const std::map<std::string, ProviderFacts>& providers() const { return providers_; }
  const std::map<std::string, ClaimFacts>& claims() const { return claims_; }

  const PersonFacts* FindPerson(const std::string& id) const;
  // The municipality `id` became through mergers (itself if never merged).
  std::string TerritoryOf(const std::string& id) const;
  // A family: everyone connected to `person_id` through representation (parents and the children they
  // represent, transitively), named by its smallest representative's id (else the person's). Siblings with one
  // parent in common share it.
  std::string FamilyOf(const std::string& person_id) const;
  // The members of that family (the person included).
  std::set<std::string> FamilyMembers(const std::string& person_id) const;
  // True if the person has an assessment dated on or before `date`.
  bool AssessedBy(const std::string& person_id, int32_t date) const;
  const GrantFacts* FindGrant(const std::string& id) const;
  // The closure of `provider_id` that covers `service` on `date`, or null.
  const ClosureFacts* ClosureOn(const std::string& provider_id, schema::Service service, int32_t date) const;
  // Derived indexes (kept by Apply, rebuilt by DecodeSnapshot, never encoded): the grants of a person and the
  // deliveries recorded on a grant, ids in ascending order. They let a query about one person or family touch
  // that family's records only: an entitlement query walked every delivery of the region before (22 ms at
  // 444 000 events, growing with the store).
  const std::vector<std::string>& GrantsOfPerson(const std::string& person_id) const;
  const std::vector<std::string>& DeliveriesOfGrant(const std::string& grant_id) const;

  // Snapshots (projections/src/model_snapshot.cc): a deterministic binary image of the folded state, for
  // projection checkpoints. Decoding gives a model that answers every query as the encoded one did and
  // folds on from its position. DecodeSnapshot replaces *this; on failure *this is empty.
  std::string EncodeSnapshot() const;
  Status DecodeSnapshot(std::string_view bytes);

 private:
  uint64_t last_position_ = 0;
  std::map<std::string, PersonFacts> persons_;
  std::map<std::string, PlanFacts> plans_;
  std::map<std::string, GrantFacts> grants_;
  std::map<std::string, DeliveryFacts> deliveries_;
  std::map<std::string, std::string> assessment_person_;
  std::map<std::string, ProjectFacts> projects_;
  std::map<std::string, MunicipalityFacts> municipalities_;
  std::map<std::string, ClaimFacts> claims_;
  std::map<std::string, ProviderFacts> providers_;  // registered, or ever closed
  // The rules in force for one scope: every project, or one project that enacted its own.
  struct RulesInForce {
    std::shared_ptr<const RuleSet> rules;
    uint64_t position = 0;
    std::string document;  // the text of the rules in force (re-parsed when a snapshot is decoded)
    std::string problem;   // a later recorded rules document that did not parse (kept, reported)
  };
  RulesInForce general_rules_;
  std::map<std::string, RulesInForce> project_rules_;  // by project id
  std::map<std::string, std::vector<std::string>> grants_of_person_;    // derived, see GrantsOfPerson
  std::map<std::string, std::vector<std::string>> deliveries_of_grant_;  // derived, see DeliveriesOfGrant
  // The fold of each event type, called by Apply (ledger_model.cc): the facts it adds.
  void ApplyPersonEnrolled(schema::PersonEnrolled::Reader data, int32_t date);
  void ApplyResidenceChanged(schema::ResidenceChanged::Reader data, int32_t date);
  void ApplyDisabilityRecorded(schema::DisabilityRecorded::Reader data, uint64_t position);
  void ApplySpecialCareOpinionRecorded(schema::SpecialCareOpinionRecorded::Reader data, uint64_t position);
  void ApplyParentActivityRecorded(schema::ParentActivityRecorded::Reader data, uint64_t position);
  void ApplyNeedsAssessed(schema::NeedsAssessed::Reader data, int32_t date);
  void ApplySupportPlanApproved(schema::SupportPlanApproved::Reader data, int32_t date);
  void ApplyServiceGranted(schema::ServiceGranted::Reader data, uint64_t position);
  void ApplyGrantAmended(schema::GrantAmended::Reader data, int32_t date, uint64_t position);
  void ApplyGrantEnded(schema::GrantEnded::Reader data, int32_t date, uint64_t position);
  void ApplyServiceSuspended(schema::ServiceSuspended::Reader data, int32_t date, uint64_t position);
  void ApplyServiceResumed(schema::ServiceResumed::Reader data, int32_t date, uint64_t position);
  void ApplyServiceDelivered(schema::ServiceDelivered::Reader data, int32_t date, uint64_t position);
  void ApplyDeliveryCorrected(schema::DeliveryCorrected::Reader data, uint64_t position);
  void ApplyDeliveryVoided(schema::DeliveryVoided::Reader data, uint64_t position);
  void ApplyRulesEnacted(schema::RulesEnacted::Reader data, uint64_t position);
  void ApplyProviderClosed(schema::ProviderClosed::Reader data, int32_t date, uint64_t position);
  void ApplyProviderReopened(schema::ProviderReopened::Reader data, int32_t date);
  void ApplyProjectRegistered(schema::ProjectRegistered::Reader data, int32_t date, uint64_t position);
  void ApplyBudgetAmended(schema::BudgetAmended::Reader data, int32_t date, uint64_t position);
  void ApplyProjectExpenseRecorded(schema::ProjectExpenseRecorded::Reader data);
  void ApplyMunicipalityRegistered(schema::MunicipalityRegistered::Reader data, int32_t date);
  void ApplyPartnerJoined(schema::PartnerJoined::Reader data, int32_t date, uint64_t position);
  void ApplyPartnerLeft(schema::PartnerLeft::Reader data, int32_t date, uint64_t position);
  void ApplyProjectActivityHeld(schema::ProjectActivityHeld::Reader data, uint64_t position);
  void ApplyMunicipalitiesMerged(schema::MunicipalitiesMerged::Reader data, int32_t date);
  void ApplyReimbursementClaimed(schema::ReimbursementClaimed::Reader data, int32_t date, uint64_t position);
  void ApplyClaimReviewed(schema::ClaimReviewed::Reader data, int32_t date, uint64_t position);
  void ApplyReimbursementPaid(schema::ReimbursementPaid::Reader data, int32_t date, uint64_t position);
  void IndexGrant(const std::string& person_id, const std::string& grant_id);
  void IndexDelivery(const std::string& grant_id, const std::string& delivery_id);
  void RebuildIndexes();
};

}  // namespace di::projections

#endif  // DI_PROJECTIONS_LEDGER_MODEL_H_
