#include "di/projections/journal_reconciliation.h"

#include "di/ledger/invariant.h"
#include "events.capnp.h"

namespace di::projections {

ClaimLineFacts LineFactsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                    const std::string& delivery_id) {
  ClaimLineFacts facts = DeliveryLineFacts(model, delivery_id);
  facts.decided = journal.DecisionOf(delivery_id, &facts.outcome);
  return facts;
}

Status ComputeReconciliationFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                        const ReconciliationQuery& query, std::vector<ClaimReconciliation>* out) {
  DI_ASSERT(journal.position() == model.last_position());
  return ComputeReconciliationOfLines(
      model, valid_date, query,
      [&](const std::string& delivery_id, ClaimLineFacts* facts) {
        *facts = LineFactsFromJournal(journal, model, delivery_id);
        return Status::Ok();
      },
      out);
}

Status LoadClaimsModel(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                       const ReconciliationQuery& query, LedgerModel* model, ScopedLoadStats* stats) {
  ScopedLoadStats local;
  std::vector<ClaimHead> claims;
  DI_RETURN_IF_ERROR(journal.ClaimsAsKnownAt(known_at_position, &claims));
  std::vector<std::string> streams;
  for (const ClaimHead& claim : claims) {
    if (!query.claim_id.empty() && claim.claim_id != query.claim_id) continue;
    if (!query.project_id.empty() && claim.project_id != query.project_id) continue;
    if (!query.municipality_id.empty() && claim.municipality_id != query.municipality_id) continue;
    streams.push_back("claim/" + claim.claim_id);
  }
  using P = schema::Event::Payload;
  return LoadTypesAndStreams(events, known_at_position, {P::PROJECT_REGISTERED, P::BUDGET_AMENDED}, streams, model,
                             stats == nullptr ? &local : stats);
}

Status ComputeReconciliationFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                                      int32_t valid_date, const ReconciliationQuery& query,
                                      std::vector<ClaimReconciliation>* out, ScopedLoadStats* stats) {
  out->clear();
  if (known_at_position > journal.position()) {
    return Status::InvalidArgument("the journal is projected up to position " + std::to_string(journal.position()) +
                                       ", not " + std::to_string(known_at_position),
                                   "known_at");
  }
  LedgerModel claims;
  DI_RETURN_IF_ERROR(LoadClaimsModel(events, journal, known_at_position, query, &claims, stats));
  std::unique_ptr<JournalStore::LineReader> lines;
  DI_RETURN_IF_ERROR(journal.NewLineReader(known_at_position, &lines));
  return ComputeReconciliationOfLines(
      claims, valid_date, query,
      [&](const std::string& delivery_id, ClaimLineFacts* facts) { return lines->Read(delivery_id, facts); }, out);
}

}  // namespace di::projections
