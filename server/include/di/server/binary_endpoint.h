// BinaryEndpoint: the Cap'n Proto binary endpoint of di-ledger (bulk append and subscriptions over TCP). Its
// framing and limits are in binary_frame.h; the client, a library of its own, in binary_client.h.
//
//   BinaryEndpoint endpoint(&service, &tokens, &metrics, BinaryEndpointOptions{});
//   uint16_t port = 0;
//   ledger::Status s = endpoint.Start("127.0.0.1", 8081, &port);  // port 0 picks a free one
//   ...
//   endpoint.Stop();     // stop accepting, end every connection with error(shutdown), join the threads
//
// Frames are Cap'n Proto messages in the standard stream framing (server/schema/protocol.capnp; the
// conversation, limits and error codes are in docs/protocol.md). Like the HTTP server, the endpoint is a thin
// shell over LedgerService: authentication by the same bearer tokens, every role and scope check, the
// pseudonymisation of readers' events and the visibility of events are the service's. Events arrive as
// Cap'n Proto structs and are checked by the ledger's rules for a submitted event (ledger::EventFromReader,
// the same rules the JSON codec applies to an HTTP append), so both transports accept and refuse exactly the
// same events, and store the same bytes.
//
// Threads: one io_context run by `threads` threads, one strand per connection. An append blocks its thread
// until its group commit is durable (as in the HTTP server), so concurrent appenders share an fsync.
// Limits: frame size (larger: error(frame_too_large) and close), a read deadline per frame (idle or stalled
// clients are closed), open connections, and per subscriber one batch in memory at a time (a subscriber
// whose socket takes no byte for subscription_stall_timeout is dropped with error(slow_consumer); it
// resumes from the last position it saw).
#ifndef DI_SERVER_BINARY_ENDPOINT_H_
#define DI_SERVER_BINARY_ENDPOINT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "di/server/binary_frame.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"

namespace di::server {

struct BinaryEndpointOptions {
  // Threads running the endpoint's io_context. Default: 2. Appends block a thread for their fsync, so more
  // threads let more concurrent appenders share a group commit.
  int threads = 2;
  // Largest frame (segment table + segments) the server accepts, bytes. Default: kDefaultMaxFrameBytes (32 MiB,
  // binary_frame.h says why). Larger: error(frame_too_large), then close.
  uint64_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Largest number of segments in a frame. Default: kMaxFrameSegments (512).
  uint32_t max_frame_segments = kMaxFrameSegments;
  // A whole frame must arrive within this time from the moment the server waits for it; this also closes
  // idle connections (not subscriptions, which send nothing). Default: 30 s.
  std::chrono::milliseconds read_timeout{30000};
  // Open connections beyond this get error(too_many_connections) and are closed. Default: 256.
  size_t max_connections = 256;
  // Subscriptions: events per EventBatch (also the most read from the store per step). Default: 1000.
  uint32_t subscription_batch_events = 1000;
  // Subscriptions: a batch is closed once its encoded events exceed this many bytes (a single event larger
  // than this still travels alone). With the batch size this bounds a subscriber's memory. Default: 4 MiB.
  uint64_t subscription_batch_bytes = 4 * 1024 * 1024;
  // Subscriptions: threads that read and encode the batches, at a lower priority than the io threads, which
  // never do (so no subscriber's catch-up delays an append; server/src/page_workers.h). Default: 1.
  int subscription_threads = 1;
  // Subscriptions: SO_SNDBUF of a subscriber's socket, bytes (unless socket_send_buffer_bytes sets every
  // socket's): what the kernel holds for a subscriber besides its batch (as HttpServerOptions'). Default: 256 KiB.
  int subscription_send_buffer_bytes = 256 * 1024;
  // A subscriber whose socket accepts no byte for this long is dropped with error(slow_consumer). Default: 15 s.
  std::chrono::milliseconds subscription_stall_timeout{15000};
  // After the drop (or shutdown) decision, time allowed to deliver the final error frame, and to drain what
  // the client still sends, before the socket is closed. Default: 2 s.
  std::chrono::milliseconds close_grace{2000};
  // A heartbeat is sent to an idle (caught-up) subscriber this often. Default: 5 s.
  std::chrono::milliseconds heartbeat_interval{5000};
  // SO_SNDBUF of accepted sockets, bytes; 0 keeps the kernel's default (tests set a small one to stall fast).
  int socket_send_buffer_bytes = 0;
  // Stop(): connections get this long to finish an append in flight and take their final frame. Default: 10 s.
  std::chrono::milliseconds stop_timeout{10000};
};

class BinaryEndpoint {
 public:
  // Counters for tests and operators (also exported as di_binary_* metrics when `metrics` is given).
  struct Stats {
    uint64_t connections_open = 0;
    uint64_t connections_total = 0;
    uint64_t connections_refused = 0;      // beyond max_connections
    uint64_t subscribers_open = 0;
    uint64_t subscribers_dropped = 0;      // slow consumers
    uint64_t frames_refused = 0;           // malformed, too large, out of protocol, timed out
    uint64_t subscription_events_sent = 0;
    // Per subscriber: the bytes / events of the frames it holds in memory (at most one batch plus the final
    // error frame). `_now` sums every subscriber; `_max` is the largest single-subscriber value ever seen.
    uint64_t subscriber_buffered_bytes_now = 0;
    uint64_t subscriber_buffered_bytes_max = 0;
    uint64_t subscriber_buffered_events_max = 0;
  };

  // `service`, `tokens` and `metrics` (may be null) must outlive the endpoint.
  BinaryEndpoint(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics, BinaryEndpointOptions options);
  ~BinaryEndpoint();  // Stop()s if running
  BinaryEndpoint(const BinaryEndpoint&) = delete;
  BinaryEndpoint& operator=(const BinaryEndpoint&) = delete;

  // Binds `address`:`port` (0: any free port), starts the threads and sets `*bound_port`.
  ledger::Status Start(const std::string& address, uint16_t port, uint16_t* bound_port);
  // Stops accepting, ends every connection (an append in flight completes and is answered first; then
  // error(shutdown)), waits up to stop_timeout, joins the threads. Idempotent.
  void Stop();

  Stats GetStats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace di::server

#endif  // DI_SERVER_BINARY_ENDPOINT_H_
