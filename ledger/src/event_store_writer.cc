// RocksEventStore (event_store_impl.h): the write path. Append queues a batch; one writer thread takes every
// queued batch into a group, checks each batch against committed state plus the batches accepted before it
// (ProcessBatch), writes the whole group in one synced RocksDB write (ProcessGroup: one fsync per group), and
// only then acknowledges.
#include <capnp/message.h>

#include <algorithm>
#include <optional>

#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "di/ledger/sha256.h"
#include "event_store_impl.h"
#include "keys.h"

namespace di::ledger {
namespace {

// Recorded times asserted by an importer (NewEvent::asserted_recorded_at_micros): the batch as submitted must
// not go back in time. Checked before the batch is queued: it needs nothing but the batch.
Status CheckAssertedTimesAlongBatch(const std::vector<NewEvent>& batch) {
  const NewEvent* previous = nullptr;
  for (const NewEvent& event : batch) {
    if (!event.asserted_recorded_at_micros) continue;
    if (previous != nullptr && *event.asserted_recorded_at_micros < *previous->asserted_recorded_at_micros) {
      return Status::InvalidArgument(FormatUtcMicros(*event.asserted_recorded_at_micros) +
                                         " is before the recorded_at of the event before it in the batch ('" +
                                         previous->id() + "', " +
                                         FormatUtcMicros(*previous->asserted_recorded_at_micros) +
                                         "): recorded times never decrease along the log",
                                     "recorded_at", event.id());
    }
    previous = &event;
  }
  return Status::Ok();
}

// The recorded time of a new event, given the recorded time of the event before it in the log (`previous`)
// and the clock of the group. Observed: the clock, but never before `previous` (a clock set back must not
// make "known at time T" and "known at position P" disagree). Asserted by an importer: taken as asserted if it
// is neither before `previous` nor after the clock (a time in the future is not yet a recorded fact), else
// refused naming the event, the field and the reason. Runs in the writer, so `previous` is the real
// predecessor: no concurrent append can slip an earlier time in between.
Status RecordedTimeOf(const NewEvent& event, const std::string& id, int64_t previous, int64_t clock,
                      int64_t* recorded_at) {
  if (!event.asserted_recorded_at_micros) {
    *recorded_at = std::max(clock, previous);
    return Status::Ok();
  }
  const int64_t asserted = *event.asserted_recorded_at_micros;
  if (asserted < previous) {
    return Status::InvalidArgument(
        FormatUtcMicros(asserted) + " is before the recorded_at of the event before it in the log (" +
            FormatUtcMicros(previous) +
            "): recorded times never decrease, so a migration appends in recording order into a store that holds "
            "nothing recorded later (create it with `di-ledger init --no-rules` or `--rules-recorded-at`)",
        "recorded_at", id);
  }
  if (asserted > clock) {
    return Status::InvalidArgument(FormatUtcMicros(asserted) + " is after the ledger's clock (" +
                                       FormatUtcMicros(clock) + "): a recorded time cannot be in the future",
                                   "recorded_at", id);
  }
  *recorded_at = asserted;
  return Status::Ok();
}

// An idempotent retry that asserts a recorded time must assert the one recorded: a different time for the same
// event is a different claim about when it was known, which the ledger cannot take silently.
Status CheckRetryRecordedTime(const NewEvent& event, const std::string& id, uint64_t position, int64_t recorded_at) {
  if (!event.asserted_recorded_at_micros || *event.asserted_recorded_at_micros == recorded_at) return Status::Ok();
  return Status::DuplicateId("event id already recorded at position " + std::to_string(position) +
                                 " with recorded_at " + FormatUtcMicros(recorded_at) + ", not " +
                                 FormatUtcMicros(*event.asserted_recorded_at_micros),
                             id);
}

// An idempotent retry is answered with the position first recorded if it is the same event: identical
// canonical bytes and, if it asserts a recorded time, the one recorded.
Status CheckRetry(const IncomingEvent& event, const EarlierRecording& earlier) {
  if (!earlier.identical) {
    return Status::DuplicateId("event id already recorded at position " + std::to_string(earlier.position) +
                                   " with different content",
                               event.id);
  }
  return CheckRetryRecordedTime(event.submitted, event.id, earlier.position, earlier.recorded_at);
}

// True if `stored` records the event whose canonical bytes are `submitted` (an idempotent retry).
bool SameEvent(const StoredEvent& stored, std::string_view submitted) {
  const kj::Array<capnp::word> original = capnp::canonicalize(stored.reader().getEvent());
  return std::string_view(reinterpret_cast<const char*>(original.begin()), original.size() * sizeof(capnp::word)) ==
         submitted;
}

// The canonical bytes of the RecordedEvent that wraps `event` at `position`: what is hashed and stored.
kj::Array<capnp::word> CanonicalRecordedEvent(const IncomingEvent& event, uint64_t position, int64_t recorded_at,
                                              const std::string& stream, uint64_t stream_version) {
  // Sized to hold the event in one segment: the default first segment is 8 KiB, zeroed by calloc for
  // every event (callgrind: EncodeEntity's builder alike went from 1.20 G to 0.55 G instructions).
  capnp::MallocMessageBuilder message(
      static_cast<unsigned>(event.submitted.event.bytes().size() / sizeof(capnp::word)) + 32);
  auto recorded = message.initRoot<schema::RecordedEvent>();
  recorded.setPosition(position);
  recorded.setRecordedAtMicros(recorded_at);
  // Only set when true: an observed event's canonical bytes (and hash) are those of the schema before the
  // flag existed.
  if (event.submitted.asserted_recorded_at_micros) recorded.setRecordedAtAsserted(true);
  recorded.setStream(stream);
  recorded.setStreamVersion(stream_version);
  recorded.setEvent(event.reader);
  return capnp::canonicalize(recorded.asReader());
}

}  // namespace

Status RocksEventStore::Append(const std::vector<NewEvent>& batch, const AppendOptions& options, AppendResult* result) {
  if (batch.empty()) return Status::InvalidArgument("a batch must hold at least one event");
  if (batch.size() > options_.max_batch_events) {
    return Status::InvalidArgument("a batch holds at most " + std::to_string(options_.max_batch_events) +
                                   " events; got " + std::to_string(batch.size()));
  }
  for (const NewEvent& event : batch) {
    if (event.event.empty()) return Status::InvalidArgument("an event of the batch is empty");
  }
  if (Status status = CheckAssertedTimesAlongBatch(batch); !status.ok()) return status;
  if (options_.read_only) return ReadOnlyRefusal();
  PendingAppend pending;
  pending.batch = &batch;
  pending.options = &options;
  pending.result = result;
  return EnqueueAndWait(pending);
}

// Queues an audit event like an append: the writer builds it at its position (tree size = position - 1).
Status RocksEventStore::AppendAuditEvent(AuditEventBuilder build, CheckpointResult* result) {
  if (options_.read_only) return ReadOnlyRefusal();  // no writer thread would take it
  static const std::vector<NewEvent> kNoEvents;
  AppendResult append_result;
  PendingAppend pending;
  pending.batch = &kNoEvents;
  pending.build_audit_event = std::move(build);
  pending.result = &append_result;
  if (Status status = EnqueueAndWait(pending); !status.ok()) return status;
  DI_ASSERT(append_result.positions.size() == 1);
  *result = CheckpointResult{};
  result->position = append_result.positions[0];
  result->tree_size = result->position - 1;
  return GetMerkleRoot(result->tree_size, &result->root);
}

// Hands `pending` to the writer and waits until it is done. A full queue answers busy at once (backpressure:
// at most max_pending_appends appenders wait, so memory stays bounded).
Status RocksEventStore::EnqueueAndWait(PendingAppend& pending) {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  if (closing_) return Status::Shutdown();
  if (queue_.size() >= options_.max_pending_appends) {
    return Status::Busy("too many appends waiting (" + std::to_string(queue_.size()) + "); retry");
  }
  queue_.push_back(&pending);
  queue_cv_.notify_all();
  done_cv_.wait(lock, [&] { return pending.done; });
  return pending.status;
}

Status RocksEventStore::ReadOnlyRefusal() {
  return Status::InvalidArgument("the store was opened read-only: nothing can be appended", "read_only");
}

void RocksEventStore::WriterLoop() {
  for (;;) {
    std::vector<PendingAppend*> group;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and everything acknowledged
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front()->batch->size() <= options_.max_group_events)) {
        events += queue_.front()->batch->size();
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    ProcessGroup(group);
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      for (PendingAppend* pending : group) pending->done = true;
    }
    done_cv_.notify_all();
  }
}

// Lookup through: the batch's own changes, then the group's, then RocksDB.
class RocksEventStore::LayeredLookup final : public EntityLookup {
 public:
  LayeredLookup(RocksEventStore* store, const GroupState& group,
                const std::unordered_map<std::string, EntityState>& batch)
      : store_(store), group_(group), batch_(batch) {}
  bool Find(EntityKind kind, const std::string& id, EntityState* state) override {
    const std::string key = keys::EntityKey(static_cast<uint8_t>(kind), id);
    if (auto it = batch_.find(key); it != batch_.end()) {
      *state = it->second;
      return true;
    }
    if (auto it = group_.entities.find(key); it != group_.entities.end()) {
      *state = it->second;
      return true;
    }
    // Durable, but its entity record may not be written yet (the indexer's).
    if (const EntityState* unindexed = store_->FindUnindexedEntity(key); unindexed != nullptr) {
      *state = *unindexed;
      return true;
    }
    // The writer's cache of durable entity records (only the writer thread touches it).
    if (auto it = store_->entity_cache_.find(key); it != store_->entity_cache_.end()) {
      *state = it->second;
      return true;
    }
    if (store_->SurelyNotStored(key)) return false;
    std::string value;
    rocksdb::Status status = store_->db_->Get(rocksdb::ReadOptions(), store_->entity_, key, &value);
    // A read error is reported as "not found": the batch then fails validation, which is safe.
    if (!status.ok() || !DecodeEntity(value, state)) return false;
    store_->CacheEntity(key, *state);
    return true;
  }

 private:
  RocksEventStore* store_;
  const GroupState& group_;
  const std::unordered_map<std::string, EntityState>& batch_;
};

void RocksEventStore::CacheEntity(const std::string& key, EntityState entity) {
  if (entity_cache_.size() >= kMaxCachedEntities) entity_cache_.clear();
  entity_cache_[key] = std::move(entity);
}

Status RocksEventStore::LookupStreamVersion(const GroupState& group, const BatchState& batch,
                                            const std::string& stream, uint64_t* version) {
  if (auto it = batch.stream_versions.find(stream); it != batch.stream_versions.end()) {
    *version = it->second;
    return Status::Ok();
  }
  if (auto it = group.stream_versions.find(stream); it != group.stream_versions.end()) {
    *version = it->second;
    return Status::Ok();
  }
  if (FindUnindexedStreamVersion(stream, version)) return Status::Ok();
  if (auto it = stream_version_cache_.find(stream); it != stream_version_cache_.end()) {
    *version = it->second;
    return Status::Ok();
  }
  return ReadStreamVersion(stream, version);
}

// -------------------------------------------------------------------------------------------------
// One batch: each event passes the steps below in order, against committed state plus the group's accepted
// batches plus this batch's earlier events. The first refusal fails the whole batch.
// -------------------------------------------------------------------------------------------------

BatchState::BatchState(const GroupState& group)
    : position(group.next_position),
      previous_hash(group.previous_hash),
      last_recorded_at(group.last_recorded_at),
      counters(group.counters),
      frontier(group.frontier),
      signing_key(group.signing_key),
      has_signing_key(group.has_signing_key) {}

// Validates one batch and, if it is accepted, adds it to `group` and `write_batch`.
// `audit_event`: the batch is one audit event built by the writer (the only way such events get in).
Status RocksEventStore::ProcessBatch(const std::vector<NewEvent>& batch, GroupState& group,
                                     rocksdb::WriteBatch& write_batch, AppendResult* result, bool audit_event,
                                     const AdmissionCheck* admit) {
  BatchState state(group);
  state.positions.reserve(batch.size());
  LayeredLookup lookup(this, group, state.entities);
  ValidatedEvent validated;
  for (const NewEvent& new_event : batch) {
    const schema::Event::Reader reader = new_event.reader();
    const IncomingEvent event{new_event, reader, reader.getId().cStr()};
    // 0. Admission, on the state this event is appended to (a retry too: it must not tell an outsider what was
    // recorded).
    if (admit != nullptr && *admit) {
      if (Status admitted = AdmitEvent(*admit, reader, lookup); !admitted.ok()) return admitted;
    }
    // 1. Idempotency: the same id again.
    EarlierRecording earlier;
    if (Status status = FindEarlierRecording(event, group, state, &earlier); !status.ok()) return status;
    if (earlier.position != 0) {
      if (Status status = CheckRetry(event, earlier); !status.ok()) return status;
      state.positions.push_back(earlier.position);
      continue;
    }
    // Dense positions: this event lands right after the group's and this batch's earlier new events.
    DI_ASSERT(state.position == group.next_position + state.new_ids.size());
    DI_ASSERT(state.frontier.size() == state.position - 1);
    // 2. Audit events: only the writer's own, signed with the ledger's key.
    if (Status status = CheckLedgerRecordedEvent(event, audit_event, state); !status.ok()) return status;
    // 3. Validation against the reference index.
    if (Status status = ValidateEvent(event.reader, state.position, lookup, &validated); !status.ok()) return status;
    // 4. Optimistic concurrency.
    uint64_t stream_version = 0;
    if (Status status = NextStreamVersion(event, validated.stream, group, state, &stream_version); !status.ok()) {
      return status;
    }
    // 5. Record: position, time, stream, chained hash, indexes.
    if (Status status = RecordEvent(event, stream_version, group.clock, validated, state, write_batch); !status.ok()) {
      return status;
    }
  }
  FoldBatchIntoGroup(state, group, result);
  return Status::Ok();
}

// Where `id` was appended before, if it was: earlier in this batch, earlier in the group, or durably.
Status RocksEventStore::FindEarlierRecording(const IncomingEvent& event, const GroupState& group,
                                             const BatchState& batch, EarlierRecording* earlier) {
  const std::string& id = event.id;
  const std::string_view bytes = event.submitted.event.bytes();
  const NewId* new_id = nullptr;
  if (auto it = batch.new_ids.find(id); it != batch.new_ids.end()) {
    new_id = &it->second;
  } else if (auto it = group.new_ids.find(id); it != group.new_ids.end()) {
    new_id = &it->second;
  } else {
    new_id = FindUnindexedId(id);
  }
  StoredEvent stored;
  if (new_id != nullptr) {
    earlier->position = new_id->position;
    earlier->recorded_at = new_id->recorded_at;
    // The writer's own bytes of a moment ago: they decode.
    const bool decoded = DecodeLogValue(new_id->position, new_id->log_value, &stored);
    DI_ASSERT(decoded);
    earlier->identical = SameEvent(stored, bytes);
    return Status::Ok();
  }
  if (SurelyNotStored(id)) return Status::Ok();
  std::string value;
  const rocksdb::Status looked_up = db_->Get(rocksdb::ReadOptions(), event_id_, id, &value);
  if (looked_up.IsNotFound()) return Status::Ok();
  if (!looked_up.ok()) return FromRocks(looked_up, "read event id");
  earlier->position = keys::ReadBigEndian64(value);
  if (Status read = ReadPosition(earlier->position, &stored); !read.ok()) return read;
  earlier->identical = SameEvent(stored, bytes);
  earlier->recorded_at = stored.reader().getRecordedAtMicros();
  return Status::Ok();
}

// An event type only the ledger records (checkpoints, key rotations) is accepted only from the writer itself
// (`audit_event`), and must keep the chain of signing keys: the first sets the key, a rotation names the
// current one, a checkpoint is signed with it.
Status RocksEventStore::CheckLedgerRecordedEvent(const IncomingEvent& event, bool audit_event, BatchState& batch) {
  const schema::Event::Reader reader = event.reader;
  const std::string& id = event.id;
  if (!IsLedgerRecordedType(reader.getPayload().which())) return Status::Ok();
  if (!audit_event) {
    return Status::InvalidArgument("'" + std::string(EventTypeName(reader.getPayload().which())) +
                                       "' events are recorded by the ledger itself (di-ledger audit checkpoint)",
                                   "type", id);
  }
  SignedTreeHead head;
  const std::string problem = CheckAuditEvent(reader, &head);
  // Pair assertion: the writer built and signed this event over its own frontier a moment ago.
  DI_ASSERT(problem.empty());
  DI_ASSERT(head.tree_size == batch.frontier.size() && head.root == batch.frontier.Root());
  if (head.rotation) {
    if (!batch.has_signing_key) {
      return Status::InvalidArgument("the ledger has no signing key yet: its first checkpoint sets one", "key", id);
    }
    if (head.previous_key != batch.signing_key) {
      return Status::InvalidArgument("key " + KeyIdOf(head.previous_key) + " is not the ledger's signing key " +
                                         KeyIdOf(batch.signing_key),
                                     "key", id);
    }
  } else if (batch.has_signing_key && head.key != batch.signing_key) {
    return Status::InvalidArgument("key " + KeyIdOf(head.key) + " is not the ledger's signing key " +
                                       KeyIdOf(batch.signing_key) + " (rotate with `di-ledger audit rotate-key`)",
                                   "key", id);
  }
  batch.signing_key = head.key;
  batch.has_signing_key = true;
  return Status::Ok();
}

// The version the event gets in its stream, after the expected version (if the event states one) is checked.
// A stream's first event counts a new stream.
Status RocksEventStore::NextStreamVersion(const IncomingEvent& event, const std::string& stream,
                                          const GroupState& group, BatchState& batch, uint64_t* next_version) {
  uint64_t stream_version = 0;
  if (Status status = LookupStreamVersion(group, batch, stream, &stream_version); !status.ok()) return status;
  const std::optional<uint64_t>& expected = event.submitted.expected_version;
  if (expected && *expected != stream_version) {
    return Status::Conflict("stream '" + stream + "' is at version " + std::to_string(stream_version) +
                                ", expected " + std::to_string(*expected),
                            event.id);
  }
  if (stream_version == 0) ++batch.counters.streams;
  *next_version = stream_version + 1;
  return Status::Ok();
}

// Records the event at the batch's next position: its recorded time, the RecordedEvent chained to the one
// before it, the Merkle leaf, the indexes and the reference-index changes validation produced.
Status RocksEventStore::RecordEvent(const IncomingEvent& event, uint64_t stream_version, int64_t clock,
                                    ValidatedEvent& validated, BatchState& batch, rocksdb::WriteBatch& write_batch) {
  int64_t recorded_at = 0;
  if (Status status = RecordedTimeOf(event.submitted, event.id, batch.last_recorded_at, clock, &recorded_at);
      !status.ok()) {
    return status;
  }
  const schema::Event::Reader reader = event.reader;
  const std::string& id = event.id;
  const uint64_t position = batch.position;
  const kj::Array<capnp::word> body_words =
      CanonicalRecordedEvent(event, position, recorded_at, validated.stream, stream_version);
  const std::string_view body(reinterpret_cast<const char*>(body_words.begin()),
                              body_words.size() * sizeof(capnp::word));
  const Hash hash = ChainHash(batch.previous_hash, body);
  std::string log_value(reinterpret_cast<const char*>(hash.data()), hash.size());
  log_value.append(body);

  write_batch.Put(log_, keys::PositionKey(position), log_value);
  batch.frontier.Append(MerkleLeafHash(body), [&](uint32_t level, uint64_t index, const Hash& node) {
    if (level >= kStoredMerkleLevel) write_batch.Put(meta_, MerkleNodeKey(level, index), HashBytes(node));
  });
  // The indexes and entity records follow behind the log (the indexer, event_store_indexer.cc).
  batch.log_values.push_back(std::move(log_value));
  const auto type = static_cast<uint16_t>(reader.getPayload().which());
  for (EntityUpdate& update : validated.updates) {
    batch.entities[keys::EntityKey(static_cast<uint8_t>(update.kind), update.id)] = std::move(update.state);
  }
  batch.new_ids.emplace(id, NewId{position, batch.log_values.back(), recorded_at});
  batch.last_recorded_at = recorded_at;
  batch.stream_versions[validated.stream] = stream_version;
  if (type < kMaxEventTypes) ++batch.counters.by_type[type];
  batch.positions.push_back(position);
  batch.previous_hash = hash;
  ++batch.position;
  return Status::Ok();
}

// Accepted: the batch's changes become the group's.
void RocksEventStore::FoldBatchIntoGroup(BatchState& batch, GroupState& group, AppendResult* result) {
  for (auto& [key, state] : batch.entities) group.entities[key] = std::move(state);
  for (auto& [id, entry] : batch.new_ids) group.new_ids.emplace(id, std::move(entry));
  for (auto& [stream, version] : batch.stream_versions) group.stream_versions[stream] = version;
  for (std::string& value : batch.log_values) group.log_values.push_back(std::move(value));
  group.counters = batch.counters;
  group.last_recorded_at = batch.last_recorded_at;
  group.frontier = std::move(batch.frontier);
  if (batch.has_signing_key && (!group.has_signing_key || batch.signing_key != group.signing_key)) {
    group.signing_key_changed = true;
  }
  group.signing_key = batch.signing_key;
  group.has_signing_key = batch.has_signing_key;
  result->appended = batch.position - group.next_position;
  group.next_position = batch.position;
  group.previous_hash = batch.previous_hash;
  result->positions = std::move(batch.positions);
}

// Builds the audit event for the tree as it stands at this point of the group, then records it.
Status RocksEventStore::ProcessAuditEvent(const AuditEventBuilder& build, GroupState& state,
                                          rocksdb::WriteBatch& write_batch, AppendResult* result) {
  std::vector<NewEvent> batch;
  batch.push_back(build(state.next_position - 1, state.frontier.Root(), state.ObservedRecordedAt()));
  return ProcessBatch(batch, state, write_batch, result, /*audit_event=*/true);
}

// -------------------------------------------------------------------------------------------------
// One group: gather the batches, add an automatic checkpoint, write once, then publish.
// -------------------------------------------------------------------------------------------------

void RocksEventStore::ProcessGroup(const std::vector<PendingAppend*>& group) {
  if (Status room = WaitForIndexer(); !room.ok()) {
    for (PendingAppend* pending : group) {
      pending->status = room;
      *pending->result = AppendResult{};
    }
    return;
  }
  LogHead head;
  GroupState state = StartGroup(&head);
  rocksdb::WriteBatch write_batch;
  const std::vector<PendingAppend*> accepted = GatherBatches(group, state, write_batch);
  AddAutomaticCheckpoint(head, state, write_batch);
  if (state.next_position == head.position + 1) {
    // Nothing new (all rejected, or pure idempotent retries): no write, no sync.
    for (PendingAppend* pending : accepted) pending->result->last_position = head.position;
    return;
  }
  const LogHead new_head = PutGroupState(head, state, write_batch);
  // Indexed in its own write only when no earlier group waits for the indexer: the `indexed` marker never goes
  // back, and a crash replays from a marker whose entity records are exactly those of its position.
  const bool index_in_group =
      state.log_values.size() <= options_.index_in_group_max_events && unindexed_.empty();
  if (index_in_group) {
    PutIndexes(head.position + 1, state.log_values, state.entities, write_batch);
    write_batch.Put(meta_, kIndexedKey, keys::PositionKey(new_head.position));
  }
  if (Status written = WriteGroup(write_batch); !written.ok()) {
    // Nothing of the group is acknowledged and memory state is unchanged: the next group starts again from
    // the durable head.
    for (PendingAppend* pending : accepted) {
      pending->status = written;
      *pending->result = AppendResult{};
    }
    return;
  }
  if (options_.after_durable_write_for_testing) options_.after_durable_write_for_testing();
  PublishGroup(new_head, state, index_in_group);
  for (PendingAppend* pending : accepted) pending->result->last_position = new_head.position;
}

// The group starts from the committed head (returned in `head`) and what is published with it.
GroupState RocksEventStore::StartGroup(LogHead* head) {
  GroupState state;
  {
    std::lock_guard<std::mutex> lock(head_mutex_);
    *head = head_;
    state.counters = counters_;
    state.frontier = frontier_;
    state.signing_key = signing_key_;
    state.has_signing_key = has_signing_key_;
  }
  state.next_position = head->position + 1;
  state.previous_hash = head->hash;
  // Recorded time never decreases, so "known at time T" and "known at position P" agree (RecordedTimeOf).
  state.clock = options_.clock_micros();
  state.last_recorded_at = head->recorded_at_micros;
  return state;
}

// Each batch in turn, each behind a save point: a rejected batch leaves no trace and the others proceed.
// Returns the accepted ones.
std::vector<PendingAppend*> RocksEventStore::GatherBatches(const std::vector<PendingAppend*>& group,
                                                            GroupState& state, rocksdb::WriteBatch& write_batch) {
  std::vector<PendingAppend*> accepted;
  for (PendingAppend* pending : group) {
    *pending->result = AppendResult{};
    write_batch.SetSavePoint();
    pending->status = pending->build_audit_event
                          ? ProcessAuditEvent(pending->build_audit_event, state, write_batch, pending->result)
                          : ProcessBatch(*pending->batch, state, write_batch, pending->result,
                                         /*audit_event=*/false, &pending->options->admit);
    if (pending->status.ok()) {
      write_batch.PopSavePoint();
      accepted.push_back(pending);
    } else {
      write_batch.RollbackToSavePoint();  // the rejected batch leaves no trace
    }
  }
  return accepted;
}

void RocksEventStore::AddAutomaticCheckpoint(const LogHead& head, GroupState& state,
                                             rocksdb::WriteBatch& write_batch) {
  const uint64_t every = options_.checkpoint_every;
  const uint64_t last = state.next_position - 1;
  if (every == 0 || last <= head.position || last / every <= head.position / every) return;
  // Crossed a multiple of checkpoint_every: a checkpoint over the whole group, in the same write. Open
  // checked the key, so this fails only on an id clash ("checkpoint-<n>" taken by a client): skipped.
  AppendResult ignored;
  const SigningKey& key = *options_.checkpoint_key;
  write_batch.SetSavePoint();
  const Status status = ProcessAuditEvent(
      [&key](uint64_t tree_size, const Hash& root, int64_t recorded_at) {
        return BuildCheckpointEvent(key, tree_size, root, recorded_at);
      },
      state, write_batch, &ignored);
  if (status.ok()) {
    write_batch.PopSavePoint();
  } else {
    write_batch.RollbackToSavePoint();
  }
}

// Adds what the group changed besides its events (head, counters, Merkle frontier, signing key; the entity
// records are the indexer's) to `write_batch`, all in the same atomic write. Returns the new head.
LogHead RocksEventStore::PutGroupState(const LogHead& head, const GroupState& state,
                                       rocksdb::WriteBatch& write_batch) {
  LogHead new_head{state.next_position - 1, state.previous_hash, state.last_recorded_at};
  DI_ASSERT(new_head.position > head.position);
  DI_ASSERT(new_head.recorded_at_micros >= head.recorded_at_micros);
  write_batch.Put(meta_, keys::kHeadKey, EncodeHead(new_head));
  write_batch.Put(meta_, kCountersKey, state.counters.Encode());
  DI_ASSERT(state.frontier.size() == new_head.position);
  write_batch.Put(meta_, kMerkleKey, state.frontier.Encode());
  if (state.signing_key_changed) {
    write_batch.Put(meta_, kSigningKeyKey,
                    rocksdb::Slice(reinterpret_cast<const char*>(state.signing_key.data()), state.signing_key.size()));
  }
  return new_head;
}

// The group's one synced write. After a failed write (a full disk, an fsync error) RocksDB refuses writes until
// Resume(), which flushes the memtables — holding only acknowledged writes — so the write-ahead log that may
// hold the failed group's record is never replayed. Until Resume() succeeds (the operator freed space) every
// group fails with the reason, and nothing is written.
Status RocksEventStore::WriteGroup(rocksdb::WriteBatch& write_batch) {
  if (write_failed_) {
    // A full disk is recoverable: Resume()'s flush fails again while the disk is full and succeeds once
    // space is freed. A failed fsync is not: the kernel may have dropped the dirty pages, so only reopening
    // the store (replaying what is really on disk) re-establishes the truth — the PostgreSQL lesson of 2018
    // ("fsyncgate"); RocksDB reports it as a fatal error, which Resume() refuses.
    const rocksdb::Status resumed = db_->Resume();
    if (!resumed.ok()) {
      const bool no_space = write_failed_no_space_ || resumed.IsNoSpace();
      return Status::IOError(
          "the store cannot write since a failed write (" + write_failure_ + "); " +
          (no_space ? "it takes appends again once disk space is freed (resume: "
                    : "reopen the store (restart the server) to recover; nothing acknowledged is lost (resume: ") +
          resumed.ToString() + ")");
    }
    write_failed_ = false;
  }
  const rocksdb::Status written = db_->Write(SyncedWrite(), &write_batch);
  if (written.ok()) return Status::Ok();
  write_failed_ = true;
  write_failed_no_space_ = written.IsNoSpace();
  write_failure_ = written.ToString();
  return FromRocks(written, "append");
}

// Only now durable: the writer's caches and the published head take the group's state.
void RocksEventStore::PublishGroup(const LogHead& new_head, GroupState& state, bool indexed) {
  // Bounded: past the limit the cache starts over (a miss costs one RocksDB seek, not correctness).
  if (stream_version_cache_.size() + state.stream_versions.size() > kMaxCachedStreams) stream_version_cache_.clear();
  for (const auto& [stream, version] : state.stream_versions) stream_version_cache_[stream] = version;
  // Cached records the group changed take their new state. New records (a delivery, a claim) are not cached:
  // most are never read again, and they would push out the grants, persons and providers that every delivery
  // reads.
  for (const auto& [key, entity] : state.entities) {
    if (auto it = entity_cache_.find(key); it != entity_cache_.end()) it->second = entity;
  }
  for (const auto& [id, recorded] : state.new_ids) id_filter_->Add(id);
  for (const auto& [key, entity] : state.entities) id_filter_->Add(key);
  // Before the head moves: a read that sees the new head finds its indexes there (IndexViewForRead).
  if (indexed) indexed_position_.store(new_head.position);
  const uint64_t first_position = new_head.position - state.log_values.size() + 1;
  {
    std::lock_guard<std::mutex> lock(head_mutex_);
    DI_ASSERT(new_head.position > head_.position);
    DI_ASSERT(first_position == head_.position + 1);
    head_ = new_head;
    counters_ = state.counters;
    frontier_ = std::move(state.frontier);
    signing_key_ = state.signing_key;
    has_signing_key_ = state.has_signing_key;
  }
  if (indexed) return;
  auto committed = std::make_shared<CommittedGroup>();
  committed->first_position = first_position;
  committed->last_position = new_head.position;
  committed->log_values = std::move(state.log_values);
  committed->entities = std::move(state.entities);
  committed->new_ids = std::move(state.new_ids);
  committed->stream_versions = std::move(state.stream_versions);
  HandToIndexer(std::move(committed));
}

}  // namespace di::ledger
