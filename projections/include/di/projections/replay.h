// As-of replay: the state of the ledger as known at a position (transaction time), folded from the log.
#ifndef DI_PROJECTIONS_REPLAY_H_
#define DI_PROJECTIONS_REPLAY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// Something a query names: {"municipality", "M-1"} is recorded in the stream municipality/M-1 (docs/events.md
// §1.4: person, project, municipality, claim...).
struct QuerySubject {
  std::string_view kind;
  std::string_view id;
};

// Why an answer as known at `known_at_position` (resolved from `known_at`, as the client wrote it) is empty,
// when it cannot know what it is asked yet. Returns kNotFound for the first subject the store has never recorded
// (a typo is still an error, whatever the known-at). Otherwise `note` is empty if the answer can be computed, or
// says why the answer is empty: `known_at` is before the first recorded event (position 0), or a subject was first
// recorded after the position. The CLI and the server both ask it, so both answer alike (docs/projections.md).
Status ExplainNotYetKnown(ledger::EventStore& store, const std::vector<QuerySubject>& subjects,
                          std::string_view known_at, uint64_t known_at_position, std::string* note);

// The valid date and the known-at of a query, resolved from the text its client wrote (as AsOfTexts), and why its
// answer is empty when it cannot know what it names yet.
struct ResolvedAsOf {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::string note;  // ExplainNotYetKnown's; "" when the answer can be computed
};
// `valid_at` "": the latest effective date in the store (0 if none); else YYYY-MM-DD (kInvalidArgument on field
// "valid_at"). `known_at` "": `known_now` (kKnownNow for a caller whose live model is the head, the head for one
// that folds); else ResolveKnownAt. Then ExplainNotYetKnown. The CLI and the server resolve every query with it.
Status ResolveAsOf(ledger::EventStore& store, std::string_view valid_at, std::string_view known_at,
                   uint64_t known_now, const std::vector<QuerySubject>& subjects, ResolvedAsOf* out);

// An answer that is empty because what the query names was not recorded yet as known then, saying so (any report
// with valid_date, known_at_position and note: Entitlements, FundingReport, IndicatorsReport).
template <typename Answer>
void EmptyWithNote(const ResolvedAsOf& as_of, Answer* out) {
  *out = Answer{};
  out->valid_date = as_of.valid_date;
  out->known_at_position = as_of.known_at_position;
  out->note = as_of.note;
}

}  // namespace di::projections

#endif  // DI_PROJECTIONS_REPLAY_H_
