// The parts of the validator (validator.h), shared by its files. Read this first: the Context every check works
// through, the field checks several event families share, and the one function per event type, listed by the
// file that holds it:
//
//   validator.cc           ValidateEvent: the dispatch on the payload; Context and the shared checks
//   validate_reference.cc  the project, budget, expenses, municipalities and mergers, providers, contracts, rules
//   validate_person.cc     persons, residence, disability, opinions, parent activity, assessments, plans,
//                          applications
//   validate_grant.cc      grants, suspensions, deliveries, corrections, voids
//   validate_claim.cc      claims, reviews, payments, and the audit events
//
// Internal to ledger/src. Every refusal is kInvalidArgument naming the field; ValidateEvent adds the event id.
#ifndef DI_LEDGER_VALIDATOR_CONTEXT_H_
#define DI_LEDGER_VALIDATOR_CONTEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "di/ledger/status.h"
#include "di/ledger/subject.h"
#include "validator.h"

namespace di::ledger::validation {

using schema::Service;
using schema::TargetGroup;

// The budget of a project registered with one is known on every date: its first version governs the dates before
// it too. EntityState::budget_known_from of such a project; kNoDate: no budget yet.
inline constexpr int32_t kBudgetKnownAlways = INT32_MIN + 1;
// Limits of the project's outputs: a centre's branches, an activity's participants.
inline constexpr unsigned kMaxBranches = 64;
inline constexpr uint32_t kMaxActivityParticipants = 100'000;
// The key of a partnership's record (EntityKind::PARTNER).
std::string PartnerKey(const std::string& project_id, const std::string& partner_id);

// A refusal of the payload field `field` ("quantity" names "data.quantity").
Status Invalid(std::string field, std::string message);

// Everything one validation needs: the event's envelope, the lookup, and the output.
class Context {
 public:
  Context(schema::Event::Reader event, uint64_t position, EntityLookup& lookup, ValidatedEvent* out)
      : event_(event), position_(position), lookup_(lookup), out_(out) {}

  int32_t date() const { return event_.getEffectiveDate(); }
  uint64_t position() const { return position_; }
  ValidatedEvent* out() { return out_; }

  // The entity as this event sees it, including updates made earlier by this same event.
  bool Find(EntityKind kind, const std::string& id, EntityState* state) {
    for (auto it = out_->updates.rbegin(); it != out_->updates.rend(); ++it) {
      if (it->kind == kind && it->id == id) {
        *state = it->state;
        return true;
      }
    }
    return lookup_.Find(kind, id, state);
  }

  // An entity that exists ("unknown <kind> '<id>'" otherwise), into `state` when given.
  Status Need(EntityKind kind, const std::string& id, const std::string& field, EntityState* state);
  Status Need(EntityKind kind, const std::string& id, const std::string& field);
  // An id not taken yet by an entity of `kind`.
  Status NeedNew(EntityKind kind, const std::string& id, const std::string& field);
  // A municipality that still exists on the event's effective date (not merged away before it).
  Status NeedActiveMunicipality(const std::string& id, const std::string& field);

  EntityState Create(EntityKind kind) const {
    EntityState state;
    state.kind = kind;
    state.created_at = position_;
    state.created_on = date();
    return state;
  }
  void Put(EntityKind kind, const std::string& id, EntityState state) {
    out_->updates.push_back(EntityUpdate{kind, id, std::move(state)});
  }
  void SetStream(std::string_view kind, const std::string& id) { out_->stream = std::string(kind) + "/" + id; }
  // Through the lookup only: no event changes a municipality and then asks for its territory.
  Territory TerritoryOf(const std::string& municipality_id) { return ledger::TerritoryOf(lookup_, municipality_id); }

 private:
  schema::Event::Reader event_;
  uint64_t position_;
  EntityLookup& lookup_;
  ValidatedEvent* out_;
};

// ------------------------------------------------------------------------------------------------------
// Checks of fields, shared by the event families (validator.cc).
// ------------------------------------------------------------------------------------------------------

// An event about an entity cannot take effect before the entity's own effective date.
Status NeedNotBefore(int32_t date, int32_t earliest, std::string_view what);
Status NeedPositive(int64_t value, const std::string& field);
// An amount of money in cents: positive (or zero when `allow_zero`), at most kMaxAmountCents.
Status NeedAmount(int64_t value, const std::string& field, bool allow_zero);
// `until` (kNoDate: open) is not before `from`.
Status NeedDateOrder(int32_t from, int32_t until, const std::string& until_field, const std::string& from_name);
// At least one service, none twice.
Status NeedServices(capnp::List<Service>::Reader services, const std::string& field);
// Every indicator target counts more than 0.
Status CheckTargets(capnp::List<schema::IndicatorTarget>::Reader targets, const std::string& field);
// Money split into an ESF and a state part that sum to the total.
Status CheckBudget(int64_t total, int64_t esf, int64_t state, const std::string& total_field,
                   const std::string& esf_field, const std::string& state_field);

// ------------------------------------------------------------------------------------------------------
// One function per event type: checks the event, records the entities it creates or changes, names its stream.
// ------------------------------------------------------------------------------------------------------

// validate_reference.cc
Status ProjectRegistered(Context& ctx, schema::ProjectRegistered::Reader data);
Status BudgetAmended(Context& ctx, schema::BudgetAmended::Reader data);
Status ProjectExpenseRecorded(Context& ctx, schema::ProjectExpenseRecorded::Reader data);
Status MunicipalityRegistered(Context& ctx, schema::MunicipalityRegistered::Reader data);
Status MunicipalitiesMerged(Context& ctx, schema::MunicipalitiesMerged::Reader data);
Status ProviderRegistered(Context& ctx, schema::ProviderRegistered::Reader data);
Status ProviderContracted(Context& ctx, schema::ProviderContracted::Reader data);
Status PartnerJoined(Context& ctx, schema::PartnerJoined::Reader data);
Status PartnerLeft(Context& ctx, schema::PartnerLeft::Reader data);
Status ProjectActivityHeld(Context& ctx, schema::ProjectActivityHeld::Reader data);
Status ProviderClosed(Context& ctx, schema::ProviderClosed::Reader data);
Status ProviderReopened(Context& ctx, schema::ProviderReopened::Reader data);
// validate_person.cc: the transition of a state social care centre's resident to community life
Status TransitionPrepared(Context& ctx, schema::TransitionPrepared::Reader data);
Status IndependentLifeStarted(Context& ctx, schema::IndependentLifeStarted::Reader data);
Status RulesEnacted(Context& ctx, schema::RulesEnacted::Reader data);

// validate_person.cc
Status PersonEnrolled(Context& ctx, schema::PersonEnrolled::Reader data);
Status ResidenceChanged(Context& ctx, schema::ResidenceChanged::Reader data);
Status DisabilityRecorded(Context& ctx, schema::DisabilityRecorded::Reader data);
Status SpecialCareOpinionRecorded(Context& ctx, schema::SpecialCareOpinionRecorded::Reader data);
Status ParentActivityRecorded(Context& ctx, schema::ParentActivityRecorded::Reader data);
Status NeedsAssessed(Context& ctx, schema::NeedsAssessed::Reader data);
Status SupportPlanApproved(Context& ctx, schema::SupportPlanApproved::Reader data);
Status ApplicationSubmitted(Context& ctx, schema::ApplicationSubmitted::Reader data);
Status ApplicationDecided(Context& ctx, schema::ApplicationDecided::Reader data);

// validate_grant.cc
Status ServiceGranted(Context& ctx, schema::ServiceGranted::Reader data);
Status GrantAmended(Context& ctx, schema::GrantAmended::Reader data);
Status GrantEnded(Context& ctx, schema::GrantEnded::Reader data);
Status ServiceSuspended(Context& ctx, schema::ServiceSuspended::Reader data);
Status ServiceResumed(Context& ctx, schema::ServiceResumed::Reader data);
Status ServiceDelivered(Context& ctx, schema::ServiceDelivered::Reader data);
Status DeliveryCorrected(Context& ctx, schema::DeliveryCorrected::Reader data);
Status DeliveryVoided(Context& ctx, schema::DeliveryVoided::Reader data);

// validate_claim.cc
Status ReimbursementClaimed(Context& ctx, schema::ReimbursementClaimed::Reader data);
Status ClaimReviewed(Context& ctx, schema::ClaimReviewed::Reader data);
Status ReimbursementPaid(Context& ctx, schema::ReimbursementPaid::Reader data);
// The audit events: checked on the whole event (CheckAuditEvent, audit.h).
Status CheckpointSigned(Context& ctx, schema::Event::Reader event);
Status SigningKeyRotated(Context& ctx, schema::Event::Reader event);

}  // namespace di::ledger::validation

#endif  // DI_LEDGER_VALIDATOR_CONTEXT_H_
