// EventStore: the durable, append-only, tamper-evident log of di-ledger.
//
//   std::unique_ptr<EventStore> store;
//   Status s = EventStore::Open(EventStoreOptions{}, "./data", &store);
//   AppendResult result;
//   s = store->Append(batch, &result);        // atomic: all events of the batch, or none
//
// Guarantees:
//   * Append is atomic per batch, validated before anything is written (unknown references, impossible
//     dates, bad quantities... -> kInvalidArgument naming the event and the field; nothing appended).
//   * Idempotent: an event id already recorded with identical content returns its original position;
//     with different content the batch fails with kDuplicateId.
//   * Optional expected stream versions (optimistic concurrency): mismatch -> kConflict, nothing appended.
//   * Optional admission check (AppendOptions::admit, subject.h): the writer resolves each event's subject on
//     the state it is appended to and asks the check before validating the event; a refusal (kForbidden, ...)
//     fails the batch, nothing appended.
//   * Reads that use an index (streams, types, effective dates, event ids, stream versions, stats) see every event
//     up to the head as of the read: the indexes are written behind the log by an indexer thread, and such a
//     read waits for it (milliseconds); what a crash loses of them is rebuilt from the log at the next open.
//   * Durable when acknowledged: the WAL is fsynced before Append returns (options.sync). Concurrent
//     appenders are grouped into one write + one sync (group commit) by a single writer thread, which is
//     also what makes positions dense and the hash chain sequential.
//   * A write the disk refuses (full) fails the group with kIOError naming the reason ("No space left on
//     device"), and so does every later append until one finds space again: the writer resumes RocksDB
//     itself before it writes, in the same process. Reads go on meanwhile.
//   * Positions are strictly increasing from 1 with no holes; recorded times never decrease.
//   * Recorded time is the store's clock at the group commit (never before the previous event's), unless the
//     event asserts one (NewEvent::asserted_recorded_at_micros, a migration): then it is recorded as asserted,
//     flagged `recordedAtAsserted`, if it is neither before the previous event's recorded time nor after the
//     clock; otherwise kInvalidArgument on field `recorded_at`, nothing of the batch appended. The writer
//     checks it against the real predecessor, so concurrent appends cannot break the order.
//   * hash(n) = SHA-256(hash(n-1) || canonical bytes of RecordedEvent n), hash(0) = 32 zero bytes.
//   * A Merkle tree (RFC 6962, merkle.h) over the same bytes is kept current on every append; signed
//     checkpoints of its root and proofs against them are in audit.h and docs/audit.md.
//
// Thread-safe: any number of threads may Append and read concurrently.
#ifndef DI_LEDGER_EVENT_STORE_H_
#define DI_LEDGER_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "di/ledger/catalog.h"
#include "di/ledger/event.h"
#include "di/ledger/status.h"
#include "di/ledger/subject.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace di::ledger {

class SigningKey;     // audit.h
struct BackupResult;  // backup.h

struct EventStoreOptions {
  // Create the store if the directory holds none. Default: true.
  bool create_if_missing = true;
  // Open without writing anything to the directory (RocksDB's read-only mode; create_if_missing is then
  // ignored): reads see the store as it is on disk at open, and every append is refused (kInvalidArgument).
  // For commands that only read (verify, stats, export): they work on a full disk, where a read-write open
  // fails because it must write (a new write-ahead log and MANIFEST, the replayed log's table file).
  // Default: false.
  bool read_only = false;
  // Fsync the write-ahead log before acknowledging an append. Default: true. Turning it off is for
  // benchmarks that measure the cost of syncing; an unsynced append can be lost in a crash.
  bool sync = true;
  // Largest batch one Append accepts, in events. Default: 10000. Bigger batches get kInvalidArgument.
  size_t max_batch_events = 10000;
  // Largest number of events the writer groups into one RocksDB write + sync. Default: 20000.
  size_t max_group_events = 20000;
  // Appends waiting for the writer before new ones get kBusy (backpressure). Default: 4096.
  size_t max_pending_appends = 4096;
  // Source of recorded time (UTC microseconds). Default: the system clock. Tests inject a fake clock.
  std::function<int64_t()> clock_micros;
  // Fault injection for crash tests: called after the group's write is durable and before the appenders
  // are acknowledged. Default: none.
  std::function<void()> after_durable_write_for_testing;
  // A group of at most this many events, appended while the indexer has nothing left to write, carries its
  // index keys in its own synchronous write instead (a few keys beside an fsync): a lone appender of single
  // events then waits for no hand-over between threads (append_bench, batch 1, 1 writer: 73-76 % of raw RocksDB
  // against 57-65 % through the indexer; groups of 8 and 64 measured no better than the indexer). 0: every
  // group's indexes go through the indexer. Default: 1.
  size_t index_in_group_max_events = 1;
  // The writer keeps an in-memory filter of the event ids and entity keys the store holds (a few bytes per
  // event), so that a new id costs no RocksDB read. At open a background thread loads it from the store (seconds
  // at ten million events; until then every id is looked up in RocksDB). True: Open loads it before it returns.
  // Default: false.
  bool wait_for_id_filter = false;
  // Fault injection for crash tests: called by the indexer before it writes the indexes of groups that are
  // durable in the log. Default: none.
  std::function<void()> before_index_write_for_testing;
  // Fault injection for disk-fault tests: the RocksDB Env (file system) to use. Default: null, the real one.
  rocksdb::Env* env_for_testing = nullptr;
  // Automatic signed checkpoints: after a group commit that crosses a multiple of this many positions, the
  // writer appends a `checkpoint_signed` event (same group, same fsync) signed with `checkpoint_key`.
  // Default: 0, checkpoints only on demand (AppendCheckpoint). Open fails if it is set without a key or with
  // a key that is not the ledger's current signing key.
  uint64_t checkpoint_every = 0;
  std::shared_ptr<const SigningKey> checkpoint_key;
};

// A checkpoint or key rotation the ledger recorded.
struct CheckpointResult {
  uint64_t position = 0;   // of the audit event
  uint64_t tree_size = 0;  // = position - 1
  Hash root{};
};

struct AppendResult {
  // Global position of each event of the batch, in batch order (the original position for an
  // idempotent retry).
  std::vector<uint64_t> positions;
  // Number of events actually appended by this call (0 for a pure retry).
  size_t appended = 0;
  // Head of the log after the append.
  uint64_t last_position = 0;
};

// Per-append options.
struct AppendOptions {
  // Asked by the writer for every event of the batch, in order, idempotent retries included, with the event's
  // subject on the state it is appended to (subject.h). Default: none, every event is admitted.
  AdmissionCheck admit;
};

struct LogHead {
  uint64_t position = 0;  // 0: empty store
  Hash hash{};
  int64_t recorded_at_micros = 0;
};

struct VerifyReport {
  uint64_t events_checked = 0;
  // 0 if everything verified; else the first position that did not (a hole, a bad decode, a position
  // mismatch or a hash mismatch), with the reason.
  uint64_t first_bad_position = 0;
  std::string problem;
  LogHead head;
};

struct StoreStats {
  LogHead head;
  uint64_t streams = 0;
  std::vector<std::pair<EventType, uint64_t>> events_by_type;  // every type, in schema order
  int32_t first_effective_date = 0;  // kNoDate when empty
  int32_t last_effective_date = 0;
  uint64_t disk_bytes = 0;  // live SST + WAL bytes reported by RocksDB
};

// Called for each event of a read, in order; return false to stop early.
using EventVisitor = std::function<bool(const StoredEvent&)>;
// Called for each position an index holds, in order; return false to stop early.
using PositionVisitor = std::function<bool(uint64_t position)>;

class EventStore {
 public:
  static Status Open(const EventStoreOptions& options, const std::string& path,
                     std::unique_ptr<EventStore>* store);
  virtual ~EventStore() = default;

  // Appends `batch` atomically (see guarantees above). Blocks until durable or failed.
  virtual Status Append(const std::vector<NewEvent>& batch, const AppendOptions& options, AppendResult* result) = 0;
  Status Append(const std::vector<NewEvent>& batch, AppendResult* result) {
    return Append(batch, AppendOptions{}, result);
  }

  // Reads --------------------------------------------------------------------------------------------
  // The global log from `from_position` (inclusive), at most `max_events` (0 = no limit).
  virtual Status ReadLog(uint64_t from_position, uint64_t max_events, const EventVisitor& visit) = 0;
  // One stream ("person/P-0001") from `from_version` (1-based, inclusive).
  virtual Status ReadStream(const std::string& stream, uint64_t from_version, uint64_t max_events,
                            const EventVisitor& visit) = 0;
  // Events of one type, in position order, from `from_position`.
  virtual Status ReadByType(EventType type, uint64_t from_position, uint64_t max_events,
                            const EventVisitor& visit) = 0;
  // Events whose effective date lies in [from_date, to_date], ordered by (effective date, position).
  virtual Status ReadByEffectiveDate(int32_t from_date, int32_t to_date, uint64_t max_events,
                                     const EventVisitor& visit) = 0;
  virtual Status GetByEventId(const std::string& event_id, StoredEvent* event) = 0;

  // Index-only reads and batched log reads, for a reader that gathers the events of several streams (a
  // person's family, projections/person_scope.h): it walks the indexes first, then reads the log once, in
  // position order, instead of one log lookup per index entry.
  // The positions of a stream's events from `from_version`, ascending, without reading the events.
  virtual Status ReadStreamPositions(const std::string& stream, uint64_t from_version,
                                     const PositionVisitor& visit) = 0;
  // The positions of the events of one type from `from_position`, ascending, without reading the events.
  virtual Status ReadTypePositions(EventType type, uint64_t from_position, const PositionVisitor& visit) = 0;
  // Appends to `events` the events at `positions` (strictly ascending, each at most the head), checked as
  // ReadLog checks them, read in one batch (RocksDB MultiGet): positions in the same block share its read.
  virtual Status ReadPositions(std::span<const uint64_t> positions, std::vector<StoredEvent>* events) = 0;
  // Current version of a stream (0 if it does not exist).
  virtual Status GetStreamVersion(const std::string& stream, uint64_t* version) = 0;

  virtual LogHead Head() const = 0;
  // Walks the whole hash chain from position 1, recomputing the Merkle tree and checking every audit event
  // (read-only; safe while appending).
  virtual Status Verify(VerifyReport* report) = 0;
  virtual Status GetStats(StoreStats* stats) = 0;

  // Audit (audit.h, docs/audit.md) -------------------------------------------------------------------
  // Appends `checkpoint_signed` over every event before it, signed with `key`. The first checkpoint makes
  // `key` the ledger's signing key; later ones must use that key (kInvalidArgument otherwise).
  virtual Status AppendCheckpoint(const SigningKey& key, CheckpointResult* result) = 0;
  // Appends `signing_key_rotated`, signed by `current_key` (the ledger's key) and `new_key`, which signs
  // every later checkpoint.
  virtual Status RotateSigningKey(const SigningKey& current_key, const SigningKey& new_key,
                                  CheckpointResult* result) = 0;
  // Merkle root of positions 1..tree_size (tree_size <= head).
  virtual Status GetMerkleRoot(uint64_t tree_size, Hash* root) = 0;
  // RFC 6962 audit path of position leaf_index + 1 in the tree of positions 1..tree_size.
  virtual Status GetInclusionProof(uint64_t leaf_index, uint64_t tree_size, std::vector<Hash>* proof) = 0;
  // RFC 6962 consistency proof between the trees of sizes first_size <= second_size <= head.
  virtual Status GetConsistencyProof(uint64_t first_size, uint64_t second_size, std::vector<Hash>* proof) = 0;

  // Backup (backup.h) ---------------------------------------------------------------------------------
  // Online backup into the RocksDB BackupEngine directory `backup_dir` while appends and reads go on.
  virtual Status CreateBackup(const std::string& backup_dir, BackupResult* result) = 0;
};

}  // namespace di::ledger

#endif  // DI_LEDGER_EVENT_STORE_H_
