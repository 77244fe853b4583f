// The two shapes of an event: as a client submits it (NewEvent) and as the ledger stores it (StoredEvent).
//
// Both own canonical Cap'n Proto bytes (single segment, no segment table; capnp::canonicalize): canonical
// bytes are what idempotent retries compare and what the hash chain covers, so "same content" has exactly
// one byte representation.
#ifndef DI_LEDGER_EVENT_H_
#define DI_LEDGER_EVENT_H_

#include <capnp/message.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "events.capnp.h"

namespace di::ledger {

using Hash = std::array<uint8_t, 32>;

// Read-only view of canonical Cap'n Proto bytes holding a struct of type T.
template <typename T>
class CanonicalMessage {
 public:
  CanonicalMessage() = default;
  explicit CanonicalMessage(kj::Array<capnp::word> words);
  CanonicalMessage(CanonicalMessage&&) noexcept = default;
  CanonicalMessage& operator=(CanonicalMessage&&) noexcept = default;

  bool empty() const { return words_.size() == 0; }
  // True if the bytes are a well-formed message in canonical form (every stored event is written that
  // way). Never throws: damaged bytes answer false.
  bool IsWellFormedCanonical() const;
  typename T::Reader reader() const;
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(words_.begin()), words_.size() * sizeof(capnp::word)};
  }

 private:
  kj::Array<capnp::word> words_;
  // Heap-held so the reader's pointer to the segment table survives moves.
  std::unique_ptr<kj::ArrayPtr<const capnp::word>> segment_;
  std::unique_ptr<capnp::SegmentArrayMessageReader> message_;
};

// An event as submitted by a client, before the ledger has assigned position, stream and time.
struct NewEvent {
  CanonicalMessage<schema::Event> event;
  // When set: the version the event's stream must have just before this event is appended
  // (0 = the stream must not exist yet). A precondition, not part of the event's content.
  std::optional<uint64_t> expected_version;
  // When set: the recorded time (UTC microseconds) an importer asserts for this event, instead of the time
  // the ledger observes at append (a migration of history kept in an older system: `import
  // --keep-recorded-at`). The store records it with `recordedAtAsserted = true` and refuses it (nothing of the
  // batch appended) when it is before the previous event's recorded time or after the store's clock. Like
  // expected_version it is not part of the event's content (the idempotency comparison), but a retry that
  // asserts a different time than the one recorded is refused.
  std::optional<int64_t> asserted_recorded_at_micros;

  schema::Event::Reader reader() const { return event.reader(); }
  std::string id() const { return reader().getId().cStr(); }

  // Canonicalises a built event.
  static NewEvent FromReader(schema::Event::Reader event);
};

// An event as recorded at a global position: hash + canonical RecordedEvent.
struct StoredEvent {
  uint64_t position = 0;
  Hash hash{};
  CanonicalMessage<schema::RecordedEvent> body;

  schema::RecordedEvent::Reader reader() const { return body.reader(); }
};

// Copies arbitrary bytes into word-aligned storage (RocksDB values are not 8-byte aligned).
// Returns an empty array if the size is not a multiple of 8.
kj::Array<capnp::word> CopyToWords(std::string_view bytes);

// Lowercase hexadecimal.
std::string HashToHex(const Hash& hash);

// Stream names are "<kind>/<id>" ("person/P-0001", "grant/G-1", "claim/C-1"; the writer names them, validator.h).
inline std::string_view StreamKind(std::string_view stream) { return stream.substr(0, stream.find('/')); }
inline std::string_view StreamId(std::string_view stream) {
  const size_t slash = stream.find('/');
  return slash == std::string_view::npos ? std::string_view() : stream.substr(slash + 1);
}

}  // namespace di::ledger

#endif  // DI_LEDGER_EVENT_H_
