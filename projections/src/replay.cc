#include "di/projections/replay.h"

#include <kj/exception.h>

#include <charconv>

#include "di/ledger/civil_date.h"

namespace di::projections {

Status ReplayInto(ledger::EventStore& store, uint64_t known_at_position, LedgerModel* model) {
  if (known_at_position == 0) return Status::Ok();  // known before anything was recorded: nothing
  // Positions are dense from 1, so "up to position P" is "the first P events" (ReadLog: 0 = no limit).
  const uint64_t limit = known_at_position == kKnownNow ? 0 : known_at_position;
  Status undecodable = Status::Ok();
  Status status = store.ReadLog(1, limit, [&](const ledger::StoredEvent& event) {
    return ApplyOrReport(event, model, &undecodable);
  });
  return status.ok() ? undecodable : status;
}

bool ApplyOrReport(const ledger::StoredEvent& event, LedgerModel* model, Status* status) {
  // The store checks each body's canonical form as it reads it, but a field can still fail to decode
  // lazily (a text without its terminator): that is damage to report with its position, not a crash.
  try {
    model->Apply(event);
    return true;
  } catch (const kj::Exception& exception) {
    *status = Status::Corruption("the event at position " + std::to_string(event.position) +
                                 " cannot be decoded: " + std::string(exception.getDescription().cStr()));
    return false;
  }
}

namespace {
Status RecordedAt(ledger::EventStore& store, uint64_t position, int64_t* micros) {
  Status status = store.ReadLog(position, 1, [&](const ledger::StoredEvent& event) {
    *micros = event.reader().getRecordedAtMicros();
    return false;
  });
  return status;
}
}  // namespace

Status ResolveKnownAt(ledger::EventStore& store, std::string_view known_at, uint64_t* position) {
  const uint64_t head = store.Head().position;
  if (known_at.empty()) {
    *position = head;
    return Status::Ok();
  }
  uint64_t number = 0;
  const auto [end, error] = std::from_chars(known_at.data(), known_at.data() + known_at.size(), number);
  if (error == std::errc() && end == known_at.data() + known_at.size()) {
    if (number > head) {
      return Status::InvalidArgument("position " + std::to_string(number) + " is beyond the head " +
                                         std::to_string(head),
                                     "known_at");
    }
    *position = number;
    return Status::Ok();
  }
  int64_t micros;
  if (!ledger::ParseUtcMicros(known_at, &micros)) {
    int32_t day;
    if (!ledger::ParseDate(known_at, &day)) {
      return Status::InvalidArgument("must be a position, a UTC time YYYY-MM-DDTHH:MM:SSZ or a date", "known_at");
    }
    micros = (static_cast<int64_t>(day) + 1) * 86400000000LL - 1;  // a date means the end of that UTC day
  }
  // Recorded times never decrease with position: binary search for the last position recorded <= micros.
  uint64_t low = 0, high = head;
  while (low < high) {
    const uint64_t middle = low + (high - low + 1) / 2;
    int64_t recorded = 0;
    Status status = RecordedAt(store, middle, &recorded);
    if (!status.ok()) return status;
    if (recorded <= micros) low = middle;
    else high = middle - 1;
  }
  *position = low;
  return Status::Ok();
}

namespace {
// The first event of a stream: where and when the entity it is about was first recorded (position 0: never).
Status FirstRecorded(ledger::EventStore& store, const std::string& stream, uint64_t* position, int64_t* micros) {
  *position = 0;
  return store.ReadStream(stream, 1, 1, [&](const ledger::StoredEvent& event) {
    *position = event.position;
    *micros = event.reader().getRecordedAtMicros();
    return false;
  });
}
}  // namespace

Status ExplainNotYetKnown(ledger::EventStore& store, const std::vector<QuerySubject>& subjects,
                          std::string_view known_at, uint64_t known_at_position, std::string* note) {
  note->clear();
  std::string later;  // the first subject recorded after the position
  for (const QuerySubject& subject : subjects) {
    if (subject.id.empty()) continue;  // not a filter of this query
    uint64_t first = 0;
    int64_t micros = 0;
    Status status = FirstRecorded(store, std::string(subject.kind) + "/" + std::string(subject.id), &first, &micros);
    if (!status.ok()) return status;
    if (first == 0) return Status::NotFound("no " + std::string(subject.kind) + " '" + std::string(subject.id) + "'");
    if (later.empty() && known_at_position != kKnownNow && first > known_at_position) {
      later = std::string(subject.kind) + " '" + std::string(subject.id) + "' was not known yet as known at '" +
              std::string(known_at) + "' (position " + std::to_string(known_at_position) +
              "): it was first recorded at position " + std::to_string(first) + ", recorded at " +
              ledger::FormatUtcMicros(micros);
    }
  }
  // An empty known-at means "now": whatever it answers, it is not "before anything was recorded".
  if (known_at_position == 0 && !known_at.empty()) {
    if (store.Head().position == 0) {
      *note = "known at '" + std::string(known_at) + "': nothing has been recorded yet";
      return Status::Ok();
    }
    int64_t first_micros = 0;
    if (Status status = RecordedAt(store, 1, &first_micros); !status.ok()) return status;
    *note = "known at '" + std::string(known_at) + "' is before the first recorded event (position 1, recorded at " +
            ledger::FormatUtcMicros(first_micros) + "); nothing was known yet";
    return Status::Ok();
  }
  *note = std::move(later);
  return Status::Ok();
}

Status ResolveAsOf(ledger::EventStore& store, std::string_view valid_at, std::string_view known_at,
                   uint64_t known_now, const std::vector<QuerySubject>& subjects, ResolvedAsOf* out) {
  *out = ResolvedAsOf{};
  out->known_at_position = known_now;
  if (!known_at.empty()) {
    if (Status status = ResolveKnownAt(store, known_at, &out->known_at_position); !status.ok()) return status;
  }
  if (valid_at.empty()) {
    ledger::StoreStats stats;
    if (Status status = store.GetStats(&stats); !status.ok()) return status;
    out->valid_date = stats.last_effective_date == ledger::kNoDate ? 0 : stats.last_effective_date;
  } else if (!ledger::ParseDate(valid_at, &out->valid_date)) {
    return Status::InvalidArgument("must be a date YYYY-MM-DD", "valid_at");
  }
  return ExplainNotYetKnown(store, subjects, known_at, out->known_at_position, &out->note);
}

}  // namespace di::projections
