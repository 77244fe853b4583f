// RocksEventStore (event_store_impl.h): the indexer. The writer's synchronous write holds the log, the head, the
// counters and the Merkle state; the derived indexes (event id, stream, type, effective date) and the entity
// records follow behind it, written by one indexer thread per committed group, unsynced, each write ending in the
// meta "indexed" marker. What a crash loses of them is rebuilt from the log at the next read-write open
// (CatchUpIndexes), before the writer takes an append. Why: these keys were 5 of the 6 RocksDB keys per event on
// the writer's thread (docs/performance.md §1); behind the log they cost the appender nothing but a core.
#include <capnp/message.h>
#include <rocksdb/write_batch.h>

#include "di/ledger/invariant.h"
#include "event_store_impl.h"
#include "keys.h"

namespace di::ledger {
namespace {

// The index keys of the event recorded at `position`, all read from its recorded body.
void PutIndexKeys(const IndexFamilies& families, uint64_t position, schema::RecordedEvent::Reader recorded,
                  rocksdb::WriteBatch& batch) {
  const std::string position_value = keys::PositionKey(position);
  const schema::Event::Reader event = recorded.getEvent();
  const capnp::Text::Reader id = event.getId();
  batch.Put(families.event_id, rocksdb::Slice(id.cStr(), id.size()), position_value);
  const capnp::Text::Reader stream = recorded.getStream();
  batch.Put(families.stream, keys::StreamKey(std::string_view(stream.cStr(), stream.size()), recorded.getStreamVersion()),
            position_value);
  const auto type = static_cast<uint16_t>(event.getPayload().which());
  batch.Put(families.type, keys::TypeKey(type, position), rocksdb::Slice());
  batch.Put(families.effective, keys::EffectiveKey(event.getEffectiveDate(), position), rocksdb::Slice());
}

// Calls `use` with the RecordedEvent of a log value the writer built (hash || canonical body, no segment table).
// Read in place when the body is word-aligned (a std::string's heap buffer is 16-byte aligned and the hash is 32
// bytes, so in practice always), else from an aligned copy.
template <typename Use>
void WithRecordedEvent(std::string_view log_value, Use use) {
  const std::string_view body = log_value.substr(32);
  DI_ASSERT(body.size() % sizeof(capnp::word) == 0);
  kj::Array<capnp::word> copy;
  const capnp::word* words = reinterpret_cast<const capnp::word*>(body.data());
  if (reinterpret_cast<uintptr_t>(body.data()) % alignof(capnp::word) != 0) {
    copy = CopyToWords(body);
    words = copy.begin();
  }
  const kj::ArrayPtr<const capnp::word> segments[1] = {kj::arrayPtr(words, body.size() / sizeof(capnp::word))};
  capnp::SegmentArrayMessageReader message(kj::arrayPtr(segments, 1));
  use(message.getRoot<schema::RecordedEvent>());
}

}  // namespace

// ---- open -------------------------------------------------------------------------------------------------

Status RocksEventStore::LoadIndexedPosition(bool* present, uint64_t* position) {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, kIndexedKey, &value);
  *present = status.ok();
  *position = 0;
  if (status.IsNotFound()) return Status::Ok();
  if (!status.ok()) return FromRocks(status, "read the indexed position");
  if (value.size() != 8) return Status::Corruption("undecodable indexed position");
  *position = keys::ReadBigEndian64(value);
  if (*position > head_.position) {
    return Status::Corruption("the indexes hold events up to position " + std::to_string(*position) +
                              " but the log ends at " + std::to_string(head_.position));
  }
  return Status::Ok();
}

// Replays the events after the marker through validation (which yields the entity records each one changed, as
// when it was appended) and writes their index keys, in chunks, each chunk ending in the marker.
Status RocksEventStore::CatchUpIndexes() {
  bool present = false;
  uint64_t indexed = 0;
  DI_RETURN_IF_ERROR(LoadIndexedPosition(&present, &indexed));
  if (!present) {
    // Written before the indexer existed: its indexes went with the log, so they hold everything. Marked now,
    // before any append, so that a crash after the first unsynced index write cannot be mistaken for this.
    indexed = head_.position;
    if (!options_.read_only) {
      DI_RETURN_IF_ERROR(FromRocks(db_->Put(SyncedWrite(), meta_, kIndexedKey, keys::PositionKey(indexed)),
                                   "write the indexed position"));
    }
  }
  indexed_position_.store(indexed);
  if (indexed == head_.position || options_.read_only) return Status::Ok();

  // Entity records changed since the last chunk written; the lookup sees them before RocksDB.
  std::unordered_map<std::string, EntityState> changed;
  class ReplayLookup final : public EntityLookup {
   public:
    ReplayLookup(RocksEventStore* store, const std::unordered_map<std::string, EntityState>& changed)
        : store_(store), changed_(changed) {}
    bool Find(EntityKind kind, const std::string& id, EntityState* state) override {
      const std::string key = keys::EntityKey(static_cast<uint8_t>(kind), id);
      if (auto it = changed_.find(key); it != changed_.end()) {
        *state = it->second;
        return true;
      }
      std::string value;
      const rocksdb::Status status = store_->db_->Get(rocksdb::ReadOptions(), store_->entity_, key, &value);
      return status.ok() && DecodeEntity(value, state);
    }

   private:
    RocksEventStore* store_;
    const std::unordered_map<std::string, EntityState>& changed_;
  } lookup(this, changed);

  const IndexFamilies families{event_id_, stream_, type_, effective_};
  rocksdb::WriteBatch batch;
  uint64_t in_batch = 0;
  Status problem;
  auto flush = [&](uint64_t last_position) {
    for (const auto& [key, entity] : changed) batch.Put(entity_, key, EncodeEntity(entity));
    batch.Put(meta_, kIndexedKey, keys::PositionKey(last_position));
    problem = FromRocks(db_->Write(SyncedWrite(), &batch), "write the rebuilt indexes");
    batch.Clear();
    changed.clear();
    in_batch = 0;
    return problem.ok();
  };
  const uint64_t head = head_.position;
  Status read = ReadLog(indexed + 1, head - indexed, [&](const StoredEvent& event) {
    ValidatedEvent validated;
    const Status valid = ValidateEvent(event.reader().getEvent(), event.position, lookup, &validated);
    if (!valid.ok() || validated.stream != event.reader().getStream().cStr()) {
      // It was accepted against this very state when it was appended: the store is not what it wrote.
      problem = Status::Corruption("position " + std::to_string(event.position) +
                                   " does not replay as it was appended (rebuilding its indexes): " +
                                   (valid.ok() ? "stream " + validated.stream : valid.ToString()));
      return false;
    }
    for (EntityUpdate& update : validated.updates) {
      changed[keys::EntityKey(static_cast<uint8_t>(update.kind), update.id)] = std::move(update.state);
    }
    PutIndexKeys(families, event.position, event.reader(), batch);
    if (++in_batch == kCatchUpChunkEvents || event.position == head) return flush(event.position);
    return true;
  });
  DI_RETURN_IF_ERROR(read);
  DI_RETURN_IF_ERROR(problem);
  indexed_position_.store(head);
  return Status::Ok();
}

// ---- reads ------------------------------------------------------------------------------------------------

Status RocksEventStore::IndexViewForRead(IndexView* view) {
  const uint64_t target = Head().position;
  *view = IndexView{};
  if (indexed_position_.load() >= target) return Status::Ok();
  if (!options_.read_only) {
    std::unique_lock<std::mutex> lock(index_mutex_);
    indexed_cv_.wait(lock, [&] { return indexed_position_.load() >= target || index_stalled_ || index_closing_; });
    if (indexed_position_.load() >= target) return Status::Ok();
    if (index_closing_) return Status::Shutdown();
  }
  // The indexes cannot catch up now: the events past them come from the log. The indexer may write meanwhile
  // (a retry that succeeds); entries past `indexed` are then skipped, the tail has them.
  view->indexed = indexed_position_.load();
  return ReadLog(view->indexed + 1, target - view->indexed, [&](const StoredEvent& event) {
    view->tail.push_back(StoredEvent{event.position, event.hash,
                                     CanonicalMessage<schema::RecordedEvent>(CopyToWords(event.body.bytes()))});
    return true;
  });
}

// ---- the indexer thread -------------------------------------------------------------------------------------

void RocksEventStore::IndexerLoop() {
  for (;;) {
    std::vector<std::shared_ptr<const CommittedGroup>> groups;
    {
      std::unique_lock<std::mutex> lock(index_mutex_);
      index_work_cv_.wait(lock, [&] { return index_closing_ || (!index_queue_.empty() && !index_stalled_); });
      // Closing: what is queued is still written (a clean close leaves nothing to rebuild), unless the last
      // write failed; then the next open rebuilds it from the log.
      if (index_queue_.empty() || index_stalled_) return;
      groups.assign(index_queue_.begin(), index_queue_.end());
    }
    const Status written = IndexGroups(groups);
    {
      std::lock_guard<std::mutex> lock(index_mutex_);
      if (written.ok()) {
        index_queue_.erase(index_queue_.begin(), index_queue_.begin() + static_cast<ptrdiff_t>(groups.size()));
        indexed_position_.store(groups.back()->last_position);
        index_failure_.clear();
      } else {
        index_stalled_ = true;
        index_failure_ = written.ToString();
      }
    }
    indexed_cv_.notify_all();
  }
}

// One unsynced write for every group given: its events' index keys, its entity records, the marker. Unsynced:
// the writer's next synced write makes it durable with its own (one WAL), and a crash before that loses only
// what the next open rebuilds.
Status RocksEventStore::IndexGroups(const std::vector<std::shared_ptr<const CommittedGroup>>& groups) {
  rocksdb::WriteBatch batch;
  for (const auto& group : groups) {
    DI_ASSERT(group->last_position - group->first_position + 1 == group->log_values.size());
    // Groups in order: a record a later group changed again is put again, and the later put wins.
    PutIndexes(group->first_position, group->log_values, group->entities, batch);
  }
  batch.Put(meta_, kIndexedKey, keys::PositionKey(groups.back()->last_position));
  if (options_.before_index_write_for_testing) options_.before_index_write_for_testing();
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write the indexes");
}

void RocksEventStore::PutIndexes(uint64_t first_position, const std::vector<std::string>& log_values,
                                 const std::unordered_map<std::string, EntityState>& entities,
                                 rocksdb::WriteBatch& batch) {
  const IndexFamilies families{event_id_, stream_, type_, effective_};
  for (size_t i = 0; i < log_values.size(); ++i) {
    WithRecordedEvent(log_values[i], [&](schema::RecordedEvent::Reader recorded) {
      DI_ASSERT(recorded.getPosition() == first_position + i);
      PutIndexKeys(families, first_position + i, recorded, batch);
    });
  }
  for (const auto& [key, entity] : entities) batch.Put(entity_, key, EncodeEntity(entity));
}

void RocksEventStore::HandToIndexer(std::shared_ptr<const CommittedGroup> group) {
  unindexed_events_ += group->log_values.size();
  unindexed_.push_back(group);
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    index_queue_.push_back(std::move(group));
    index_stalled_ = false;  // a failed write is retried with this group: the writer just wrote, so may it
  }
  index_work_cv_.notify_one();
}

Status RocksEventStore::WaitForIndexer() {
  auto forget_indexed = [&] {
    const uint64_t indexed = indexed_position_.load();
    while (!unindexed_.empty() && unindexed_.front()->last_position <= indexed) {
      unindexed_events_ -= unindexed_.front()->log_values.size();
      unindexed_.pop_front();
    }
  };
  forget_indexed();
  while (unindexed_events_ > kMaxUnindexedEvents) {
    const uint64_t oldest = unindexed_.front()->last_position;
    {
      std::unique_lock<std::mutex> lock(index_mutex_);
      indexed_cv_.wait(lock, [&] { return index_stalled_ || indexed_position_.load() >= oldest; });
      if (indexed_position_.load() < oldest) {
        return Status::IOError("the indexes are " + std::to_string(unindexed_events_) +
                               " events behind the log and their write failed (" + index_failure_ + ")");
      }
    }
    forget_indexed();
  }
  return Status::Ok();
}

void RocksEventStore::StopIndexer() {
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    index_closing_ = true;
  }
  index_work_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  indexed_cv_.notify_all();
}

// ---- the writer's view of what is not indexed yet --------------------------------------------------------------

const EntityState* RocksEventStore::FindUnindexedEntity(const std::string& key) const {
  for (auto group = unindexed_.rbegin(); group != unindexed_.rend(); ++group) {
    if (auto it = (*group)->entities.find(key); it != (*group)->entities.end()) return &it->second;
  }
  return nullptr;
}

const NewId* RocksEventStore::FindUnindexedId(const std::string& id) const {
  for (auto group = unindexed_.rbegin(); group != unindexed_.rend(); ++group) {
    if (auto it = (*group)->new_ids.find(id); it != (*group)->new_ids.end()) return &it->second;
  }
  return nullptr;
}

bool RocksEventStore::FindUnindexedStreamVersion(const std::string& stream, uint64_t* version) const {
  for (auto group = unindexed_.rbegin(); group != unindexed_.rend(); ++group) {
    if (auto it = (*group)->stream_versions.find(stream); it != (*group)->stream_versions.end()) {
      *version = it->second;
      return true;
    }
  }
  return false;
}

}  // namespace di::ledger
