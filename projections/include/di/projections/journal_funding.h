// The funding report's events per row (FundingQuery::explain) from what the journal keeps, and the funding report as
// known at a past position from its store (issue #15; docs/projections.md "Funding from the journal").
//
// The events behind a row are facts, not decisions: every live delivery dated on or before the valid date in the row
// (the delivery and its corrections), and of every claim dated so with a line in the row, the claim's events (claim,
// review, payments), the line's delivery and the budget version its split used. So an explained report needs each
// delivery's facts (its grant's municipality and service, its date, positions, whether it is voided: the journal's
// line facts, or the live model's) and the claims as known then (their streams, folded), and decides nothing.
#ifndef DI_PROJECTIONS_JOURNAL_FUNDING_H_
#define DI_PROJECTIONS_JOURNAL_FUNDING_H_

#include <cstdint>
#include <functional>
#include <string>

#include "di/ledger/event_store.h"
#include "di/projections/funding.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_store.h"
#include "di/projections/person_scope.h"
#include "di/projections/reconciliation.h"

namespace di::projections {

// Calls its argument once with each recorded delivery's line facts (any order); the first failed status is the answer.
using DeliveryLineWalk = std::function<Status(const JournalStore::LineVisitor& visit)>;

// Fills FundingRow::positions of `report`, which ComputeFundingFromCells made from `cells` under `query` (explain
// unset there) at `valid_date`, as ComputeFunding lists them. `claims` holds the claims and the projects' budgets as
// known then (LoadClaimsModel, or the live model); `lines` reads a claimed delivery's facts. kCorruption when a
// delivery or a line falls in a row the cells do not have (the journal and its facts disagree).
Status ExplainFundingRows(const FundingCells& cells, const LedgerModel& claims, int32_t valid_date,
                          const FundingQuery& query, const DeliveryLineWalk& deliveries,
                          const ClaimLineSource& lines, FundingReport* report);

// The funding report as known at `known_at_position` (<= journal.position()) from the store: its cells, and with
// explain the line facts of every delivery (one pass over the store's line keys) and the claims' streams folded.
// *stats (optional): the claims' fold.
Status ComputeFundingFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                               int32_t valid_date, const FundingQuery& query, FundingReport* out,
                               ScopedLoadStats* stats = nullptr);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_JOURNAL_FUNDING_H_
