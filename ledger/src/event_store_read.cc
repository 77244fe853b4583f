// RocksEventStore (event_store_impl.h): reads, Verify and GetStats. Plain RocksDB reads that never block
// appends; every event read from the log is checked as it is decoded (CheckStoredEvent).
#include <algorithm>
#include <filesystem>

#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "di/ledger/sha256.h"
#include "event_store_impl.h"
#include "keys.h"

namespace di::ledger {
namespace {

// The chain as Verify walks it from position 1: what each next event is checked against.
struct ChainWalk {
  Hash previous{};
  int64_t previous_recorded_at = INT64_MIN;
  MerkleFrontier frontier;  // recomputed from the log
  SigningKeyChain keys;
};

// Checks the next event of the walk (its hash, its body, its recorded time, an audit event's signed head) and
// advances the walk past it. Returns "" or the problem.
std::string CheckNextEvent(const StoredEvent& event, ChainWalk* walk) {
  const Hash computed = ChainHash(walk->previous, event.body.bytes());
  if (computed != event.hash) {
    return "hash mismatch: stored " + HashToHex(event.hash) + ", computed " + HashToHex(computed);
  }
  if (std::string problem = CheckStoredEvent(event); !problem.empty()) return problem;
  // The writer's promise, asserted or observed: "known at time T" and "known at position P" agree only
  // while recorded times never decrease.
  const int64_t recorded_at = event.reader().getRecordedAtMicros();
  if (recorded_at < walk->previous_recorded_at) {
    return "recorded_at " + FormatUtcMicros(recorded_at) + " is before the previous event's " +
           FormatUtcMicros(walk->previous_recorded_at);
  }
  walk->previous_recorded_at = recorded_at;
  if (IsLedgerRecordedType(event.reader().getEvent().getPayload().which())) {
    SignedTreeHead signed_head;
    std::string problem = CheckAuditEvent(event.reader().getEvent(), &signed_head);
    if (problem.empty() &&
        (signed_head.tree_size != walk->frontier.size() || signed_head.root != walk->frontier.Root())) {
      problem = "the signed tree head is not the Merkle root of the events before it";
    }
    if (problem.empty()) problem = walk->keys.Add(signed_head);
    if (!problem.empty()) return "audit event: " + problem;
  }
  walk->frontier.Append(MerkleLeafHash(event.body.bytes()));
  walk->previous = computed;
  return "";
}

}  // namespace

Status RocksEventStore::ReadLog(uint64_t from_position, uint64_t max_events, const EventVisitor& visit) {
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

namespace {

// The tail events of one stream from a version, or of one type from a position (IndexView).
TailMatch InStream(const std::string& stream, uint64_t from_version) {
  return [&stream, from_version](const StoredEvent& event) {
    return event.reader().getStreamVersion() >= from_version && stream == event.reader().getStream().cStr();
  };
}
TailMatch OfType(EventType type, uint64_t from_position) {
  return [type, from_position](const StoredEvent& event) {
    return event.position >= from_position && event.reader().getEvent().getPayload().which() == type;
  };
}

}  // namespace

Status RocksEventStore::ReadStream(const std::string& stream, uint64_t from_version, uint64_t max_events,
                                   const EventVisitor& visit) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  from_version = std::max<uint64_t>(from_version, 1);
  return ReadIndex(stream_, keys::StreamKey(stream, from_version), keys::StreamPrefix(stream), max_events,
                   /*position_in_value=*/true, view, InStream(stream, from_version), visit);
}

Status RocksEventStore::ReadByType(EventType type, uint64_t from_position, uint64_t max_events,
                                   const EventVisitor& visit) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  const std::string start = keys::TypeKey(static_cast<uint16_t>(type), from_position);
  return ReadIndex(type_, start, start.substr(0, 2), max_events, /*position_in_value=*/false, view,
                   OfType(type, from_position), visit);
}

Status RocksEventStore::ReadByEffectiveDate(int32_t from_date, int32_t to_date, uint64_t max_events,
                                            const EventVisitor& visit) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  // The tail's events in the range, in the index's order (date, position), merged into the index walk.
  std::vector<std::pair<int32_t, const StoredEvent*>> tail;
  for (const StoredEvent& event : view.tail) {
    const int32_t date = event.reader().getEvent().getEffectiveDate();
    if (date >= from_date && date <= to_date) tail.emplace_back(date, &event);
  }
  std::stable_sort(tail.begin(), tail.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t next_tail = 0;
  uint64_t count = 0;
  bool stopped = false;
  auto emit = [&](const StoredEvent& event) {
    if (max_events != 0 && count >= max_events) return false;
    ++count;
    return visit(event);
  };
  // Tail events that sort before (date, position).
  auto emit_tail_before = [&](int32_t date, uint64_t position) {
    while (!stopped && next_tail < tail.size() &&
           std::pair(tail[next_tail].first, tail[next_tail].second->position) < std::pair(date, position)) {
      stopped = !emit(*tail[next_tail++].second);
    }
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), effective_));
  for (it->Seek(keys::EffectiveKey(from_date, 0)); it->Valid() && !stopped; it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const int32_t date = keys::EffectiveKeyDate(key);
    if (date > to_date) break;
    const uint64_t position = keys::KeyTrailingPosition(key);
    if (position > view.indexed) continue;  // the tail has it
    emit_tail_before(date, position);
    if (stopped) break;
    StoredEvent event;
    Status status = ReadPosition(position, &event);
    if (!status.ok()) return status;
    stopped = !emit(event);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read by effective date");
  emit_tail_before(INT32_MAX, UINT64_MAX);
  return Status::Ok();
}

Status RocksEventStore::ReadStreamPositions(const std::string& stream, uint64_t from_version,
                                            const PositionVisitor& visit) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  from_version = std::max<uint64_t>(from_version, 1);
  return ReadIndexPositions(stream_, keys::StreamKey(stream, from_version), keys::StreamPrefix(stream),
                            /*position_in_value=*/true, view, InStream(stream, from_version), visit);
}

Status RocksEventStore::ReadTypePositions(EventType type, uint64_t from_position, const PositionVisitor& visit) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  const std::string start = keys::TypeKey(static_cast<uint16_t>(type), from_position);
  return ReadIndexPositions(type_, start, start.substr(0, 2), /*position_in_value=*/false, view,
                            OfType(type, from_position), visit);
}

Status RocksEventStore::ReadPositions(std::span<const uint64_t> positions, std::vector<StoredEvent>* events) {
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

Status RocksEventStore::GetByEventId(const std::string& event_id, StoredEvent* event) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), event_id_, event_id, &value);
  if (status.ok()) return ReadPosition(keys::ReadBigEndian64(value), event);
  if (!status.IsNotFound()) return FromRocks(status, "read event id");
  for (StoredEvent& tail_event : view.tail) {
    if (event_id == tail_event.reader().getEvent().getId().cStr()) {
      *event = std::move(tail_event);
      return Status::Ok();
    }
  }
  return Status::NotFound("no event with id '" + event_id + "'");
}

Status RocksEventStore::GetStreamVersion(const std::string& stream, uint64_t* version) {
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
  DI_RETURN_IF_ERROR(ReadStreamVersion(stream, version));
  const TailMatch in_stream = InStream(stream, 1);
  for (const StoredEvent& event : view.tail) {
    if (in_stream(event)) *version = std::max<uint64_t>(*version, event.reader().getStreamVersion());
  }
  return Status::Ok();
}

LogHead RocksEventStore::Head() const {
  std::lock_guard<std::mutex> lock(head_mutex_);
  return head_;
}

Status RocksEventStore::ReadPosition(uint64_t position, StoredEvent* event) {
  std::string value;
  const rocksdb::Status looked_up = db_->Get(rocksdb::ReadOptions(), log_, keys::PositionKey(position), &value);
  return DecodeLookedUp(position, looked_up, value, event);
}

// A log lookup's result, decoded and checked as every read of the log checks it.
Status RocksEventStore::DecodeLookedUp(uint64_t position, const rocksdb::Status& looked_up, std::string_view value,
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
Status RocksEventStore::ReadIndex(rocksdb::ColumnFamilyHandle* family, const std::string& start,
                                  const std::string& prefix, uint64_t max_events, bool position_in_value,
                                  const IndexView& view, const TailMatch& tail_match, const EventVisitor& visit) {
  uint64_t count = 0;
  Status read = Status::Ok();
  Status status = ReadIndexPositions(family, start, prefix, position_in_value, view, tail_match, [&](uint64_t position) {
    if (max_events != 0 && count >= max_events) return false;
    StoredEvent event;
    read = ReadPosition(position, &event);
    if (!read.ok()) return false;
    ++count;
    return visit(event);
  });
  return read.ok() ? status : read;
}

Status RocksEventStore::ReadIndexPositions(rocksdb::ColumnFamilyHandle* family, const std::string& start,
                                           const std::string& prefix, bool position_in_value,
                                           const IndexView& view, const TailMatch& tail_match,
                                           const PositionVisitor& visit) {
  // Both indexes order a prefix's entries by position (a stream's versions grow with it), and every tail
  // position is past every indexed one: the tail follows the index walk.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (position_in_value && it->value().size() != 8) return Status::Corruption("stream index entry is not a position");
    const uint64_t position = position_in_value ? keys::ReadBigEndian64(it->value().ToStringView())
                                                : keys::KeyTrailingPosition(it->key().ToStringView());
    if (position > view.indexed) break;  // written since the view was taken: the tail has it
    if (!visit(position)) return FromRocks(it->status(), "read index");
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read index");
  for (const StoredEvent& event : view.tail) {
    if (tail_match(event) && !visit(event.position)) break;
  }
  return Status::Ok();
}

Status RocksEventStore::ReadStreamVersion(const std::string& stream, uint64_t* version) {
  *version = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), stream_));
  it->SeekForPrev(keys::StreamKey(stream, UINT64_MAX));
  const std::string prefix = keys::StreamPrefix(stream);
  if (it->Valid() && it->key().starts_with(prefix) && it->key().size() == prefix.size() + 8) {
    *version = keys::KeyTrailingPosition(it->key().ToStringView());
  }
  return FromRocks(it->status(), "read stream version");
}

Status RocksEventStore::Verify(VerifyReport* report) {
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
  ChainWalk walk;
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
    if (std::string problem = CheckNextEvent(event, &walk); !problem.empty()) return fail(position, problem);
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
  } else if (head.position > 0 && walk.previous != head.hash) {
    report->first_bad_position = head.position;
    report->problem = "the chain does not end in the recorded head hash";
  } else if (!(walk.frontier == stored_frontier)) {
    report->first_bad_position = head.position;
    report->problem = "the stored Merkle frontier is not the one of the log";
  }
  return Status::Ok();
}

Status RocksEventStore::GetStats(StoreStats* stats) {
  *stats = StoreStats{};
  Counters counters;
  {
    std::lock_guard<std::mutex> lock(head_mutex_);
    stats->head = head_;
    counters = counters_;
  }
  IndexView view;
  DI_RETURN_IF_ERROR(IndexViewForRead(&view));
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
  for (const StoredEvent& event : view.tail) {
    const int32_t date = event.reader().getEvent().getEffectiveDate();
    if (stats->first_effective_date == kNoDate || date < stats->first_effective_date) {
      stats->first_effective_date = date;
    }
    if (stats->last_effective_date == kNoDate || date > stats->last_effective_date) {
      stats->last_effective_date = date;
    }
  }
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(path_, error)) {
    if (entry.is_regular_file(error)) stats->disk_bytes += entry.file_size(error);
  }
  return Status::Ok();
}

}  // namespace di::ledger
