#include "di/projections/checkpoint.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "di/ledger/invariant.h"
#include "di/ledger/rocksdb_info_log.h"
#include "di/ledger/rocksdb_status.h"
#include "di/ledger/sha256.h"
#include "di/projections/replay.h"
#include "position_key.h"

namespace di::projections {
namespace {

using internal::ParsePositionKey;
using internal::PositionKey;
using ledger::FromRocks;

// Key: "snapshot/" + big-endian position (so keys sort by position).
// Value: event hash (32) | snapshot digest (32) | snapshot bytes.
// Beside each, key "info/" + big-endian position, value: event hash (32) | snapshot digest (32) | snapshot size
// (8, big-endian): what List needs, without reading a snapshot (they live in blob files, which an iterator
// reads as it passes them; Thin lists after every save).
constexpr std::string_view kSnapshotPrefix = "snapshot/";
constexpr std::string_view kInfoPrefix = "info/";
// Present once every snapshot has its info record (AddMissingInfo ran). Sorts between the two prefixes, so
// neither prefix's scans reach it.
constexpr std::string_view kInfoRecordsMarker = "meta/info-records";
constexpr size_t kValueHeader = 64;
constexpr size_t kInfoSize = kValueHeader + 8;

std::string SnapshotKey(uint64_t position) { return PositionKey(kSnapshotPrefix, position); }
std::string InfoKey(uint64_t position) { return PositionKey(kInfoPrefix, position); }

// The info value of a snapshot value's header and size.
std::string InfoValue(std::string_view header, uint64_t snapshot_bytes) {
  DI_ASSERT(header.size() == kValueHeader);
  std::string value(header);
  for (int shift = 56; shift >= 0; shift -= 8) value.push_back(static_cast<char>((snapshot_bytes >> shift) & 0xff));
  return value;
}

bool ParseSnapshotKey(std::string_view key, uint64_t* position) { return ParsePositionKey(kSnapshotPrefix, key, position); }
bool ParseInfoKey(std::string_view key, uint64_t* position) { return ParsePositionKey(kInfoPrefix, key, position); }

class RocksCheckpointStore final : public CheckpointStore {
 public:
  RocksCheckpointStore(const CheckpointOptions& options, std::unique_ptr<rocksdb::DB> db)
      : CheckpointStore(options), db_(std::move(db)) {}
  ~RocksCheckpointStore() override {
    // Snapshots are big; flushing them to an SST now spares the next open replaying them from the WAL
    // (measured: +0.15 s per open on the demo store). Best effort: a failed flush leaves the WAL to replay.
    if (wrote_) db_->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
  }

  Status SaveEncoded(uint64_t position, const ledger::Hash& event_hash, const std::string& snapshot,
                     CheckpointInfo* info) override {
    DI_ASSERT(position > 0);
    CheckpointInfo saved;
    saved.position = position;
    saved.event_hash = event_hash;
    saved.snapshot_digest = SnapshotDigest(snapshot);
    saved.snapshot_bytes = snapshot.size();
    std::string value;
    value.reserve(kValueHeader + snapshot.size());
    value.append(reinterpret_cast<const char*>(event_hash.data()), event_hash.size());
    value.append(reinterpret_cast<const char*>(saved.snapshot_digest.data()), saved.snapshot_digest.size());
    value.append(snapshot);
    rocksdb::WriteBatch batch;
    batch.Put(SnapshotKey(saved.position), value);
    batch.Put(InfoKey(saved.position), InfoValue(std::string_view(value).substr(0, kValueHeader), snapshot.size()));
    // Without the WAL: a snapshot is a cache, and writing it to the WAL too (92 MB at 1.1 M events, checksummed
    // in software) was 5.8 % of a rebuild's profile (perf). Both keys reach the disk together when the memtable
    // is flushed (when full, and when this store closes); a crash before loses both, and the next fold replays.
    rocksdb::WriteOptions no_wal;
    no_wal.disableWAL = true;
    wrote_ = true;
    Status status = FromRocks(db_->Write(no_wal, &batch), "save snapshot");
    if (!status.ok()) return status;
    status = Thin();
    if (!status.ok()) return status;
    if (info != nullptr) *info = saved;
    return Status::Ok();
  }

  Status LoadAtOrBefore(ledger::EventStore& store, uint64_t position, LedgerModel* model, bool* found,
                        LoadReport* report) override {
    *found = false;
    const uint64_t head = store.Head().position;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekForPrev(SnapshotKey(position)); it->Valid(); it->Prev()) {
      uint64_t snapshot_position = 0;
      if (!ParseSnapshotKey(it->key().ToStringView(), &snapshot_position)) break;  // before the snapshots
      const std::string_view value = it->value().ToStringView();
      std::string problem;
      if (value.size() < kValueHeader) {
        problem = "short value";
      } else if (snapshot_position == 0 || snapshot_position > head) {
        problem = "beyond the store's head";
      } else {
        ledger::Hash hash{};
        Status status = store.ReadLog(snapshot_position, 1, [&](const ledger::StoredEvent& event) {
          hash = event.hash;
          return false;
        });
        if (!status.ok()) return status;  // the store itself is damaged: say so, do not paper over it
        const std::string_view snapshot = value.substr(kValueHeader);
        if (std::memcmp(hash.data(), value.data(), hash.size()) != 0) {
          problem = "the store has another event at that position";
        } else if (std::memcmp(SnapshotDigest(snapshot).data(), value.data() + 32, 32) != 0) {
          problem = "digest mismatch";
        } else if (Status decoded = model->DecodeSnapshot(snapshot); !decoded.ok()) {
          problem = decoded.ToString();
        } else {
          DI_ASSERT(model->last_position() == snapshot_position);
          if (report != nullptr) report->snapshot_position = snapshot_position;
          *found = true;
          return Status::Ok();
        }
      }
      // Stale or unreadable: never used, removed so it is not examined again.
      (void)problem;
      Status status = Remove(snapshot_position, "discard snapshot");
      if (!status.ok()) return status;
      if (report != nullptr) ++report->snapshots_discarded;
    }
    *model = LedgerModel();
    return FromRocks(it->status(), "read snapshots");
  }

  Status List(std::vector<CheckpointInfo>* checkpoints) override {
    checkpoints->clear();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(std::string(kInfoPrefix)); it->Valid(); it->Next()) {
      CheckpointInfo info;
      if (!ParseInfoKey(it->key().ToStringView(), &info.position)) break;
      const std::string_view value = it->value().ToStringView();
      if (value.size() != kInfoSize) continue;
      std::memcpy(info.event_hash.data(), value.data(), 32);
      std::memcpy(info.snapshot_digest.data(), value.data() + 32, 32);
      for (size_t i = kValueHeader; i < kInfoSize; ++i) {
        info.snapshot_bytes = (info.snapshot_bytes << 8) | static_cast<uint8_t>(value[i]);
      }
      checkpoints->push_back(info);
    }
    return FromRocks(it->status(), "list snapshots");
  }

  // Snapshots written before info keys existed get theirs, once: the marker says it was done. (Without it, every
  // open read every snapshot back from its blob file: 13 % of an `entitlements` command at 1.1 M events.)
  Status AddMissingInfo() {
    std::string marker;
    rocksdb::Status marked = db_->Get(rocksdb::ReadOptions(), std::string(kInfoRecordsMarker), &marker);
    if (marked.ok()) return Status::Ok();
    if (!marked.IsNotFound()) return FromRocks(marked, "read snapshot info marker");
    std::vector<std::pair<uint64_t, std::string>> missing;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
      for (it->Seek(std::string(kSnapshotPrefix)); it->Valid(); it->Next()) {
        uint64_t position = 0;
        if (!ParseSnapshotKey(it->key().ToStringView(), &position)) break;
        const std::string_view value = it->value().ToStringView();
        if (value.size() < kValueHeader) continue;  // LoadAtOrBefore discards it when it meets it
        std::string existing;
        rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), InfoKey(position), &existing);
        if (found.ok()) continue;
        if (!found.IsNotFound()) return FromRocks(found, "read snapshot info");
        missing.emplace_back(position, InfoValue(value.substr(0, kValueHeader), value.size() - kValueHeader));
      }
      Status status = FromRocks(it->status(), "list snapshots");
      if (!status.ok()) return status;
    }
    rocksdb::WriteBatch batch;
    for (const auto& [position, info] : missing) batch.Put(InfoKey(position), info);
    batch.Put(std::string(kInfoRecordsMarker), "1");
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write snapshot info");
  }

  Status Clear() override {
    std::vector<CheckpointInfo> all;
    Status status = List(&all);
    if (!status.ok()) return status;
    rocksdb::WriteBatch batch;
    for (const CheckpointInfo& info : all) AddRemoval(info.position, &batch);
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "clear snapshots");
  }

 private:
  // Keeps at most max_snapshots: drops the one (never the newest) whose removal leaves the smallest gap
  // between its neighbours, so snapshots stay spread over the history.
  Status Thin() {
    std::vector<CheckpointInfo> all;
    Status status = List(&all);
    if (!status.ok()) return status;
    while (all.size() > std::max<size_t>(options_.max_snapshots, 1)) {
      size_t drop = 0;
      uint64_t smallest_gap = UINT64_MAX;
      for (size_t i = 0; i + 1 < all.size(); ++i) {
        const uint64_t before = i == 0 ? 0 : all[i - 1].position;
        const uint64_t gap = all[i + 1].position - before;
        if (gap < smallest_gap) {
          smallest_gap = gap;
          drop = i;
        }
      }
      status = Remove(all[drop].position, "thin snapshots");
      if (!status.ok()) return status;
      all.erase(all.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    return Status::Ok();
  }

  // A snapshot and its info go together.
  static void AddRemoval(uint64_t position, rocksdb::WriteBatch* batch) {
    batch->Delete(SnapshotKey(position));
    batch->Delete(InfoKey(position));
  }
  Status Remove(uint64_t position, const char* what) {
    rocksdb::WriteBatch batch;
    AddRemoval(position, &batch);
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), what);
  }

  std::unique_ptr<rocksdb::DB> db_;
  bool wrote_ = false;
};

}  // namespace

ledger::Hash SnapshotDigest(std::string_view snapshot) {
  return ledger::Sha256Of(snapshot);
}

std::string CheckpointStore::PathFor(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "projections").string();
}

Status CheckpointStore::Open(const std::string& path, const CheckpointOptions& options,
                             std::unique_ptr<CheckpointStore>* out) {
  if (options.interval_events == 0) return Status::InvalidArgument("must be at least 1", "interval_events");
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.compression = rocksdb::kLZ4Compression;
  // Snapshots are large values written rarely: a small memtable keeps them from lingering in memory.
  db_options.write_buffer_size = 16 << 20;
  // ... and they go to blob files, compressed once when flushed, instead of being cut into 4 KB blocks,
  // compressed, and rewritten by every compaction that moves them (the keys move; the snapshots stay put).
  db_options.enable_blob_files = true;
  db_options.min_blob_size = 4096;
  db_options.blob_compression_type = rocksdb::kLZ4Compression;
  db_options.enable_blob_garbage_collection = true;
  db_options.max_open_files = 64;
  // RocksDB's own info log aborts the process once a line fails to be written on a full disk
  // (di/ledger/rocksdb_info_log.h); this one drops the line instead. It needs the directory first.
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return Status::IOError("cannot create directory '" + path + "': " + error.message());
  db_options.info_log = ledger::NewDiskFullTolerantInfoLog(path);
  rocksdb::DB* db = nullptr;
  Status status = FromRocks(rocksdb::DB::Open(db_options, path, &db), "open checkpoints at " + path);
  if (!status.ok()) return status;
  auto store = std::make_unique<RocksCheckpointStore>(options, std::unique_ptr<rocksdb::DB>(db));
  status = store->AddMissingInfo();
  if (!status.ok()) return status;
  *out = std::move(store);
  return Status::Ok();
}

uint64_t SnapshotStride(const CheckpointOptions& options, uint64_t position) {
  DI_ASSERT(options.interval_events > 0 && options.max_snapshots > 0);
  uint64_t stride = options.interval_events;
  while (position / stride > options.max_snapshots) stride *= 2;
  return stride;
}

Status FoldForward(ledger::EventStore& store, CheckpointStore* checkpoints, uint64_t to_position, LedgerModel* model,
                   LoadReport* report) {
  const uint64_t from = model->last_position() + 1;
  if (to_position < from) return Status::Ok();
  Status save_status = Status::Ok();
  Status status = store.ReadLog(from, to_position - from + 1, [&](const ledger::StoredEvent& event) {
    if (!ApplyOrReport(event, model, &save_status)) return false;
    if (report != nullptr) ++report->events_folded;
    const uint64_t position = model->last_position();
    if (checkpoints != nullptr && position % SnapshotStride(checkpoints->options(), position) == 0) {
      save_status = checkpoints->Save(*model, event.hash, nullptr);
      if (!save_status.ok()) return false;
      if (report != nullptr) ++report->snapshots_written;
    }
    return true;
  });
  if (!status.ok()) return status;
  if (!save_status.ok()) return save_status;
  if (model->last_position() != to_position) {
    return Status::Corruption("the log ends at " + std::to_string(model->last_position()) + ", expected " +
                              std::to_string(to_position));
  }
  return Status::Ok();
}

Status LoadModel(ledger::EventStore& store, CheckpointStore* checkpoints, uint64_t known_at_position,
                 LedgerModel* model, LoadReport* report) {
  *model = LedgerModel();
  const uint64_t head = store.Head().position;
  const uint64_t target = known_at_position == kKnownNow ? head : known_at_position;
  if (target > head) {
    return Status::InvalidArgument("position " + std::to_string(target) + " is beyond the head " + std::to_string(head),
                                   "known_at");
  }
  if (target == 0) return Status::Ok();
  if (checkpoints != nullptr) {
    bool found = false;
    Status status = checkpoints->LoadAtOrBefore(store, target, model, &found, report);
    if (!status.ok()) return status;
  }
  const uint64_t start = model->last_position();
  Status status = FoldForward(store, checkpoints, target, model, report);
  if (!status.ok()) return status;
  // A long fold ending between interval multiples: keep its end too, so the next query starts here.
  if (checkpoints != nullptr && target - start >= checkpoints->options().interval_events &&
      target % SnapshotStride(checkpoints->options(), target) != 0) {
    ledger::Hash hash{};
    status = store.ReadLog(target, 1, [&](const ledger::StoredEvent& event) {
      hash = event.hash;
      return false;
    });
    if (!status.ok()) return status;
    status = checkpoints->Save(*model, hash, nullptr);
    if (!status.ok()) return status;
    if (report != nullptr) ++report->snapshots_written;
  }
  return Status::Ok();
}

Status Rebuild(ledger::EventStore& store, CheckpointStore& checkpoints, CheckpointInfo* head_info, LoadReport* report) {
  Status status = checkpoints.Clear();
  if (!status.ok()) return status;
  LedgerModel model;
  const ledger::LogHead head = store.Head();
  status = FoldForward(store, &checkpoints, head.position, &model, report);
  if (!status.ok()) return status;
  *head_info = CheckpointInfo{};
  if (head.position == 0) return Status::Ok();
  // The head snapshot (FoldForward already wrote it if the head is an interval multiple; the same bytes).
  status = checkpoints.Save(model, head.hash, head_info);
  if (!status.ok()) return status;
  if (report != nullptr && head.position % SnapshotStride(checkpoints.options(), head.position) != 0) {
    ++report->snapshots_written;
  }
  return Status::Ok();
}

}  // namespace di::projections
