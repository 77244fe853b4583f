// The canonical JSON form of events: JSON -> Cap'n Proto -> JSON is lossless.
//
// The mapping is generic, driven by the schema (ledger/schema/events.capnp) through Cap'n Proto
// reflection; docs/events.md documents it field by field. Input is strict: unknown keys, wrong JSON
// types, out-of-range integers, impossible dates, unknown enum values and missing required fields are
// errors that name the field ("data.lines[2].amount_cents") and the event id when known.
// The one normalisation: a $jsonDocument object (the rules document) is stored as compact JSON with its
// object keys sorted, so its canonical bytes do not depend on the key order a client happened to use.
#ifndef DI_LEDGER_JSON_CODEC_H_
#define DI_LEDGER_JSON_CODEC_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "di/ledger/event.h"
#include "di/ledger/status.h"

namespace di::ledger {

// Parses one event object: {"id","type","effective_date","actor",["causation_id"],["expected_version"],
// "data"}. Ledger-assigned keys ("position", "recorded_at", "stream", "stream_version", "hash") are
// accepted and ignored, so an export can be re-imported into an empty store.
Status EventFromJson(const nlohmann::json& json, NewEvent* out);
// Same, from JSON text (one line of a JSON Lines file).
Status EventFromJsonText(std::string_view text, NewEvent* out);

// The client-supplied part, keys in schema order.
nlohmann::ordered_json EventToJson(schema::Event::Reader event);
// A recorded event: position, recorded_at, stream, stream_version, the event's keys, then hash.
nlohmann::ordered_json StoredEventToJson(const StoredEvent& stored);

}  // namespace di::ledger

#endif  // DI_LEDGER_JSON_CODEC_H_
