#include "di/projections/person_scope.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "di/ledger/invariant.h"
#include "di/projections/replay.h"
#include "events.capnp.h"

namespace di::projections {
namespace {
using Clock = std::chrono::steady_clock;
uint64_t NanosecondsSince(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}
}  // namespace

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
                       LedgerModel* model, ScopedLoadStats* stats) {
  DI_ASSERT(model->last_position() == 0);
  ScopedLoadStats local;
  if (stats == nullptr) stats = &local;
  *stats = ScopedLoadStats{};
  if (known_at_position == 0) return Status::Ok();

  // The positions first, from the indexes alone; then one batched log read in position order, which is also the
  // order to fold in.
  Clock::time_point started = Clock::now();
  std::vector<uint64_t> positions;
  DI_RETURN_IF_ERROR(ScopePositions(store, scope, known_at_position, nullptr, &positions));
  stats->index_nanoseconds = NanosecondsSince(started);
  return FoldPositions(store, positions, model, stats);
}

Status ScopePositions(ledger::EventStore& store, const PersonScope& scope, uint64_t known_at_position,
                      const GrantPositions& grant_positions, std::vector<uint64_t>* positions) {
  positions->clear();
  // Streams and the type index are in position order: stop at the first position beyond the known-at position.
  auto collect = [&](uint64_t position) {
    if (position > known_at_position) return false;
    positions->push_back(position);
    return true;
  };
  // The rules, the municipalities whose projects say which rules govern a grant, and the providers' closures (a few
  // dozen events).
  for (const auto type : {schema::Event::Payload::RULES_ENACTED, schema::Event::Payload::MUNICIPALITY_REGISTERED,
                          schema::Event::Payload::MUNICIPALITIES_MERGED, schema::Event::Payload::PROVIDER_CLOSED,
                          schema::Event::Payload::PROVIDER_REOPENED}) {
    DI_RETURN_IF_ERROR(store.ReadTypePositions(type, 1, collect));
  }
  for (const std::string& stream : scope.streams) {
    if (grant_positions && ledger::StreamKind(stream) == "grant") {
      DI_RETURN_IF_ERROR(grant_positions(stream, collect));
    } else {
      DI_RETURN_IF_ERROR(store.ReadStreamPositions(stream, 1, collect));
    }
  }
  std::sort(positions->begin(), positions->end());
  return Status::Ok();
}

Status FoldPositions(ledger::EventStore& store, const std::vector<uint64_t>& positions, LedgerModel* model,
                     ScopedLoadStats* stats) {
  // Each stream is read once, and a stream's events are its own: no position can come twice.
  DI_ASSERT(std::is_sorted(positions.begin(), positions.end()));
  DI_ASSERT(std::adjacent_find(positions.begin(), positions.end()) == positions.end());
  // In slices, so that a family with a long history does not hold all its events at once.
  constexpr size_t kSlice = 1024;
  std::vector<ledger::StoredEvent> events;
  Status undecodable = Status::Ok();
  for (size_t begin = 0; begin < positions.size(); begin += kSlice) {
    Clock::time_point started = Clock::now();
    const std::span<const uint64_t> slice =
        std::span<const uint64_t>(positions).subspan(begin, std::min(kSlice, positions.size() - begin));
    events.clear();
    Status status = store.ReadPositions(slice, &events);
    if (!status.ok()) return status;
    DI_ASSERT(events.size() == slice.size());
    stats->log_nanoseconds += NanosecondsSince(started);
    started = Clock::now();
    for (const ledger::StoredEvent& event : events) {
      if (!ApplyOrReport(event, model, &undecodable)) return undecodable;
    }
    stats->fold_nanoseconds += NanosecondsSince(started);
  }
  stats->events += positions.size();
  return Status::Ok();
}

Status LoadTypesAndStreams(ledger::EventStore& store, uint64_t known_at_position,
                           const std::vector<ledger::EventType>& types, const std::vector<std::string>& streams,
                           LedgerModel* model, ScopedLoadStats* stats) {
  DI_ASSERT(model->last_position() == 0);
  *stats = ScopedLoadStats{};
  if (known_at_position == 0) return Status::Ok();
  const Clock::time_point started = Clock::now();
  std::vector<uint64_t> positions;
  // The indexes are in position order: stop at the first position beyond the known-at position.
  auto collect = [&](uint64_t position) {
    if (position > known_at_position) return false;
    positions.push_back(position);
    return true;
  };
  for (ledger::EventType type : types) DI_RETURN_IF_ERROR(store.ReadTypePositions(type, 1, collect));
  for (const std::string& stream : streams) DI_RETURN_IF_ERROR(store.ReadStreamPositions(stream, 1, collect));
  std::sort(positions.begin(), positions.end());
  stats->index_nanoseconds = NanosecondsSince(started);
  return FoldPositions(store, positions, model, stats);
}

}  // namespace di::projections
