// HttpServer: the HTTP/1.1 JSON API of di-ledger (Boost.Asio + Beast), a thin shell over LedgerService.
//
//   HttpServer server(&service, &tokens, &metrics, HttpServerOptions{});
//   ledger::Status s = server.Start();     // binds; server.port() is the bound port (0 asks for any)
//   ...
//   server.Stop();                         // graceful: stop accepting, finish in-flight requests, close
//
// One io_context run by `threads` threads; one strand per connection. Every connection has a read deadline
// (a request must arrive whole within read_timeout, so a slow or stalled client only holds its own socket),
// a body limit (413) and a header limit (431). "Expect: 100-continue" is answered before the body is read;
// HEAD is answered wherever GET is; HTTP/1.0 requests are answered in HTTP/1.0 (not subscriptions: 400).
// Requests are handled on the io threads: appends block one
// thread until their group commit is durable, which is what lets concurrent appenders share an fsync.
// Subscriptions (GET /v1/subscribe) stream chunked NDJSON: see docs/api.md and subscription.cc; their pages
// are made by threads of their own (subscription_threads), not the io threads.
// Routes, error codes and limits: docs/api.md.
#ifndef DI_SERVER_HTTP_SERVER_H_
#define DI_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "di/server/ledger_service.h"
#include "di/server/metrics.h"

namespace di::server {

struct HttpServerOptions {
  // Address to bind. Default: 127.0.0.1 (loopback only; put a TLS-terminating proxy in front for a network).
  std::string address = "127.0.0.1";
  // Port to bind; 0 picks a free one (tests). Default: 8080.
  uint16_t port = 8080;
  // Threads running the io_context. Default: 4. Appends block a thread for their fsync (~0.2-2 ms), so
  // more threads let more appenders share one group commit.
  int threads = 4;
  // Largest request body, bytes. Default: 16 MiB (a batch of 10 000 events of ~1 KiB fits). Larger: 413.
  uint64_t body_limit_bytes = 16 * 1024 * 1024;
  // Largest request header block, bytes. Default: 16 KiB. Larger: 431.
  uint32_t header_limit_bytes = 16 * 1024;
  // A request refused before its body was read (413, or an "Expect: 100-continue" refused on its header) is
  // answered, then up to this many bytes of the body still coming are read and discarded (within
  // read_timeout) before the connection is closed, so that a client still writing its body reads the answer
  // instead of a reset. Default: 64 MiB.
  uint64_t discard_limit_bytes = 64 * 1024 * 1024;
  // A request (header and body) must arrive within this time from its first byte awaited, also between
  // keep-alive requests (idle connections are closed then). Default: 30 s.
  std::chrono::milliseconds read_timeout{30000};
  // A response must be taken by the client within this time. Default: 30 s.
  std::chrono::milliseconds write_timeout{30000};
  // Open connections beyond this get 503 and are closed. Default: 1024.
  size_t max_connections = 1024;
  // Subscriptions: a subscriber whose socket accepts no byte for this long is dropped. Default: 15 s.
  std::chrono::milliseconds subscription_stall_timeout{15000};
  // After the drop decision, time allowed to deliver the final {"error":{"code":"slow_consumer",...}} line
  // before the socket is closed. Default: 2 s.
  std::chrono::milliseconds subscription_drop_grace{2000};
  // A blank line is sent to an idle (caught-up) subscriber this often. Default: 5 s.
  std::chrono::milliseconds heartbeat_interval{5000};
  // Subscriptions open at once; more get 503. Default: 256.
  size_t max_subscribers = 256;
  // Threads that read and encode subscribers' pages, at a lower priority than the io threads, which never do
  // (so no subscriber's catch-up delays another request; server/src/page_workers.h). Default: 1.
  int subscription_threads = 1;
  // The largest page: what a subscriber is sent at once and all the server holds for it. At most this many
  // events (and at most the service's max_read_events), closed once it holds this many bytes of NDJSON (the
  // first event always goes). Default: 256 events, 256 KiB.
  size_t subscription_page_events = 256;
  size_t subscription_page_bytes = 256 * 1024;
  // SO_SNDBUF of a subscription's socket, bytes (unless socket_send_buffer_bytes sets every socket's): what the
  // kernel holds for a subscriber besides its page. Left alone, Linux grows the buffer of a subscriber that
  // stopped reading up to net.ipv4.tcp_wmem's maximum (4 MiB by default), for each of max_subscribers, and the
  // server spends the work of filling it. Default: 256 KiB (Linux doubles it for its bookkeeping): ~10 MB/s to
  // a client 50 ms away.
  int subscription_send_buffer_bytes = 256 * 1024;
  // SO_SNDBUF of accepted sockets, bytes; 0 keeps the kernel's default (tests set a small one to stall fast).
  int socket_send_buffer_bytes = 0;
  // Graceful stop: in-flight requests get this long to finish before the io_context is stopped. Default: 10 s.
  std::chrono::milliseconds stop_timeout{10000};
};

class HttpServer {
 public:
  // `service`, `tokens` and `metrics` must outlive the server.
  HttpServer(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics, HttpServerOptions options);
  ~HttpServer();  // Stop()s if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. Fails (io_error) if the address cannot be bound.
  ledger::Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish (up to stop_timeout), ends subscriptions, joins the
  // threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One request as raw bytes (request line, headers, body) through the server's parser (with the options'
// header and body limits), router and handlers, without sockets: for tests and fuzzing
// (tests/fuzz/fuzz_http_request.cc). `status` 0: the server would close the connection without an answer
// (no request at all, or an unreadable one it does not answer). An accepted subscription is `status` 200
// with an empty body (nothing is streamed). Bytes after the first request are ignored.
struct RawHttpExchange {
  unsigned status = 0;
  std::string body;
};
RawHttpExchange HandleRawRequestForTesting(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics,
                                           const HttpServerOptions& options, std::string_view request_bytes);

}  // namespace di::server

#endif  // DI_SERVER_HTTP_SERVER_H_
