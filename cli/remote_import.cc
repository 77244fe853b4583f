// import --server HOST:PORT: the import verb through the binary endpoint of a running server
// (docs/protocol.md) instead of a local store. Same input, same batches, same guarantees and output as the
// local import: a batch is sent only after the one before it was acknowledged, so nothing after a refused
// batch is ever appended; parsing the next batch overlaps the server's append (and fsync) of the current one.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "di/ledger/json_codec.h"
#include "di/server/binary_client.h"

namespace di::cli {
namespace {

using server::ServiceCode;
using server::ServiceStatus;

// 1: the input was refused (validation, conflict, duplicate id, not allowed); 2: the server, the network or
// the system failed (retrying may help).
int RemoteExitCodeFor(const ServiceStatus& status) {
  switch (status.code()) {
    case ServiceCode::kInvalidArgument:
    case ServiceCode::kConflict:
    case ServiceCode::kDuplicateId:
    case ServiceCode::kForbidden:
    case ServiceCode::kUnauthenticated:
      return 1;
    default:
      return 2;
  }
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int RunRemoteImport(const ImportOptions& options, const std::string& server_address, const std::string& token_option) {
  std::string host;
  uint16_t port = 0;
  if (!server::ParseHostPort(server_address, &host, &port)) {
    std::cerr << "error: --server must be HOST:PORT, got '" << server_address << "'\n";
    return 2;
  }
  // The token from --token, else from DI_LEDGER_TOKEN (which keeps it out of the process list).
  std::string token = token_option;
  if (token.empty()) {
    if (const char* from_environment = std::getenv("DI_LEDGER_TOKEN")) token = from_environment;
  }
  if (token.empty()) {
    std::cerr << "error: import --server needs --token TOKEN (or DI_LEDGER_TOKEN in the environment)\n";
    return 2;
  }
  std::ifstream file;
  std::istream* input = &std::cin;
  if (options.input != "-") {
    file.open(options.input);
    if (!file) {
      std::cerr << "error: cannot read '" << options.input << "'\n";
      return 2;
    }
    input = &file;
  }
  server::BinaryClient client;
  server::BinaryClientOptions client_options;
  client_options.client_name = "di-ledger import";
  ServiceStatus status = client.Connect(host, port, token, client_options);
  if (!status.ok()) {
    std::cerr << "error: " << server_address << ": " << status.ToString() << "\n";
    return RemoteExitCodeFor(status);
  }

  const bool progress = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  uint64_t lines_read = 0, events_read = 0, appended = 0, batches = 0, head = client.welcome().head;
  uint64_t next_request_id = 1;
  std::vector<ledger::NewEvent> batch;
  std::vector<uint64_t> batch_lines;  // line number of each event of the batch

  struct InFlight {
    std::vector<std::string> ids;
    std::vector<uint64_t> lines;
    uint64_t request_id = 0;
    bool active = false;
  } in_flight;

  // Waits for the result of the batch in flight.
  auto finish = [&]() -> int {
    if (!in_flight.active) return 0;
    in_flight.active = false;
    ledger::AppendResult result;
    const ServiceStatus append_status = client.ReceiveAppendResult(in_flight.request_id, &result);
    if (!append_status.ok()) {
      uint64_t line = 0;
      for (size_t i = 0; i < in_flight.ids.size(); ++i) {
        if (in_flight.ids[i] == append_status.event_id()) line = in_flight.lines[i];
      }
      if (progress) std::cerr << "\n";
      std::cerr << "error: " << (line ? "line " + std::to_string(line) + ": " : "") << append_status.ToString()
                << "\nnothing of lines " << in_flight.lines.front() << ".." << in_flight.lines.back()
                << " was appended; " << appended << " events of earlier lines were.\n";
      return RemoteExitCodeFor(append_status);
    }
    appended += result.appended;
    head = result.last_position;
    ++batches;
    return 0;
  };
  auto submit = [&]() -> int {
    in_flight.ids.clear();
    for (const auto& event : batch) in_flight.ids.push_back(event.id());
    in_flight.lines = std::move(batch_lines);
    in_flight.request_id = next_request_id++;
    const ServiceStatus sent = client.SendAppend(batch, in_flight.request_id);
    batch.clear();
    batch_lines.clear();
    if (!sent.ok()) {
      std::cerr << "error: " << sent.ToString() << "\n" << appended << " events were appended before it.\n";
      return RemoteExitCodeFor(sent);
    }
    in_flight.active = true;
    return 0;
  };

  std::string line;
  while (std::getline(*input, line)) {
    ++lines_read;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are allowed
    ledger::NewEvent event;
    ledger::EventJsonOptions parse_options;
    parse_options.keep_recorded_at = options.keep_recorded_at;
    ledger::Status parse_status = ledger::EventFromJsonText(line, &event, parse_options);
    if (!parse_status.ok()) {
      if (int code = finish(); code != 0) return code;  // an earlier line's error comes first
      if (progress) std::cerr << "\n";
      std::cerr << "error: line " << lines_read << ": " << parse_status.ToString() << "\n";
      if (!batch.empty()) {
        std::cerr << "nothing of lines " << batch_lines.front() << ".." << lines_read << " was appended; "
                  << appended << " events of earlier lines were.\n";
      }
      return 1;
    }
    ++events_read;
    batch.push_back(std::move(event));
    batch_lines.push_back(lines_read);
    if (batch.size() >= options.batch_events) {
      if (int code = finish(); code != 0) return code;
      if (int code = submit(); code != 0) return code;
      if (progress && SecondsSince(last_progress) > 0.25) {
        last_progress = std::chrono::steady_clock::now();
        std::fprintf(stderr, "\rimported %llu events (%.0f events/s)", static_cast<unsigned long long>(appended),
                     appended / std::max(SecondsSince(start), 1e-9));
      }
    }
  }
  if (int code = finish(); code != 0) return code;
  if (!batch.empty()) {
    if (int code = submit(); code != 0) return code;
    if (int code = finish(); code != 0) return code;
  }
  client.Close();
  const double seconds = SecondsSince(start);
  if (progress) std::cerr << "\r\033[K";
  std::printf("imported %llu events (%llu already present) from %llu lines in %llu batches, %.2f s, %.0f events/s\n",
              static_cast<unsigned long long>(appended), static_cast<unsigned long long>(events_read - appended),
              static_cast<unsigned long long>(lines_read), static_cast<unsigned long long>(batches), seconds,
              appended / std::max(seconds, 1e-9));
  std::printf("head position %llu (server %s)\n", static_cast<unsigned long long>(head), server_address.c_str());
  return 0;
}

}  // namespace di::cli
