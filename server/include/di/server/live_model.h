// The live model: the projections' model of the whole history, kept at the store's head for "known now" queries.
//
//   LiveModel live(store, LiveModelOptions{...}, metrics);
//   Status s = live.Start();                   // resumes from the newest snapshot, folds up to the head
//   s = store->Append(batch, &result);
//   live.RequestFold();                        // the projector thread folds the new events, tells head listeners
//   s = live.CatchUpIfBehind();                // a read that must see them folds what the projector has not yet
//   s = live.WithModel(known_at, [&](const projections::LedgerModel& model, uint64_t position) { ... });
//
// "Known now" reads the live model, and the funding journal that follows it event by event, under a shared lock; a past known-at folds a fresh model from the nearest
// projection checkpoint (projections/checkpoint.h), at most `max_concurrent_replays` at once. Snapshots of the live
// model are encoded and written by a thread of their own, so no request waits for one. The CLI answers from
// projections::LoadModel alone (one fold per command); both resolve a query's as-of with projections::ResolveAsOf.
#ifndef DI_SERVER_LIVE_MODEL_H_
#define DI_SERVER_LIVE_MODEL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "di/ledger/event_store.h"
#include "di/projections/checkpoint.h"
#include "di/projections/funding_journal.h"
#include "di/projections/journal_store.h"
#include "di/projections/ledger_model.h"

namespace di::server {

class Metrics;

struct LiveModelOptions {
  // Projection checkpoints (<data>/projections), not owned; null: none. With them, Start() resumes from the newest
  // confirmed snapshot instead of replaying the log, the live model is snapshotted as it passes every stride, and
  // past known-at queries start from the nearest snapshot.
  projections::CheckpointStore* checkpoints = nullptr;
  // Past known-at queries fold a fresh model (~3 us per event); at most this many run at once, more get kBusy.
  // Default: 2 (the machine's cores).
  int max_concurrent_replays = 2;
  // The funding journal on disk (<data>/journal, projections/journal_store.h), not owned; null: none. Once the journal
  // starts (the first funding question), the store is brought up to the live model and every fold appends to it, so
  // that funding as known at any past position is read from it instead of folding a model.
  projections::JournalStore* journal_store = nullptr;
};

class LiveModel {
 public:
  // `store` must outlive the model. `metrics` may be null.
  LiveModel(ledger::EventStore* store, LiveModelOptions options, Metrics* metrics);
  ~LiveModel();  // writes a snapshot still due first: it saves the next start a replay
  LiveModel(const LiveModel&) = delete;
  LiveModel& operator=(const LiveModel&) = delete;

  // Resumes from the newest snapshot the store confirms (with checkpoints), then CatchUp().
  ledger::Status Start();
  // Folds the live model up to the store's head, then tells the head listeners.
  ledger::Status CatchUp();
  // The store's head moved (an append was acknowledged): wakes the projector thread, which folds the new events into
  // the live model and the journal off the appending thread (the fold of the journal costs several times the
  // model's). Returns at once.
  void RequestFold();
  // CatchUp() when the store holds events not yet visible: a request that must see every acknowledged append (a
  // client that appended and then reads) calls it first, so that it never waits for the projector's turn.
  ledger::Status CatchUpIfBehind();
  // The position the live model is folded up to: reads and subscriptions are served up to it.
  uint64_t VisiblePosition() const { return visible_position_.load(); }

  // `fn(model)` on the live model under a shared lock (no appends fold meanwhile); returns what `fn` returns.
  template <typename Fn>
  decltype(auto) Read(Fn&& fn) const {
    std::shared_lock lock(mutex_);
    return fn(static_cast<const projections::LedgerModel&>(model_));
  }
  // Runs `fn` on the model as known at `known_at_position` (projections::kKnownNow: the head): the live model for
  // the head, else a fresh fold (kBusy past max_concurrent_replays). `fn` must not keep references to the model.
  using ModelFunction = std::function<ledger::Status(const projections::LedgerModel& model, uint64_t known_at_position)>;
  ledger::Status WithModel(uint64_t known_at_position, const ModelFunction& fn);
  // The funding journal kept with the live model (projections/funding_journal.h): when `known_at_position` is the
  // head (kKnownNow, or at or after the visible position once caught up), runs `fn(model, journal)` under the shared
  // lock and sets *answered; a past known-at leaves *answered false (the journal keeps no history yet). With `start`,
  // the first call starts the journal on the live model (every delivery decided once); it follows every fold after
  // that. Without, a journal not running yet leaves *answered false: a reset takes seconds at a million events, which
  // a clerk's question about one person must not pay.
  using JournalFunction =
      std::function<ledger::Status(const projections::LedgerModel& model, const projections::FundingJournal& journal)>;
  ledger::Status WithJournalAtHead(uint64_t known_at_position, const JournalFunction& fn, bool* answered,
                                   bool start = true);
  // The journal store when it has projected `position` (starting the journal if it has not started); *out null when
  // there is no usable store or it has not reached the position. What it holds at or before the position is never
  // rewritten: read it without any lock.
  ledger::Status JournalStoreAt(uint64_t position, projections::JournalStore** out);
  // Runs `fold`, a fold of the log from a checkpoint (a past known-at model, a funding journal between two
  // positions), in one of the max_concurrent_replays slots; kBusy when they are all taken.
  ledger::Status WithReplaySlot(const std::function<ledger::Status()>& fold);
  projections::CheckpointStore* checkpoints() const { return options_.checkpoints; }

  // Called (from the appending thread, so it must only hand off) with the new visible position after each fold.
  uint64_t AddHeadListener(std::function<void(uint64_t visible_position)> listener);
  void RemoveHeadListener(uint64_t id);
  // Blocks until the visible position is > `after`, `deadline` passes or Stop(); returns the visible position.
  uint64_t WaitForHead(uint64_t after, std::chrono::steady_clock::time_point deadline);
  // Wakes every WaitForHead for good (the service is stopping).
  void Stop();

 private:
  // Starts the journal on the live model, and the store up to it first (most of it without holding the lock). With
  // `wait` false, returns at once (*started false) while another thread is starting it: the caller answers from a
  // fold meanwhile instead of waiting for the store to catch up.
  ledger::Status StartJournal(bool wait, bool* started);
  // After a fold: writes what the journal recorded to the store; a failure stops using the store.
  void FlushJournalStore();
  void ScheduleSnapshot();
  void SnapshotLoop();
  // The projector thread: folds whenever RequestFold() was called since its last fold.
  void FoldLoop();
  // Folds at most kFoldSliceEvents events past the live model under the exclusive lock, then tells the listeners.
  ledger::Status FoldSlice();
  // A slice of CatchUp: ~0.1 s of the model's and the journal's fold at 1.1 M events (docs/performance.md section 8),
  // the longest a query waits for the lock behind a catch-up.
  static constexpr uint64_t kFoldSliceEvents = 4096;

  ledger::EventStore* store_;
  LiveModelOptions options_;
  Metrics* metrics_;

  mutable std::shared_mutex mutex_;
  projections::LedgerModel model_;
  projections::FundingJournal journal_;  // follows model_ once started, under the same lock
  bool journal_started_ = false;         // by the first WithJournalAtHead or JournalStoreAt
  std::mutex journal_start_mutex_;       // one start at a time
  // With a journal store, Start() starts the journal on a thread of its own: the store's first catch-up (6.5 s on the
  // demo from nothing) is not paid by the first question. The destructor cancels it and joins.
  std::thread journal_start_thread_;
  std::mutex catch_up_mutex_;                              // guards catch_up_
  projections::JournalProjector* catch_up_ = nullptr;      // the catch-up running, for the destructor to cancel
  std::atomic<bool> journal_stopping_{false};
  // Records what journal_ follows into options_.journal_store; null until the journal starts, or after a failed write.
  std::unique_ptr<projections::JournalProjector> journal_recorder_;
  std::atomic<uint64_t> visible_position_{0};
  std::atomic<int> replays_in_flight_{0};
  std::atomic<bool> stopping_{false};

  std::mutex fold_mutex_;
  std::condition_variable fold_requested_changed_;
  bool fold_requested_ = false;
  bool fold_stop_ = false;
  std::thread fold_thread_;

  std::mutex snapshot_mutex_;
  std::condition_variable snapshot_due_changed_;
  bool snapshot_due_ = false;
  bool snapshot_stop_ = false;
  std::thread snapshot_thread_;

  mutable std::mutex listeners_mutex_;
  std::condition_variable head_changed_;
  std::map<uint64_t, std::function<void(uint64_t)>> listeners_;
  uint64_t next_listener_id_ = 1;
};

}  // namespace di::server

#endif  // DI_SERVER_LIVE_MODEL_H_
