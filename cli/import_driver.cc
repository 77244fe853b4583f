// The import loop (import_driver.h).
#include "import_driver.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "di/ledger/json_codec.h"

namespace di::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds between two progress lines on a terminal.
constexpr double kProgressIntervalSeconds = 0.25;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The loop's state: what was read and appended, and the batch in flight.
class ImportLoop {
 public:
  ImportLoop(const ImportOptions& options, ImportSink& sink)
      : options_(options), sink_(sink), progress_(isatty(STDERR_FILENO) != 0), start_(Clock::now()),
        last_progress_(start_) {}

  int Run(std::istream& input) {
    ledger::EventJsonOptions parse_options;
    parse_options.keep_recorded_at = options_.keep_recorded_at;
    std::string line;
    while (std::getline(input, line)) {
      ++lines_read_;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are allowed
      ledger::NewEvent event;
      ledger::Status parse_status = ledger::EventFromJsonText(line, &event, parse_options);
      if (!parse_status.ok()) return RefuseLine(parse_status);
      ++events_read_;
      batch_.push_back(std::move(event));
      batch_lines_.push_back(lines_read_);
      if (batch_.size() >= options_.batch_events) {
        if (int code = Finish(); code != 0) return code;
        if (int code = Submit(); code != 0) return code;
        ShowProgress();
      }
    }
    if (int code = Finish(); code != 0) return code;
    if (!batch_.empty()) {
      if (int code = Submit(); code != 0) return code;
      if (int code = Finish(); code != 0) return code;
    }
    PrintSummary();
    return 0;
  }

 private:
  // A line that is not an event: an earlier line's error comes first; nothing of the batch being cut goes.
  int RefuseLine(const ledger::Status& parse_status) {
    if (int code = Finish(); code != 0) return code;
    if (progress_) std::cerr << "\n";
    std::cerr << "error: line " << lines_read_ << ": " << parse_status.ToString() << "\n";
    if (!batch_.empty()) {
      std::cerr << "nothing of lines " << batch_lines_.front() << ".." << lines_read_ << " was appended; "
                << appended_ << " events of earlier lines were.\n";
    }
    return 1;
  }

  int Submit() {
    in_flight_ids_.clear();
    for (const auto& event : batch_) in_flight_ids_.push_back(event.id());
    in_flight_lines_ = std::move(batch_lines_);
    batch_lines_.clear();
    ImportError error;
    const bool submitted = sink_.Submit(std::move(batch_), &error);
    batch_.clear();
    if (!submitted) {
      std::cerr << "error: " << error.status << "\n" << appended_ << " events were appended before it.\n";
      return error.exit_code;
    }
    in_flight_ = true;
    return 0;
  }

  // Waits for the batch in flight, if any.
  int Finish() {
    if (!in_flight_) return 0;
    in_flight_ = false;
    uint64_t appended = 0;
    ImportError error;
    if (sink_.Finish(&appended, &error)) {
      appended_ += appended;
      ++batches_;
      return 0;
    }
    uint64_t line = 0;
    for (size_t i = 0; i < in_flight_ids_.size(); ++i) {
      if (in_flight_ids_[i] == error.event_id) line = in_flight_lines_[i];
    }
    if (progress_) std::cerr << "\n";
    std::cerr << "error: " << (line ? "line " + std::to_string(line) + ": " : "") << error.status
              << "\nnothing of lines " << in_flight_lines_.front() << ".." << in_flight_lines_.back()
              << " was appended; " << appended_ << " events of earlier lines were.\n";
    if (!error.advice.empty()) std::cerr << error.advice << "\n";
    return error.exit_code;
  }

  void ShowProgress() {
    if (!progress_ || SecondsSince(last_progress_) <= kProgressIntervalSeconds) return;
    last_progress_ = Clock::now();
    std::fprintf(stderr, "\rimported %llu events (%.0f events/s)", static_cast<unsigned long long>(appended_),
                 appended_ / std::max(SecondsSince(start_), 1e-9));
  }

  void PrintSummary() {
    const double seconds = SecondsSince(start_);
    if (progress_) std::cerr << "\r\033[K";
    std::printf("imported %llu events (%llu already present) from %llu lines in %llu batches, %.2f s, %.0f events/s\n",
                static_cast<unsigned long long>(appended_),
                static_cast<unsigned long long>(events_read_ - appended_),
                static_cast<unsigned long long>(lines_read_), static_cast<unsigned long long>(batches_), seconds,
                appended_ / std::max(seconds, 1e-9));
    std::printf("%s\n", sink_.HeadLine().c_str());
  }

  const ImportOptions& options_;
  ImportSink& sink_;
  const bool progress_;
  const Clock::time_point start_;
  Clock::time_point last_progress_;
  uint64_t lines_read_ = 0, events_read_ = 0, appended_ = 0, batches_ = 0;
  std::vector<ledger::NewEvent> batch_;   // being cut
  std::vector<uint64_t> batch_lines_;     // the line of each event of batch_
  bool in_flight_ = false;                // a batch was submitted and not finished
  std::vector<std::string> in_flight_ids_;
  std::vector<uint64_t> in_flight_lines_;
};

}  // namespace

std::istream* OpenImportInput(const std::string& path, std::ifstream* file) {
  if (path == "-") return &std::cin;
  file->open(path);
  if (!*file) {
    std::cerr << "error: cannot read '" << path << "'\n";
    return nullptr;
  }
  return file;
}

int RunImportLoop(const ImportOptions& options, std::istream& input, ImportSink& sink) {
  return ImportLoop(options, sink).Run(input);
}

}  // namespace di::cli
