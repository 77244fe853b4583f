#include "di/projections/journal_entitlements.h"

#include <algorithm>
#include <vector>

#include "di/ledger/invariant.h"
#include "events.capnp.h"

namespace di::projections {

Status ComputeEntitlementsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                      const std::string& person_id, int32_t valid_date, Entitlements* out) {
  DI_ASSERT(journal.position() == model.last_position());
  return ComputeEntitlementsFromUsage(model, person_id, valid_date, journal.UsageAsOf(model, person_id, valid_date),
                                      out);
}

Status ComputeEntitlementsFromStore(ledger::EventStore& events, JournalStore& journal, const PersonScope& scope,
                                    uint64_t known_at_position, int32_t valid_date, Entitlements* out,
                                    ScopedLoadStats* stats) {
  ScopedLoadStats local;
  if (stats == nullptr) stats = &local;
  *stats = ScopedLoadStats{};
  if (known_at_position > journal.position()) {
    return Status::InvalidArgument("the journal is projected up to position " + std::to_string(journal.position()) +
                                       ", not " + std::to_string(known_at_position),
                                   "known_at");
  }
  // The facts: the rule sets and the person streams from the log's indexes, the grants' facts from the store's.
  std::vector<uint64_t> positions;
  auto collect = [&](uint64_t position) {
    if (position > known_at_position) return false;
    positions.push_back(position);
    return true;
  };
  DI_RETURN_IF_ERROR(events.ReadTypePositions(schema::Event::Payload::RULES_ENACTED, 1, collect));
  for (const std::string& stream : scope.streams) {
    if (ledger::StreamKind(stream) == "grant") {
      DI_RETURN_IF_ERROR(journal.ReadGrantFactPositions(stream, known_at_position,
                                                        [&](uint64_t position) { positions.push_back(position); }));
    } else {
      DI_RETURN_IF_ERROR(events.ReadStreamPositions(stream, 1, collect));
    }
  }
  std::sort(positions.begin(), positions.end());
  LedgerModel facts;
  if (known_at_position > 0) DI_RETURN_IF_ERROR(FoldPositions(events, positions, &facts, stats));
  // The usage of the caps those facts resolve, as known then.
  CounterUsage used;
  DI_RETURN_IF_ERROR(journal.UsageAsKnownAt(known_at_position, valid_date,
                                            EntitlementCounters(facts, scope.person_id, valid_date), &used));
  DI_RETURN_IF_ERROR(ComputeEntitlementsFromUsage(facts, scope.person_id, valid_date, used, out));
  out->known_at_position = known_at_position;
  return Status::Ok();
}

}  // namespace di::projections
