// The access policy (see access_policy.h).
#include "di/server/access_policy.h"

#include "di/ledger/civil_date.h"

namespace di::server {
namespace {

using ledger::EventType;
using ledger::Status;
using ledger::Territory;
using Payload = schema::Event::Payload;

bool Contains(const Territory& territory, const std::string& municipality_id) {
  for (const ledger::TerritoryStep& step : territory) {
    if (step.municipality_id == municipality_id) return true;
  }
  return false;
}

// A clerk of a municipality merged into another records only events dated before the merger.
Status CheckClerkMunicipalityInForce(const std::string& clerk_municipality, const ledger::EventSubject& subject,
                                     ledger::TerritoryLookup& territories) {
  const Territory own = territories.TerritoryOf(clerk_municipality);
  if (own.size() < 2 || subject.effective_date < own[0].merged_on) return Status::Ok();
  const std::string& successor = own[1].municipality_id;
  return Status::Forbidden(std::string(ledger::EventTypeName(subject.type)) + ": '" + clerk_municipality +
                               "' was merged into '" + successor + "' on " + ledger::FormatDate(own[0].merged_on) +
                               "; events dated from then on are recorded by a clerk of '" + successor + "'",
                           "effective_date");
}

Status AdmitClerkEvent(const std::string& clerk, const ledger::EventSubject& subject,
                       ledger::TerritoryLookup& territories) {
  if (Status status = CheckClerkMunicipalityInForce(clerk, subject, territories); !status.ok()) return status;
  const std::string type_name(ledger::EventTypeName(subject.type));
  // "Not known to be ours" never passes as "ours": an unknown person (or reference) is refused, as one out of scope.
  if (subject.person_id.empty() || subject.residence.empty()) {
    return Status::Forbidden(type_name + ": the person it concerns is not a known resident of '" + clerk + "'",
                             subject.person_field);
  }
  if (!Contains(subject.residence, clerk)) {
    // Says only that the person is out of scope: where they live is not the caller's to learn.
    return Status::Forbidden(
        type_name + ": person '" + subject.person_id + "' is outside the scope of a clerk of '" + clerk + "'",
        subject.person_field);
  }
  if (!subject.municipality_field.empty() && subject.municipality_id != clerk &&
      !Contains(subject.municipality, clerk)) {
    return Status::Forbidden(
        type_name + ": a clerk of '" + clerk + "' may not act for municipality '" + subject.municipality_id + "'",
        subject.municipality_field);
  }
  return Status::Ok();
}

}  // namespace

bool RoleMayWrite(Role role, EventType type) {
  switch (role) {
    case Role::kClerk:
      switch (type) {
        case Payload::RESIDENCE_CHANGED:
        case Payload::DISABILITY_RECORDED:
        case Payload::SPECIAL_CARE_OPINION_RECORDED:
        case Payload::PARENT_ACTIVITY_RECORDED:
        case Payload::APPLICATION_SUBMITTED:
        case Payload::APPLICATION_DECIDED:
        case Payload::SERVICE_GRANTED:
        case Payload::GRANT_AMENDED:
        case Payload::GRANT_ENDED:
        case Payload::SERVICE_SUSPENDED:
        case Payload::SERVICE_RESUMED:
        case Payload::SERVICE_DELIVERED:
        case Payload::DELIVERY_CORRECTED:
        case Payload::DELIVERY_VOIDED:
          return true;
        default:
          return false;
      }
    case Role::kProject:
      switch (type) {
        case Payload::PROJECT_REGISTERED:
        case Payload::BUDGET_AMENDED:
        case Payload::PROJECT_EXPENSE_RECORDED:
        case Payload::MUNICIPALITY_REGISTERED:
        case Payload::MUNICIPALITIES_MERGED:
        case Payload::PROVIDER_REGISTERED:
        case Payload::PROVIDER_CONTRACTED:
        case Payload::PROVIDER_CLOSED:
        case Payload::PROVIDER_REOPENED:
        case Payload::PARTNER_JOINED:
        case Payload::PARTNER_LEFT:
        case Payload::PROJECT_ACTIVITY_HELD:
        case Payload::RULES_ENACTED:
        case Payload::PERSON_ENROLLED:
        case Payload::RESIDENCE_CHANGED:
        case Payload::DISABILITY_RECORDED:
        case Payload::SPECIAL_CARE_OPINION_RECORDED:
        case Payload::PARENT_ACTIVITY_RECORDED:
        case Payload::NEEDS_ASSESSED:
        case Payload::SUPPORT_PLAN_APPROVED:
        case Payload::TRANSITION_PREPARED:
        case Payload::INDEPENDENT_LIFE_STARTED:
        case Payload::CLAIM_REVIEWED:
          return true;
        default:
          return false;
      }
    case Role::kFinance:
      switch (type) {
        case Payload::BUDGET_AMENDED:
        case Payload::PROJECT_EXPENSE_RECORDED:
        case Payload::REIMBURSEMENT_CLAIMED:
        case Payload::REIMBURSEMENT_PAID:
          return true;
        default:
          return false;
      }
    case Role::kMigration:
      // A migration carries the whole history: every type some role may append, unscoped (audit events are the
      // ledger's, and a type added later is nobody's until the matrix names it).
      return RoleMayWrite(Role::kClerk, type) || RoleMayWrite(Role::kProject, type) ||
             RoleMayWrite(Role::kFinance, type);
    case Role::kAuditor:
    case Role::kReader:
      return false;
  }
  return false;
}

ledger::AdmissionCheck AdmissionFor(const Principal& principal) {
  if (principal.role != Role::kClerk) return {};
  return [clerk = principal.municipality_id](const ledger::EventSubject& subject, ledger::TerritoryLookup& territories) {
    return AdmitClerkEvent(clerk, subject, territories);
  };
}

bool InClerkScope(const projections::LedgerModel& model, const std::string& clerk_municipality,
                  const std::string& municipality_id) {
  // The municipality itself, or one merged (transitively) into it. Bounded like the writer's walk (subject.h).
  std::string current = municipality_id;
  const auto& municipalities = model.municipalities();
  for (int step = 0; step <= ledger::kMaxMergerSteps && !current.empty(); ++step) {
    if (current == clerk_municipality) return true;
    auto it = municipalities.find(current);
    if (it == municipalities.end()) return false;
    current = it->second.merged_into;
  }
  return false;
}

bool PersonInClerkScope(const projections::LedgerModel& model, const std::string& clerk_municipality,
                        const std::string& person_id) {
  const projections::PersonFacts* person = model.FindPerson(person_id);
  return person != nullptr && person->enrolled &&
         InClerkScope(model, clerk_municipality, person->residence_municipality_id);
}

bool MayRead(const projections::LedgerModel& model, const Principal& principal, const ledger::StoredEvent& event) {
  if (principal.role != Role::kClerk) return true;
  const auto stream = event.reader().getStream();
  const std::string_view name(stream.cStr(), stream.size());
  const std::string_view kind = ledger::StreamKind(name);
  const std::string id(ledger::StreamId(name));
  const std::string& clerk = principal.municipality_id;
  if (kind == "person") return PersonInClerkScope(model, clerk, id);
  if (kind == "grant") {
    const projections::GrantFacts* grant = model.FindGrant(id);
    return grant != nullptr && PersonInClerkScope(model, clerk, grant->person_id);
  }
  if (kind == "claim") {
    auto it = model.claims().find(id);
    return it != model.claims().end() && InClerkScope(model, clerk, it->second.municipality_id);
  }
  return true;  // projects, municipalities, providers, rules: reference data, no personal data
}

Status ScopeReport(const projections::LedgerModel& model, const Principal& principal, std::string* municipality_id) {
  if (principal.role == Role::kReader) return Status::Forbidden("role 'reader' may not query reports");
  if (principal.role != Role::kClerk) return Status::Ok();
  if (municipality_id->empty()) {
    *municipality_id = principal.municipality_id;
  } else if (!InClerkScope(model, principal.municipality_id, *municipality_id)) {
    return Status::Forbidden(
        "a clerk of '" + principal.municipality_id + "' may not report on '" + *municipality_id + "'", "municipality");
  }
  return Status::Ok();
}

}  // namespace di::server
