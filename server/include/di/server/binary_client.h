// BinaryClient: a small blocking client of the binary endpoint (binary_endpoint.h; the protocol is
// server/schema/protocol.capnp, docs/protocol.md). A library of its own (target di_binary_client), so that a
// program that only talks to a running server (`di-ledger import --server`, examples/read-model) links the
// client, not the endpoint's threads and sockets. Not thread-safe: one connection, one thread.
//
//   BinaryClient client;
//   ledger::Status s = client.Connect("127.0.0.1", 8081, token);      // hello -> welcome
//   ledger::AppendResult result;
//   s = client.Append(batch, &result);                                 // one atomic append
//   s = client.Subscribe({.after = 0});                                // or: a subscription
//   SubscriptionUpdate update;
//   while (client.Next(&update).ok()) ...                              // batches and heartbeats
#ifndef DI_SERVER_BINARY_CLIENT_H_
#define DI_SERVER_BINARY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "di/ledger/event.h"
#include "di/ledger/event_store.h"
#include "di/server/binary_frame.h"
#include "di/server/ledger_service.h"

namespace di::server {

struct BinaryClientOptions {
  std::string client_name = "di-ledger";
  // Every receive waits at most this long (SO_RCVTIMEO); then the call fails with io_error "timed out".
  std::chrono::milliseconds receive_timeout{60000};
  // SO_RCVBUF of the socket, bytes; 0 keeps the kernel's default (tests set a small one).
  int receive_buffer_bytes = 0;
  // Largest frame accepted from the server. Default: 64 MiB (twice the server's default largest request: a
  // subscription batch is bounded by the server's batch bytes, 4 MiB by default, plus one large event).
  uint64_t max_frame_bytes = 64 * 1024 * 1024;
};

// What the server said after hello.
struct BinaryWelcome {
  std::string principal, role, municipality;
  uint64_t head = 0;
  uint64_t max_frame_bytes = 0;
  uint32_t max_batch_events = 0;
};

struct ReceivedEvent {
  uint64_t position = 0;
  std::string json;
  std::string record;  // canonical RecordedEvent bytes, when asked for and allowed
  std::string hash;    // 32 bytes, with `record`
};

// One frame of a subscription: a batch of events or a heartbeat (then `events` is empty and is_heartbeat).
struct SubscriptionUpdate {
  bool is_heartbeat = false;
  std::vector<ReceivedEvent> events;
  uint64_t last_position = 0;  // resume with after = last_position
  uint64_t head = 0;
};

class BinaryClient {
 public:
  BinaryClient();
  ~BinaryClient();
  BinaryClient(const BinaryClient&) = delete;
  BinaryClient& operator=(const BinaryClient&) = delete;

  // Connects to host:port, sends hello and waits for welcome. A refusal is returned as the server's status
  // (unauthenticated, too_many_connections, ...).
  ledger::Status Connect(const std::string& host, uint16_t port, const std::string& token,
                         BinaryClientOptions options = {});
  const BinaryWelcome& welcome() const { return welcome_; }

  // Sends one batch (no wait), then receives its result: together, one atomic append. Split so that a
  // caller can prepare the next batch while the server appends this one.
  ledger::Status SendAppend(const std::vector<ledger::NewEvent>& batch, uint64_t request_id);
  ledger::Status ReceiveAppendResult(uint64_t request_id, ledger::AppendResult* result);
  ledger::Status Append(const std::vector<ledger::NewEvent>& batch, ledger::AppendResult* result);

  // Turns the connection into a subscription; then call Next() repeatedly.
  ledger::Status Subscribe(const SubscribeRequest& request);
  // The next batch or heartbeat. An error frame (slow_consumer, shutdown, ...) is returned as its status;
  // a closed connection as io_error.
  ledger::Status Next(SubscriptionUpdate* update);

  // Sends raw bytes (tests: garbage, oversized frames) and reads the server's next frame as a status.
  ledger::Status SendRawForTesting(const std::string& bytes);
  ledger::Status ReceiveErrorForTesting();

  void Close();
  bool connected() const { return fd_ >= 0; }
  // The wire code of the last error the server sent ("slow_consumer", "frame_too_large", "forbidden", ...):
  // the endpoint's own codes have no ledger::StatusCode of their own (they map to busy or invalid_argument).
  const std::string& last_error_code() const { return last_error_code_; }

 private:
  ledger::Status Send(const std::string& frame);
  ledger::Status Fail(ledger::Status status);  // closes the connection, returns `status`
  int fd_ = -1;
  std::string last_error_code_;
  BinaryClientOptions options_;
  BinaryWelcome welcome_;
  uint64_t next_request_id_ = 1;
};

// Parses "host:port" (port required). False on a malformed address.
bool ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

}  // namespace di::server

#endif  // DI_SERVER_BINARY_CLIENT_H_
