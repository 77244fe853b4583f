#include "di/projections/journal_entitlements.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "di/ledger/invariant.h"

namespace di::projections {

Status ComputeEntitlementsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                      const std::string& person_id, int32_t valid_date, Entitlements* out) {
  DI_ASSERT(journal.position() == model.last_position());
  const std::unordered_map<std::string, int64_t> used = journal.UsageAsOf(model, person_id, valid_date);
  return ComputeEntitlementsFromUsage(
      model, person_id, valid_date,
      [&](const std::string& counter) {
        auto found = used.find(counter);
        return found == used.end() ? int64_t{0} : found->second;
      },
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
  DI_RETURN_IF_ERROR(ScopePositions(
      events, scope, known_at_position,
      [&](const std::string& stream, const std::function<bool(uint64_t)>& collect) {
        return journal.ReadGrantFactPositions(stream, known_at_position, [&](uint64_t position) { collect(position); });
      },
      &positions));
  LedgerModel facts;
  if (known_at_position > 0) DI_RETURN_IF_ERROR(FoldPositions(events, positions, &facts, stats));
  // The usage of each cap those facts resolve, read as known then (the first failed read is the answer).
  Status read = Status::Ok();
  const Status computed = ComputeEntitlementsFromUsage(
      facts, scope.person_id, valid_date,
      [&](const std::string& counter) {
        int64_t used = 0;
        if (read.ok()) read = journal.UsageAsKnownAt(known_at_position, valid_date, counter, &used);
        return used;
      },
      out);
  DI_RETURN_IF_ERROR(read);
  DI_RETURN_IF_ERROR(computed);
  out->known_at_position = known_at_position;
  return Status::Ok();
}

}  // namespace di::projections
