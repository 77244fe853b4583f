#include "di/projections/journal_reconciliation.h"

#include "di/ledger/invariant.h"
#include "events.capnp.h"

namespace di::projections {

ClaimLineFacts LineFactsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                    const std::string& delivery_id) {
  ClaimLineFacts facts = DeliveryLineFacts(model, delivery_id);
  facts.decided = journal.DecisionOf(delivery_id, &facts.eligible_cost_cents, &facts.reason);
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

Status LoadClaimsModel(ledger::EventStore& events, uint64_t known_at_position, const std::string& claim_id,
                       LedgerModel* model, ScopedLoadStats* stats) {
  ScopedLoadStats local;
  using P = schema::Event::Payload;
  std::vector<ledger::EventType> types = {P::PROJECT_REGISTERED, P::BUDGET_AMENDED};
  std::vector<std::string> streams;
  if (claim_id.empty()) {
    types.insert(types.end(), {P::REIMBURSEMENT_CLAIMED, P::CLAIM_REVIEWED, P::REIMBURSEMENT_PAID});
  } else {
    streams.push_back("claim/" + claim_id);
  }
  return LoadTypesAndStreams(events, known_at_position, types, streams, model, stats == nullptr ? &local : stats);
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
  DI_RETURN_IF_ERROR(LoadClaimsModel(events, known_at_position, query.claim_id, &claims, stats));
  return ComputeReconciliationOfLines(
      claims, valid_date, query,
      [&](const std::string& delivery_id, ClaimLineFacts* facts) {
        return journal.LineAsKnownAt(known_at_position, delivery_id, facts);
      },
      out);
}

}  // namespace di::projections
