// As-of replay: the state of the ledger as known at a position (transaction time), folded from the log.
#ifndef DI_PROJECTIONS_REPLAY_H_
#define DI_PROJECTIONS_REPLAY_H_

#include <cstdint>
#include <string_view>

#include "di/ledger/event_store.h"
#include "di/projections/ledger_model.h"

namespace di::projections {

// "As known now": every event recorded so far.
inline constexpr uint64_t kKnownNow = UINT64_MAX;

// Folds events 1..known_at_position into `model`: 0 folds nothing (known before anything was recorded),
// kKnownNow folds up to the head.
Status ReplayInto(ledger::EventStore& store, uint64_t known_at_position, LedgerModel* model);

// Folds one event; an event that cannot be decoded sets *status to kCorruption naming its position and
// returns false (stop), instead of throwing out of the fold.
bool ApplyOrReport(const ledger::StoredEvent& event, LedgerModel* model, Status* status);

// "1234" (a global position) or "2021-07-01T00:00:00Z" (UTC; the last event recorded at or before it, 0 if
// none was). Empty: the head. Positions beyond the head are refused. The result goes to ReplayInto as is.
Status ResolveKnownAt(ledger::EventStore& store, std::string_view known_at, uint64_t* position);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_REPLAY_H_
