// Reconciliation from the funding journal (issue #15; docs/projections.md "Reconciliation from the journal"): each
// claimed delivery's facts and the rules' decision on it are kept as events arrive (FundingJournal::DecisionOf, the
// store's line keys), so a reconciliation decides no delivery and folds no delivery, grant or person.
//
//   - As known now: the claims from the live model, each line's decision from the live journal.
//   - As known at a past position K: the claims the query selects and the projects' budgets as known then, folded (a
//     few events per claim, found through the store's list of claims and the log's indexes), and each line's facts
//     read from the store up to K.
//
// Both answer exactly as ComputeReconciliation on the model as known then; tests/funding_journal_test.cc and
// tests/cli_test.cc compare them.
#ifndef DI_PROJECTIONS_JOURNAL_RECONCILIATION_H_
#define DI_PROJECTIONS_JOURNAL_RECONCILIATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_store.h"
#include "di/projections/person_scope.h"
#include "di/projections/reconciliation.h"

namespace di::projections {

// `delivery_id`'s line facts on `model` with the decision `journal` keeps (`journal` follows `model`): what the store
// records for the delivery after an event that changed them (JournalRecord::lines).
ClaimLineFacts LineFactsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                    const std::string& delivery_id);

// `journal` follows `model` (same position).
Status ComputeReconciliationFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                        const ReconciliationQuery& query, std::vector<ClaimReconciliation>* out);

// Folds into `model` (empty) the events at or before `known_at_position` that reconciliation reads of the claims
// `query` selects: the projects' registrations and budget amendments, and the events of those claims (their streams,
// found through the store's list of claims).
Status LoadClaimsModel(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                       const ReconciliationQuery& query, LedgerModel* model, ScopedLoadStats* stats = nullptr);

// As known at `known_at_position`, which the store has projected. *stats (optional): the claims' fold.
Status ComputeReconciliationFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                                      int32_t valid_date, const ReconciliationQuery& query,
                                      std::vector<ClaimReconciliation>* out, ScopedLoadStats* stats = nullptr);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_JOURNAL_RECONCILIATION_H_
