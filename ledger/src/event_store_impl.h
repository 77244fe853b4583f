// RocksEventStore: the RocksDB implementation of EventStore (event_store.h), declared here so that a reader
// sees the parts of the engine before any loop. The definitions are split by concern:
//   event_store_open.cc    Open, RocksDB options and column families, closing
//   event_store_meta.cc    the meta family (head, counters, Merkle frontier and nodes, signing key): encodings,
//                          loading at open, Merkle roots and proofs, checkpoints, backup
//   event_store_writer.cc  Append, the writer thread, group commit
//   event_store_read.cc    reads, Verify, GetStats
//
// Write path (one thread, so positions and the hash chain are assigned sequentially without locks):
//   Append() enqueues the batch and waits. The writer thread takes every queued batch (up to
//   max_group_events), validates each batch on its own against committed state plus the batches
//   accepted before it in the group, builds ONE rocksdb::WriteBatch for all accepted batches, writes it
//   with sync=true (one fsync for the whole group), and only then acknowledges. A failed batch leaves no
//   trace; a failed write fails every batch of the group and leaves memory state untouched.
// Read path: plain RocksDB reads; they never block appends.
// Indexes: the log, the head, the counters and the Merkle state are the group's synchronous write. The derived
// indexes (event id, stream, type, effective date) and the entity records are written behind it by the indexer
// thread (event_store_indexer.cc), one unsynced write per committed group ending in the meta "indexed" marker;
// a crash may lose the tail of those writes, never the log, and the next read-write open rebuilds them from the
// log after the marker before it takes appends. Until a group is indexed the writer validates against it in
// memory (`unindexed_`), so nothing it decides depends on an index that lags; a read that uses an index waits
// until the indexes reach the head it started at, or, when it cannot (a failed index write, a read-only open
// after a crash), reads the events past them from the log (IndexViewForRead).
// Audit: the writer also extends the Merkle frontier (merkle.h) with every event and persists it, and the
// hashes of perfect subtrees of 2^8 leaves and more, in the same WriteBatch; audit events (checkpoints,
// key rotations) are built and signed by the writer at their position, never accepted from clients.
//
// Threads: the writer thread alone touches the members marked "writer thread only"; head_mutex_ guards the
// committed head and what is published with it; queue_mutex_ guards the queue.
#ifndef DI_LEDGER_EVENT_STORE_IMPL_H_
#define DI_LEDGER_EVENT_STORE_IMPL_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "di/ledger/audit.h"
#include "di/ledger/event_store.h"
#include "di/ledger/merkle.h"
#include "di/ledger/rocksdb_status.h"
#include "id_filter.h"
#include "validator.h"

namespace di::ledger {

// Event types the counters record have an ordinal below this (the schema has 41; room to grow). Part of the
// on-disk format: the meta "counters" value holds this many counts.
inline constexpr size_t kMaxEventTypes = 64;
// Stream versions the writer keeps in memory (about 100 bytes each).
inline constexpr size_t kMaxCachedStreams = 1 << 20;
// Entity records the writer keeps in memory: ~500k records, ~100 MB at most.
inline constexpr size_t kMaxCachedEntities = 1 << 19;
// Subtrees below this level are rehashed from the log when a proof needs them: at most 2 * 256 leaves per
// proof, against 64 bytes of storage per event if every node were kept.
inline constexpr uint32_t kStoredMerkleLevel = 8;
// Events appended but not yet indexed before the writer waits for the indexer (backpressure): what the writer
// holds in memory for them is ~1 KB each, so ~64 MB at most.
inline constexpr uint64_t kMaxUnindexedEvents = 1 << 16;
// Events per write when the indexes catch up with the log at open.
inline constexpr uint64_t kCatchUpChunkEvents = 4096;

// Keys of the meta family besides keys::kHeadKey and keys::kFormatKey:
// meta "counters"                     -> Counters::Encode()
// meta "merkle"                       -> MerkleFrontier::Encode() of the tree of positions 1..head
// meta "merkle-node/" level(1) index(8) -> hash of the perfect subtree [index * 2^level, (index+1) * 2^level)
//                                          for level >= kStoredMerkleLevel (about n/128 records)
// meta "signing_key"                  -> the ledger's current Ed25519 public key (32 bytes)
inline constexpr char kCountersKey[] = "counters";
inline constexpr char kMerkleKey[] = "merkle";
inline constexpr char kMerkleNodePrefix[] = "merkle-node/";
inline constexpr char kSigningKeyKey[] = "signing_key";
// meta "indexed" -> position(8): the derived indexes and entity records hold every event up to it. Absent in a
// store written before the indexer existed (its indexes were written with the log): open sets it to the head.
inline constexpr char kIndexedKey[] = "indexed";

// Counters kept in meta so `stats` needs no scan: events per type and number of streams.
struct Counters {
  std::array<uint64_t, kMaxEventTypes> by_type{};
  uint64_t streams = 0;

  std::string Encode() const;
  bool Decode(std::string_view value);
};

// Encodings (event_store_meta.cc). FromRocks, RocksDB's status as ours: di/ledger/rocksdb_status.h.
// Decodes a `log` value. Returns false if it is too short or not word-aligned in length.
bool DecodeLogValue(uint64_t position, std::string_view value, StoredEvent* event);
// Read-back pair assertion: the stored body is canonical Cap'n Proto and states the position it is
// stored under. Returns a description of the problem, or "" if the event is sound.
std::string CheckStoredEvent(const StoredEvent& event);
std::string EncodeHead(const LogHead& head);
bool DecodeHead(std::string_view value, LogHead* head);
std::string MerkleNodeKey(uint32_t level, uint64_t index);
rocksdb::Slice HashBytes(const Hash& hash);

// Builds an audit event for the tree of `tree_size` events with root `root`, recorded at `recorded_at`.
using AuditEventBuilder = std::function<NewEvent(uint64_t tree_size, const Hash& root, int64_t recorded_at)>;

// One Append (or audit event) waiting for the writer; lives on the appender's stack until `done`.
struct PendingAppend {
  const std::vector<NewEvent>* batch = nullptr;  // empty for an audit event
  const AppendOptions* options = nullptr;         // null for an audit event
  AuditEventBuilder build_audit_event;            // set for an audit event
  AppendResult* result = nullptr;
  Status status;
  bool done = false;
};

// An event appended earlier in the group, or in a group not yet indexed: what an idempotent retry of it is
// compared with. `log_value` views the event's `log` value, held by the batch, group or committed group whose
// `log_values` also hold this NewId (moving a std::string keeps its heap buffer, so the view stays valid).
struct NewId {
  uint64_t position = 0;
  std::string_view log_value;  // hash || canonical RecordedEvent
  int64_t recorded_at = 0;
};

// What a committed group hands to the indexer, and what the writer validates against until it is indexed.
// Immutable once published, so the writer and the indexer read it without a lock.
struct CommittedGroup {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  std::vector<std::string> log_values;                     // of first_position.. in order, as written to `log`
  std::unordered_map<std::string, EntityState> entities;   // key: keys::EntityKey; state after the group
  std::unordered_map<std::string, NewId> new_ids;
  std::unordered_map<std::string, uint64_t> stream_versions;
};

// The column families the indexer writes besides `entity` and `meta`.
struct IndexFamilies {
  rocksdb::ColumnFamilyHandle* event_id;
  rocksdb::ColumnFamilyHandle* stream;
  rocksdb::ColumnFamilyHandle* type;
  rocksdb::ColumnFamilyHandle* effective;
};

// What a read that uses an index reads: the index entries of positions up to `indexed`, then the events of
// `tail` (positions indexed+1.., read from the log) that match. In the normal case the read waited for the
// indexer instead: `indexed` is then UINT64_MAX and `tail` is empty.
struct IndexView {
  uint64_t indexed = UINT64_MAX;
  std::vector<StoredEvent> tail;
};
// Which events of a view's tail a read takes.
using TailMatch = std::function<bool(const StoredEvent&)>;

// State of a group being built: what the accepted batches so far have changed.
struct GroupState {
  uint64_t next_position = 0;
  Hash previous_hash{};
  int64_t clock = 0;               // the store's clock, read once for the group
  int64_t last_recorded_at = 0;    // of the last event so far (the head's before the first)
  // What an event observed now is recorded at: all the group's observed events share it unless an asserted
  // (migrated) event comes between them.
  int64_t ObservedRecordedAt() const { return std::max(clock, last_recorded_at); }
  std::unordered_map<std::string, EntityState> entities;  // key: keys::EntityKey
  std::unordered_map<std::string, NewId> new_ids;
  std::unordered_map<std::string, uint64_t> stream_versions;
  std::vector<std::string> log_values;  // of the group's new events, in position order
  Counters counters;
  MerkleFrontier frontier;
  PublicKey signing_key{};
  bool has_signing_key = false;
  bool signing_key_changed = false;
};

// State of one batch being checked: what its events so far would change, kept apart from the group until the
// whole batch is accepted (FoldBatchIntoGroup), so a refused batch leaves no trace.
struct BatchState {
  explicit BatchState(const GroupState& group);
  uint64_t position;  // of the batch's next new event
  Hash previous_hash;
  int64_t last_recorded_at;
  std::unordered_map<std::string, EntityState> entities;  // key: keys::EntityKey
  std::unordered_map<std::string, NewId> new_ids;
  std::unordered_map<std::string, uint64_t> stream_versions;
  std::vector<std::string> log_values;  // of the batch's new events, in position order
  Counters counters;
  MerkleFrontier frontier;
  PublicKey signing_key;
  bool has_signing_key;
  std::vector<uint64_t> positions;  // of every event of the batch, retries included (AppendResult::positions)
};

// One event of a batch as the writer's steps see it.
struct IncomingEvent {
  const NewEvent& submitted;
  schema::Event::Reader reader;
  std::string id;
};

// Where an event id was recorded before (position 0: never), and whether with the same canonical bytes.
struct EarlierRecording {
  uint64_t position = 0;
  int64_t recorded_at = 0;
  bool identical = false;
};

class RocksEventStore final : public EventStore {
 public:
  RocksEventStore(const EventStoreOptions& options, std::string path);
  ~RocksEventStore() override;

  // Opens RocksDB, loads the meta records and starts the writer thread (unless read-only).
  Status Init();

  // EventStore (event_store.h says what each promises).
  using EventStore::Append;
  Status Append(const std::vector<NewEvent>& batch, const AppendOptions& options, AppendResult* result) override;
  Status ReadLog(uint64_t from_position, uint64_t max_events, const EventVisitor& visit) override;
  Status ReadStream(const std::string& stream, uint64_t from_version, uint64_t max_events,
                    const EventVisitor& visit) override;
  Status ReadByType(EventType type, uint64_t from_position, uint64_t max_events, const EventVisitor& visit) override;
  Status ReadByEffectiveDate(int32_t from_date, int32_t to_date, uint64_t max_events,
                             const EventVisitor& visit) override;
  Status ReadStreamPositions(const std::string& stream, uint64_t from_version, const PositionVisitor& visit) override;
  Status ReadTypePositions(EventType type, uint64_t from_position, const PositionVisitor& visit) override;
  Status ReadPositions(std::span<const uint64_t> positions, std::vector<StoredEvent>* events) override;
  Status GetByEventId(const std::string& event_id, StoredEvent* event) override;
  Status GetStreamVersion(const std::string& stream, uint64_t* version) override;
  LogHead Head() const override;
  Status Verify(VerifyReport* report) override;
  Status GetStats(StoreStats* stats) override;
  Status AppendCheckpoint(const SigningKey& key, CheckpointResult* result) override;
  Status RotateSigningKey(const SigningKey& current_key, const SigningKey& new_key, CheckpointResult* result) override;
  Status GetMerkleRoot(uint64_t tree_size, Hash* root) override;
  Status GetInclusionProof(uint64_t leaf_index, uint64_t tree_size, std::vector<Hash>* proof) override;
  Status GetConsistencyProof(uint64_t first_size, uint64_t second_size, std::vector<Hash>* proof) override;
  Status CreateBackup(const std::string& backup_dir, BackupResult* result) override;

 private:
  class LayeredLookup;  // event_store_writer.cc

  // Meta and audit (event_store_meta.cc).
  Status LoadMeta();
  Status RebuildMerkleState();
  static Status BeyondHead(uint64_t tree_size);
  // Perfect subtree hashes for proofs: stored from kStoredMerkleLevel up, rehashed from the log below.
  SubtreeHashSource SubtreeSource();
  rocksdb::WriteOptions SyncedWrite() const;

  // Reads (event_store_read.cc).
  Status ReadPosition(uint64_t position, StoredEvent* event);
  static Status DecodeLookedUp(uint64_t position, const rocksdb::Status& looked_up, std::string_view value,
                               StoredEvent* event);
  // The positions an index holds from `start` within `prefix` (through `view`: those up to view.indexed, then
  // the tail's events that `tail_match` takes), and the events at them.
  Status ReadIndex(rocksdb::ColumnFamilyHandle* family, const std::string& start, const std::string& prefix,
                   uint64_t max_events, bool position_in_value, const IndexView& view, const TailMatch& tail_match,
                   const EventVisitor& visit);
  Status ReadIndexPositions(rocksdb::ColumnFamilyHandle* family, const std::string& start, const std::string& prefix,
                            bool position_in_value, const IndexView& view, const TailMatch& tail_match,
                            const PositionVisitor& visit);
  Status ReadStreamVersion(const std::string& stream, uint64_t* version);

  // Writer (event_store_writer.cc).
  static Status ReadOnlyRefusal();
  // Queues an audit event like an append: the writer builds it at its position (tree size = position - 1).
  Status AppendAuditEvent(AuditEventBuilder build, CheckpointResult* result);
  Status EnqueueAndWait(PendingAppend& pending);
  void WriterLoop();
  // A group: every batch the writer took at once, written with one fsync.
  void ProcessGroup(const std::vector<PendingAppend*>& group);
  GroupState StartGroup(LogHead* head);
  std::vector<PendingAppend*> GatherBatches(const std::vector<PendingAppend*>& group, GroupState& state,
                                            rocksdb::WriteBatch& write_batch);
  void AddAutomaticCheckpoint(const LogHead& head, GroupState& state, rocksdb::WriteBatch& write_batch);
  LogHead PutGroupState(const LogHead& head, const GroupState& state, rocksdb::WriteBatch& write_batch);
  Status WriteGroup(rocksdb::WriteBatch& write_batch);
  // `indexed`: the group's write held its indexes too; else it goes to the indexer.
  void PublishGroup(const LogHead& new_head, GroupState& state, bool indexed);
  // A batch of the group, and the steps each of its events passes, in this order.
  // `admit`: the batch's admission check (AppendOptions::admit), null or empty: none.
  Status ProcessBatch(const std::vector<NewEvent>& batch, GroupState& group, rocksdb::WriteBatch& write_batch,
                      AppendResult* result, bool audit_event = false, const AdmissionCheck* admit = nullptr);
  Status ProcessAuditEvent(const AuditEventBuilder& build, GroupState& state, rocksdb::WriteBatch& write_batch,
                           AppendResult* result);
  Status FindEarlierRecording(const IncomingEvent& event, const GroupState& group, const BatchState& batch,
                              EarlierRecording* earlier);
  Status CheckLedgerRecordedEvent(const IncomingEvent& event, bool audit_event, BatchState& batch);
  Status NextStreamVersion(const IncomingEvent& event, const std::string& stream, const GroupState& group,
                           BatchState& batch, uint64_t* next_version);
  Status RecordEvent(const IncomingEvent& event, uint64_t stream_version, int64_t clock, ValidatedEvent& validated,
                     BatchState& batch, rocksdb::WriteBatch& write_batch);
  static void FoldBatchIntoGroup(BatchState& batch, GroupState& group, AppendResult* result);
  // Lookups through the batch's changes, the group's, the unindexed groups', the writer's caches, then RocksDB.
  Status LookupStreamVersion(const GroupState& group, const BatchState& batch, const std::string& stream,
                             uint64_t* version);
  void CacheEntity(const std::string& key, EntityState entity);

  // Indexes (event_store_indexer.cc).
  // At a read-write open, before the writer starts: rebuilds from the log the indexes of the events after the
  // meta "indexed" marker (a crash lost their unsynced index write). Loads the marker in any open.
  Status CatchUpIndexes();
  Status LoadIndexedPosition(bool* present, uint64_t* position);
  // For a read that uses an index: waits until the indexes hold every event up to the head as of the call. If
  // they cannot get there (a failed index write; a read-only open of a store whose indexes a crash cut short),
  // `view` gets the events past them from the log instead (at most ~kMaxUnindexedEvents).
  Status IndexViewForRead(IndexView* view);
  void IndexerLoop();
  Status IndexGroups(const std::vector<std::shared_ptr<const CommittedGroup>>& groups);
  // The index keys of the events in `log_values` (positions first_position..) and the entity records, into
  // `batch`: the indexer's write, or a small group's own (EventStoreOptions::index_in_group_max_events).
  void PutIndexes(uint64_t first_position, const std::vector<std::string>& log_values,
                  const std::unordered_map<std::string, EntityState>& entities, rocksdb::WriteBatch& batch);
  // Writer thread: hands a durable group to the indexer and keeps it for validation until it is indexed.
  void HandToIndexer(std::shared_ptr<const CommittedGroup> group);
  // Writer thread: forgets indexed groups, then waits while more than kMaxUnindexedEvents are not indexed.
  Status WaitForIndexer();
  void StopIndexer();
  // The id filter (id_filter.h): loads every event id and entity key the store holds at open; stops early when
  // the store closes. Writer thread: true if `key` (an event id or keys::EntityKey) is surely not in RocksDB.
  void LoadIdFilter();
  bool SurelyNotStored(std::string_view key) const {
    return id_filter_loaded_.load(std::memory_order_acquire) && !id_filter_->MayContain(key);
  }
  // Writer thread: the newest state of an entity, an event id, a stream in the unindexed groups (null/false if
  // none of them has it).
  const EntityState* FindUnindexedEntity(const std::string& key) const;
  const NewId* FindUnindexedId(const std::string& id) const;
  bool FindUnindexedStreamVersion(const std::string& stream, uint64_t* version) const;

  EventStoreOptions options_;
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_id_ = nullptr;
  rocksdb::ColumnFamilyHandle* stream_ = nullptr;
  rocksdb::ColumnFamilyHandle* type_ = nullptr;
  rocksdb::ColumnFamilyHandle* effective_ = nullptr;
  rocksdb::ColumnFamilyHandle* entity_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable done_cv_;
  std::deque<PendingAppend*> queue_;
  bool closing_ = false;
  std::thread writer_;
  // Writer thread only: a write failed and RocksDB must Resume() before the next one.
  bool write_failed_ = false;
  bool write_failed_no_space_ = false;  // ... because the disk was full
  std::string write_failure_;

  mutable std::mutex head_mutex_;
  LogHead head_;
  Counters counters_;
  MerkleFrontier frontier_;   // of positions 1..head_
  PublicKey signing_key_{};   // the ledger's current signing key, if has_signing_key_
  bool has_signing_key_ = false;
  // Writer thread only.
  std::unordered_map<std::string, uint64_t> stream_version_cache_;
  // Entity records validation has read, as durably written, keyed like the entity family. Validation reads
  // 2-3 of them per event (the grant of a delivery, its provider...); from memory that is ~0.1 us instead of a
  // RocksDB point lookup (~1.5 us, a memtable skiplist search). Filled on read, kept current on write.
  // Bounded: past the limit it starts over (a miss costs one RocksDB read, not correctness).
  std::unordered_map<std::string, EntityState> entity_cache_;

  // The indexer. index_mutex_ guards the queue, the failure and the flags; indexed_position_ is also read
  // without it (a read's fast path).
  std::thread indexer_;
  std::mutex index_mutex_;
  std::condition_variable index_work_cv_;  // the indexer waits here for groups
  std::condition_variable indexed_cv_;     // readers and the writer wait here for indexed_position_
  std::deque<std::shared_ptr<const CommittedGroup>> index_queue_;
  bool index_closing_ = false;
  bool index_stalled_ = false;   // the last index write failed; the next group handed over retries it
  std::string index_failure_;    // why, while stalled
  std::atomic<uint64_t> indexed_position_{0};
  // The id filter: created at a read-write open, loaded by id_filter_loader_ (or by Open itself, see
  // EventStoreOptions::wait_for_id_filter); the writer adds every committed group's ids and entity keys.
  std::unique_ptr<IdFilter> id_filter_;
  std::atomic<bool> id_filter_loaded_{false};
  std::atomic<bool> stop_id_filter_loader_{false};
  std::thread id_filter_loader_;
  // Writer thread only: durable groups not yet known to be indexed, oldest first, and how many events they hold.
  std::deque<std::shared_ptr<const CommittedGroup>> unindexed_;
  uint64_t unindexed_events_ = 0;
};

}  // namespace di::ledger

#endif  // DI_LEDGER_EVENT_STORE_IMPL_H_
