// Projection checkpoints: snapshots of the folded LedgerModel at log positions, kept in RocksDB, so a
// restart or a query resumes from the nearest snapshot instead of replaying the whole log.
//
// They are derived state, a cache: they live in their own RocksDB (<data>/projections), apart from the
// record, and deleting them is always safe (the next query replays). A snapshot names the chain hash of the
// event at its position; one whose hash the event store does not confirm (a store restored from an older
// backup, another store's directory, a format change) is discarded, never used. Answers do not depend on
// which path built the model: a snapshot decodes to a model that gives byte-identical reports and folds on
// exactly as the model it was taken from (tests/checkpoint_test.cc).
#ifndef DI_PROJECTIONS_CHECKPOINT_H_
#define DI_PROJECTIONS_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/ledger_model.h"

namespace di::projections {

struct CheckpointOptions {
  // A snapshot is written whenever a fold passes a multiple of the stride (SnapshotStride: this interval,
  // doubled as the log grows so that at most max_snapshots strides fit below the position), and at the end
  // of a fold that replayed at least this many events. Replay costs ~3 µs per event, so 50 000 bounds a
  // resume to ~0.15 s of replay while the log is below 600 000 events.
  uint64_t interval_events = 50000;
  // At most this many snapshots are kept; beyond it the one whose removal leaves the smallest gap goes
  // (never the newest), so old known-at positions stay served by some earlier snapshot.
  size_t max_snapshots = 12;
};

struct CheckpointInfo {
  uint64_t position = 0;
  ledger::Hash event_hash{};     // the chain hash of the event at `position`
  ledger::Hash snapshot_digest{};  // SHA-256 of the snapshot bytes
  uint64_t snapshot_bytes = 0;
};

// How a model was produced: from which snapshot (0: none, folded from the start), how many events folded.
struct LoadReport {
  uint64_t snapshot_position = 0;
  uint64_t events_folded = 0;
  uint64_t snapshots_written = 0;
  uint64_t snapshots_discarded = 0;  // stale or unreadable ones met on the way
};

class CheckpointStore {
 public:
  // Opens (creating if needed) the checkpoint database at `path` (conventionally <data>/projections).
  static Status Open(const std::string& path, const CheckpointOptions& options, std::unique_ptr<CheckpointStore>* out);
  // The conventional location for a store at `data_dir`.
  static std::string PathFor(const std::string& data_dir);
  virtual ~CheckpointStore() = default;

  const CheckpointOptions& options() const { return options_; }

  // Writes a snapshot of `model` at model.last_position(), whose event has chain hash `event_hash`.
  Status Save(const LedgerModel& model, const ledger::Hash& event_hash, CheckpointInfo* info) {
    return SaveEncoded(model.last_position(), event_hash, model.EncodeSnapshot(), info);
  }
  // The same from `snapshot` = EncodeSnapshot() of a model at `position`. Only the encode needs the model: a
  // holder of a live model encodes under its lock and digests and writes after releasing it.
  virtual Status SaveEncoded(uint64_t position, const ledger::Hash& event_hash, const std::string& snapshot,
                             CheckpointInfo* info) = 0;
  // Loads the newest snapshot at or before `position` that `store` confirms (same chain hash at its
  // position). Unconfirmed or unreadable snapshots are deleted and counted. *found false: none usable.
  virtual Status LoadAtOrBefore(ledger::EventStore& store, uint64_t position, LedgerModel* model, bool* found,
                                LoadReport* report) = 0;
  virtual Status List(std::vector<CheckpointInfo>* checkpoints) = 0;
  // Deletes every snapshot.
  virtual Status Clear() = 0;

 protected:
  explicit CheckpointStore(const CheckpointOptions& options) : options_(options) {}
  CheckpointOptions options_;
};

// The model as known at `known_at_position` (0: nothing; kKnownNow: the head): the nearest confirmed
// snapshot, then the events after it. With `checkpoints` null it folds from the start (the naive path the
// differential tests compare against). Snapshots are written at interval multiples passed on the way.
Status LoadModel(ledger::EventStore& store, CheckpointStore* checkpoints, uint64_t known_at_position,
                 LedgerModel* model, LoadReport* report = nullptr);

// Continues folding `model` (at its last position) up to `to_position`, saving snapshots at interval
// multiples when `checkpoints` is given. Used by LoadModel, by `rebuild` and by a server keeping a live model.
Status FoldForward(ledger::EventStore& store, CheckpointStore* checkpoints, uint64_t to_position, LedgerModel* model,
                   LoadReport* report = nullptr);

// Recomputes the projection state from scratch: deletes every snapshot, folds the whole log, writes
// snapshots at interval multiples and at the head. `head_info` describes the head snapshot (its digest is
// what "rebuild twice gives byte-identical state" compares).
Status Rebuild(ledger::EventStore& store, CheckpointStore& checkpoints, CheckpointInfo* head_info,
               LoadReport* report = nullptr);

// Where folds write snapshots: at multiples of interval_events * 2^k, the smallest such that position / stride
// <= max_snapshots. Every snapshot encodes the whole model, so a fixed stride made a rebuild quadratic in the
// log (at 10 M events: 200 snapshots, the later ones ~10 M events' worth each, 188 of them deleted again by
// the max_snapshots thinning). Doubling keeps the multiples of a larger stride multiples of the smaller ones.
uint64_t SnapshotStride(const CheckpointOptions& options, uint64_t position);

// SHA-256 of a snapshot's bytes.
ledger::Hash SnapshotDigest(std::string_view snapshot);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_CHECKPOINT_H_
