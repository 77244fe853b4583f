// RocksEventStore (event_store_impl.h): opening and closing. RocksDB's options, each column family's tuning,
// and EventStore::Open.
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "di/ledger/invariant.h"
#include "di/ledger/rocksdb_info_log.h"
#include "event_store_impl.h"
#include "keys.h"

namespace di::ledger {
namespace {

// RocksDB's block cache for all column families: reads of recent events and index blocks.
constexpr size_t kBlockCacheBytes = 64 << 20;

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
// the next write (RocksEventStore::WriteGroup).
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

// The database's options; `create`: a store may be created. The info log is set by Init, once the directory
// exists.
rocksdb::Options DbOptions(const EventStoreOptions& options, bool create) {
  rocksdb::Options db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = create;
  db_options.paranoid_checks = true;  // refuse to open on detected corruption
  // A torn last record (a crash while writing it) was never acknowledged and is dropped; damage anywhere
  // else in the WAL is an error. kPointInTimeRecovery would silently stop at the damage and drop every
  // acknowledged batch after it (tests/storage_corruption_test.cc).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.max_background_jobs = 2;
  if (options.env_for_testing != nullptr) db_options.env = options.env_for_testing;
  // After a failed write the writer calls Resume() itself before the next write (RocksEventStore::WriteGroup),
  // so the store recovers exactly when a write is wanted and answers at once while the disk is still full.
  // RocksDB's own recoveries are off: while one runs, Resume() only answers "busy", and the one for a full
  // disk (SstFileManager) waits for as much free space as a memtable may hold (64 MiB) before it even tries,
  // so a store on a small or nearly full volume would never take appends again (issue #12). Its background
  // retries of other I/O errors are off too (max_bgerror_resume_count); ManualErrorRecovery turns off the
  // rest.
  db_options.max_bgerror_resume_count = 0;
  db_options.listeners.push_back(std::make_shared<ManualErrorRecovery>());
  db_options.keep_log_file_num = 5;
  // Two threads write: the writer (the log) and the indexer (event_store_indexer.cc). With this off, RocksDB
  // applies the batches of one write group one after the other, which keeps the memtable insert hints (below;
  // only honoured on the non-concurrent path). Turned on, with or without enable_pipelined_write, append_bench
  // measured no better at batches 1, 100 and 1000 with 1 and 8 writers (one run each, within the run's noise).
  db_options.allow_concurrent_memtable_write = false;
  return db_options;
}

// The column families in the order of RocksEventStore's handles, each with its options.
std::vector<rocksdb::ColumnFamilyDescriptor> FamilyDescriptors() {
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table_options.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

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
  return descriptors;
}

}  // namespace

RocksEventStore::RocksEventStore(const EventStoreOptions& options, std::string path)
    : options_(options), path_(std::move(path)) {
  if (!options_.clock_micros) options_.clock_micros = SystemClockMicros;
}

RocksEventStore::~RocksEventStore() {
  stop_id_filter_loader_.store(true);
  if (id_filter_loader_.joinable()) id_filter_loader_.join();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  StopIndexer();  // after the writer: it writes what the writer handed it last
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  db_.reset();
}

Status RocksEventStore::Init() {
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
  const bool create = options_.create_if_missing && !options_.read_only;
  rocksdb::Options db_options = DbOptions(options_, create);
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
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = FamilyDescriptors();
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
  status = CatchUpIndexes();
  if (!status.ok()) return status;
  if (!options_.read_only) {
    // Room for the store as it is (an id per event, an entity record per event at most) and for it to grow by
    // half and a million keys before the false positives rise.
    id_filter_ = std::make_unique<IdFilter>(3 * head_.position + (1 << 20));
    if (options_.wait_for_id_filter) {
      LoadIdFilter();
    } else {
      id_filter_loader_ = std::thread([this] { LoadIdFilter(); });
    }
    indexer_ = std::thread([this] { IndexerLoop(); });
    writer_ = std::thread([this] { WriterLoop(); });
  }
  return Status::Ok();
}

void RocksEventStore::LoadIdFilter() {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // one pass over every key: keep the block cache for the reads that repeat
  uint64_t keys_loaded = 0;
  for (rocksdb::ColumnFamilyHandle* family : {event_id_, entity_}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (++keys_loaded % 4096 == 0 && stop_id_filter_loader_.load()) return;
      id_filter_->Add(it->key().ToStringView());
    }
    if (!it->status().ok()) return;  // never loaded: the writer reads RocksDB for every id, as without a filter
  }
  id_filter_loaded_.store(true, std::memory_order_release);
}

Status EventStore::Open(const EventStoreOptions& options, const std::string& path, std::unique_ptr<EventStore>* store) {
  auto rocks_store = std::make_unique<RocksEventStore>(options, path);
  Status status = rocks_store->Init();
  if (!status.ok()) return status;
  *store = std::move(rocks_store);
  return Status::Ok();
}

}  // namespace di::ledger
