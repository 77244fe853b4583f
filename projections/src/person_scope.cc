#include "di/projections/person_scope.h"

#include <algorithm>

#include "di/ledger/invariant.h"
#include "di/projections/replay.h"
#include "events.capnp.h"

namespace di::projections {

PersonScope ScopeStreamsOf(const LedgerModel& current, const std::string& person_id) {
  PersonScope scope;
  scope.person_id = person_id;
  for (const std::string& member : current.FamilyMembers(person_id)) {
    scope.streams.push_back("person/" + member);
    for (const std::string& grant_id : current.GrantsOfPerson(member)) scope.streams.push_back("grant/" + grant_id);
  }
  return scope;
}

Status LoadScopedModel(ledger::EventStore& store, const PersonScope& scope, uint64_t known_at_position,
                       LedgerModel* model) {
  DI_ASSERT(model->last_position() == 0);
  if (known_at_position == 0) return Status::Ok();
  std::vector<ledger::StoredEvent> events;
  // Streams and the type index are in position order: stop at the first event beyond the known-at position.
  auto collect = [&](const ledger::StoredEvent& event) {
    if (event.position > known_at_position) return false;
    ledger::StoredEvent copy;
    copy.position = event.position;
    copy.hash = event.hash;
    copy.body = ledger::CanonicalMessage<schema::RecordedEvent>(ledger::CopyToWords(event.body.bytes()));
    events.push_back(std::move(copy));
    return true;
  };
  Status status = store.ReadByType(schema::Event::Payload::RULES_ENACTED, 1, 0, collect);
  if (!status.ok()) return status;
  for (const std::string& stream : scope.streams) {
    status = store.ReadStream(stream, 1, 0, collect);
    if (!status.ok()) return status;
  }
  std::sort(events.begin(), events.end(),
            [](const ledger::StoredEvent& a, const ledger::StoredEvent& b) { return a.position < b.position; });
  Status undecodable = Status::Ok();
  for (size_t i = 0; i < events.size(); ++i) {
    // Each stream is read once, and a stream's events are its own: no event can come twice.
    DI_ASSERT(i == 0 || events[i - 1].position < events[i].position);
    if (!ApplyOrReport(events[i], model, &undecodable)) return undecodable;
  }
  return Status::Ok();
}

}  // namespace di::projections
