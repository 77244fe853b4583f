// The reference index's record (entities.capnp's EntityRecord): EntityState encoded canonically and decoded,
// and the name of each kind of entity in messages (validator.h).
#include <capnp/message.h>

#include <string>

#include "di/ledger/capnp_text.h"
#include "di/ledger/event.h"
#include "validator.h"

namespace di::ledger {

std::string_view EntityKindName(EntityKind kind) {
  switch (kind) {
    case EntityKind::PROJECT: return "project";
    case EntityKind::MUNICIPALITY: return "municipality";
    case EntityKind::PROVIDER: return "provider";
    case EntityKind::CONTRACT: return "contract";
    case EntityKind::PERSON: return "person";
    case EntityKind::ASSESSMENT: return "assessment";
    case EntityKind::PLAN: return "support plan";
    case EntityKind::APPLICATION: return "application";
    case EntityKind::GRANT: return "grant";
    case EntityKind::DELIVERY: return "delivery";
    case EntityKind::CLAIM: return "claim";
    case EntityKind::PAYMENT: return "payment";
    case EntityKind::EXPENSE: return "expense";
    case EntityKind::PARTNER: return "partner";
    case EntityKind::ACTIVITY: return "activity";
  }
  return "entity";
}

std::string EncodeEntity(const EntityState& state) {
  // A record is ~40 words plus its ids and lists; the default first segment (8 KiB, zeroed) cost more than
  // the encoding. A bigger record grows into a second segment and canonicalize() below flattens it.
  capnp::MallocMessageBuilder message(128);
  auto record = message.initRoot<schema::EntityRecord>();
  record.setKind(state.kind);
  record.setCreatedAt(state.created_at);
  record.setCreatedOn(state.created_on);
  if (!state.person_id.empty()) record.setPersonId(state.person_id);
  if (!state.grant_id.empty()) record.setGrantId(state.grant_id);
  if (!state.municipality_id.empty()) record.setMunicipalityId(state.municipality_id);
  if (!state.merged_into.empty()) record.setMergedInto(state.merged_into);
  record.setTargetGroup(state.target_group);
  record.setBirthDate(state.birth_date);
  record.setValidFrom(state.valid_from);
  record.setValidUntil(state.valid_until);
  record.setEndedOn(state.ended_on);
  record.setSuspendedOn(state.suspended_on);
  record.setVoided(state.voided);
  record.setDecided(state.decided);
  record.setDecision(state.decision);
  if (!state.services.empty()) {
    auto services = record.initServices(static_cast<unsigned>(state.services.size()));
    for (unsigned i = 0; i < state.services.size(); ++i) services.set(i, state.services[i]);
  }
  record.setService(state.service);
  record.setCostBasis(state.cost_basis);
  record.setLastDate(state.last_date);
  if (!state.claim_lines.empty()) {
    auto lines = record.initClaimLines(static_cast<unsigned>(state.claim_lines.size()));
    for (unsigned i = 0; i < state.claim_lines.size(); ++i) {
      lines[i].setDeliveryId(state.claim_lines[i].first);
      lines[i].setAmountCents(state.claim_lines[i].second);
    }
  }
  record.setReviewed(state.reviewed);
  record.setApprovedTotalCents(state.approved_total_cents);
  record.setPaidTotalCents(state.paid_total_cents);
  record.setPeriodStart(state.period_start);
  record.setCostCents(state.cost_cents);
  if (!state.claim_id.empty()) record.setClaimId(state.claim_id);
  record.setReviewedOn(state.reviewed_on);
  if (!state.project_id.empty()) record.setProjectId(state.project_id);
  record.setBudgetKnownFrom(state.budget_known_from);
  const kj::Array<capnp::word> words = capnp::canonicalize(record.asReader());
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
}

bool DecodeEntity(std::string_view bytes, EntityState* state) {
  kj::Array<capnp::word> words = CopyToWords(bytes);
  if (words.size() == 0) return false;
  kj::ArrayPtr<const capnp::word> segment = words.asPtr();
  capnp::SegmentArrayMessageReader message(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(&segment, 1));
  auto record = message.getRoot<schema::EntityRecord>();
  state->kind = record.getKind();
  state->created_at = record.getCreatedAt();
  state->created_on = record.getCreatedOn();
  state->person_id = Str(record.getPersonId());
  state->grant_id = Str(record.getGrantId());
  state->municipality_id = Str(record.getMunicipalityId());
  state->merged_into = Str(record.getMergedInto());
  state->target_group = record.getTargetGroup();
  state->birth_date = record.getBirthDate();
  state->valid_from = record.getValidFrom();
  state->valid_until = record.getValidUntil();
  state->ended_on = record.getEndedOn();
  state->suspended_on = record.getSuspendedOn();
  state->voided = record.getVoided();
  state->decided = record.getDecided();
  state->decision = record.getDecision();
  state->services.clear();
  for (schema::Service service : record.getServices()) state->services.push_back(service);
  state->service = record.getService();
  state->cost_basis = record.getCostBasis();
  state->last_date = record.getLastDate();
  state->claim_lines.clear();
  for (auto line : record.getClaimLines()) state->claim_lines.emplace_back(Str(line.getDeliveryId()), line.getAmountCents());
  state->reviewed = record.getReviewed();
  state->approved_total_cents = record.getApprovedTotalCents();
  state->paid_total_cents = record.getPaidTotalCents();
  state->period_start = record.getPeriodStart();
  state->cost_cents = record.getCostCents();
  state->claim_id = Str(record.getClaimId());
  state->reviewed_on = record.getReviewedOn();
  state->project_id = Str(record.getProjectId());
  state->budget_known_from = record.getBudgetKnownFrom();
  return true;
}

}  // namespace di::ledger
