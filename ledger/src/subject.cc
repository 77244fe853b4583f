// ResolveSubject and TerritoryOf (see subject.h, validator.h): whom an event concerns, through the same lookup the
// validator uses.
#include <string>

#include "di/ledger/capnp_text.h"
#include "di/ledger/subject.h"
#include "validator.h"

namespace di::ledger {
namespace {

using Payload = schema::Event::Payload;


// Fills the person fields from a person id (`field` names it) through the person's residence.
void ConcernsPerson(EntityLookup& lookup, std::string person_id, std::string field, EventSubject* out) {
  out->person_field = "data." + std::move(field);
  EntityState person;
  if (person_id.empty() || !lookup.Find(EntityKind::PERSON, person_id, &person)) return;
  out->person_id = std::move(person_id);
  out->residence = TerritoryOf(lookup, person.municipality_id);
}

// The person an entity (application, grant) belongs to, "" if the entity is not known.
std::string PersonOf(EntityLookup& lookup, EntityKind kind, const std::string& id) {
  EntityState entity;
  return lookup.Find(kind, id, &entity) ? entity.person_id : std::string();
}

std::string PersonOfDelivery(EntityLookup& lookup, const std::string& delivery_id) {
  EntityState delivery;
  if (!lookup.Find(EntityKind::DELIVERY, delivery_id, &delivery)) return {};
  return PersonOf(lookup, EntityKind::GRANT, delivery.grant_id);
}

void ActsFor(EntityLookup& lookup, std::string municipality_id, std::string field, EventSubject* out) {
  out->municipality_field = "data." + std::move(field);
  out->municipality = TerritoryOf(lookup, municipality_id);
  out->municipality_id = std::move(municipality_id);
}

void ActsForClaimant(EntityLookup& lookup, const std::string& claim_id, EventSubject* out) {
  EntityState claim;
  if (lookup.Find(EntityKind::CLAIM, claim_id, &claim)) ActsFor(lookup, claim.municipality_id, "claim_id", out);
}

// The events that concern a person: which person, named how.
void ResolvePerson(Payload::Reader payload, EntityLookup& lookup, EventSubject* out) {
  switch (payload.which()) {
    case Payload::PERSON_ENROLLED: {
      // A new person: where the enrolment says they live.
      const auto data = payload.getPersonEnrolled();
      out->person_field = "data.person_id";
      out->person_id = Str(data.getPersonId());
      out->residence = TerritoryOf(lookup, Str(data.getResidenceMunicipalityId()));
      return;
    }
    case Payload::RESIDENCE_CHANGED:
      return ConcernsPerson(lookup, Str(payload.getResidenceChanged().getPersonId()), "person_id", out);
    case Payload::DISABILITY_RECORDED:
      return ConcernsPerson(lookup, Str(payload.getDisabilityRecorded().getPersonId()), "person_id", out);
    case Payload::SPECIAL_CARE_OPINION_RECORDED:
      return ConcernsPerson(lookup, Str(payload.getSpecialCareOpinionRecorded().getPersonId()), "person_id", out);
    case Payload::PARENT_ACTIVITY_RECORDED:
      return ConcernsPerson(lookup, Str(payload.getParentActivityRecorded().getPersonId()), "person_id", out);
    case Payload::TRANSITION_PREPARED:
      return ConcernsPerson(lookup, Str(payload.getTransitionPrepared().getPersonId()), "person_id", out);
    case Payload::INDEPENDENT_LIFE_STARTED:
      return ConcernsPerson(lookup, Str(payload.getIndependentLifeStarted().getPersonId()), "person_id", out);
    case Payload::NEEDS_ASSESSED:
      return ConcernsPerson(lookup, Str(payload.getNeedsAssessed().getPersonId()), "person_id", out);
    case Payload::SUPPORT_PLAN_APPROVED:
      return ConcernsPerson(lookup, Str(payload.getSupportPlanApproved().getPersonId()), "person_id", out);
    case Payload::APPLICATION_SUBMITTED:
      return ConcernsPerson(lookup, Str(payload.getApplicationSubmitted().getPersonId()), "person_id", out);
    case Payload::SERVICE_GRANTED:
      return ConcernsPerson(lookup, Str(payload.getServiceGranted().getPersonId()), "person_id", out);
    case Payload::APPLICATION_DECIDED: {
      const std::string id = Str(payload.getApplicationDecided().getApplicationId());
      return ConcernsPerson(lookup, PersonOf(lookup, EntityKind::APPLICATION, id), "application_id", out);
    }
    case Payload::GRANT_AMENDED:
      return ConcernsPerson(lookup, PersonOf(lookup, EntityKind::GRANT, Str(payload.getGrantAmended().getGrantId())),
                            "grant_id", out);
    case Payload::GRANT_ENDED:
      return ConcernsPerson(lookup, PersonOf(lookup, EntityKind::GRANT, Str(payload.getGrantEnded().getGrantId())),
                            "grant_id", out);
    case Payload::SERVICE_SUSPENDED:
      return ConcernsPerson(
          lookup, PersonOf(lookup, EntityKind::GRANT, Str(payload.getServiceSuspended().getGrantId())), "grant_id", out);
    case Payload::SERVICE_RESUMED:
      return ConcernsPerson(
          lookup, PersonOf(lookup, EntityKind::GRANT, Str(payload.getServiceResumed().getGrantId())), "grant_id", out);
    case Payload::SERVICE_DELIVERED:
      return ConcernsPerson(
          lookup, PersonOf(lookup, EntityKind::GRANT, Str(payload.getServiceDelivered().getGrantId())), "grant_id", out);
    case Payload::DELIVERY_CORRECTED:
      return ConcernsPerson(lookup, PersonOfDelivery(lookup, Str(payload.getDeliveryCorrected().getDeliveryId())),
                            "delivery_id", out);
    case Payload::DELIVERY_VOIDED:
      return ConcernsPerson(lookup, PersonOfDelivery(lookup, Str(payload.getDeliveryVoided().getDeliveryId())),
                            "delivery_id", out);
    default:
      return;  // reference data, claims, audit: no person
  }
}

// The municipality an event acts for, and the project it names.
void ResolveMunicipalityAndProject(Payload::Reader payload, EntityLookup& lookup, EventSubject* out) {
  switch (payload.which()) {
    case Payload::PROJECT_REGISTERED: out->project_id = Str(payload.getProjectRegistered().getProjectId()); return;
    case Payload::BUDGET_AMENDED: out->project_id = Str(payload.getBudgetAmended().getProjectId()); return;
    case Payload::PROJECT_EXPENSE_RECORDED:
      out->project_id = Str(payload.getProjectExpenseRecorded().getProjectId());
      return;
    case Payload::MUNICIPALITY_REGISTERED:
      out->project_id = Str(payload.getMunicipalityRegistered().getProjectId());
      return;
    case Payload::MUNICIPALITIES_MERGED: out->project_id = Str(payload.getMunicipalitiesMerged().getProjectId()); return;
    case Payload::PERSON_ENROLLED: out->project_id = Str(payload.getPersonEnrolled().getProjectId()); return;
    case Payload::PARTNER_JOINED: out->project_id = Str(payload.getPartnerJoined().getProjectId()); return;
    case Payload::PARTNER_LEFT: out->project_id = Str(payload.getPartnerLeft().getProjectId()); return;
    case Payload::PROJECT_ACTIVITY_HELD: out->project_id = Str(payload.getProjectActivityHeld().getProjectId()); return;
    case Payload::PROVIDER_CONTRACTED:
      return ActsFor(lookup, Str(payload.getProviderContracted().getMunicipalityId()), "municipality_id", out);
    case Payload::APPLICATION_SUBMITTED:
      return ActsFor(lookup, Str(payload.getApplicationSubmitted().getMunicipalityId()), "municipality_id", out);
    case Payload::SERVICE_GRANTED:
      return ActsFor(lookup, Str(payload.getServiceGranted().getMunicipalityId()), "municipality_id", out);
    case Payload::REIMBURSEMENT_CLAIMED: {
      const auto data = payload.getReimbursementClaimed();
      out->project_id = Str(data.getProjectId());
      return ActsFor(lookup, Str(data.getMunicipalityId()), "municipality_id", out);
    }
    case Payload::CLAIM_REVIEWED: return ActsForClaimant(lookup, Str(payload.getClaimReviewed().getClaimId()), out);
    case Payload::REIMBURSEMENT_PAID: return ActsForClaimant(lookup, Str(payload.getReimbursementPaid().getClaimId()), out);
    default: return;
  }
}

class TerritoriesThrough final : public TerritoryLookup {
 public:
  explicit TerritoriesThrough(EntityLookup& lookup) : lookup_(lookup) {}
  Territory TerritoryOf(const std::string& municipality_id) override {
    return ledger::TerritoryOf(lookup_, municipality_id);
  }

 private:
  EntityLookup& lookup_;
};

}  // namespace

Status AdmitEvent(const AdmissionCheck& admit, schema::Event::Reader event, EntityLookup& lookup) {
  EventSubject subject;
  ResolveSubject(event, lookup, &subject);
  TerritoriesThrough territories(lookup);
  const Status status = admit(subject, territories);
  return status.ok() ? status : status.WithEventId(subject.event_id);
}

Territory TerritoryOf(EntityLookup& lookup, std::string municipality_id) {
  Territory territory;
  EntityState municipality;
  while (!municipality_id.empty() && territory.size() <= static_cast<size_t>(kMaxMergerSteps) &&
         lookup.Find(EntityKind::MUNICIPALITY, municipality_id, &municipality)) {
    const bool merged = !municipality.merged_into.empty();
    territory.push_back(TerritoryStep{std::move(municipality_id), merged ? municipality.ended_on : kNoDate});
    municipality_id = merged ? municipality.merged_into : std::string();
  }
  return territory;
}

void ResolveSubject(schema::Event::Reader event, EntityLookup& lookup, EventSubject* out) {
  *out = EventSubject{};
  out->event_id = Str(event.getId());
  out->type = event.getPayload().which();
  out->effective_date = event.getEffectiveDate();
  ResolvePerson(event.getPayload(), lookup, out);
  ResolveMunicipalityAndProject(event.getPayload(), lookup, out);
}

}  // namespace di::ledger
