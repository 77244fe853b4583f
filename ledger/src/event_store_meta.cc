// RocksEventStore (event_store_impl.h): the meta family and what is built on it. The encodings of the head,
// the counters, the Merkle nodes and a log value; loading them at open (with the pair assertions between the
// head, the log and the frontier); Merkle roots and proofs; checkpoints and key rotations; backup.
#include <cstring>

#include "backup_internal.h"
#include "di/ledger/backup.h"
#include "di/ledger/invariant.h"
#include "event_store_impl.h"
#include "keys.h"

namespace di::ledger {
namespace {

// meta "head": position(8) || hash(32) || recorded_at_micros(8).
constexpr size_t kHeadValueSize = 8 + 32 + 8;

}  // namespace

// Decodes a `log` value. Returns false if it is too short or not word-aligned in length.
bool DecodeLogValue(uint64_t position, std::string_view value, StoredEvent* event) {
  if (value.size() < 32 + 8 || (value.size() - 32) % 8 != 0) return false;
  event->position = position;
  std::memcpy(event->hash.data(), value.data(), 32);
  event->body = CanonicalMessage<schema::RecordedEvent>(CopyToWords(value.substr(32)));
  return true;
}

// Read-back pair assertion: the stored body is canonical Cap'n Proto and states the position it is
// stored under. Returns a description of the problem, or "" if the event is sound.
std::string CheckStoredEvent(const StoredEvent& event) {
  if (!event.body.IsWellFormedCanonical()) return "the stored event is not a well-formed canonical message";
  try {
    const uint64_t stated = event.reader().getPosition();
    if (stated != event.position) return "the event says position " + std::to_string(stated);
  } catch (const kj::Exception& exception) {
    return std::string("undecodable: ") + exception.getDescription().cStr();
  }
  return "";
}

std::string EncodeHead(const LogHead& head) {
  std::string value;
  keys::AppendBigEndian64(&value, head.position);
  value.append(reinterpret_cast<const char*>(head.hash.data()), head.hash.size());
  keys::AppendBigEndian64(&value, static_cast<uint64_t>(head.recorded_at_micros));
  return value;
}

bool DecodeHead(std::string_view value, LogHead* head) {
  if (value.size() != kHeadValueSize) return false;
  head->position = keys::ReadBigEndian64(value);
  std::memcpy(head->hash.data(), value.data() + 8, 32);
  head->recorded_at_micros = static_cast<int64_t>(keys::ReadBigEndian64(value.substr(40)));
  return true;
}

std::string Counters::Encode() const {
  std::string value;
  keys::AppendBigEndian64(&value, streams);
  for (uint64_t count : by_type) keys::AppendBigEndian64(&value, count);
  return value;
}

bool Counters::Decode(std::string_view value) {
  if (value.size() != 8 * (1 + kMaxEventTypes)) return false;
  streams = keys::ReadBigEndian64(value);
  for (size_t i = 0; i < kMaxEventTypes; ++i) by_type[i] = keys::ReadBigEndian64(value.substr(8 + 8 * i));
  return true;
}

std::string MerkleNodeKey(uint32_t level, uint64_t index) {
  std::string key = kMerkleNodePrefix;
  key += static_cast<char>(level);
  keys::AppendBigEndian64(&key, index);
  return key;
}

rocksdb::Slice HashBytes(const Hash& hash) {
  return rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size());
}

rocksdb::WriteOptions RocksEventStore::SyncedWrite() const {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  return write_options;
}

Status RocksEventStore::LoadMeta() {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, keys::kFormatKey, &value);
  std::unique_ptr<rocksdb::Iterator> log_it(db_->NewIterator(rocksdb::ReadOptions(), log_));
  log_it->SeekToLast();
  if (status.IsNotFound()) {
    if (log_it->Valid()) return Status::Corruption("store holds events but no format marker");
    if (options_.read_only) return Status::Ok();  // an empty store; the first read-write open marks it
    return FromRocks(db_->Put(SyncedWrite(), meta_, keys::kFormatKey, keys::kFormatValue), "write format");
  }
  if (!status.ok()) return FromRocks(status, "read format");
  if (value != keys::kFormatValue) return Status::Corruption("unknown store format '" + value + "'");

  status = db_->Get(rocksdb::ReadOptions(), meta_, keys::kHeadKey, &value);
  if (status.ok()) {
    if (!DecodeHead(value, &head_)) return Status::Corruption("undecodable head record");
  } else if (!status.IsNotFound()) {
    return FromRocks(status, "read head");
  }
  // Pair assertion: the head and the log's last key are written in one atomic batch.
  const uint64_t last_key = log_it->Valid() ? keys::ReadBigEndian64(log_it->key().ToStringView()) : 0;
  if (last_key != head_.position) {
    return Status::Corruption("head says position " + std::to_string(head_.position) + " but the log ends at " +
                              std::to_string(last_key));
  }
  status = db_->Get(rocksdb::ReadOptions(), meta_, kCountersKey, &value);
  if (status.ok()) {
    if (!counters_.Decode(value)) return Status::Corruption("undecodable counters");
  } else if (!status.IsNotFound()) {  // absent: an empty store (the first group writes them)
    return FromRocks(status, "read counters");
  }

  status = db_->Get(rocksdb::ReadOptions(), meta_, kSigningKeyKey, &value);
  if (status.ok()) {
    if (value.size() != signing_key_.size()) return Status::Corruption("undecodable signing key record");
    std::memcpy(signing_key_.data(), value.data(), value.size());
    has_signing_key_ = true;
  } else if (!status.IsNotFound()) {
    return FromRocks(status, "read signing key");
  }
  status = db_->Get(rocksdb::ReadOptions(), meta_, kMerkleKey, &value);
  if (status.IsNotFound()) return RebuildMerkleState();
  if (!status.ok()) return FromRocks(status, "read Merkle frontier");
  if (!frontier_.Decode(value)) return Status::Corruption("undecodable Merkle frontier");
  // Pair assertion: the frontier is written in the same batch as the head.
  if (frontier_.size() != head_.position) {
    return Status::Corruption("the Merkle frontier covers " + std::to_string(frontier_.size()) +
                              " events but the head is at " + std::to_string(head_.position));
  }
  return Status::Ok();
}

// A store written before the Merkle tree existed: hash the whole log once, store frontier and nodes.
Status RocksEventStore::RebuildMerkleState() {
  rocksdb::WriteBatch batch;
  MerkleFrontier frontier;
  Status status = ReadLog(1, 0, [&](const StoredEvent& event) {
    frontier.Append(MerkleLeafHash(event.body.bytes()), [&](uint32_t level, uint64_t index, const Hash& hash) {
      if (level >= kStoredMerkleLevel) batch.Put(meta_, MerkleNodeKey(level, index), HashBytes(hash));
    });
    return true;
  });
  if (!status.ok()) return status;
  if (frontier.size() != head_.position) {
    return Status::Corruption("the log holds " + std::to_string(frontier.size()) + " events but the head is at " +
                              std::to_string(head_.position));
  }
  batch.Put(meta_, kMerkleKey, frontier.Encode());
  // Read-only: kept in memory for this open; the next read-write open stores it.
  if (!options_.read_only) status = FromRocks(db_->Write(SyncedWrite(), &batch), "write Merkle state");
  if (status.ok()) frontier_ = std::move(frontier);
  return status;
}

Status RocksEventStore::AppendCheckpoint(const SigningKey& key, CheckpointResult* result) {
  if (key.empty()) return Status::InvalidArgument("no signing key", "key");
  return AppendAuditEvent(  // the call waits for the writer, so `key` outlives the builder
      [&key](uint64_t tree_size, const Hash& root, int64_t recorded_at) {
        return BuildCheckpointEvent(key, tree_size, root, recorded_at);
      },
      result);
}

Status RocksEventStore::RotateSigningKey(const SigningKey& current_key, const SigningKey& new_key,
                                         CheckpointResult* result) {
  if (current_key.empty() || new_key.empty()) return Status::InvalidArgument("no signing key", "key");
  if (current_key.public_key() == new_key.public_key()) {
    return Status::InvalidArgument("the new key is the current key", "new_key");
  }
  return AppendAuditEvent(
      [&](uint64_t tree_size, const Hash& root, int64_t recorded_at) {
        return BuildKeyRotationEvent(current_key, new_key, tree_size, root, recorded_at);
      },
      result);
}

Status RocksEventStore::GetMerkleRoot(uint64_t tree_size, Hash* root) {
  {
    std::lock_guard<std::mutex> lock(head_mutex_);
    if (tree_size > head_.position) return BeyondHead(tree_size);
    if (tree_size == frontier_.size()) {
      *root = frontier_.Root();
      return Status::Ok();
    }
  }
  return MerkleRoot(tree_size, SubtreeSource(), root);
}

Status RocksEventStore::GetInclusionProof(uint64_t leaf_index, uint64_t tree_size, std::vector<Hash>* proof) {
  if (tree_size > Head().position) return BeyondHead(tree_size);
  return MerkleInclusionProof(leaf_index, tree_size, SubtreeSource(), proof);
}

Status RocksEventStore::GetConsistencyProof(uint64_t first_size, uint64_t second_size, std::vector<Hash>* proof) {
  if (second_size > Head().position) return BeyondHead(second_size);
  return MerkleConsistencyProof(first_size, second_size, SubtreeSource(), proof);
}

Status RocksEventStore::BeyondHead(uint64_t tree_size) {
  return Status::InvalidArgument("tree size " + std::to_string(tree_size) + " is beyond the head of the log",
                                 "tree_size");
}

// Perfect subtree hashes for proofs: stored from kStoredMerkleLevel up, rehashed from the log below.
SubtreeHashSource RocksEventStore::SubtreeSource() {
  return [this](uint32_t level, uint64_t index, Hash* hash) -> Status {
    if (level >= kStoredMerkleLevel) {
      std::string value;
      rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, MerkleNodeKey(level, index), &value);
      if (!status.ok() || value.size() != hash->size()) {
        return Status::Corruption("Merkle node " + std::to_string(level) + "/" + std::to_string(index) +
                                  " is missing: " + status.ToString());
      }
      std::memcpy(hash->data(), value.data(), hash->size());
      return Status::Ok();
    }
    const uint64_t count = uint64_t{1} << level;
    MerkleFrontier subtree;
    Status status = ReadLog((index << level) + 1, count, [&](const StoredEvent& event) {
      subtree.Append(MerkleLeafHash(event.body.bytes()));
      return true;
    });
    if (!status.ok()) return status;
    if (subtree.size() != count) {
      return Status::Corruption("the log has a hole under Merkle subtree " + std::to_string(index));
    }
    *hash = subtree.Root();
    return Status::Ok();
  };
}

Status RocksEventStore::CreateBackup(const std::string& backup_dir, BackupResult* result) {
  *result = BackupResult{};
  result->head_before = Head();
  Status status = internal::BackupOpenDb(db_.get(), backup_dir, result);
  result->head_after = Head();
  return status;
}

}  // namespace di::ledger
