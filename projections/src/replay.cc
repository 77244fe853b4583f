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

}  // namespace di::projections
