// Event subjects: whom an event concerns, as the store's writer resolves it on the state the event is appended to.
//
//   AppendOptions options;
//   options.admit = [&](const EventSubject& subject, TerritoryLookup& territories) -> Status {
//     ...                                   // e.g. a clerk's scope (server/src/access_policy.cc)
//   };
//   Status s = store->Append(batch, options, &result);  // kForbidden from `admit`: nothing appended
//
// The ledger knows which person an event concerns (through its application, grant or delivery), where that person
// lives and what their municipality became through the territorial reform; it knows nothing of roles. A caller
// that decides who may record what (the server) states its policy as an admission check over subjects. The writer
// runs the check inside the append group, after the events before it (in the store, the group and the batch) and
// before the event itself is validated, so the decision is taken on exactly the state the event is appended to:
// no caller-side copy of the state, no race with a concurrent append.
#ifndef DI_LEDGER_SUBJECT_H_
#define DI_LEDGER_SUBJECT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/status.h"

namespace di::ledger {

// One municipality of a territory, and the day it was merged into the next one (kNoDate: not merged).
struct TerritoryStep {
  std::string municipality_id;
  int32_t merged_on = kNoDate;
};

// A municipality followed by the municipalities it was merged into, transitively: the oldest first, at most
// kMaxMergerSteps + 1 steps. Empty when the municipality is not known.
using Territory = std::vector<TerritoryStep>;

// What an event is about, resolved through the references it makes.
struct EventSubject {
  std::string event_id;
  EventType type = EventType::PROJECT_REGISTERED;
  int32_t effective_date = kNoDate;
  // The person the event concerns: named directly (a person's facts, an application, a grant), or through the
  // application, grant or delivery it refers to. `person_field` is the field that names the person or the
  // reference ("data.grant_id"); both are "" for events about no person (reference data, claims, audit).
  // `person_id` is "" also when the reference is not known: a policy must not take "unknown" for "allowed".
  std::string person_id;
  std::string person_field;
  // The person's municipality of residence as last recorded, and what it became through mergers. Empty when the
  // event concerns no (known) person.
  Territory residence;
  // The municipality the event acts for or on (application_submitted, service_granted, provider_contracted,
  // reimbursement_claimed, and a claim's municipality for its review and payments), its field, and its territory.
  std::string municipality_id;
  std::string municipality_field;
  Territory municipality;
  // The project the event names, "" if none.
  std::string project_id;
};

// The territory of any municipality, on the same state as the subject (e.g. the caller's own municipality).
class TerritoryLookup {
 public:
  virtual ~TerritoryLookup() = default;
  virtual Territory TerritoryOf(const std::string& municipality_id) = 0;
};

// Decides whether an event may be appended. A non-OK status refuses the whole batch with that status (the writer
// names the event id if the status does not). Called on the writer's thread: it must be quick and must not call
// back into the store.
using AdmissionCheck = std::function<Status(const EventSubject& subject, TerritoryLookup& territories)>;

}  // namespace di::ledger

#endif  // DI_LEDGER_SUBJECT_H_
