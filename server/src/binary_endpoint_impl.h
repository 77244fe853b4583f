// Internal to server/: the binary endpoint's shared state (BinaryEndpoint::Impl), which the endpoint
// (binary_endpoint.cc: accept, start, stop) and each connection (binary_connection.h) use.
#ifndef DI_SERVER_BINARY_ENDPOINT_IMPL_H_
#define DI_SERVER_BINARY_ENDPOINT_IMPL_H_

#include <atomic>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "di/server/binary_endpoint.h"
#include "page_workers.h"

namespace di::server {

namespace binary_internal {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
}  // namespace binary_internal

struct BinaryEndpoint::Impl {
  LedgerService* service = nullptr;
  const TokenRegistry* tokens = nullptr;
  Metrics* metrics = nullptr;
  BinaryEndpointOptions options;

  std::atomic<bool> stopping{false};
  bool running = false;

  // Open connections and how to ask each to stop (posts to its strand).
  std::mutex connections_mutex;
  std::condition_variable connections_closed;
  std::map<uint64_t, std::function<void()>> stoppers;
  uint64_t next_connection_id = 1;

  std::atomic<uint64_t> connections_open{0}, connections_total{0}, connections_refused{0};
  std::atomic<uint64_t> subscribers_open{0}, subscribers_dropped{0}, frames_refused{0}, events_sent{0};
  std::atomic<uint64_t> buffered_bytes_now{0}, buffered_bytes_max{0}, buffered_events_max{0};

  // Subscribers' batches are made here, never on the io threads (page_workers.h says why). Started by the
  // first subscription; stopped by Stop() once the io threads are joined.
  internal::PageWorkers pages;

  // Declared last: destroyed first, so that handlers it still holds (and the connections they keep alive)
  // are destroyed while everything above is intact.
  binary_internal::net::io_context io;
  std::optional<binary_internal::tcp::acceptor> acceptor;
  std::optional<binary_internal::net::executor_work_guard<binary_internal::net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  explicit Impl(int thread_count) : io(std::max(thread_count, 1)) {}

  uint64_t Register(std::function<void()> stopper) {
    std::lock_guard lock(connections_mutex);
    const uint64_t id = next_connection_id++;
    stoppers[id] = std::move(stopper);
    return id;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(connections_mutex);
    stoppers.erase(id);
    connections_closed.notify_all();
  }

  static void RaiseTo(std::atomic<uint64_t>& maximum, uint64_t value) {
    uint64_t current = maximum.load();
    while (value > current && !maximum.compare_exchange_weak(current, value)) {
    }
  }

  void SetGauges() {
    if (metrics == nullptr) return;
    metrics->Set("di_binary_connections", {}, static_cast<double>(connections_open.load()));
    metrics->Set("di_binary_subscribers", {}, static_cast<double>(subscribers_open.load()));
    metrics->Set("di_binary_subscriber_buffered_bytes", {}, static_cast<double>(buffered_bytes_now.load()));
  }

  void Accept();
};

}  // namespace di::server

#endif  // DI_SERVER_BINARY_ENDPOINT_IMPL_H_
