#include "commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "import_driver.h"

namespace di::cli {

using ledger::EventStore;
using ledger::EventStoreOptions;
using ledger::Status;

Status OpenExisting(const std::string& data_dir, std::unique_ptr<EventStore>* store) {
  EventStoreOptions options;
  options.create_if_missing = false;
  return EventStore::Open(options, data_dir, store);
}

Status OpenExistingReadOnly(const std::string& data_dir, std::unique_ptr<EventStore>* store) {
  EventStoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  return EventStore::Open(options, data_dir, store);
}

namespace {

// 1: the input was refused (validation, conflict, duplicate id); 2: the store or the system failed.
int ExitCodeFor(const Status& status) {
  return status.code() == ledger::StatusCode::kInvalidArgument ||
                 status.code() == ledger::StatusCode::kConflict ||
                 status.code() == ledger::StatusCode::kDuplicateId
             ? 1
             : 2;
}

int ReportError(const Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  return ExitCodeFor(status);
}

// Standard output for "-", else `file` opened on `path`; nullptr (reported) if it cannot be written.
std::ostream* OpenOutput(const std::string& path, std::ofstream* file) {
  if (path == "-") return &std::cout;
  file->open(path);
  if (!*file) {
    std::cerr << "error: cannot write '" << path << "'\n";
    return nullptr;
  }
  return file;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int RunInit(const InitOptions& options) {
  std::unique_ptr<EventStore> store;
  Status status = EventStore::Open(EventStoreOptions{}, options.data_dir, &store);
  if (!status.ok()) return ReportError(status);
  if (options.enact_rules && store->Head().position == 0) {
    uint64_t position = 0;
    status = EnactRules(*store, options.rules_file, options.rule_parameters, &position, options.rules_recorded_at);
    if (!status.ok()) return ReportError(status);
    std::cout << "rules enacted at position " << position << "\n";
  }
  std::cout << "event store ready at " << options.data_dir << " (head position " << store->Head().position << ")\n";
  return 0;
}

int RunEnactRules(const EnactRulesOptions& options) {
  std::unique_ptr<EventStore> store;
  Status status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return ReportError(status);
  uint64_t position = 0;
  status = EnactRules(*store, options.rules_file, options.rule_parameters, &position, {}, options.project_ids);
  if (!status.ok()) return ReportError(status);
  std::string governs = "every project without rules of its own";
  if (!options.project_ids.empty()) {
    governs = "project";
    for (const std::string& id : options.project_ids) governs += " " + id;
  }
  std::cout << "rules enacted at position " << position << " for " << governs << "\n";
  return 0;
}

namespace {

// The local store as the import's sink: each batch is appended on a thread of its own, so that parsing the
// next batch overlaps the append (and fsync) of this one.
class StoreSink : public ImportSink {
 public:
  explicit StoreSink(EventStore& store) : store_(store) {}

  bool Submit(std::vector<ledger::NewEvent> batch, ImportError*) override {
    events_ = std::move(batch);
    status_ = std::async(std::launch::async, [this] { return store_.Append(events_, &result_); });
    return true;
  }

  bool Finish(uint64_t* appended, ImportError* error) override {
    const Status status = status_.get();
    if (status.ok()) {
      *appended = result_.appended;
      return true;
    }
    error->status = status.ToString();
    error->event_id = status.event_id();
    error->exit_code = ExitCodeFor(status);
    if (status.code() == ledger::StatusCode::kIOError) {
      error->advice = "once the disk is fixed (space freed), run the same import again: the events already "
                      "appended are skipped by their ids.";
    }
    return false;
  }

  std::string HeadLine() override { return "head position " + std::to_string(store_.Head().position); }

 private:
  EventStore& store_;
  std::vector<ledger::NewEvent> events_;  // the batch being appended
  ledger::AppendResult result_;
  std::future<Status> status_;
};

}  // namespace

int RunImport(const ImportOptions& options) {
  std::unique_ptr<EventStore> store;
  Status status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return ReportError(status);
  std::ifstream file;
  std::istream* input = OpenImportInput(options.input, &file);
  if (input == nullptr) return 2;
  StoreSink sink(*store);
  return RunImportLoop(options, *input, sink);
}

int RunExport(const std::string& data_dir, uint64_t from_position, uint64_t max_events, const std::string& output) {
  std::unique_ptr<EventStore> store;
  Status status = OpenExistingReadOnly(data_dir, &store);
  if (!status.ok()) return ReportError(status);
  std::ofstream file;
  std::ostream* out = OpenOutput(output, &file);
  if (out == nullptr) return 2;
  status = store->ReadLog(from_position, max_events, [&](const ledger::StoredEvent& event) {
    *out << ledger::StoredEventToJson(event).dump() << '\n';
    return static_cast<bool>(*out);
  });
  if (!status.ok()) return ReportError(status);
  out->flush();
  if (!*out) {
    std::cerr << "error: write failed\n";
    return 2;
  }
  return 0;
}

int RunVerify(const std::string& data_dir) {
  std::unique_ptr<EventStore> store;
  Status status = OpenExistingReadOnly(data_dir, &store);
  if (!status.ok()) return ReportError(status);
  ledger::VerifyReport report;
  const auto start = std::chrono::steady_clock::now();
  status = store->Verify(&report);
  if (!status.ok()) return ReportError(status);
  if (report.first_bad_position != 0) {
    std::cout << "FAILED at position " << report.first_bad_position << ": " << report.problem << "\n";
    std::cout << report.events_checked << " events before it verified\n";
    return 1;
  }
  std::printf("OK: %llu events, hash chain verified in %.2f s\nhead position %llu hash %s\n",
              static_cast<unsigned long long>(report.events_checked), SecondsSince(start),
              static_cast<unsigned long long>(report.head.position), ledger::HashToHex(report.head.hash).c_str());
  return 0;
}

int RunStats(const std::string& data_dir, bool json) {
  std::unique_ptr<EventStore> store;
  Status status = OpenExistingReadOnly(data_dir, &store);
  if (!status.ok()) return ReportError(status);
  ledger::StoreStats stats;
  status = store->GetStats(&stats);
  if (!status.ok()) return ReportError(status);
  const bool has_events = stats.head.position > 0;
  if (json) {
    nlohmann::ordered_json out;
    out["events"] = stats.head.position;
    out["streams"] = stats.streams;
    out["head_hash"] = ledger::HashToHex(stats.head.hash);
    if (has_events) {
      out["last_recorded_at"] = ledger::FormatUtcMicros(stats.head.recorded_at_micros);
      out["first_effective_date"] = ledger::FormatDate(stats.first_effective_date);
      out["last_effective_date"] = ledger::FormatDate(stats.last_effective_date);
    }
    out["disk_bytes"] = stats.disk_bytes;
    nlohmann::ordered_json by_type = nlohmann::ordered_json::object();
    for (const auto& [type, count] : stats.events_by_type) by_type[std::string(ledger::EventTypeName(type))] = count;
    out["events_by_type"] = by_type;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("store            %s\n", data_dir.c_str());
  std::printf("events           %llu\n", static_cast<unsigned long long>(stats.head.position));
  std::printf("streams          %llu\n", static_cast<unsigned long long>(stats.streams));
  if (has_events) {
    std::printf("effective dates  %s .. %s\n", ledger::FormatDate(stats.first_effective_date).c_str(),
                ledger::FormatDate(stats.last_effective_date).c_str());
    std::printf("last recorded    %s\n", ledger::FormatUtcMicros(stats.head.recorded_at_micros).c_str());
  }
  std::printf("head hash        %s\n", ledger::HashToHex(stats.head.hash).c_str());
  std::printf("disk             %.1f MiB (%.0f bytes/event)\n", stats.disk_bytes / 1048576.0,
              has_events ? static_cast<double>(stats.disk_bytes) / stats.head.position : 0.0);
  std::printf("\n%-32s %10s\n", "event type", "count");
  for (const auto& [type, count] : stats.events_by_type) {
    std::printf("%-32s %10llu\n", std::string(ledger::EventTypeName(type)).c_str(),
                static_cast<unsigned long long>(count));
  }
  return 0;
}

int RunSimulate(const workload::SimulateOptions& options, const std::string& output) {
  std::ofstream file;
  std::ostream* out = OpenOutput(output, &file);
  if (out == nullptr) return 2;
  const workload::SimulateSummary summary = workload::WriteSimulatedHistory(options, *out);
  out->flush();
  std::cerr << "simulated " << summary.events << " events: " << summary.persons << " persons, " << summary.deliveries
            << " deliveries, " << summary.claims << " claims\n";
  return *out ? 0 : 2;
}

}  // namespace di::cli
