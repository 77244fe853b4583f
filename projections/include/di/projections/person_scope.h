// Person-scoped as-of models: what a question about one person needs, as known at a past position, without
// folding the region.
//
// An as-of query otherwise loads the whole model as known then: the nearest snapshot (tens of MB at a million
// events) plus up to a stride of events, 1.4 s p50 at 1.1 M events. The entitlements of one person depend only
// on the rules in force, the municipalities (whose projects say which rules govern a grant) and the records of the
// person's family: their person streams (enrolment, residence,
// disability, opinions, activities, assessments, plans, applications) and the streams of the grants they hold
// (the grant's events and its deliveries, corrections and voids). Those streams are read through the stream
// index and folded, in position order, up to the known-at position: a few thousand events.
//
// Which streams: the family and its grants as a *current* model knows them (the server's live model, a head
// model). The records known at an earlier position are among them, because the ledger never deletes a person
// or a grant and never removes a representation link; streams known only later contribute no event at or before
// the known-at position.
#ifndef DI_PROJECTIONS_PERSON_SCOPE_H_
#define DI_PROJECTIONS_PERSON_SCOPE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/ledger_model.h"

namespace di::projections {

struct PersonScope {
  std::string person_id;
  std::vector<std::string> streams;  // "person/<id>" of each family member, "grant/<id>" of each of their grants
};

// The streams of `person_id`'s family as `current` knows them (cheap: the family and its grants only).
PersonScope ScopeStreamsOf(const LedgerModel& current, const std::string& person_id);

// Where a scoped load spent its time (for benchmarks and metrics; steady-clock nanoseconds: integers, as
// everything in projections/ is, tests/no_floating_point.sh).
struct ScopedLoadStats {
  uint64_t events = 0;           // events folded
  uint64_t index_nanoseconds = 0;  // walking the stream and type indexes for positions
  uint64_t log_nanoseconds = 0;    // reading those positions from the log
  uint64_t fold_nanoseconds = 0;   // applying them to the model
};

// Folds into `model` (which must be empty) the events at or before `known_at_position` of the rule sets, the
// municipalities' registrations and mergers, and `scope`'s streams, in position order. `known_at_position` must not be beyond what `current` had folded when
// the scope was taken. ComputeEntitlements(model, scope.person_id, ...) then answers as on the full model as
// known at that position (tests/person_scope_test.cc); other reports need the full model.
Status LoadScopedModel(ledger::EventStore& store, const PersonScope& scope, uint64_t known_at_position,
                       LedgerModel* model, ScopedLoadStats* stats = nullptr);

// The positions at or before `known_at_position` of the rule sets, the municipalities and `scope`'s streams, ascending: what
// LoadScopedModel folds. A "grant/<id>" stream's come from `grant_positions` when given (`collect` each, ascending;
// journal_entitlements.h gives a grant's facts only), else from the log's stream index.
using GrantPositions =
    std::function<Status(const std::string& stream, const std::function<bool(uint64_t)>& collect)>;
Status ScopePositions(ledger::EventStore& store, const PersonScope& scope, uint64_t known_at_position,
                      const GrantPositions& grant_positions, std::vector<uint64_t>* positions);

// Folds into `model` the events at `positions` (ascending, each once), read from the log in batches in position order:
// LoadScopedModel once it has the positions, for a caller that finds them elsewhere (journal_entitlements.h). Adds to
// *stats (events, log and fold time).
Status FoldPositions(ledger::EventStore& store, const std::vector<uint64_t>& positions, LedgerModel* model,
                     ScopedLoadStats* stats);

// Folds into `model` (which must be empty) the events at or before `known_at_position` of the given types (the log's
// type index) and streams (its stream index), in position order: the few facts a report reads besides what the
// journal keeps (projects and budgets, claims, municipalities; journal_reconciliation.h, journal_indicators.h).
Status LoadTypesAndStreams(ledger::EventStore& store, uint64_t known_at_position,
                           const std::vector<ledger::EventType>& types, const std::vector<std::string>& streams,
                           LedgerModel* model, ScopedLoadStats* stats);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_PERSON_SCOPE_H_
