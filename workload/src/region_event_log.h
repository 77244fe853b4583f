// The region history's output: events wait in a queue ordered by (record day, creation sequence).
#ifndef DI_WORKLOAD_SRC_REGION_EVENT_LOG_H_
#define DI_WORKLOAD_SRC_REGION_EVENT_LOG_H_

#include <cstdint>
#include <ostream>
#include <queue>
#include <string>
#include <vector>

#include "di/workload/region_history.h"
#include "region_calendar.h"
#include "region_vocabulary.h"

namespace di::workload::region {

// ---------------------------------------------------------------------------------------------------------
// Event log: pending events ordered by (record day, creation sequence)
// ---------------------------------------------------------------------------------------------------------

class EventLog {
 public:
  EventLog(std::ostream& out, uint64_t seed) : out_(out), times_(seed, Stream::kRecordedTimes) {
    ledger::ParseUtcMicros(kLatestSimulatedRecordedAt, &latest_micros_);
  }

  // Nothing may be recorded before `day` any more (its predecessors may already be written).
  void SetFloor(int32_t day) { floor_ = day; }

  void Add(int32_t record_day, EventType type, const std::string& id, int32_t effective_date,
           const std::string& actor, Json data, const std::string& causation_id = {}) {
    record_day = std::max(record_day, effective_date);
    if (record_day < floor_) {
      throw std::logic_error("simulate: event " + id + " would be recorded on " + FormatDate(record_day) +
                             ", after later events were written");
    }
    Json event;
    event["id"] = id;
    event["type"] = std::string(ledger::EventTypeName(type));
    event["effective_date"] = FormatDate(effective_date);
    event["actor"] = actor;
    if (!causation_id.empty()) event["causation_id"] = causation_id;
    event["data"] = std::move(data);
    pending_.push(Pending{record_day, next_sequence_++, type, event.dump()});
  }

  // Writes every pending event recorded before `day`.
  void WriteRecordedBefore(int32_t day) {
    while (!pending_.empty() && pending_.top().record_day < day) {
      const Pending& top = pending_.top();
      // The line is `{"id":...}`: "recorded_at" goes first, as in the ledger's recorded form.
      out_ << "{\"recorded_at\":\"" << ledger::FormatUtcMicros(RecordedAt(top.record_day)) << "\","
           << std::string_view(top.line).substr(1) << '\n';
      ++summary_.events;
      switch (top.type) {
        case EventType::PERSON_ENROLLED:
          ++summary_.persons;
          break;
        case EventType::SERVICE_DELIVERED:
          ++summary_.deliveries;
          break;
        case EventType::REIMBURSEMENT_CLAIMED:
          ++summary_.claims;
          break;
        default:
          break;
      }
      pending_.pop();
    }
  }

  const SimulateSummary& summary() const { return summary_; }

 private:
  static constexpr int64_t kMicrosPerSecond = 1000000;
  static constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

  // The recorded time of the next event written, recorded on `day`: the office opens between 07:30 and 09:00, and
  // entries follow each other 20 s to 6 min apart (a clerk typing in a batch of timesheets), up to the end of the
  // day. Events come in record-day order, so the times never decrease; the ceiling keeps them out of the future.
  int64_t RecordedAt(int32_t day) {
    const int64_t day_start = static_cast<int64_t>(day) * kMicrosPerDay;
    if (day != last_day_) {
      last_day_ = day;
      last_micros_ = std::max(last_micros_, day_start + times_.Between(27000, 32400) * kMicrosPerSecond +
                                                times_.Between(0, kMicrosPerSecond - 1));
    } else {
      last_micros_ = std::min(last_micros_ + times_.Between(20 * kMicrosPerSecond, 360 * kMicrosPerSecond),
                              std::max(last_micros_, day_start + kMicrosPerDay - 1));
    }
    return std::min(last_micros_, latest_micros_);
  }

  struct Pending {
    int32_t record_day;
    uint64_t sequence;
    EventType type;
    std::string line;
  };
  struct RecordedLater {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.record_day != b.record_day ? a.record_day > b.record_day : a.sequence > b.sequence;
    }
  };

  std::ostream& out_;
  Rng times_;                        // of the recorded times, a stream of its own: the events do not move
  int64_t latest_micros_ = 0;        // kLatestSimulatedRecordedAt
  int32_t last_day_ = kNoDate;       // record day of the last event written
  int64_t last_micros_ = INT64_MIN;  // its recorded time
  std::priority_queue<Pending, std::vector<Pending>, RecordedLater> pending_;
  uint64_t next_sequence_ = 0;
  int32_t floor_ = INT32_MIN;
  SimulateSummary summary_;
};

inline Json ServiceList(const std::vector<Service>& services) {
  Json list = Json::array();
  for (const Service service : services) list.push_back(NameOf(service));
  return list;
}

inline Json TargetList(TargetGeneration generation) {
  Json list = Json::array();
  for (const TargetRow& row : kTargets) {
    if (row.count[generation] == 0) continue;
    Json target;
    target["indicator"] = row.indicator;
    target["target_group"] = row.target_group;
    target["count"] = row.count[generation];
    list.push_back(std::move(target));
  }
  return list;
}

}  // namespace di::workload::region

#endif  // DI_WORKLOAD_SRC_REGION_EVENT_LOG_H_
