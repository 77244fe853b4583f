// Proof documents (docs/audit.md §6): built from a store, checked with nothing but a public key.
//
// A proof carries the exported JSON of everything it speaks about (the event, the checkpoints, the key
// rotations), so the checker re-encodes each into the exact bytes the ledger hashed and signed: it never
// trusts a hash it did not compute.
#include <algorithm>

#include "di/ledger/audit.h"
#include "di/ledger/catalog.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/ledger/merkle.h"

namespace di::ledger {
namespace {

constexpr char kInclusionFormat[] = "di-ledger-inclusion-proof/1";
constexpr char kConsistencyFormat[] = "di-ledger-consistency-proof/1";
// Bounds on outside input: a proof path has at most 64 hashes; a log has few key rotations.
constexpr size_t kMaxPathLength = 64;
constexpr size_t kMaxRotations = 1000;

using OrderedJson = nlohmann::ordered_json;

Status ReadPosition(EventStore& store, uint64_t position, StoredEvent* event) {
  bool found = false;
  Status status = store.ReadLog(position, 1, [&](const StoredEvent& stored) {
    found = stored.position == position;
    if (found) {
      event->position = stored.position;
      event->hash = stored.hash;
      event->body = CanonicalMessage<schema::RecordedEvent>(CopyToWords(stored.body.bytes()));
    }
    return false;
  });
  if (!status.ok()) return status;
  if (!found) return Status::NotFound("no event at position " + std::to_string(position));
  return Status::Ok();
}

// The checkpoint at `position`, or the latest one when 0.
Status FindCheckpoint(EventStore& store, uint64_t position, StoredEvent* checkpoint) {
  if (position == 0) {
    Status status = store.ReadByType(schema::Event::Payload::CHECKPOINT_SIGNED, 1, 0, [&](const StoredEvent& event) {
      position = event.position;
      return true;
    });
    if (!status.ok()) return status;
    if (position == 0) return Status::NotFound("the ledger has no checkpoint yet (run `di-ledger audit checkpoint`)");
  }
  Status status = ReadPosition(store, position, checkpoint);
  if (!status.ok()) return status;
  if (checkpoint->reader().getEvent().getPayload().which() != schema::Event::Payload::CHECKPOINT_SIGNED) {
    return Status::InvalidArgument("the event at position " + std::to_string(position) + " is not a checkpoint_signed",
                                   "checkpoint");
  }
  return Status::Ok();
}

OrderedJson HashList(const std::vector<Hash>& hashes) {
  OrderedJson list = OrderedJson::array();
  for (const Hash& hash : hashes) list.push_back(HashToHex(hash));
  return list;
}

OrderedJson Rotations(EventStore& store, Status* status) {
  OrderedJson rotations = OrderedJson::array();
  *status = store.ReadByType(schema::Event::Payload::SIGNING_KEY_ROTATED, 1, kMaxRotations, [&](const StoredEvent& event) {
    rotations.push_back(StoredEventToJson(event));
    return true;
  });
  return rotations;
}

// ---- Checking ------------------------------------------------------------------------------------------

struct DecodedEvent {
  std::string bytes;
  uint64_t position = 0;
  std::string id;
};

Status Decode(const nlohmann::json& json, const std::string& what, DecodedEvent* out) {
  Hash ignored;
  Status status = RecordedEventFromJson(json, &out->bytes, &out->position, &ignored);
  if (!status.ok()) return Status::InvalidArgument(what + ": " + status.ToString(), what);
  out->id = json["id"].get<std::string>();
  return Status::Ok();
}

Status DecodeAudit(const nlohmann::json& json, const std::string& what, DecodedEvent* out, SignedTreeHead* head,
                   std::string* problem) {
  Status status = Decode(json, what, out);
  if (!status.ok()) return status;
  CanonicalMessage<schema::RecordedEvent> message(CopyToWords(out->bytes));
  *problem = CheckAuditEvent(message.reader().getEvent(), head);
  if (problem->empty() && head->tree_size + 1 != out->position) {
    *problem = "it covers " + std::to_string(head->tree_size) + " events but stands at position " +
               std::to_string(out->position);
  }
  if (!problem->empty()) *problem = what + " (position " + std::to_string(out->position) + "): " + *problem;
  return Status::Ok();
}

Status ParsePath(const nlohmann::json& proof, const char* key, std::vector<Hash>* path) {
  auto it = proof.find(key);
  if (it == proof.end() || !it->is_array() || it->size() > kMaxPathLength) {
    return Status::InvalidArgument("must be an array of at most " + std::to_string(kMaxPathLength) + " hashes", key);
  }
  path->clear();
  for (const auto& element : *it) {
    Hash hash;
    if (!element.is_string() || !ParseHashHex(element.get<std::string>(), &hash)) {
      return Status::InvalidArgument("every element must be 64 lowercase hex chars", key);
    }
    path->push_back(hash);
  }
  return Status::Ok();
}

// The sizes a proof states for its reader (leaf_index, tree_size, ...) must be the ones its embedded events
// give: whoever reads them from the file must not be shown other numbers than the ones proven. "" or the problem.
std::string CheckStatedSize(const nlohmann::json& proof, const char* key, uint64_t derived) {
  auto it = proof.find(key);
  if (it == proof.end() || (it->is_number_unsigned() && it->get<uint64_t>() == derived)) return "";
  return std::string(key) + " says " + it->dump() + ", but the embedded events give " + std::to_string(derived);
}

// The signed tree heads of the proof, in log order, through one key chain; then the trusted key must be in
// it. Returns "" or the problem.
std::string CheckKeys(const nlohmann::json& proof, std::vector<std::pair<uint64_t, SignedTreeHead>> heads,
                      const PublicKey& trusted_key, Status* status) {
  auto it = proof.find("key_rotations");
  if (it != proof.end()) {
    if (!it->is_array() || it->size() > kMaxRotations) {
      *status = Status::InvalidArgument("must be an array of signing_key_rotated events", "key_rotations");
      return "";
    }
    for (const auto& rotation : *it) {
      DecodedEvent decoded;
      SignedTreeHead head;
      std::string problem;
      *status = DecodeAudit(rotation, "key_rotations", &decoded, &head, &problem);
      if (!status->ok()) return "";
      if (!problem.empty()) return problem;
      if (!head.rotation) return "key_rotations holds an event that is not a signing_key_rotated";
      heads.emplace_back(decoded.position, head);
    }
  }
  std::sort(heads.begin(), heads.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  SigningKeyChain chain;
  for (const auto& [position, head] : heads) {
    if (std::string problem = chain.Add(head); !problem.empty()) return "position " + std::to_string(position) + ": " + problem;
  }
  if (!chain.Contains(trusted_key)) {
    return "the checkpoint is signed by key " + KeyIdOf(chain.keys().back()) + ", which is not the given key " +
           KeyIdOf(trusted_key) + " nor connected to it by the key rotations in the proof";
  }
  return "";
}

Status CheckInclusion(const nlohmann::json& proof, const PublicKey& trusted_key, ProofCheckReport* report) {
  report->kind = "inclusion";
  if (!proof.contains("event") || !proof.contains("checkpoint")) {
    return Status::InvalidArgument("an inclusion proof has an event and a checkpoint");
  }
  DecodedEvent event, checkpoint;
  Status status = Decode(proof["event"], "event", &event);
  if (!status.ok()) return status;
  SignedTreeHead head;
  status = DecodeAudit(proof["checkpoint"], "checkpoint", &checkpoint, &head, &report->problem);
  if (!status.ok()) return status;
  if (!report->problem.empty()) return Status::Ok();
  if (head.rotation) return Status::InvalidArgument("the checkpoint of a proof is a checkpoint_signed", "checkpoint");
  std::vector<Hash> path;
  status = ParsePath(proof, "audit_path", &path);
  if (!status.ok()) return status;
  const uint64_t leaf_index = event.position - 1;
  report->problem = CheckStatedSize(proof, "leaf_index", leaf_index);
  if (report->problem.empty()) report->problem = CheckStatedSize(proof, "tree_size", head.tree_size);
  if (!report->problem.empty()) return Status::Ok();
  const Hash leaf = MerkleLeafHash(event.bytes);
  if (proof.contains("leaf_hash") && proof["leaf_hash"] != HashToHex(leaf)) {
    report->problem = "leaf_hash is not the hash of the event's bytes (" + HashToHex(leaf) + ")";
    return Status::Ok();
  }
  Hash root;
  if (!RootFromInclusionProof(leaf, leaf_index, head.tree_size, path, &root)) {
    report->problem = "the audit path has " + std::to_string(path.size()) + " hashes; position " +
                      std::to_string(event.position) + " in a tree of " + std::to_string(head.tree_size) +
                      " needs another number (or the event is not covered by this checkpoint)";
    return Status::Ok();
  }
  if (root != head.root) {
    report->problem = "the event and the audit path lead to root " + HashToHex(root) + ", but the checkpoint signed " +
                      HashToHex(head.root) + ": the event is not the one recorded at position " +
                      std::to_string(event.position);
    return Status::Ok();
  }
  report->problem = CheckKeys(proof, {{checkpoint.position, head}}, trusted_key, &status);
  if (!status.ok()) return status;
  report->summary = "event '" + event.id + "' at position " + std::to_string(event.position) +
                    " is included in the checkpoint at position " + std::to_string(checkpoint.position) +
                    " (tree size " + std::to_string(head.tree_size) + ", root " + HashToHex(head.root) +
                    "), signed by key " + KeyIdOf(head.key);
  return Status::Ok();
}

Status CheckConsistency(const nlohmann::json& proof, const PublicKey& trusted_key, ProofCheckReport* report) {
  report->kind = "consistency";
  if (!proof.contains("first_checkpoint") || !proof.contains("second_checkpoint")) {
    return Status::InvalidArgument("a consistency proof has a first_checkpoint and a second_checkpoint");
  }
  DecodedEvent first, second;
  SignedTreeHead first_head, second_head;
  Status status = DecodeAudit(proof["first_checkpoint"], "first_checkpoint", &first, &first_head, &report->problem);
  if (!status.ok() || !report->problem.empty()) return status;
  status = DecodeAudit(proof["second_checkpoint"], "second_checkpoint", &second, &second_head, &report->problem);
  if (!status.ok() || !report->problem.empty()) return status;
  if (first_head.rotation || second_head.rotation) {
    return Status::InvalidArgument("the checkpoints of a proof are checkpoint_signed events");
  }
  report->problem = CheckStatedSize(proof, "first_tree_size", first_head.tree_size);
  if (report->problem.empty()) report->problem = CheckStatedSize(proof, "second_tree_size", second_head.tree_size);
  if (!report->problem.empty()) return Status::Ok();
  std::vector<Hash> path;
  status = ParsePath(proof, "consistency_path", &path);
  if (!status.ok()) return status;
  if (!VerifyMerkleConsistency(first_head.tree_size, second_head.tree_size, first_head.root, second_head.root, path)) {
    report->problem = "the tree of " + std::to_string(first_head.tree_size) + " events (root " +
                      HashToHex(first_head.root) + ") is not a prefix of the tree of " +
                      std::to_string(second_head.tree_size) + " events (root " + HashToHex(second_head.root) +
                      ") by this proof: history before position " + std::to_string(first.position) +
                      " was changed, or the proof is damaged";
    return Status::Ok();
  }
  report->problem =
      CheckKeys(proof, {{first.position, first_head}, {second.position, second_head}}, trusted_key, &status);
  if (!status.ok()) return status;
  report->summary = "the checkpoint at position " + std::to_string(first.position) + " (tree size " +
                    std::to_string(first_head.tree_size) + ") is a prefix of the checkpoint at position " +
                    std::to_string(second.position) + " (tree size " + std::to_string(second_head.tree_size) +
                    "): nothing recorded before it was changed";
  return Status::Ok();
}

}  // namespace

Status BuildInclusionProof(EventStore& store, const std::string& event_id, uint64_t checkpoint_position,
                           nlohmann::ordered_json* proof) {
  StoredEvent event, checkpoint;
  Status status = store.GetByEventId(event_id, &event);
  if (!status.ok()) return status;
  status = FindCheckpoint(store, checkpoint_position, &checkpoint);
  if (!status.ok()) return status;
  const uint64_t tree_size = checkpoint.position - 1;
  if (event.position > tree_size) {
    return Status::NotFound("event '" + event_id + "' (position " + std::to_string(event.position) +
                            ") is newer than the checkpoint at position " + std::to_string(checkpoint.position) +
                            " (run `di-ledger audit checkpoint`)");
  }
  std::vector<Hash> path;
  status = store.GetInclusionProof(event.position - 1, tree_size, &path);
  if (!status.ok()) return status;
  OrderedJson result;
  result["format"] = kInclusionFormat;
  result["leaf_index"] = event.position - 1;
  result["tree_size"] = tree_size;
  result["event"] = StoredEventToJson(event);
  result["leaf_hash"] = HashToHex(MerkleLeafHash(event.body.bytes()));  // informative: the checker recomputes it
  result["audit_path"] = HashList(path);
  result["checkpoint"] = StoredEventToJson(checkpoint);
  result["key_rotations"] = Rotations(store, &status);
  if (!status.ok()) return status;
  *proof = std::move(result);
  return Status::Ok();
}

Status BuildConsistencyProof(EventStore& store, uint64_t first_position, uint64_t second_position,
                             nlohmann::ordered_json* proof) {
  StoredEvent first, second;
  Status status = FindCheckpoint(store, first_position, &first);
  if (!status.ok()) return status;
  status = FindCheckpoint(store, second_position, &second);
  if (!status.ok()) return status;
  if (first.position > second.position) {
    return Status::InvalidArgument("the first checkpoint must not be later than the second", "first_checkpoint");
  }
  std::vector<Hash> path;
  status = store.GetConsistencyProof(first.position - 1, second.position - 1, &path);
  if (!status.ok()) return status;
  OrderedJson result;
  result["format"] = kConsistencyFormat;
  result["first_tree_size"] = first.position - 1;
  result["second_tree_size"] = second.position - 1;
  result["first_checkpoint"] = StoredEventToJson(first);
  result["second_checkpoint"] = StoredEventToJson(second);
  result["consistency_path"] = HashList(path);
  result["key_rotations"] = Rotations(store, &status);
  if (!status.ok()) return status;
  *proof = std::move(result);
  return Status::Ok();
}

Status CheckProof(const nlohmann::json& proof, const PublicKey& trusted_key, ProofCheckReport* report) {
  *report = ProofCheckReport{};
  if (!proof.is_object() || !proof.contains("format") || !proof["format"].is_string()) {
    return Status::InvalidArgument("not a di-ledger proof (no \"format\")", "format");
  }
  const std::string format = proof["format"].get<std::string>();
  try {
    if (format == kInclusionFormat) return CheckInclusion(proof, trusted_key, report);
    if (format == kConsistencyFormat) return CheckConsistency(proof, trusted_key, report);
  } catch (const std::exception& exception) {  // nlohmann type errors on malformed documents
    return Status::InvalidArgument(std::string("malformed proof: ") + exception.what());
  }
  return Status::InvalidArgument("unknown proof format '" + format + "'", "format");
}

}  // namespace di::ledger
