// Indicators from the funding journal (issue #15; docs/projections.md "Indicators from the journal"): what the
// indicators read of each person (IndicatorMember: the enrolment, the residences, the first day assessed, with a plan
// and receiving services) is kept as events arrive, the first day receiving services by the journal, which decides every
// delivery (FundingJournal::FirstReceivingOf), and all of it on disk per person (the store's member keys). So an
// indicators answer decides no delivery and folds no person, grant or delivery.
//
//   - As known now: the persons from the live model, their first day receiving services from the live journal.
//   - As known at a past position K: each person's member facts read from the store up to K (one pass over the member
//     keys), and the projects (targets) and municipalities (territories) as known then, folded (a handful of events
//     found through the log's type index).
//
// Both answer exactly as ComputeIndicators on the model as known then; tests/funding_journal_test.cc compares them.
#ifndef DI_PROJECTIONS_JOURNAL_INDICATORS_H_
#define DI_PROJECTIONS_JOURNAL_INDICATORS_H_

#include <cstdint>
#include <string>

#include "di/ledger/event_store.h"
#include "di/projections/funding_journal.h"
#include "di/projections/indicators.h"
#include "di/projections/journal_store.h"
#include "di/projections/person_scope.h"

namespace di::projections {

// `person`'s member facts on `model` with the first day receiving services `journal` keeps (`journal` follows
// `model`): what the store records for the person after an event that changed them (JournalRecord::members).
IndicatorMember MemberFactsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                       const PersonFacts& person);

// `journal` follows `model` (same position).
Status ComputeIndicatorsFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                    const std::string& project_id, const std::string& municipality_id,
                                    IndicatorsReport* out);

// As known at `known_at_position`, which the store has projected. *stats (optional): the projects' and
// municipalities' fold.
Status ComputeIndicatorsFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                                  int32_t valid_date, const std::string& project_id,
                                  const std::string& municipality_id, IndicatorsReport* out,
                                  ScopedLoadStats* stats = nullptr);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_JOURNAL_INDICATORS_H_
