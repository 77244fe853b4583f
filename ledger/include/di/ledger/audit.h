// Verifiable history: Ed25519 signing keys, signed Merkle checkpoints, proofs and offline verification.
// The formats are specified for auditors in docs/audit.md; this header is their reference implementation.
//
//   SigningKey key;  SigningKey::Generate(&key);  key.SaveNew("ledger.key");     // 0600, never overwritten
//   store->AppendCheckpoint(key, &checkpoint);          // event `checkpoint_signed` over positions 1..p-1
//   BuildInclusionProof(*store, "E-1", 0, &proof);      // JSON: event, audit path, checkpoint
//   CheckProof(proof, public_key, &report);             // offline: SHA-256 and Ed25519, no store
//   VerifyExport(export_stream, public_key, &report);   // offline: the whole exported log
//
// Trust: an auditor holds one public key. Checkpoints name their key; a key rotation is an event signed by
// the old key AND the new key, so the keys of one log form a chain in which each key vouches for its
// neighbours, and any key of the chain anchors all of it.
#ifndef DI_LEDGER_AUDIT_H_
#define DI_LEDGER_AUDIT_H_

#include <array>
#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "di/ledger/event.h"
#include "di/ledger/status.h"

namespace di::ledger {

class EventStore;

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// An Ed25519 key pair (libsodium). Copyable; the secret bytes are wiped when an instance dies.
class SigningKey {
 public:
  SigningKey() = default;
  SigningKey(const SigningKey& other) = default;
  SigningKey& operator=(const SigningKey& other) = default;
  ~SigningKey();

  static Status Generate(SigningKey* key);
  static Status FromSeed(const std::array<uint8_t, 32>& seed, SigningKey* key);
  // Key file (docs/audit.md): JSON {"format":"di-ledger-signing-key/1","key_id","public_key","seed"}.
  // Load refuses a file readable by group or others, and one whose public key does not match its seed.
  static Status Load(const std::string& path, SigningKey* key);
  // Creates `path` with mode 0600; refuses an existing file (O_EXCL): a signing key is never overwritten.
  Status SaveNew(const std::string& path) const;

  bool empty() const { return !loaded_; }
  const PublicKey& public_key() const { return public_key_; }
  std::string KeyId() const;
  Signature Sign(std::string_view message) const;

 private:
  bool loaded_ = false;
  std::array<uint8_t, 32> seed_{};
  std::array<uint8_t, 64> secret_key_{};
  PublicKey public_key_{};
};

// "1f2e3d4c5b6a7988": the first 8 bytes of SHA-256(public key), hex.
std::string KeyIdOf(const PublicKey& key);
std::string BytesToHex(const uint8_t* bytes, size_t size);
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& bytes) {
  return BytesToHex(bytes.data(), N);
}
// Exactly 2*N lowercase hex chars.
bool ParseHexBytes(std::string_view hex, uint8_t* out, size_t size);
// `file_or_hex`: 64 hex chars, or a file holding them (a .pub file from `audit keygen`).
Status LoadPublicKey(const std::string& file_or_hex, PublicKey* key);
bool VerifySignature(const PublicKey& key, std::string_view message, const Signature& signature);

// The signed statements (docs/audit.md §3): plain text, one item per line, each line ending in "\n".
std::string CheckpointStatement(uint64_t tree_size, const Hash& root);
std::string KeyRotationStatement(uint64_t tree_size, const Hash& root, const PublicKey& old_key,
                                 const PublicKey& new_key);

// The events the ledger records itself, at the position right after `tree_size` (the store's writer calls
// these; id "checkpoint-<tree_size>" / "key-rotation-<tree_size>", actor "di-ledger", effective date the
// UTC day of `recorded_at_micros`).
NewEvent BuildCheckpointEvent(const SigningKey& key, uint64_t tree_size, const Hash& root, int64_t recorded_at_micros);
NewEvent BuildKeyRotationEvent(const SigningKey& old_key, const SigningKey& new_key, uint64_t tree_size,
                               const Hash& root, int64_t recorded_at_micros);

bool IsLedgerRecordedType(schema::Event::Payload::Which type);

// A signed tree head as stated by a `checkpoint_signed` or `signing_key_rotated` event.
struct SignedTreeHead {
  uint64_t tree_size = 0;
  Hash root{};
  PublicKey key{};           // checkpoint: its key; rotation: the new key
  PublicKey previous_key{};  // rotation: the old key
  bool rotation = false;
};
// Decodes and checks an audit event on its own: hex formats, key ids match their keys, signatures valid
// for the keys the event names. Says nothing about whether those keys are trusted, nor whether the root
// matches the log (the caller knows the log). Returns "" or the problem.
std::string CheckAuditEvent(schema::Event::Reader event, SignedTreeHead* head);

// The chain of signing keys along a log, fed in log order. Any key of a valid chain anchors all of it.
class SigningKeyChain {
 public:
  // `head` from CheckAuditEvent. Returns "" or the problem (a checkpoint by a key that is not the current
  // one, a rotation away from a key that is not the current one).
  std::string Add(const SignedTreeHead& head);
  bool Contains(const PublicKey& key) const;
  const std::vector<PublicKey>& keys() const { return keys_; }

 private:
  std::vector<PublicKey> keys_;  // in order of use; the last is current
};

// Re-encodes one exported JSON line (docs/events.md §1.1 recorded form) into the canonical RecordedEvent
// bytes the ledger hashed: the leaf data of its Merkle leaf and the input of its chain hash.
// `stated_hash` receives the line's "hash" (zero if absent).
Status RecordedEventFromJson(const nlohmann::json& line, std::string* canonical_bytes, uint64_t* position,
                             Hash* stated_hash);

// Offline verification of an export from position 1 (docs/audit.md §5).
struct ExportVerifyReport {
  uint64_t events = 0;
  uint64_t checkpoints = 0;
  uint64_t rotations = 0;
  uint64_t last_signed_tree_size = 0;  // events after it are chained but not yet signed
  Hash head_hash{};
  Hash root{};                         // Merkle root over every event of the export
  std::vector<std::string> key_ids;    // the chain of keys, oldest first
  // 0 if everything verified; else the first position (or line, for a line that is not an event) that did
  // not, with the reason.
  uint64_t first_bad_position = 0;
  std::string problem;
};
// Status is not ok only for I/O errors; a verification failure is reported in `report`.
Status VerifyExport(std::istream& input, const PublicKey& trusted_key, ExportVerifyReport* report);

// Proofs (docs/audit.md §6): self-contained JSON documents an auditor checks with CheckProof.
// Inclusion of one event in the checkpoint at `checkpoint_position` (0: the latest checkpoint).
Status BuildInclusionProof(EventStore& store, const std::string& event_id, uint64_t checkpoint_position,
                           nlohmann::ordered_json* proof);
// The checkpoint at `first_position` is a prefix of the one at `second_position` (0: the latest).
Status BuildConsistencyProof(EventStore& store, uint64_t first_position, uint64_t second_position,
                             nlohmann::ordered_json* proof);

struct ProofCheckReport {
  std::string kind;     // "inclusion" or "consistency"
  std::string summary;  // what was proven, in one line
  std::string problem;  // "" if the proof holds
};
// Status is not ok only when `proof` is not a proof document at all (kInvalidArgument).
Status CheckProof(const nlohmann::json& proof, const PublicKey& trusted_key, ProofCheckReport* report);

}  // namespace di::ledger

#endif  // DI_LEDGER_AUDIT_H_
