// Entitlements from the funding journal (issue #15; docs/projections.md "Entitlements from the journal"): the caps'
// usage is kept as events arrive (FundingJournal::UsageAsOf, the store's usage keys), so a question decides none of
// the family's deliveries.
//
//   - As known now: the live journal's usage of the person's family, the facts from the live model.
//   - As known at a past position K: the family's facts as known then, folded (its person streams, its grants' facts
//     from the store's index and the rule sets: not its deliveries, which are most of a family's events), and the
//     usage of the caps those facts resolve, read from the store up to K.
//
// Both answer exactly as ComputeEntitlements on the model as known then, also with `explain`: the decisions listed are
// those the journal made as events arrived (FundingJournal::DecisionOf, the store's line facts), none decided again;
// tests/funding_journal_test.cc and tests/journal_store_test.cc compare them.
#ifndef DI_PROJECTIONS_JOURNAL_ENTITLEMENTS_H_
#define DI_PROJECTIONS_JOURNAL_ENTITLEMENTS_H_

#include <cstdint>
#include <string>

#include "di/ledger/event_store.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_store.h"
#include "di/projections/person_scope.h"

namespace di::projections {

// `journal` follows `model` (same position).
Status ComputeEntitlementsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                      const std::string& person_id, int32_t valid_date, Entitlements* out,
                                      bool explain = false);

// `scope` as ScopeStreamsOf gives it from a model at or after `known_at_position`, which the store has projected.
// *stats (optional): the facts' fold. With `explain`, the grants' deliveries are folded too (their facts; the
// decisions come from the store).
Status ComputeEntitlementsFromStore(ledger::EventStore& events, JournalStore& journal, const PersonScope& scope,
                                    uint64_t known_at_position, int32_t valid_date, Entitlements* out,
                                    ScopedLoadStats* stats = nullptr, bool explain = false);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_JOURNAL_ENTITLEMENTS_H_
