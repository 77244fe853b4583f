// The binary endpoint (binary_endpoint.h): accepting connections, starting and stopping the threads, the
// counters. Each connection's conversation is binary_connection.cc; the framing binary_frame.cc.
#include "di/server/binary_endpoint.h"

#include <algorithm>
#include <memory>

#include "binary_connection.h"
#include "binary_endpoint_impl.h"
#include "di/ledger/invariant.h"

namespace di::server {

using binary_internal::Clock;
using binary_internal::Connection;
using binary_internal::error_code;
using binary_internal::tcp;
namespace net = binary_internal::net;

void BinaryEndpoint::Impl::Accept() {
  acceptor->async_accept(net::make_strand(io), [this](error_code error, tcp::socket socket) {
    if (error) {
      if (error == net::error::operation_aborted || !acceptor->is_open()) return;
      return Accept();  // e.g. out of file descriptors: keep serving the connections we have
    }
    if (options.socket_send_buffer_bytes > 0) {
      error_code ignored;
      socket.set_option(net::socket_base::send_buffer_size(options.socket_send_buffer_bytes), ignored);
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string refuse_code, refuse_message;
    if (stopping) {
      refuse_code = "shutdown";
      refuse_message = "the server is shutting down";
    } else if (connections_open.load() >= options.max_connections) {
      ++connections_refused;
      refuse_code = "too_many_connections";
      refuse_message = "the server has " + std::to_string(options.max_connections) + " connections open; retry later";
    }
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    // Start on the connection's strand: its handlers must never run concurrently.
    net::post(connection->executor(), [connection, refuse_code, refuse_message] {
      connection->Start(refuse_code, refuse_message);
    });
    if (!stopping) Accept();
  });
}

BinaryEndpoint::BinaryEndpoint(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics,
                               BinaryEndpointOptions options)
    : impl_(std::make_unique<Impl>(options.threads)) {
  DI_ASSERT(service != nullptr && tokens != nullptr);
  impl_->service = service;
  impl_->tokens = tokens;
  impl_->metrics = metrics;
  impl_->options = std::move(options);
  if (metrics != nullptr) {
    using T = Metrics::Type;
    metrics->Declare("di_binary_connections", T::kGauge, "Open connections of the binary endpoint.");
    metrics->Declare("di_binary_subscribers", T::kGauge, "Open subscriptions of the binary endpoint.");
    metrics->Declare("di_binary_subscriber_buffered_bytes", T::kGauge,
                     "Bytes the binary endpoint holds for its subscribers (at most one batch each).");
    metrics->Declare("di_binary_frames_total", T::kCounter, "Frames received by the binary endpoint.");
    metrics->Declare("di_binary_subscription_events_total", T::kCounter,
                     "Events sent to subscribers of the binary endpoint.");
    metrics->Declare("di_binary_subscriptions_dropped_total", T::kCounter,
                     "Subscriptions of the binary endpoint dropped by the server, by reason.");
  }
}

BinaryEndpoint::~BinaryEndpoint() { Stop(); }

ledger::Status BinaryEndpoint::Start(const std::string& address, uint16_t port, uint16_t* bound_port) {
  Impl& impl = *impl_;
  if (impl.running || impl.stopping) return ledger::Status::InvalidArgument("the endpoint was started already");
  error_code error;
  const net::ip::address ip = net::ip::make_address(address, error);
  if (error) return ledger::Status::InvalidArgument("'" + address + "' is not an IP address", "address");
  const tcp::endpoint endpoint(ip, port);
  impl.acceptor.emplace(impl.io);
  auto fail = [&](const char* what) {
    impl.acceptor.reset();
    return ledger::Status::Make(ledger::StatusCode::kIOError, std::string("binary endpoint: cannot ") + what + " " +
                                                                  address + ":" + std::to_string(port) + ": " +
                                                                  error.message());
  };
  impl.acceptor->open(endpoint.protocol(), error);
  if (error) return fail("open");
  impl.acceptor->set_option(net::socket_base::reuse_address(true), error);
  impl.acceptor->bind(endpoint, error);
  if (error) return fail("bind");
  impl.acceptor->listen(net::socket_base::max_listen_connections, error);
  if (error) return fail("listen on");
  *bound_port = impl.acceptor->local_endpoint().port();
  impl.work.emplace(net::make_work_guard(impl.io));
  impl.Accept();
  for (int i = 0; i < std::max(impl.options.threads, 1); ++i) impl.threads.emplace_back([&impl] { impl.io.run(); });
  impl.running = true;
  return ledger::Status::Ok();
}

void BinaryEndpoint::Stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  impl.stopping = true;
  net::post(impl.io, [&impl] {
    error_code ignored;
    impl.acceptor->close(ignored);
  });
  {
    std::unique_lock lock(impl.connections_mutex);
    for (auto& [id, stopper] : impl.stoppers) stopper();
    impl.connections_closed.wait_until(lock, Clock::now() + impl.options.stop_timeout,
                                       [&] { return impl.stoppers.empty(); });
  }
  impl.work.reset();
  impl.io.stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  // After the io threads: until they stopped, a subscription ending could still be waiting for its batch.
  impl.pages.Stop();
}

BinaryEndpoint::Stats BinaryEndpoint::GetStats() const {
  const Impl& impl = *impl_;
  Stats stats;
  stats.connections_open = impl.connections_open.load();
  stats.connections_total = impl.connections_total.load();
  stats.connections_refused = impl.connections_refused.load();
  stats.subscribers_open = impl.subscribers_open.load();
  stats.subscribers_dropped = impl.subscribers_dropped.load();
  stats.frames_refused = impl.frames_refused.load();
  stats.subscription_events_sent = impl.events_sent.load();
  stats.subscriber_buffered_bytes_now = impl.buffered_bytes_now.load();
  stats.subscriber_buffered_bytes_max = impl.buffered_bytes_max.load();
  stats.subscriber_buffered_events_max = impl.buffered_events_max.load();
  return stats;
}
}  // namespace di::server
