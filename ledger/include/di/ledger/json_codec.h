// The canonical JSON form of events: JSON -> Cap'n Proto -> JSON is lossless.
//
// The mapping is generic, driven by the schema (ledger/schema/events.capnp) through Cap'n Proto
// reflection; docs/events.md documents it field by field. Input is strict: unknown keys, wrong JSON
// types, out-of-range integers, impossible dates, unknown enum values and missing required fields are
// errors that name the field ("data.lines[2].amount_cents") and the event id when known.
// The one normalisation: a $jsonDocument object (the rules document) is stored in the RFC 8785 canonical form
// (JCS: no whitespace, keys sorted by UTF-16 code units, fixed string escapes), with integers as its only
// numbers, so its bytes do not depend on how a client spelled it and any JSON library can rebuild them.
#ifndef DI_LEDGER_JSON_CODEC_H_
#define DI_LEDGER_JSON_CODEC_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "di/ledger/event.h"
#include "di/ledger/status.h"

namespace di::ledger {

// Bounds on JSON read from outside (HTTP bodies, JSON Lines files, rules documents in Cap'n Proto frames,
// export and proof files, token files): nesting deeper than this is refused before any recursive work
// (serialising, copying, walking) runs on it, since those recurse once per level and a document of ~80 000
// levels (~300 KB) overflows a thread's stack. The deepest legitimate input is an append body: body, events
// array, event, data, a list, its element, a rules document's own levels (docs/rules.md: at most 6).
inline constexpr int kMaxJsonDepth = 64;

// Parses JSON text into `out`, refusing (InvalidArgument) text that is not JSON, or whose arrays and objects
// nest deeper than kMaxJsonDepth. `field` names the text in errors ("body", "line 3"); a value nested too
// deep is named by its path within it ("body.events[0].data.document.a.a..."). Never recurses per level.
Status ParseJson(std::string_view text, std::string_view field, nlohmann::json* out);
Status ParseJson(std::string_view text, std::string_view field, nlohmann::ordered_json* out);

struct EventJsonOptions {
  // Migration mode (`import --keep-recorded-at`, `POST /v1/events?keep_recorded_at=true`): every event must
  // carry "recorded_at" (UTC, YYYY-MM-DDTHH:MM:SS[.ffffff]Z), which becomes NewEvent::asserted_recorded_at_micros.
  // Default false: "recorded_at" is ignored like the other ledger-assigned keys.
  bool keep_recorded_at = false;
};

// Parses one event object: {"id","type","effective_date","actor",["causation_id"],["expected_version"],
// "data"}. Ledger-assigned keys ("position", "recorded_at", "recorded_at_asserted", "stream",
// "stream_version", "hash") are accepted and ignored, so an export can be re-imported into an empty store;
// with options.keep_recorded_at, "recorded_at" is required and kept (asserted by the importer).
Status EventFromJson(const nlohmann::json& json, NewEvent* out, const EventJsonOptions& options = {});
// Same, from JSON text (one line of a JSON Lines file), parsed with ParseJson's bounds.
Status EventFromJsonText(std::string_view text, NewEvent* out, const EventJsonOptions& options = {});
// An event a client built in Cap'n Proto is checked by the same rules without JSON: EventFromReader,
// di/ledger/event_checks.h.

// The RFC 8785 text of a $jsonDocument value. Refuses (InvalidArgument, naming the path below `field`) a number
// that is not an integer within ±(2^53−1), text that is not UTF-8, nesting deeper than kMaxJsonDepth.
Status CanonicalJsonDocument(const nlohmann::json& document, const std::string& field, std::string* out);

// The client-supplied part, keys in schema order.
nlohmann::ordered_json EventToJson(schema::Event::Reader event);
// A recorded event: position, recorded_at, recorded_at_asserted (only when true: a migrated event), stream,
// stream_version, the event's keys, then hash.
nlohmann::ordered_json StoredEventToJson(const StoredEvent& stored);

}  // namespace di::ledger

#endif  // DI_LEDGER_JSON_CODEC_H_
