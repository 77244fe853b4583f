// RocksDB implementation of EventStore.
//
// Write path (one thread, so positions and the hash chain are assigned sequentially without locks):
//   Append() enqueues the batch and waits. The writer thread takes every queued batch (up to
//   max_group_events), validates each batch on its own against committed state plus the batches
//   accepted before it in the group, builds ONE rocksdb::WriteBatch for all accepted batches, writes it
//   with sync=true (one fsync for the whole group), and only then acknowledges. A failed batch leaves no
//   trace; a failed write fails every batch of the group and leaves memory state untouched.
// Read path: plain RocksDB reads; they never block appends.
// Audit: the writer also extends the Merkle frontier (merkle.h) with every event and persists it, and the
// hashes of perfect subtrees of 2^8 leaves and more, in the same WriteBatch; audit events (checkpoints,
// key rotations) are built and signed by the writer at their position, never accepted from clients.
#include "di/ledger/event_store.h"

#include <capnp/message.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "backup_internal.h"
#include "di/ledger/audit.h"
#include "di/ledger/backup.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "di/ledger/merkle.h"
#include "di/ledger/rocksdb_info_log.h"
#include "di/ledger/sha256.h"
#include "keys.h"
#include "validator.h"

namespace di::ledger {
namespace {

constexpr size_t kHeadValueSize = 8 + 32 + 8;
constexpr size_t kMaxEventTypes = 64;
// Stream versions the writer keeps in memory (about 100 bytes each).
constexpr size_t kMaxCachedStreams = 1 << 20;
constexpr size_t kMaxCachedEntities = 1 << 19;  // ~500k records, ~100 MB at most

// The key prefix within which a column family's keys mostly arrive in ascending order: up to and including the
// first `separator` (the whole key if there is none). RocksDB keeps one memtable insert hint per prefix, so an
// insert next to the previous one of its prefix skips most of the skiplist search (the log and the type and date
// indexes append within a prefix; a stream's versions, a kind's sequential ids too).
class PrefixUpToSeparator final : public rocksdb::SliceTransform {
 public:
  explicit PrefixUpToSeparator(char separator)
      : separator_(separator), name_(std::string("di.PrefixUpTo.") + separator) {}
  const char* Name() const override { return name_.c_str(); }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* found = std::memchr(key.data(), separator_, key.size());
    return found == nullptr ? key
                            : rocksdb::Slice(key.data(), static_cast<const char*>(found) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }

 private:
  char separator_;
  std::string name_;
};

// Turns RocksDB's automatic recovery from background errors off: the writer resumes the store itself before
// the next write (RocksEventStore::Init, ProcessGroup).
class ManualErrorRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status bg_error, bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
};

int64_t SystemClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  if (status.IsCorruption()) return Status::Corruption(std::string(what) + ": " + status.ToString());
  return Status::IOError(std::string(what) + ": " + status.ToString());
}

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

// Counters kept in meta so `stats` needs no scan: events per type and number of streams.
struct Counters {
  std::array<uint64_t, kMaxEventTypes> by_type{};
  uint64_t streams = 0;

  std::string Encode() const {
    std::string value;
    keys::AppendBigEndian64(&value, streams);
    for (uint64_t count : by_type) keys::AppendBigEndian64(&value, count);
    return value;
  }
  bool Decode(std::string_view value) {
    if (value.size() != 8 * (1 + kMaxEventTypes)) return false;
    streams = keys::ReadBigEndian64(value);
    for (size_t i = 0; i < kMaxEventTypes; ++i) by_type[i] = keys::ReadBigEndian64(value.substr(8 + 8 * i));
    return true;
  }
};

constexpr char kCountersKey[] = "counters";
// meta "merkle"                       -> MerkleFrontier::Encode() of the tree of positions 1..head
// meta "merkle-node/" level(1) index(8) -> hash of the perfect subtree [index * 2^level, (index+1) * 2^level)
//                                          for level >= kStoredMerkleLevel (about n/128 records)
// meta "signing_key"                  -> the ledger's current Ed25519 public key (32 bytes)
constexpr char kMerkleKey[] = "merkle";
constexpr char kMerkleNodePrefix[] = "merkle-node/";
constexpr char kSigningKeyKey[] = "signing_key";
// Subtrees below this level are rehashed from the log when a proof needs them: at most 2 * 256 leaves per
// proof, against 64 bytes of storage per event if every node were kept.
constexpr uint32_t kStoredMerkleLevel = 8;

std::string MerkleNodeKey(uint32_t level, uint64_t index) {
  std::string key = kMerkleNodePrefix;
  key += static_cast<char>(level);
  keys::AppendBigEndian64(&key, index);
  return key;
}

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

// Builds an audit event for the tree of `tree_size` events with root `root`, recorded at `recorded_at`.
using AuditEventBuilder = std::function<NewEvent(uint64_t tree_size, const Hash& root, int64_t recorded_at)>;

struct PendingAppend {
  const std::vector<NewEvent>* batch = nullptr;  // empty for an audit event
  const AppendOptions* options = nullptr;         // null for an audit event
  AuditEventBuilder build_audit_event;            // set for an audit event
  AppendResult* result = nullptr;
  Status status;
  bool done = false;
};

class RocksEventStore final : public EventStore {
 public:
  RocksEventStore(const EventStoreOptions& options, std::string path) : options_(options), path_(std::move(path)) {
    if (!options_.clock_micros) options_.clock_micros = SystemClockMicros;
  }

  ~RocksEventStore() override {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      closing_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    handles_.clear();
    db_.reset();
  }

  Status Init() {
    if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
    rocksdb::Options db_options;
    const bool create = options_.create_if_missing && !options_.read_only;
    db_options.create_if_missing = create;
    db_options.create_missing_column_families = create;
    db_options.paranoid_checks = true;  // refuse to open on detected corruption
    // A torn last record (a crash while writing it) was never acknowledged and is dropped; damage anywhere
    // else in the WAL is an error. kPointInTimeRecovery would silently stop at the damage and drop every
    // acknowledged batch after it (tests/storage_corruption_test.cc).
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    db_options.max_background_jobs = 2;
    if (options_.env_for_testing != nullptr) db_options.env = options_.env_for_testing;
    // After a failed write the writer calls Resume() itself before the next write (ProcessGroup), so the
    // store recovers exactly when a write is wanted and answers at once while the disk is still full.
    // RocksDB's own recoveries are off: while one runs, Resume() only answers "busy", and the one for a full
    // disk (SstFileManager) waits for as much free space as a memtable may hold (64 MiB) before it even tries,
    // so a store on a small or nearly full volume would never take appends again (issue #12). Its background
    // retries of other I/O errors are off too (max_bgerror_resume_count); ManualErrorRecovery turns off the
    // rest.
    db_options.max_bgerror_resume_count = 0;
    db_options.listeners.push_back(std::make_shared<ManualErrorRecovery>());
    db_options.keep_log_file_num = 5;
    // One writer thread writes: concurrent memtable inserts buy nothing, and insert hints (below) are only
    // honoured on the non-concurrent path.
    db_options.allow_concurrent_memtable_write = false;

    rocksdb::BlockBasedTableOptions table_options;
    table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table_options.block_cache = rocksdb::NewLRUCache(64 << 20);
    rocksdb::ColumnFamilyOptions family_options;
    family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

    if (!create && !std::filesystem::exists(std::filesystem::path(path_) / "CURRENT")) {
      return Status::NotFound("no event store at '" + path_ + "' (run `di-ledger init --data " + path_ + "`)");
    }
    if (create) {
      std::error_code error;
      std::filesystem::create_directories(path_, error);
      if (error) return Status::IOError("cannot create directory '" + path_ + "': " + error.message());
    }
    // RocksDB's own info log aborts the process once a line fails to be written on a full disk
    // (rocksdb_info_log.h); this one drops the line instead. A read-only open writes nothing, not even a log.
    if (!options_.read_only) db_options.info_log = NewDiskFullTolerantInfoLog(path_);
    const std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, keys::kLogFamily,
                                            keys::kEventIdFamily, keys::kStreamFamily, keys::kTypeFamily,
                                            keys::kEffectiveFamily, keys::kEntityFamily, keys::kMetaFamily};
    // Memtable tuning for the writer, measured with callgrind over the writer thread (50 058 events of
    // `simulate --persons 100`, batches of 1000): 11.99 G instructions without either, 10.65 G with the bloom
    // filters, 8.86 G with both (docs/performance.md).
    // - Insert hints (memtable_insert_with_hint_prefix_extractor): one hint per key prefix, see
    //   PrefixUpToSeparator. Only used on RocksDB's non-concurrent insert path, which is ours (one writer).
    // - The writer probes event_id for every new event and entity for every new record (a delivery id must be
    //   unused): keys that mostly do not exist. A whole-key bloom filter on the memtable answers "absent"
    //   without a skiplist search (SST files have their own filters, table_options above).
    auto tuned = [&](const rocksdb::SliceTransform* hint_prefix, bool bloom) {
      rocksdb::ColumnFamilyOptions options = family_options;
      options.memtable_insert_with_hint_prefix_extractor.reset(hint_prefix);
      if (bloom) {
        options.memtable_prefix_bloom_size_ratio = 0.02;
        options.memtable_whole_key_filtering = true;
      }
      return options;
    };
    // Keys: log = position; event_id = client id ("delivery:D-..."); stream = name 0x00 version; type = 2-byte
    // type + position; effective = 4-byte date + position; entity = kind byte + id.
    const std::vector<rocksdb::ColumnFamilyOptions> options_by_family = {
        family_options,                                                   // default (unused)
        tuned(rocksdb::NewFixedPrefixTransform(0), false),                // log
        tuned(new PrefixUpToSeparator(':'), true),                        // event_id
        tuned(new PrefixUpToSeparator('\0'), false),                      // stream
        tuned(rocksdb::NewFixedPrefixTransform(2), false),                // type
        tuned(rocksdb::NewFixedPrefixTransform(4), false),                // effective
        tuned(rocksdb::NewFixedPrefixTransform(1), true),                 // entity
        family_options};                                                  // meta
    DI_ASSERT(options_by_family.size() == names.size());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (size_t i = 0; i < names.size(); ++i) descriptors.emplace_back(names[i], options_by_family[i]);
    rocksdb::DB* db = nullptr;
    Status status =
        FromRocks(options_.read_only ? rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles_, &db)
                                     : rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &db),
                  "open " + path_);
    if (!status.ok()) return status;
    db_.reset(db);
    log_ = handles_[1];
    event_id_ = handles_[2];
    stream_ = handles_[3];
    type_ = handles_[4];
    effective_ = handles_[5];
    entity_ = handles_[6];
    meta_ = handles_[7];

    status = LoadMeta();
    if (!status.ok()) return status;
    if (options_.checkpoint_every > 0) {
      if (!options_.checkpoint_key) {
        return Status::InvalidArgument("checkpoint_every is set but no checkpoint_key", "checkpoint_key");
      }
      if (has_signing_key_ && options_.checkpoint_key->public_key() != signing_key_) {
        return Status::InvalidArgument("checkpoint_key " + options_.checkpoint_key->KeyId() +
                                           " is not the ledger's signing key " + KeyIdOf(signing_key_),
                                       "checkpoint_key");
      }
    }
    if (!options_.read_only) writer_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  using EventStore::Append;
  Status Append(const std::vector<NewEvent>& batch, const AppendOptions& options, AppendResult* result) override {
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

  Status ReadLog(uint64_t from_position, uint64_t max_events, const EventVisitor& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
    uint64_t count = 0;
    for (it->Seek(keys::PositionKey(std::max<uint64_t>(from_position, 1))); it->Valid(); it->Next()) {
      if (max_events != 0 && count >= max_events) break;
      StoredEvent event;
      const uint64_t position = keys::ReadBigEndian64(it->key().ToStringView());
      if (!DecodeLogValue(position, it->value().ToStringView(), &event)) {
        return Status::Corruption("undecodable event at position " + std::to_string(position));
      }
      if (std::string problem = CheckStoredEvent(event); !problem.empty()) {
        return Status::Corruption("position " + std::to_string(position) + ": " + problem);
      }
      ++count;
      if (!visit(event)) break;
    }
    return FromRocks(it->status(), "read log");
  }

  Status ReadStream(const std::string& stream, uint64_t from_version, uint64_t max_events,
                    const EventVisitor& visit) override {
    return ReadIndex(stream_, keys::StreamKey(stream, std::max<uint64_t>(from_version, 1)), keys::StreamPrefix(stream),
                     max_events, /*position_in_value=*/true, visit);
  }

  Status ReadByType(EventType type, uint64_t from_position, uint64_t max_events, const EventVisitor& visit) override {
    const std::string start = keys::TypeKey(static_cast<uint16_t>(type), from_position);
    return ReadIndex(type_, start, start.substr(0, 2), max_events, /*position_in_value=*/false, visit);
  }

  Status ReadByEffectiveDate(int32_t from_date, int32_t to_date, uint64_t max_events,
                             const EventVisitor& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), effective_));
    uint64_t count = 0;
    for (it->Seek(keys::EffectiveKey(from_date, 0)); it->Valid(); it->Next()) {
      if (max_events != 0 && count >= max_events) break;
      const std::string_view key = it->key().ToStringView();
      if (keys::EffectiveKeyDate(key) > to_date) break;
      StoredEvent event;
      Status status = ReadPosition(keys::KeyTrailingPosition(key), &event);
      if (!status.ok()) return status;
      ++count;
      if (!visit(event)) break;
    }
    return FromRocks(it->status(), "read by effective date");
  }

  Status ReadStreamPositions(const std::string& stream, uint64_t from_version, const PositionVisitor& visit) override {
    return ReadIndexPositions(stream_, keys::StreamKey(stream, std::max<uint64_t>(from_version, 1)),
                              keys::StreamPrefix(stream), /*position_in_value=*/true, visit);
  }

  Status ReadTypePositions(EventType type, uint64_t from_position, const PositionVisitor& visit) override {
    const std::string start = keys::TypeKey(static_cast<uint16_t>(type), from_position);
    return ReadIndexPositions(type_, start, start.substr(0, 2), /*position_in_value=*/false, visit);
  }

  Status ReadPositions(std::span<const uint64_t> positions, std::vector<StoredEvent>* events) override {
    // MultiGet takes a bounded number of keys well; larger requests go in slices.
    constexpr size_t kSlice = 256;
    std::vector<std::string> keys;
    std::vector<rocksdb::Slice> key_slices;
    std::vector<rocksdb::PinnableSlice> values(kSlice);
    std::vector<rocksdb::Status> statuses(kSlice);
    for (size_t begin = 0; begin < positions.size(); begin += kSlice) {
      const size_t count = std::min(kSlice, positions.size() - begin);
      keys.clear();
      key_slices.clear();
      for (size_t i = 0; i < count; ++i) {
        DI_ASSERT(begin + i == 0 || positions[begin + i - 1] < positions[begin + i]);
        keys.push_back(keys::PositionKey(positions[begin + i]));
      }
      for (const std::string& key : keys) key_slices.emplace_back(key);
      rocksdb::ReadOptions read_options;
      read_options.fill_cache = false;
      db_->MultiGet(read_options, log_, count, key_slices.data(), values.data(), statuses.data(),
                    /*sorted_input=*/true);
      for (size_t i = 0; i < count; ++i) {
        StoredEvent event;
        Status status = DecodeLookedUp(positions[begin + i], statuses[i], values[i].ToStringView(), &event);
        if (!status.ok()) return status;
        events->push_back(std::move(event));
        values[i].Reset();
      }
    }
    return Status::Ok();
  }

  Status GetByEventId(const std::string& event_id, StoredEvent* event) override {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), event_id_, event_id, &value);
    if (status.IsNotFound()) return Status::NotFound("no event with id '" + event_id + "'");
    if (!status.ok()) return FromRocks(status, "read event id");
    return ReadPosition(keys::ReadBigEndian64(value), event);
  }

  Status GetStreamVersion(const std::string& stream, uint64_t* version) override {
    return ReadStreamVersion(stream, version);
  }

  LogHead Head() const override {
    std::lock_guard<std::mutex> lock(head_mutex_);
    return head_;
  }

  Status Verify(VerifyReport* report) override {
    *report = VerifyReport{};
    // Verify up to the head as of now; later appends are not our business.
    LogHead head;
    MerkleFrontier stored_frontier;
    {
      std::lock_guard<std::mutex> lock(head_mutex_);
      head = head_;
      stored_frontier = frontier_;
    }
    report->head = head;
    Hash previous{};
    int64_t previous_recorded_at = INT64_MIN;
    MerkleFrontier frontier;  // recomputed from the log
    SigningKeyChain keys;
    uint64_t expected = 1;
    rocksdb::ReadOptions read_options;
    read_options.verify_checksums = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, log_));
    for (it->SeekToFirst(); it->Valid() && expected <= head.position; it->Next(), ++expected) {
      const uint64_t position = keys::ReadBigEndian64(it->key().ToStringView());
      auto fail = [&](uint64_t at, std::string problem) {
        report->first_bad_position = at;
        report->problem = std::move(problem);
        return Status::Ok();
      };
      if (position != expected) {
        return fail(expected, "position " + std::to_string(expected) + " is missing (next stored: " +
                                  std::to_string(position) + ")");
      }
      StoredEvent event;
      if (!DecodeLogValue(position, it->value().ToStringView(), &event)) {
        return fail(position, "stored value has an impossible size");
      }
      const Hash computed = ChainHash(previous, event.body.bytes());
      if (computed != event.hash) {
        return fail(position, "hash mismatch: stored " + HashToHex(event.hash) + ", computed " + HashToHex(computed));
      }
      if (std::string problem = CheckStoredEvent(event); !problem.empty()) return fail(position, problem);
      // The writer's promise, asserted or observed: "known at time T" and "known at position P" agree only
      // while recorded times never decrease.
      const int64_t recorded_at = event.reader().getRecordedAtMicros();
      if (recorded_at < previous_recorded_at) {
        return fail(position, "recorded_at " + FormatUtcMicros(recorded_at) + " is before the previous event's " +
                                  FormatUtcMicros(previous_recorded_at));
      }
      previous_recorded_at = recorded_at;
      if (IsLedgerRecordedType(event.reader().getEvent().getPayload().which())) {
        SignedTreeHead signed_head;
        std::string problem = CheckAuditEvent(event.reader().getEvent(), &signed_head);
        if (problem.empty() && (signed_head.tree_size != frontier.size() || signed_head.root != frontier.Root())) {
          problem = "the signed tree head is not the Merkle root of the events before it";
        }
        if (problem.empty()) problem = keys.Add(signed_head);
        if (!problem.empty()) return fail(position, "audit event: " + problem);
      }
      frontier.Append(MerkleLeafHash(event.body.bytes()));
      previous = computed;
      ++report->events_checked;
    }
    if (!it->status().ok()) {
      report->first_bad_position = expected;
      report->problem = "storage error: " + it->status().ToString();
      return Status::Ok();
    }
    if (expected <= head.position) {
      report->first_bad_position = expected;
      report->problem = "the log ends at " + std::to_string(expected - 1) + " but the head is " +
                        std::to_string(head.position);
    } else if (head.position > 0 && previous != head.hash) {
      report->first_bad_position = head.position;
      report->problem = "the chain does not end in the recorded head hash";
    } else if (!(frontier == stored_frontier)) {
      report->first_bad_position = head.position;
      report->problem = "the stored Merkle frontier is not the one of the log";
    }
    return Status::Ok();
  }

  Status GetStats(StoreStats* stats) override {
    *stats = StoreStats{};
    Counters counters;
    {
      std::lock_guard<std::mutex> lock(head_mutex_);
      stats->head = head_;
      counters = counters_;
    }
    stats->streams = counters.streams;
    for (EventType type : AllEventTypes()) {
      stats->events_by_type.emplace_back(type, counters.by_type[static_cast<size_t>(type)]);
    }
    stats->first_effective_date = kNoDate;
    stats->last_effective_date = kNoDate;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), effective_));
    it->SeekToFirst();
    if (it->Valid()) stats->first_effective_date = keys::EffectiveKeyDate(it->key().ToStringView());
    it->SeekToLast();
    if (it->Valid()) stats->last_effective_date = keys::EffectiveKeyDate(it->key().ToStringView());
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(path_, error)) {
      if (entry.is_regular_file(error)) stats->disk_bytes += entry.file_size(error);
    }
    return Status::Ok();
  }

  Status AppendCheckpoint(const SigningKey& key, CheckpointResult* result) override {
    if (key.empty()) return Status::InvalidArgument("no signing key", "key");
    return AppendAuditEvent(  // the call waits for the writer, so `key` outlives the builder
        [&key](uint64_t tree_size, const Hash& root, int64_t recorded_at) {
          return BuildCheckpointEvent(key, tree_size, root, recorded_at);
        },
        result);
  }

  Status RotateSigningKey(const SigningKey& current_key, const SigningKey& new_key, CheckpointResult* result) override {
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

  Status GetMerkleRoot(uint64_t tree_size, Hash* root) override {
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

  Status GetInclusionProof(uint64_t leaf_index, uint64_t tree_size, std::vector<Hash>* proof) override {
    if (tree_size > Head().position) return BeyondHead(tree_size);
    return MerkleInclusionProof(leaf_index, tree_size, SubtreeSource(), proof);
  }

  Status GetConsistencyProof(uint64_t first_size, uint64_t second_size, std::vector<Hash>* proof) override {
    if (second_size > Head().position) return BeyondHead(second_size);
    return MerkleConsistencyProof(first_size, second_size, SubtreeSource(), proof);
  }

  Status CreateBackup(const std::string& backup_dir, BackupResult* result) override {
    *result = BackupResult{};
    result->head_before = Head();
    Status status = internal::BackupOpenDb(db_.get(), backup_dir, result);
    result->head_after = Head();
    return status;
  }

 private:
  // -------------------------------------------------------------------------------------------------
  // Audit
  // -------------------------------------------------------------------------------------------------
  static Status BeyondHead(uint64_t tree_size) {
    return Status::InvalidArgument("tree size " + std::to_string(tree_size) + " is beyond the head of the log",
                                   "tree_size");
  }

  static Status ReadOnlyRefusal() {
    return Status::InvalidArgument("the store was opened read-only: nothing can be appended", "read_only");
  }

  // Queues an audit event like an append: the writer builds it at its position (tree size = position - 1).
  Status AppendAuditEvent(AuditEventBuilder build, CheckpointResult* result) {
    if (options_.read_only) return ReadOnlyRefusal();  // no writer thread would take it
    static const std::vector<NewEvent> kNoEvents;
    AppendResult append_result;
    PendingAppend pending;
    pending.batch = &kNoEvents;
    pending.build_audit_event = std::move(build);
    pending.result = &append_result;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      if (closing_) return Status::Shutdown();
      if (queue_.size() >= options_.max_pending_appends) return Status::Busy("too many appends waiting; retry");
      queue_.push_back(&pending);
      queue_cv_.notify_all();
      done_cv_.wait(lock, [&] { return pending.done; });
    }
    if (!pending.status.ok()) return pending.status;
    DI_ASSERT(append_result.positions.size() == 1);
    *result = CheckpointResult{};
    result->position = append_result.positions[0];
    result->tree_size = result->position - 1;
    return GetMerkleRoot(result->tree_size, &result->root);
  }

  // Perfect subtree hashes for proofs: stored from kStoredMerkleLevel up, rehashed from the log below.
  SubtreeHashSource SubtreeSource() {
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
      if (subtree.size() != count) return Status::Corruption("the log has a hole under Merkle subtree " + std::to_string(index));
      *hash = subtree.Root();
      return Status::Ok();
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------------
  Status ReadPosition(uint64_t position, StoredEvent* event) {
    std::string value;
    const rocksdb::Status looked_up = db_->Get(rocksdb::ReadOptions(), log_, keys::PositionKey(position), &value);
    return DecodeLookedUp(position, looked_up, value, event);
  }

  // A log lookup's result, decoded and checked as every read of the log checks it.
  static Status DecodeLookedUp(uint64_t position, const rocksdb::Status& looked_up, std::string_view value,
                               StoredEvent* event) {
    if (looked_up.IsNotFound()) {
      return Status::Corruption("index points at missing position " + std::to_string(position));
    }
    if (!looked_up.ok()) return FromRocks(looked_up, "read log");
    if (!DecodeLogValue(position, value, event)) {
      return Status::Corruption("undecodable event at position " + std::to_string(position));
    }
    if (std::string problem = CheckStoredEvent(*event); !problem.empty()) {
      return Status::Corruption("position " + std::to_string(position) + ": " + problem);
    }
    return Status::Ok();
  }

  // The events an index points at, one log lookup each.
  Status ReadIndex(rocksdb::ColumnFamilyHandle* family, const std::string& start, const std::string& prefix,
                   uint64_t max_events, bool position_in_value, const EventVisitor& visit) {
    uint64_t count = 0;
    Status read = Status::Ok();
    Status status = ReadIndexPositions(family, start, prefix, position_in_value, [&](uint64_t position) {
      if (max_events != 0 && count >= max_events) return false;
      StoredEvent event;
      read = ReadPosition(position, &event);
      if (!read.ok()) return false;
      ++count;
      return visit(event);
    });
    return read.ok() ? status : read;
  }

  Status ReadIndexPositions(rocksdb::ColumnFamilyHandle* family, const std::string& start, const std::string& prefix,
                            bool position_in_value, const PositionVisitor& visit) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
    for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (position_in_value && it->value().size() != 8) return Status::Corruption("stream index entry is not a position");
      const uint64_t position = position_in_value ? keys::ReadBigEndian64(it->value().ToStringView())
                                                  : keys::KeyTrailingPosition(it->key().ToStringView());
      if (!visit(position)) break;
    }
    return FromRocks(it->status(), "read index");
  }

  Status ReadStreamVersion(const std::string& stream, uint64_t* version) {
    *version = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), stream_));
    it->SeekForPrev(keys::StreamKey(stream, UINT64_MAX));
    const std::string prefix = keys::StreamPrefix(stream);
    if (it->Valid() && it->key().starts_with(prefix) && it->key().size() == prefix.size() + 8) {
      *version = keys::KeyTrailingPosition(it->key().ToStringView());
    }
    return FromRocks(it->status(), "read stream version");
  }

  Status LoadMeta() {
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
  Status RebuildMerkleState() {
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

  static rocksdb::Slice HashBytes(const Hash& hash) {
    return rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size());
  }

  rocksdb::WriteOptions SyncedWrite() const {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    return write_options;
  }

  // -------------------------------------------------------------------------------------------------
  // Writer
  // -------------------------------------------------------------------------------------------------
  void WriterLoop() {
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

  // An event appended earlier in the group: what an idempotent retry of it is compared with.
  struct NewId {
    uint64_t position = 0;
    std::string bytes;        // canonical Event
    int64_t recorded_at = 0;
  };
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
    Counters counters;
    MerkleFrontier frontier;
    PublicKey signing_key{};
    bool has_signing_key = false;
    bool signing_key_changed = false;
  };

  // Lookup through: the batch's own changes, then the group's, then RocksDB.
  class LayeredLookup final : public EntityLookup {
   public:
    LayeredLookup(RocksEventStore* store, const GroupState& group, const std::unordered_map<std::string, EntityState>& batch)
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
      // The writer's cache of durable entity records (only the writer thread touches it).
      if (auto it = store_->entity_cache_.find(key); it != store_->entity_cache_.end()) {
        *state = it->second;
        return true;
      }
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

  Status LookupStreamVersion(const GroupState& group, const std::unordered_map<std::string, uint64_t>& batch,
                             const std::string& stream, uint64_t* version) {
    if (auto it = batch.find(stream); it != batch.end()) {
      *version = it->second;
      return Status::Ok();
    }
    if (auto it = group.stream_versions.find(stream); it != group.stream_versions.end()) {
      *version = it->second;
      return Status::Ok();
    }
    if (auto it = stream_version_cache_.find(stream); it != stream_version_cache_.end()) {
      *version = it->second;
      return Status::Ok();
    }
    return ReadStreamVersion(stream, version);
  }

  // Validates one batch and, if it is accepted, adds it to `group` and `write_batch`.
  // `audit_event`: the batch is one audit event built by the writer (the only way such events get in).
  // `admit`: the batch's admission check (AppendOptions::admit), null or empty: none.
  Status ProcessBatch(const std::vector<NewEvent>& batch, GroupState& group, rocksdb::WriteBatch& write_batch,
                      AppendResult* result, bool audit_event = false, const AdmissionCheck* admit = nullptr) {
    GroupState* g = &group;
    uint64_t position = g->next_position;
    Hash previous_hash = g->previous_hash;
    std::unordered_map<std::string, EntityState> entities;
    std::unordered_map<std::string, NewId> new_ids;
    std::unordered_map<std::string, uint64_t> stream_versions;
    int64_t last_recorded_at = g->last_recorded_at;
    Counters counters = g->counters;
    MerkleFrontier frontier = g->frontier;
    PublicKey signing_key = g->signing_key;
    bool has_signing_key = g->has_signing_key;
    std::vector<uint64_t> positions;
    positions.reserve(batch.size());
    rocksdb::WriteBatch& writes = write_batch;
    LayeredLookup lookup(this, group, entities);
    ValidatedEvent validated;

    for (const NewEvent& event : batch) {
      const schema::Event::Reader reader = event.reader();
      const std::string id = reader.getId().cStr();
      const std::string_view bytes = event.event.bytes();
      // 0. Admission, on the state this event is appended to (a retry too: it must not tell an outsider what
      // was recorded).
      if (admit != nullptr && *admit) {
        if (Status admitted = AdmitEvent(*admit, reader, lookup); !admitted.ok()) return admitted;
      }
      // 1. Idempotency: the same id again.
      uint64_t existing_position = 0;
      int64_t existing_recorded_at = 0;
      bool identical = false;
      if (auto it = new_ids.find(id); it != new_ids.end()) {
        existing_position = it->second.position;
        existing_recorded_at = it->second.recorded_at;
        identical = it->second.bytes == bytes;
      } else if (auto it = g->new_ids.find(id); it != g->new_ids.end()) {
        existing_position = it->second.position;
        existing_recorded_at = it->second.recorded_at;
        identical = it->second.bytes == bytes;
      } else {
        std::string value;
        rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), event_id_, id, &value);
        if (status.ok()) {
          existing_position = keys::ReadBigEndian64(value);
          StoredEvent stored;
          Status read = ReadPosition(existing_position, &stored);
          if (!read.ok()) return read;
          const kj::Array<capnp::word> original = capnp::canonicalize(stored.reader().getEvent());
          identical = std::string_view(reinterpret_cast<const char*>(original.begin()),
                                       original.size() * sizeof(capnp::word)) == bytes;
          existing_recorded_at = stored.reader().getRecordedAtMicros();
        } else if (!status.IsNotFound()) {
          return FromRocks(status, "read event id");
        }
      }
      if (existing_position != 0) {
        if (!identical) {
          return Status::DuplicateId("event id already recorded at position " + std::to_string(existing_position) +
                                         " with different content",
                                     id);
        }
        if (Status status = CheckRetryRecordedTime(event, id, existing_position, existing_recorded_at); !status.ok()) {
          return status;
        }
        positions.push_back(existing_position);
        continue;
      }

      // Dense positions: this event lands right after the group's and this batch's earlier new events.
      DI_ASSERT(position == g->next_position + new_ids.size());
      DI_ASSERT(frontier.size() == position - 1);
      if (IsLedgerRecordedType(reader.getPayload().which())) {
        if (!audit_event) {
          return Status::InvalidArgument("'" + std::string(EventTypeName(reader.getPayload().which())) +
                                             "' events are recorded by the ledger itself (di-ledger audit checkpoint)",
                                         "type", id);
        }
        SignedTreeHead head;
        const std::string problem = CheckAuditEvent(reader, &head);
        // Pair assertion: the writer built and signed this event over its own frontier a moment ago.
        DI_ASSERT(problem.empty());
        DI_ASSERT(head.tree_size == frontier.size() && head.root == frontier.Root());
        if (head.rotation) {
          if (!has_signing_key) {
            return Status::InvalidArgument("the ledger has no signing key yet: its first checkpoint sets one", "key", id);
          }
          if (head.previous_key != signing_key) {
            return Status::InvalidArgument("key " + KeyIdOf(head.previous_key) + " is not the ledger's signing key " +
                                               KeyIdOf(signing_key),
                                           "key", id);
          }
        } else if (has_signing_key && head.key != signing_key) {
          return Status::InvalidArgument("key " + KeyIdOf(head.key) + " is not the ledger's signing key " +
                                             KeyIdOf(signing_key) + " (rotate with `di-ledger audit rotate-key`)",
                                         "key", id);
        }
        signing_key = head.key;
        has_signing_key = true;
      }
      // 2. Validation against the reference index.
      Status status = ValidateEvent(reader, position, lookup, &validated);
      if (!status.ok()) return status;

      // 3. Optimistic concurrency.
      uint64_t stream_version = 0;
      status = LookupStreamVersion(group, stream_versions, validated.stream, &stream_version);
      if (!status.ok()) return status;
      if (event.expected_version && *event.expected_version != stream_version) {
        return Status::Conflict("stream '" + validated.stream + "' is at version " + std::to_string(stream_version) +
                                    ", expected " + std::to_string(*event.expected_version),
                                id);
      }
      if (stream_version == 0) ++counters.streams;
      ++stream_version;

      // 4. Record: position, time, stream, chained hash.
      int64_t recorded_at = 0;
      status = RecordedTimeOf(event, id, last_recorded_at, g->clock, &recorded_at);
      if (!status.ok()) return status;
      // Sized to hold the event in one segment: the default first segment is 8 KiB, zeroed by calloc for
      // every event (callgrind: EncodeEntity's builder alike went from 1.20 G to 0.55 G instructions).
      capnp::MallocMessageBuilder message(static_cast<unsigned>(bytes.size() / sizeof(capnp::word)) + 32);
      auto recorded = message.initRoot<schema::RecordedEvent>();
      recorded.setPosition(position);
      recorded.setRecordedAtMicros(recorded_at);
      // Only set when true: an observed event's canonical bytes (and hash) are those of the schema before the
      // flag existed.
      if (event.asserted_recorded_at_micros) recorded.setRecordedAtAsserted(true);
      recorded.setStream(validated.stream);
      recorded.setStreamVersion(stream_version);
      recorded.setEvent(reader);
      const kj::Array<capnp::word> body_words = capnp::canonicalize(recorded.asReader());
      const std::string_view body(reinterpret_cast<const char*>(body_words.begin()),
                                  body_words.size() * sizeof(capnp::word));
      const Hash hash = ChainHash(previous_hash, body);
      std::string log_value(reinterpret_cast<const char*>(hash.data()), hash.size());
      log_value.append(body);

      const std::string position_value = keys::PositionKey(position);
      writes.Put(log_, position_value, log_value);
      frontier.Append(MerkleLeafHash(body), [&](uint32_t level, uint64_t index, const Hash& node) {
        if (level >= kStoredMerkleLevel) writes.Put(meta_, MerkleNodeKey(level, index), HashBytes(node));
      });
      writes.Put(event_id_, id, position_value);
      writes.Put(stream_, keys::StreamKey(validated.stream, stream_version), position_value);
      const auto type = static_cast<uint16_t>(reader.getPayload().which());
      writes.Put(type_, keys::TypeKey(type, position), rocksdb::Slice());
      writes.Put(effective_, keys::EffectiveKey(reader.getEffectiveDate(), position), rocksdb::Slice());
      for (EntityUpdate& update : validated.updates) {
        entities[keys::EntityKey(static_cast<uint8_t>(update.kind), update.id)] = std::move(update.state);
      }
      new_ids.emplace(id, NewId{position, std::string(bytes), recorded_at});
      last_recorded_at = recorded_at;
      stream_versions[validated.stream] = stream_version;
      if (type < kMaxEventTypes) ++counters.by_type[type];
      positions.push_back(position);
      previous_hash = hash;
      ++position;
    }

    // Accepted: fold the batch into the group.
    for (auto& [key, state] : entities) g->entities[key] = std::move(state);
    for (auto& [id, entry] : new_ids) g->new_ids.emplace(id, std::move(entry));
    for (auto& [stream, version] : stream_versions) g->stream_versions[stream] = version;
    g->counters = counters;
    g->last_recorded_at = last_recorded_at;
    g->frontier = std::move(frontier);
    if (has_signing_key && (!g->has_signing_key || signing_key != g->signing_key)) g->signing_key_changed = true;
    g->signing_key = signing_key;
    g->has_signing_key = has_signing_key;
    result->appended = position - g->next_position;
    g->next_position = position;
    g->previous_hash = previous_hash;
    result->positions = std::move(positions);
    return Status::Ok();
  }

  // Builds the audit event for the tree as it stands at this point of the group, then records it.
  Status ProcessAuditEvent(const AuditEventBuilder& build, GroupState& state, rocksdb::WriteBatch& write_batch,
                           AppendResult* result) {
    std::vector<NewEvent> batch;
    batch.push_back(build(state.next_position - 1, state.frontier.Root(), state.ObservedRecordedAt()));
    return ProcessBatch(batch, state, write_batch, result, /*audit_event=*/true);
  }

  void ProcessGroup(const std::vector<PendingAppend*>& group) {
    GroupState state;
    LogHead head;
    {
      std::lock_guard<std::mutex> lock(head_mutex_);
      head = head_;
      state.counters = counters_;
      state.frontier = frontier_;
      state.signing_key = signing_key_;
      state.has_signing_key = has_signing_key_;
    }
    state.next_position = head.position + 1;
    state.previous_hash = head.hash;
    // Recorded time never decreases, so "known at time T" and "known at position P" agree (RecordedTimeOf).
    state.clock = options_.clock_micros();
    state.last_recorded_at = head.recorded_at_micros;

    rocksdb::WriteBatch write_batch;
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
    if (options_.checkpoint_every > 0 && state.next_position - 1 > head.position &&
        (state.next_position - 1) / options_.checkpoint_every > head.position / options_.checkpoint_every) {
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
    if (state.next_position == head.position + 1) {
      // Nothing new (all rejected, or pure idempotent retries): no write, no sync.
      for (PendingAppend* pending : accepted) pending->result->last_position = head.position;
      return;
    }
    for (const auto& [key, entity] : state.entities) write_batch.Put(entity_, key, EncodeEntity(entity));
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

    // After a failed write (a full disk, an fsync error) RocksDB refuses writes until Resume(), which flushes
    // the memtables — holding only acknowledged writes — so the write-ahead log that may hold the failed
    // group's record is never replayed. Until Resume() succeeds (the operator freed space) every group fails
    // with the reason, and nothing is written.
    if (write_failed_) {
      // A full disk is recoverable: Resume()'s flush fails again while the disk is full and succeeds once
      // space is freed. A failed fsync is not: the kernel may have dropped the dirty pages, so only reopening
      // the store (replaying what is really on disk) re-establishes the truth — the PostgreSQL lesson of 2018
      // ("fsyncgate"); RocksDB reports it as a fatal error, which Resume() refuses.
      const rocksdb::Status resumed = db_->Resume();
      if (!resumed.ok()) {
        const bool no_space = write_failed_no_space_ || resumed.IsNoSpace();
        const Status failure = Status::IOError(
            "the store cannot write since a failed write (" + write_failure_ + "); " +
            (no_space ? "it takes appends again once disk space is freed (resume: "
                      : "reopen the store (restart the server) to recover; nothing acknowledged is lost (resume: ") +
            resumed.ToString() + ")");
        for (PendingAppend* pending : accepted) {
          pending->status = failure;
          *pending->result = AppendResult{};
        }
        return;
      }
      write_failed_ = false;
    }
    const rocksdb::Status written = db_->Write(SyncedWrite(), &write_batch);
    if (!written.ok()) {
      // Nothing of the group is acknowledged and memory state is unchanged: the next group starts
      // again from the durable head (after Resume(), above).
      const Status failure = FromRocks(written, "append");
      write_failed_ = true;
      write_failed_no_space_ = written.IsNoSpace();
      write_failure_ = written.ToString();
      for (PendingAppend* pending : accepted) {
        pending->status = failure;
        *pending->result = AppendResult{};
      }
      return;
    }
    if (options_.after_durable_write_for_testing) options_.after_durable_write_for_testing();
    // Bounded: past the limit the cache starts over (a miss costs one RocksDB seek, not correctness).
    if (stream_version_cache_.size() + state.stream_versions.size() > kMaxCachedStreams) stream_version_cache_.clear();
    for (const auto& [stream, version] : state.stream_versions) stream_version_cache_[stream] = version;
    // Only now durable: cached records the group changed take their new state. New records (a delivery, a
    // claim) are not cached: most are never read again, and they would push out the grants, persons and
    // providers that every delivery reads.
    for (auto& [key, entity] : state.entities) {
      if (auto it = entity_cache_.find(key); it != entity_cache_.end()) it->second = std::move(entity);
    }
    {
      std::lock_guard<std::mutex> lock(head_mutex_);
      DI_ASSERT(new_head.position > head_.position);
      head_ = new_head;
      counters_ = state.counters;
      frontier_ = std::move(state.frontier);
      signing_key_ = state.signing_key;
      has_signing_key_ = state.has_signing_key;
    }
    for (PendingAppend* pending : accepted) pending->result->last_position = new_head.position;
  }

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
  void CacheEntity(const std::string& key, EntityState entity) {
    if (entity_cache_.size() >= kMaxCachedEntities) entity_cache_.clear();
    entity_cache_[key] = std::move(entity);
  }
};

}  // namespace

Status EventStore::Open(const EventStoreOptions& options, const std::string& path, std::unique_ptr<EventStore>* store) {
  auto rocks_store = std::make_unique<RocksEventStore>(options, path);
  Status status = rocks_store->Init();
  if (!status.ok()) return status;
  *store = std::move(rocks_store);
  return Status::Ok();
}

}  // namespace di::ledger
