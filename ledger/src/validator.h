// Semantic validation of events before append, and the reference-index updates each event implies.
//
// The validator checks facts, not rules: references exist (person, grant, provider, project,
// municipality, claim, delivery...), dates are possible (end before start, delivery outside its grant),
// quantities and amounts are positive and bounded, sums add up. Whether a delivery respects a cap is a
// rule question answered by the projections: a delivery above a cap is still a fact and is recorded.
#ifndef DI_LEDGER_VALIDATOR_H_
#define DI_LEDGER_VALIDATOR_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "di/ledger/civil_date.h"
#include "di/ledger/status.h"
#include "di/ledger/subject.h"
#include "entities.capnp.h"
#include "events.capnp.h"

namespace di::ledger {

using EntityKind = schema::EntityKind;

// Largest money amount in any single field: 10^12 cents (10 billion EUR). Keeps sums of up to a million
// lines far from int64 overflow.
inline constexpr int64_t kMaxAmountCents = 1'000'000'000'000LL;
// Projects one rules enactment may name (rules_enacted.project_ids): the five planning regions' projects and
// their pilots, with room to spare.
inline constexpr size_t kMaxRulesProjects = 64;

// Decoded EntityRecord (see entities.capnp for the meaning of each field).
struct EntityState {
  EntityKind kind = EntityKind::PROJECT;
  uint64_t created_at = 0;
  int32_t created_on = 0;
  std::string person_id;
  std::string grant_id;
  std::string municipality_id;
  std::string merged_into;
  schema::TargetGroup target_group = schema::TargetGroup::ADULT_MENTAL_DISABILITY;
  int32_t birth_date = 0;
  int32_t valid_from = 0;
  int32_t valid_until = 0;
  int32_t ended_on = kNoDate;
  int32_t suspended_on = kNoDate;
  bool voided = false;
  bool decided = false;
  schema::Decision decision = schema::Decision::GRANTED;
  std::vector<schema::Service> services;
  schema::Service service = schema::Service::CHILD_CARE;
  schema::CostBasis cost_basis = schema::CostBasis::ACTUAL_COST;
  int32_t last_date = 0;
  std::vector<std::pair<std::string, int64_t>> claim_lines;
  bool reviewed = false;
  int64_t approved_total_cents = 0;
  int64_t paid_total_cents = 0;
  int32_t period_start = 0;
  int64_t cost_cents = 0;
  std::string claim_id;
  int32_t reviewed_on = 0;
  std::string project_id;       // municipality: its own project; grant: the project that pays it
  int32_t budget_known_from = 0;  // project: the first day a budget is in force; kNoDate: none yet
};

// The reference index's record, canonical Cap'n Proto (entity_record.cc).
std::string EncodeEntity(const EntityState& state);
bool DecodeEntity(std::string_view bytes, EntityState* state);
std::string_view EntityKindName(EntityKind kind);

// Read access to the reference index as the validator must see it: what is committed plus the events
// of the same group validated before this one.
class EntityLookup {
 public:
  virtual ~EntityLookup() = default;
  // Returns true and fills `state` if the entity exists.
  virtual bool Find(EntityKind kind, const std::string& id, EntityState* state) = 0;
};

struct EntityUpdate {
  EntityKind kind;
  std::string id;
  EntityState state;
};

struct ValidatedEvent {
  std::string stream;                  // derived from the entity the event is about
  std::vector<EntityUpdate> updates;   // new or changed entities
};

// Validates one event that would be recorded at `position`. On success fills `out`; on failure returns
// kInvalidArgument naming the event id and the field.
Status ValidateEvent(schema::Event::Reader event, uint64_t position, EntityLookup& lookup,
                     ValidatedEvent* out);

// The subject of `event` (subject.h) through `lookup`: no validation, an unknown reference leaves the person (or
// the municipality's territory) empty. The writer resolves it before validating the event, so an admission check
// refuses an event about someone out of scope before validation could say whether a reference exists.
void ResolveSubject(schema::Event::Reader event, EntityLookup& lookup, EventSubject* out);
// Resolves the subject of `event` and asks `admit`; its refusal names the event id.
Status AdmitEvent(const AdmissionCheck& admit, schema::Event::Reader event, EntityLookup& lookup);
// `municipality_id` and what it was merged into (subject.h); empty if unknown.
Territory TerritoryOf(EntityLookup& lookup, std::string municipality_id);

}  // namespace di::ledger

#endif  // DI_LEDGER_VALIDATOR_H_
