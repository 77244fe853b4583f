#include "di/projections/journal_entitlements.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "di/ledger/invariant.h"

namespace di::projections {

namespace {

// With explain: the decisions on the person's deliveries (ExplainedDeliveriesOf `facts`), each from its facts and the
// outcome kept (`outcome_of`, false: none kept).
using OutcomeSource = std::function<Status(const std::string& delivery_id, bool* kept, DecisionOutcome* outcome)>;
Status ExplainFromOutcomes(const LedgerModel& facts, const std::string& person_id, int32_t valid_date,
                           const OutcomeSource& outcome_of, Entitlements* out) {
  out->explained = true;
  for (const DeliveryFacts* delivery : ExplainedDeliveriesOf(facts, person_id, valid_date)) {
    bool kept = false;
    DecisionOutcome outcome;
    DI_RETURN_IF_ERROR(outcome_of(delivery->id, &kept, &outcome));
    // The journal decides every live delivery of a known grant while rules are in force.
    const GrantFacts* grant = facts.FindGrant(delivery->grant_id);
    if (!kept && grant != nullptr && facts.RulesOfGrant(*grant) != nullptr) {
      return Status::Corruption("the journal kept no decision on live delivery '" + delivery->id + "'");
    }
    out->deliveries.push_back(DecisionFromOutcome(facts, *delivery, outcome));
  }
  return Status::Ok();
}

}  // namespace

Status ComputeEntitlementsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                      const std::string& person_id, int32_t valid_date, Entitlements* out,
                                      bool explain) {
  DI_ASSERT(journal.position() == model.last_position());
  const std::unordered_map<std::string, int64_t> used = journal.UsageAsOf(model, person_id, valid_date);
  DI_RETURN_IF_ERROR(ComputeEntitlementsFromUsage(
      model, person_id, valid_date,
      [&](const std::string& counter) {
        auto found = used.find(counter);
        return found == used.end() ? int64_t{0} : found->second;
      },
      [&](const std::string& prefix) {
        std::vector<std::pair<std::string, int64_t>> found;
        for (const auto& [counter, amount] : used) {
          if (counter.starts_with(prefix)) found.emplace_back(counter, amount);
        }
        return found;
      },
      out));
  if (!explain) return Status::Ok();
  return ExplainFromOutcomes(
      model, person_id, valid_date,
      [&](const std::string& delivery_id, bool* kept, DecisionOutcome* outcome) {
        *kept = journal.DecisionOf(delivery_id, outcome);
        return Status::Ok();
      },
      out);
}

Status ComputeEntitlementsFromStore(ledger::EventStore& events, JournalStore& journal, const PersonScope& scope,
                                    uint64_t known_at_position, int32_t valid_date, Entitlements* out,
                                    ScopedLoadStats* stats, bool explain) {
  ScopedLoadStats local;
  if (stats == nullptr) stats = &local;
  *stats = ScopedLoadStats{};
  if (known_at_position > journal.position()) {
    return Status::InvalidArgument("the journal is projected up to position " + std::to_string(journal.position()) +
                                       ", not " + std::to_string(known_at_position),
                                   "known_at");
  }
  // The facts: the rule sets and the person streams from the log's indexes, the grants' facts from the store's (with
  // explain, the grants' whole streams: the deliveries it lists are the person's, a family's few thousand events).
  std::vector<uint64_t> positions;
  GrantPositions grant_facts = [&](const std::string& stream, const std::function<bool(uint64_t)>& collect) {
    return journal.ReadGrantFactPositions(stream, known_at_position, [&](uint64_t position) { collect(position); });
  };
  DI_RETURN_IF_ERROR(ScopePositions(events, scope, known_at_position, explain ? nullptr : grant_facts, &positions));
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
      [&](const std::string& prefix) {
        std::vector<std::pair<std::string, int64_t>> found;
        if (read.ok()) read = journal.UsagesWithPrefixAsKnownAt(known_at_position, valid_date, prefix, &found);
        return found;
      },
      out);
  DI_RETURN_IF_ERROR(read);
  DI_RETURN_IF_ERROR(computed);
  out->known_at_position = known_at_position;
  if (!explain) return Status::Ok();
  // The decisions as the store recorded them up to then, one iterator for the person's deliveries.
  std::unique_ptr<JournalStore::LineReader> lines;
  DI_RETURN_IF_ERROR(journal.NewLineReader(known_at_position, &lines));
  return ExplainFromOutcomes(
      facts, scope.person_id, valid_date,
      [&](const std::string& delivery_id, bool* kept, DecisionOutcome* outcome) {
        ClaimLineFacts line;
        DI_RETURN_IF_ERROR(lines->Read(delivery_id, &line));
        *kept = line.decided;
        *outcome = std::move(line.outcome);
        return Status::Ok();
      },
      out);
}

}  // namespace di::projections
