// The validator's entry point: ValidateEvent dispatches on the payload to the one function per event type
// (validator_context.h lists them and the files that hold them); here also the Context's lookups and the field
// checks the event families share.
#include "validator.h"

#include <set>
#include <string>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "validator_context.h"

namespace di::ledger::validation {

Status Invalid(std::string field, std::string message) {
  return Status::InvalidArgument(std::move(message), "data." + field);
}

Status Context::Need(EntityKind kind, const std::string& id, const std::string& field, EntityState* state) {
  if (!Find(kind, id, state)) {
    return Invalid(field, "unknown " + std::string(EntityKindName(kind)) + " '" + id + "'");
  }
  return Status::Ok();
}

Status Context::Need(EntityKind kind, const std::string& id, const std::string& field) {
  EntityState ignored;
  return Need(kind, id, field, &ignored);
}

Status Context::NeedNew(EntityKind kind, const std::string& id, const std::string& field) {
  EntityState existing;
  if (Find(kind, id, &existing)) {
    return Invalid(field, std::string(EntityKindName(kind)) + " '" + id +
                              "' already exists (recorded at position " + std::to_string(existing.created_at) +
                              ")");
  }
  return Status::Ok();
}

Status Context::NeedActiveMunicipality(const std::string& id, const std::string& field) {
  EntityState municipality;
  DI_RETURN_IF_ERROR(Need(EntityKind::MUNICIPALITY, id, field, &municipality));
  if (!municipality.merged_into.empty() && date() >= municipality.ended_on) {
    return Invalid(field, "municipality '" + id + "' was merged into '" + municipality.merged_into + "' on " +
                              FormatDate(municipality.ended_on));
  }
  return Status::Ok();
}

// An event about an entity cannot take effect before the entity's own effective date.
Status NeedNotBefore(int32_t date, int32_t earliest, std::string_view what) {
  if (date < earliest) {
    return Status::InvalidArgument(FormatDate(date) + " is before " + std::string(what) + " on " + FormatDate(earliest),
                                   "effective_date");
  }
  return Status::Ok();
}

Status NeedPositive(int64_t value, const std::string& field) {
  if (value <= 0) return Invalid(field, "must be greater than 0");
  return Status::Ok();
}

Status NeedAmount(int64_t value, const std::string& field, bool allow_zero) {
  if (value < 0 || (!allow_zero && value == 0)) {
    return Invalid(field, allow_zero ? "must not be negative" : "must be greater than 0");
  }
  static_assert(kMaxAmountCents == 1'000'000'000'000LL, "the message below states the bound");
  if (value > kMaxAmountCents) return Invalid(field, "exceeds the maximum of 10^12 cents");
  return Status::Ok();
}

Status NeedDateOrder(int32_t from, int32_t until, const std::string& until_field, const std::string& from_name) {
  if (until != kNoDate && until < from) {
    return Invalid(until_field, FormatDate(until) + " is before " + from_name + " " + FormatDate(from));
  }
  return Status::Ok();
}

Status NeedServices(capnp::List<Service>::Reader services, const std::string& field) {
  if (services.size() == 0) return Invalid(field, "must list at least one service");
  std::set<uint16_t> seen;
  for (unsigned i = 0; i < services.size(); ++i) {
    if (!seen.insert(static_cast<uint16_t>(services[i])).second) {
      return Invalid(field + "[" + std::to_string(i) + "]",
                     "service '" + std::string(ServiceName(services[i])) + "' is listed twice");
    }
  }
  return Status::Ok();
}

Status CheckTargets(capnp::List<schema::IndicatorTarget>::Reader targets, const std::string& field) {
  for (unsigned i = 0; i < targets.size(); ++i) {
    if (targets[i].getCount() == 0) {
      return Invalid(field + "[" + std::to_string(i) + "].count", "must be greater than 0");
    }
  }
  return Status::Ok();
}

Status CheckBudget(int64_t total, int64_t esf, int64_t state, const std::string& total_field,
                   const std::string& esf_field, const std::string& state_field) {
  DI_RETURN_IF_ERROR(NeedAmount(total, total_field, false));
  DI_RETURN_IF_ERROR(NeedAmount(esf, esf_field, true));
  DI_RETURN_IF_ERROR(NeedAmount(state, state_field, true));
  if (esf + state != total) {
    return Invalid(total_field, "ESF part " + std::to_string(esf) + " + state part " + std::to_string(state) +
                                    " = " + std::to_string(esf + state) + " cents, not the total " +
                                    std::to_string(total));
  }
  return Status::Ok();
}

namespace {

Status Dispatch(Context& ctx, schema::Event::Reader event) {
  const schema::Event::Payload::Reader payload = event.getPayload();
  using P = schema::Event::Payload;
  switch (payload.which()) {
    case P::PROJECT_REGISTERED: return ProjectRegistered(ctx, payload.getProjectRegistered());
    case P::BUDGET_AMENDED: return BudgetAmended(ctx, payload.getBudgetAmended());
    case P::PROJECT_EXPENSE_RECORDED: return ProjectExpenseRecorded(ctx, payload.getProjectExpenseRecorded());
    case P::MUNICIPALITY_REGISTERED: return MunicipalityRegistered(ctx, payload.getMunicipalityRegistered());
    case P::MUNICIPALITIES_MERGED: return MunicipalitiesMerged(ctx, payload.getMunicipalitiesMerged());
    case P::PROVIDER_REGISTERED: return ProviderRegistered(ctx, payload.getProviderRegistered());
    case P::PROVIDER_CONTRACTED: return ProviderContracted(ctx, payload.getProviderContracted());
    case P::PARTNER_JOINED: return PartnerJoined(ctx, payload.getPartnerJoined());
    case P::PARTNER_LEFT: return PartnerLeft(ctx, payload.getPartnerLeft());
    case P::PROJECT_ACTIVITY_HELD: return ProjectActivityHeld(ctx, payload.getProjectActivityHeld());
    case P::PROVIDER_CLOSED: return ProviderClosed(ctx, payload.getProviderClosed());
    case P::PROVIDER_REOPENED: return ProviderReopened(ctx, payload.getProviderReopened());
    case P::TRANSITION_PREPARED: return TransitionPrepared(ctx, payload.getTransitionPrepared());
    case P::INDEPENDENT_LIFE_STARTED: return IndependentLifeStarted(ctx, payload.getIndependentLifeStarted());
    case P::RULES_ENACTED: return RulesEnacted(ctx, payload.getRulesEnacted());
    case P::PERSON_ENROLLED: return PersonEnrolled(ctx, payload.getPersonEnrolled());
    case P::RESIDENCE_CHANGED: return ResidenceChanged(ctx, payload.getResidenceChanged());
    case P::DISABILITY_RECORDED: return DisabilityRecorded(ctx, payload.getDisabilityRecorded());
    case P::SPECIAL_CARE_OPINION_RECORDED: return SpecialCareOpinionRecorded(ctx, payload.getSpecialCareOpinionRecorded());
    case P::PARENT_ACTIVITY_RECORDED: return ParentActivityRecorded(ctx, payload.getParentActivityRecorded());
    case P::NEEDS_ASSESSED: return NeedsAssessed(ctx, payload.getNeedsAssessed());
    case P::SUPPORT_PLAN_APPROVED: return SupportPlanApproved(ctx, payload.getSupportPlanApproved());
    case P::APPLICATION_SUBMITTED: return ApplicationSubmitted(ctx, payload.getApplicationSubmitted());
    case P::APPLICATION_DECIDED: return ApplicationDecided(ctx, payload.getApplicationDecided());
    case P::SERVICE_GRANTED: return ServiceGranted(ctx, payload.getServiceGranted());
    case P::GRANT_AMENDED: return GrantAmended(ctx, payload.getGrantAmended());
    case P::GRANT_ENDED: return GrantEnded(ctx, payload.getGrantEnded());
    case P::SERVICE_SUSPENDED: return ServiceSuspended(ctx, payload.getServiceSuspended());
    case P::SERVICE_RESUMED: return ServiceResumed(ctx, payload.getServiceResumed());
    case P::SERVICE_DELIVERED: return ServiceDelivered(ctx, payload.getServiceDelivered());
    case P::DELIVERY_CORRECTED: return DeliveryCorrected(ctx, payload.getDeliveryCorrected());
    case P::DELIVERY_VOIDED: return DeliveryVoided(ctx, payload.getDeliveryVoided());
    case P::REIMBURSEMENT_CLAIMED: return ReimbursementClaimed(ctx, payload.getReimbursementClaimed());
    case P::CLAIM_REVIEWED: return ClaimReviewed(ctx, payload.getClaimReviewed());
    case P::REIMBURSEMENT_PAID: return ReimbursementPaid(ctx, payload.getReimbursementPaid());
    case P::CHECKPOINT_SIGNED: return CheckpointSigned(ctx, event);
    case P::SIGNING_KEY_ROTATED: return SigningKeyRotated(ctx, event);
  }
  return Status::InvalidArgument("unknown event type (written by a newer schema?)", "type");
}

}  // namespace

}  // namespace di::ledger::validation

namespace di::ledger {

Status ValidateEvent(schema::Event::Reader event, uint64_t position, EntityLookup& lookup, ValidatedEvent* out) {
  out->stream.clear();
  out->updates.clear();
  validation::Context ctx(event, position, lookup, out);
  Status status = validation::Dispatch(ctx, event);
  if (!status.ok()) return status.WithEventId(event.getId().cStr());
  // Every event type names its stream; an empty one would be a bug in its validate_*.cc function.
  DI_ASSERT(!out->stream.empty());
  return Status::Ok();
}

}  // namespace di::ledger
