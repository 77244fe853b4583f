// import --server HOST:PORT: the import verb through the binary endpoint of a running server
// (docs/protocol.md) instead of a local store. Same input, same batches, same guarantees and output as the
// local import, by the same loop (import_driver.h) over a sink that sends each batch to the server: a batch is
// sent only after the one before it was acknowledged, so nothing after a refused batch is ever appended.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "di/server/binary_client.h"
#include "import_driver.h"

namespace di::cli {
namespace {

using ledger::Status;
using ledger::StatusCode;

// 1: the input was refused (validation, conflict, duplicate id, not allowed); 2: the server, the network or
// the system failed (retrying may help).
int RemoteExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kConflict:
    case StatusCode::kDuplicateId:
    case StatusCode::kForbidden:
    case StatusCode::kUnauthenticated:
      return 1;
    default:
      return 2;
  }
}

// A server's binary endpoint as the import's sink: a batch is sent at once and its result read when the loop
// asks, so the server appends (and fsyncs) it while the loop parses the next one.
class ServerSink : public ImportSink {
 public:
  ServerSink(server::BinaryClient& client, std::string server_address)
      : client_(client), server_address_(std::move(server_address)), head_(client.welcome().head) {}

  bool Submit(std::vector<ledger::NewEvent> batch, ImportError* error) override {
    request_id_ = next_request_id_++;
    const Status sent = client_.SendAppend(batch, request_id_);
    if (sent.ok()) return true;
    *error = ErrorOf(sent);
    return false;
  }

  bool Finish(uint64_t* appended, ImportError* error) override {
    ledger::AppendResult result;
    const Status status = client_.ReceiveAppendResult(request_id_, &result);
    if (!status.ok()) {
      *error = ErrorOf(status);
      return false;
    }
    *appended = result.appended;
    head_ = result.last_position;
    return true;
  }

  std::string HeadLine() override {
    return "head position " + std::to_string(head_) + " (server " + server_address_ + ")";
  }

 private:
  static ImportError ErrorOf(const Status& status) {
    ImportError error;
    error.status = status.ToString();
    error.event_id = status.event_id();
    error.exit_code = RemoteExitCodeFor(status);
    return error;
  }

  server::BinaryClient& client_;
  const std::string server_address_;
  uint64_t head_ = 0;  // the server's head as of the last acknowledged batch (or the welcome)
  uint64_t next_request_id_ = 1, request_id_ = 0;
};

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
  std::istream* input = OpenImportInput(options.input, &file);
  if (input == nullptr) return 2;
  server::BinaryClient client;
  server::BinaryClientOptions client_options;
  client_options.client_name = "di-ledger import";
  Status status = client.Connect(host, port, token, client_options);
  if (!status.ok()) {
    std::cerr << "error: " << server_address << ": " << status.ToString() << "\n";
    return RemoteExitCodeFor(status);
  }

  ServerSink sink(client, server_address);
  return RunImportLoop(options, *input, sink);
}

}  // namespace di::cli
