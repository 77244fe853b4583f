// Internal to ledger/: the rules on what a submitted event's fields may hold, whatever the encoding it came in,
// and the reflection over events.capnp that both encodings walk. The JSON codec (json_codec.cc) applies them
// to the struct it builds from JSON; the Cap'n Proto path (event_checks.cc) to a client's struct as it copies
// it. One place, so that the two transports of the server cannot accept different events.
//
// What stays with each encoding is what only it can get wrong: JSON types, unknown keys and integer ranges
// (the codec); text that is not UTF-8, unknown enumerants and unknown union members (a client's struct; JSON
// text is UTF-8 by the parser, enumerants are names).
#ifndef DI_LEDGER_EVENT_RULES_H_
#define DI_LEDGER_EVENT_RULES_H_

#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "di/ledger/catalog.h"
#include "di/ledger/status.h"

namespace di::ledger::internal {

// Bounds on outside input (every loop over it is bounded). docs/events.md §1.3 states them to clients.
inline constexpr size_t kMaxTextLength = 4096;        // a free text or an id in a payload, bytes
inline constexpr size_t kMaxActorLength = 128;        // the actor, bytes
inline constexpr size_t kMaxDocumentLength = 1 << 20; // a $jsonDocument in its canonical (RFC 8785) form, bytes
inline constexpr size_t kMaxListLength = 100000;      // elements of any list

// ---- Reflection over events.capnp ------------------------------------------------------------------------
// Annotation ids from events.capnp.
inline constexpr uint64_t kDateAnnotation = 0xc1ee1c4af1afba75ULL;
inline constexpr uint64_t kOptionalAnnotation = 0xb098f3f31427a1c2ULL;
inline constexpr uint64_t kEntityIdAnnotation = 0x81b42589fbd8c6d7ULL;
inline constexpr uint64_t kJsonDocumentAnnotation = 0xa5dc518a54eccb5cULL;

// "years 1900..2199": the range of possible dates as error messages state it.
std::string YearRange();
bool HasAnnotation(capnp::StructSchema::Field field, uint64_t id);
// The field's name in JSON and in error paths ("effective_date", "amount_cents").
std::string JsonName(capnp::StructSchema::Field field);
std::string JoinPath(const std::string& path, std::string_view name);
// The member of Event.payload that holds an event of `type`.
capnp::StructSchema::Field PayloadMemberField(EventType type);

// UTF-8 `text` as UTF-16 code units (the order RFC 8785 sorts keys in) into `out`, or, with `out` null, only
// whether it is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). False if it is not.
bool Utf8ToUtf16(std::string_view text, std::u16string* out);

// ---- The rules -------------------------------------------------------------------------------------------
// The event's id (field "id"): IsValidId.
Status CheckEventId(std::string_view id);
// The actor (field "actor", of event `id`): 1..kMaxActorLength bytes, on one line, no control character.
Status CheckActor(std::string_view actor, const std::string& id);
// A causation id (field "causation_id"): IsValidId.
Status CheckCausationId(std::string_view causation_id, const std::string& id);
// An effective date (field "effective_date"): a day within kMinYear..kMaxYear.
Status CheckEffectiveDate(int32_t days, const std::string& id);
// Whether a day number is a date an event may hold (kMinYear..kMaxYear; kNoDate is not).
bool IsPossibleDate(int32_t days);
// A text of the payload at `path`: not empty, an id if `entity_id`, at most kMaxTextLength bytes, no control
// character but tabs and line breaks (and never NUL: Cap'n Proto Text is NUL-terminated, and a reader that
// takes cStr() would see a shorter text than the one acknowledged).
Status CheckText(std::string_view text, const std::string& path, bool entity_id);
// A list of `size` elements at `path`: at most kMaxListLength.
Status CheckListLength(size_t size, const std::string& path);
// A document whose canonical text has `bytes` bytes, at `path`: at most kMaxDocumentLength.
Status CheckDocumentLength(size_t bytes, const std::string& path);

// ---- $jsonDocument texts (json_codec.cc: documents are JSON) ------------------------------------------------
// Whether arrays and objects in JSON `text` nest deeper than `limit` (one pass, no recursion).
bool JsonNestsDeeperThan(std::string_view text, int limit);
// A document text in a client's struct, at `path`: JSON within ParseJson's bounds, and an object.
Status CheckDocumentText(std::string_view text, const std::string& path);
// The stored form of a document text that passed CheckDocumentText: its RFC 8785 text (integers within
// ±(2^53−1) as its only numbers), at most kMaxDocumentLength bytes, as the codec stores a JSON document.
Status CanonicalDocumentText(std::string_view text, const std::string& path, std::string* out);

}  // namespace di::ledger::internal

#endif  // DI_LEDGER_EVENT_RULES_H_
