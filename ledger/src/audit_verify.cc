// Offline verification of an exported log (docs/audit.md §5): nothing but the export and one public key.
//
// One pass, O(log n) memory: for each line, re-encode the canonical RecordedEvent bytes from the JSON,
// recompute the chain hash and compare it with the line's, add the Merkle leaf; at each audit event check
// that it covers exactly the events before it, that its root is the root of those events, that its
// signatures verify and that its key is the current key of the chain. At the end, the given key must be a
// key of the chain.
#include <capnp/message.h>
#include <sodium.h>

#include "di/ledger/audit.h"
#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "di/ledger/merkle.h"
#include "di/ledger/sha256.h"

namespace di::ledger {
namespace {

// The rules document (1 MiB at most) is the largest field; a longer line is not an event.
constexpr size_t kMaxLineBytes = 4 << 20;

}  // namespace

Status RecordedEventFromJson(const nlohmann::json& line, std::string* canonical_bytes, uint64_t* position,
                             Hash* stated_hash) {
  if (!line.is_object()) return Status::InvalidArgument("an exported event must be a JSON object");
  NewEvent event;
  Status status = EventFromJson(line, &event);
  if (!status.ok()) return status;
  auto position_it = line.find("position");
  if (position_it == line.end() || !position_it->is_number_unsigned() || position_it->get<uint64_t>() == 0) {
    return Status::InvalidArgument("must be a position >= 1", "position", event.id());
  }
  int64_t recorded_at = 0;
  auto recorded_it = line.find("recorded_at");
  if (recorded_it == line.end() || !recorded_it->is_string() ||
      !ParseUtcMicros(recorded_it->get<std::string>(), &recorded_at)) {
    return Status::InvalidArgument("must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ", "recorded_at", event.id());
  }
  // Migrated events say so ("recorded_at_asserted": true); the flag is part of the hashed bytes, so an export
  // that drops or adds it fails the chain at that line.
  bool asserted = false;
  if (auto asserted_it = line.find("recorded_at_asserted"); asserted_it != line.end()) {
    if (!asserted_it->is_boolean()) return Status::InvalidArgument("must be true or false", "recorded_at_asserted", event.id());
    asserted = asserted_it->get<bool>();
  }
  auto stream_it = line.find("stream");
  if (stream_it == line.end() || !stream_it->is_string()) {
    return Status::InvalidArgument("must be a string", "stream", event.id());
  }
  auto version_it = line.find("stream_version");
  if (version_it == line.end() || !version_it->is_number_unsigned()) {
    return Status::InvalidArgument("must be a non-negative integer", "stream_version", event.id());
  }
  *stated_hash = Hash{};
  if (auto hash_it = line.find("hash"); hash_it != line.end()) {
    if (!hash_it->is_string() || !ParseHashHex(hash_it->get<std::string>(), stated_hash)) {
      return Status::InvalidArgument("must be 64 lowercase hex chars", "hash", event.id());
    }
  }
  *position = position_it->get<uint64_t>();
  // Built exactly as the store builds it (event_store_writer.cc, CanonicalRecordedEvent), then canonicalised.
  capnp::MallocMessageBuilder message;
  auto recorded = message.initRoot<schema::RecordedEvent>();
  recorded.setPosition(*position);
  recorded.setRecordedAtMicros(recorded_at);
  recorded.setStream(stream_it->get<std::string>());
  recorded.setStreamVersion(version_it->get<uint64_t>());
  recorded.setEvent(event.reader());
  if (asserted) recorded.setRecordedAtAsserted(true);
  const kj::Array<capnp::word> words = capnp::canonicalize(recorded.asReader());
  canonical_bytes->assign(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
  return Status::Ok();
}

Status VerifyExport(std::istream& input, const PublicKey& trusted_key, ExportVerifyReport* report) {
  *report = ExportVerifyReport{};
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
  Hash previous{};
  MerkleFrontier frontier;
  SigningKeyChain chain;
  uint64_t first_signed_position = 0;
  uint64_t line_number = 0;
  std::string line;
  std::string bytes;
  auto fail = [&](uint64_t position, std::string problem) {
    report->first_bad_position = position;
    report->problem = std::move(problem);
    return Status::Ok();
  };
  while (std::getline(input, line)) {
    ++line_number;
    const uint64_t expected = frontier.size() + 1;
    if (line.size() > kMaxLineBytes) {
      return fail(expected, "line " + std::to_string(line_number) + " is longer than " +
                                std::to_string(kMaxLineBytes >> 20) + " MiB");
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json json;
    if (Status parsed = ParseJson(line, "", &json); !parsed.ok()) {
      return fail(expected, "line " + std::to_string(line_number) + " is not an exported event: " + parsed.ToString());
    }
    uint64_t position = 0;
    Hash stated{};
    Status status = RecordedEventFromJson(json, &bytes, &position, &stated);
    if (!status.ok()) {
      return fail(expected, "line " + std::to_string(line_number) + " is not an exported event: " + status.ToString());
    }
    if (position != expected) {
      return fail(expected, "line " + std::to_string(line_number) + " holds position " + std::to_string(position) +
                                "; expected " + std::to_string(expected) +
                                " (an export to verify starts at position 1 and has no holes)");
    }
    const Hash computed = ChainHash(previous, bytes);
    if (!json.contains("hash")) return fail(position, "the line has no hash");
    if (computed != stated) {
      return fail(position, "hash mismatch: the line says " + HashToHex(stated) + ", its content and the hash before it give " +
                                HashToHex(computed) + " (this event, or the hash of the one before, was altered)");
    }
    EventType type;
    if (ParseEventTypeName(json["type"].get<std::string>(), &type) && IsLedgerRecordedType(type)) {
      CanonicalMessage<schema::RecordedEvent> message(CopyToWords(bytes));
      SignedTreeHead head;
      const std::string problem = CheckAuditEvent(message.reader().getEvent(), &head);
      const std::string name(EventTypeName(type));
      if (!problem.empty()) return fail(position, name + ": " + problem);
      if (head.tree_size != frontier.size()) {
        return fail(position, name + " covers " + std::to_string(head.tree_size) + " events but " +
                                  std::to_string(frontier.size()) + " precede it");
      }
      if (head.root != frontier.Root()) {
        return fail(position, name + ": the signed root " + HashToHex(head.root) + " is not the root of events 1.." +
                                  std::to_string(frontier.size()) + " (" + HashToHex(frontier.Root()) +
                                  "): an event before it was altered and the chain rehashed");
      }
      if (std::string chain_problem = chain.Add(head); !chain_problem.empty()) return fail(position, name + ": " + chain_problem);
      if (first_signed_position == 0) first_signed_position = position;
      ++(head.rotation ? report->rotations : report->checkpoints);
      report->last_signed_tree_size = head.tree_size;
    }
    frontier.Append(MerkleLeafHash(bytes));
    previous = computed;
    ++report->events;
  }
  if (input.bad()) return Status::IOError("read error after line " + std::to_string(line_number));
  report->head_hash = previous;
  report->root = frontier.Root();
  for (const PublicKey& key : chain.keys()) report->key_ids.push_back(KeyIdOf(key));
  if (report->events == 0) return fail(1, "the export holds no events");
  if (chain.keys().empty()) {
    return fail(report->events, "no checkpoint_signed event: nothing in the export is signed (run `di-ledger audit checkpoint`)");
  }
  if (!chain.Contains(trusted_key)) {
    std::string ids;
    for (const std::string& id : report->key_ids) ids += (ids.empty() ? "" : ", ") + id;
    return fail(first_signed_position, "the export is signed by key(s) " + ids + ", not by the given key " +
                                           KeyIdOf(trusted_key) + " nor by a key it rotated to or from");
  }
  return Status::Ok();
}

}  // namespace di::ledger
