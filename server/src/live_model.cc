// The live model (see live_model.h).
#include "di/server/live_model.h"

#include "di/projections/replay.h"
#include "di/server/metrics.h"

namespace di::server {

using ledger::Status;

LiveModel::LiveModel(ledger::EventStore* store, LiveModelOptions options, Metrics* metrics)
    : store_(store), options_(options), metrics_(metrics) {}

LiveModel::~LiveModel() {
  if (fold_thread_.joinable()) {
    {
      std::lock_guard lock(fold_mutex_);
      fold_stop_ = true;
    }
    fold_requested_changed_.notify_all();
    fold_thread_.join();
  }
  if (journal_start_thread_.joinable()) {
    journal_stopping_ = true;
    {
      std::lock_guard lock(catch_up_mutex_);
      if (catch_up_ != nullptr) catch_up_->Cancel();
    }
    journal_start_thread_.join();
  }
  if (!snapshot_thread_.joinable()) return;
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_stop_ = true;
  }
  snapshot_due_changed_.notify_all();
  snapshot_thread_.join();  // writes a snapshot still due first: it saves the next start a replay
}

Status LiveModel::Start() {
  if (options_.checkpoints != nullptr) {
    // Resume from the newest snapshot the store confirms.
    std::unique_lock lock(mutex_);
    projections::LoadReport report;
    Status status = projections::LoadModel(*store_, options_.checkpoints, store_->Head().position, &model_, &report);
    if (!status.ok()) return status;
    visible_position_ = model_.last_position();
    if (metrics_ != nullptr) {
      metrics_->Set("di_model_resumed_from_snapshot_position", {}, static_cast<double>(report.snapshot_position));
    }
  }
  Status status = CatchUp();
  if (status.ok()) fold_thread_ = std::thread([this] { FoldLoop(); });
  if (status.ok() && options_.journal_store != nullptr) {
    journal_start_thread_ = std::thread([this] {
      bool started = false;
      (void)StartJournal(true, &started);  // failures are counted in di_journal_store_errors_total
    });
  }
  return status;
}

void LiveModel::RequestFold() {
  {
    std::lock_guard lock(fold_mutex_);
    fold_requested_ = true;
  }
  fold_requested_changed_.notify_one();
}

Status LiveModel::CatchUpIfBehind() {
  if (visible_position_.load() >= store_->Head().position) return Status::Ok();
  return CatchUp();
}

void LiveModel::FoldLoop() {
  std::unique_lock lock(fold_mutex_);
  while (true) {
    fold_requested_changed_.wait(lock, [&] { return fold_requested_ || fold_stop_; });
    if (fold_stop_) return;
    fold_requested_ = false;
    lock.unlock();
    // Appends acknowledged meanwhile set the flag again: their events are folded by this CatchUp or the next. A
    // failure (an event that does not decode) is the requests' to report: each folds what is behind before it reads.
    if (Status status = CatchUp(); !status.ok() && metrics_ != nullptr) metrics_->Add("di_projector_errors_total");
    lock.lock();
  }
}

Status LiveModel::CatchUp() {
  // The head when asked: every event acknowledged before is folded when this returns. In slices, so that the
  // exclusive lock is held for one slice at a time and queries interleave with a long catch-up.
  const uint64_t head = store_->Head().position;
  while (visible_position_.load() < head) {
    if (Status status = FoldSlice(); !status.ok()) return status;
  }
  return Status::Ok();
}

Status LiveModel::FoldSlice() {
  uint64_t folded = 0;
  bool passed_stride = false;
  {
    std::unique_lock lock(mutex_);
    const uint64_t from = model_.last_position() + 1;
    if (from > store_->Head().position) return Status::Ok();
    Status undecodable = Status::Ok();
    std::vector<projections::FundingChange> journal_changes;
    // Read unbounded and stopped by the visitor: a bounded read is a page of a read or a subscription, which
    // tests/subscription_isolation_test.cc holds at a gate while the fold must go on.
    Status status = store_->ReadLog(from, 0, [&](const ledger::StoredEvent& event) {
      if (event.position >= from + kFoldSliceEvents) return false;
      if (!projections::ApplyOrReport(event, &model_, &undecodable)) return false;
      if (journal_started_) {
        journal_.Follow(model_, event, &journal_changes);
        if (journal_recorder_) journal_recorder_->Add(journal_, model_, event, std::move(journal_changes));
        journal_changes.clear();
      }
      // Snapshots where a fold would write them (projections/checkpoint.h): the stride doubles as the log grows.
      if (options_.checkpoints &&
          event.position % projections::SnapshotStride(options_.checkpoints->options(), event.position) == 0) {
        passed_stride = true;
      }
      return true;
    });
    folded = model_.last_position();
    FlushJournalStore();
    visible_position_ = folded;
    if (!status.ok()) return status;
    if (!undecodable.ok()) return undecodable;
    if (folded < from) return Status::Corruption("the log has no event at position " + std::to_string(from));
  }
  // A snapshot of the live model where it stands, so a restart resumes from here (written off this thread).
  if (passed_stride) ScheduleSnapshot();
  std::lock_guard lock(listeners_mutex_);
  head_changed_.notify_all();
  // Listeners only hand off (post to their connection's strand), so calling them under the mutex is cheap
  // and guarantees that none runs after RemoveHeadListener returned.
  for (auto& [id, listener] : listeners_) listener(folded);
  return Status::Ok();
}

Status LiveModel::WithModel(uint64_t known_at_position, const ModelFunction& fn) {
  if (known_at_position != projections::kKnownNow && known_at_position > VisiblePosition()) {
    if (Status status = CatchUp(); !status.ok()) return status;
  }
  if (known_at_position == projections::kKnownNow || known_at_position >= VisiblePosition()) {
    std::shared_lock lock(mutex_);
    return fn(model_, model_.last_position());
  }
  // A past known-at: the nearest projection checkpoint at or before it, plus the events after it (a full
  // replay when there are no checkpoints).
  projections::LedgerModel model;
  Status status = WithReplaySlot(
      [&] { return projections::LoadModel(*store_, options_.checkpoints, known_at_position, &model); });
  if (!status.ok()) return status;
  return fn(model, known_at_position);
}

Status LiveModel::WithJournalAtHead(uint64_t known_at_position, const JournalFunction& fn, bool* answered,
                                    bool start) {
  *answered = false;
  if (known_at_position != projections::kKnownNow && known_at_position > VisiblePosition()) {
    if (Status status = CatchUp(); !status.ok()) return status;
  }
  if (start) {
    bool started = false;
    if (Status status = StartJournal(false, &started); !status.ok() || !started) return status;
  }
  std::shared_lock lock(mutex_);
  if (!journal_started_) return Status::Ok();
  if (known_at_position != projections::kKnownNow && known_at_position < model_.last_position()) return Status::Ok();
  *answered = true;
  return fn(model_, journal_);
}

Status LiveModel::StartJournal(bool wait, bool* started) {
  // Without a store, started by the first question it answers, not at start-up: a reset decides every delivery once
  // (0.9 s at 119 000 events), which a server nobody asks for funding should not pay. With one, Start() begins it on
  // a thread of its own. From then on it follows every fold.
  *started = false;
  std::unique_lock start(journal_start_mutex_, std::defer_lock);
  if (wait) {
    start.lock();
  } else if (!start.try_lock()) {
    return Status::Ok();  // being started by another thread: answer from a fold meanwhile
  }
  {
    std::shared_lock lock(mutex_);
    if (journal_started_) {
      *started = true;
      return Status::Ok();
    }
  }
  std::unique_ptr<projections::JournalProjector> catch_up;
  if (options_.journal_store != nullptr) {
    // The store up to the visible position with a model of its own, appends going on meanwhile...
    catch_up = std::make_unique<projections::JournalProjector>(options_.journal_store);
    {
      std::lock_guard lock(catch_up_mutex_);
      catch_up_ = catch_up.get();
    }
    Status status = journal_stopping_ ? Status::Shutdown()
                                      : catch_up->CatchUp(*store_, options_.checkpoints, VisiblePosition());
    {
      std::lock_guard lock(catch_up_mutex_);
      catch_up_ = nullptr;
    }
    if (journal_stopping_) return Status::Shutdown();
    if (!status.ok()) {
      if (metrics_ != nullptr) metrics_->Add("di_journal_store_errors_total");
      catch_up.reset();  // answers come from the live journal and past folds, as without a store
    }
  }
  std::unique_lock lock(mutex_);
  if (catch_up) {
    // ... then the few events folded since, under the lock, so that the store and the live journal start together.
    if (Status status = catch_up->CatchUp(*store_, options_.checkpoints, model_.last_position()); status.ok()) {
      journal_recorder_ = std::make_unique<projections::JournalProjector>(options_.journal_store);
    } else if (metrics_ != nullptr) {
      metrics_->Add("di_journal_store_errors_total");
    }
  }
  journal_.Reset(model_);
  journal_started_ = true;
  *started = true;
  if (journal_recorder_ && metrics_ != nullptr) {
    metrics_->Set("di_journal_projected_position", {}, static_cast<double>(options_.journal_store->position()));
  }
  return Status::Ok();
}

void LiveModel::FlushJournalStore() {
  if (!journal_recorder_) return;
  if (Status status = journal_recorder_->Flush(); !status.ok()) {
    // Derived state: the answers it would give come from folds instead. A restart resumes it from what is on disk.
    journal_recorder_.reset();
    if (metrics_ != nullptr) metrics_->Add("di_journal_store_errors_total");
    return;
  }
  if (metrics_ != nullptr) {
    metrics_->Set("di_journal_projected_position", {}, static_cast<double>(options_.journal_store->position()));
  }
}

Status LiveModel::JournalStoreAt(uint64_t position, projections::JournalStore** out) {
  *out = nullptr;
  if (options_.journal_store == nullptr) return Status::Ok();
  bool started = false;
  if (Status status = StartJournal(false, &started); !status.ok() || !started) return status;
  std::shared_lock lock(mutex_);
  if (journal_recorder_ && position <= options_.journal_store->position()) *out = options_.journal_store;
  return Status::Ok();
}

Status LiveModel::WithReplaySlot(const std::function<Status()>& fold) {
  if (replays_in_flight_.fetch_add(1) >= options_.max_concurrent_replays) {
    replays_in_flight_.fetch_sub(1);
    return Status::Busy("too many past known-at queries at once; retry later");
  }
  Status status = fold();
  replays_in_flight_.fetch_sub(1);
  if (metrics_ != nullptr) metrics_->Add("di_model_replays_total");
  return status;
}

uint64_t LiveModel::AddHeadListener(std::function<void(uint64_t)> listener) {
  std::lock_guard lock(listeners_mutex_);
  const uint64_t id = next_listener_id_++;
  listeners_[id] = std::move(listener);
  return id;
}

void LiveModel::RemoveHeadListener(uint64_t id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

uint64_t LiveModel::WaitForHead(uint64_t after, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(listeners_mutex_);
  head_changed_.wait_until(lock, deadline, [&] { return visible_position_.load() > after || stopping_.load(); });
  return visible_position_.load();
}

void LiveModel::Stop() {
  {
    std::lock_guard lock(listeners_mutex_);
    stopping_ = true;
  }
  head_changed_.notify_all();
}

void LiveModel::ScheduleSnapshot() {
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_due_ = true;
    if (!snapshot_thread_.joinable()) snapshot_thread_ = std::thread([this] { SnapshotLoop(); });
  }
  snapshot_due_changed_.notify_all();
}

void LiveModel::SnapshotLoop() {
  std::unique_lock due_lock(snapshot_mutex_);
  for (;;) {
    snapshot_due_changed_.wait(due_lock, [&] { return snapshot_due_ || snapshot_stop_; });
    if (!snapshot_due_) return;  // stopping, nothing due
    snapshot_due_ = false;
    due_lock.unlock();
    // The model where it stands when this thread gets to it (appends may have folded more since the stride
    // passed). Only the encode reads the model (0.37 s of the 0.63 s a 92 MB snapshot at 1.1 M events takes;
    // docs/performance.md section 3): under a shared lock, so queries go on meanwhile and appends wait only for
    // the encode before they fold. The chain hash, the digest and the write come after the lock is released. A
    // failure only costs replay time at the next start, so it is counted, not raised.
    std::string snapshot;
    uint64_t position = 0;
    {
      std::shared_lock lock(mutex_);
      position = model_.last_position();
      if (position != 0) snapshot = model_.EncodeSnapshot();
    }
    if (position != 0) {
      ledger::Hash hash{};
      Status saved = store_->ReadLog(position, 1, [&](const ledger::StoredEvent& event) {
        hash = event.hash;
        return false;
      });
      if (saved.ok()) saved = options_.checkpoints->SaveEncoded(position, hash, snapshot, nullptr);
      if (metrics_ != nullptr) metrics_->Add(saved.ok() ? "di_model_snapshots_total" : "di_model_snapshot_failures_total");
    }
    due_lock.lock();
  }
}

}  // namespace di::server
