// Subscriptions: GET /v1/subscribe?after=P streams every visible event after P, in order, as chunked NDJSON
// (one event per line, the JSON of export; pseudonymised for readers), then new events as they are folded.
//
// Memory is bounded per subscriber: the next page (at most max_read_events events) is read from the store
// only after the previous one was taken by the socket, so a slow consumer holds one page, never a backlog,
// and writers never wait for it (they only post a wake-up to its strand). Progress is measured per
// write_some: a socket that accepts no byte for subscription_stall_timeout is a stalled consumer. It is
// dropped: the final line {"error":{"code":"slow_consumer",...,"resume_from":P}} is queued after the page in
// flight and the socket closed after subscription_drop_grace whether or not it got through (a consumer that
// reads again within the grace sees it). Every event before resume_from was in the bytes before that line,
// so resuming from it loses nothing and repeats nothing. A caught-up subscriber gets a blank line every
// heartbeat_interval, so it can tell an idle stream from a dead one (and the server notices a closed socket).
#include <chrono>
#include <cstdio>

#include "http_internal.h"

namespace di::server::internal {
namespace {

using Clock = std::chrono::steady_clock;

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string chunk(size);
  chunk.append(data);
  chunk.append("\r\n");
  return chunk;
}

class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  Subscription(Context& context, beast::tcp_stream stream, SubscriptionPlan plan)
      : context_(context),
        socket_(std::move(stream.socket())),
        plan_(std::move(plan)),
        cursor_(plan_.after),
        watchdog_(socket_.get_executor()),
        heartbeat_(socket_.get_executor()),
        grace_(socket_.get_executor()) {}

  ~Subscription() {
    context_.service->RemoveHeadListener(listener_id_);
    --context_.subscribers;
    if (context_.metrics != nullptr) {
      context_.metrics->Set("di_subscribers", {}, static_cast<double>(context_.subscribers.load()));
    }
    context_.UnregisterConnection(connection_id_);
  }

  void Start() {
    ++context_.subscribers;
    if (context_.metrics != nullptr) {
      context_.metrics->Set("di_subscribers", {}, static_cast<double>(context_.subscribers.load()));
    }
    std::weak_ptr<Subscription> weak = weak_from_this();
    auto executor = socket_.get_executor();
    connection_id_ = context_.RegisterConnection([weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->End("shutdown", "the server is shutting down");
      });
    });
    listener_id_ = context_.service->AddHeadListener([weak, executor](uint64_t) {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->OnHeadChanged();
      });
    });
    pending_ =
        "HTTP/1.1 200 OK\r\nServer: di-ledger\r\nContent-Type: application/x-ndjson\r\nCache-Control: no-store\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    last_progress_ = Clock::now();
    WatchClient();
    ArmWatchdog();
    Pump();
  }

 private:
  // Reading from the client only tells us when it leaves (EOF or reset): it sends nothing after its request.
  void WatchClient() {
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) return self->Close();
      self->WatchClient();
    });
  }

  void ArmWatchdog() {
    const auto period = std::max(context_.options.subscription_stall_timeout / 4, std::chrono::milliseconds(20));
    watchdog_.expires_after(period);
    watchdog_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (error || self->closed_) return;
      if (self->writing_ && Clock::now() - self->last_progress_ > self->context_.options.subscription_stall_timeout) {
        self->End("slow_consumer", "the subscriber took no data for " +
                                       std::to_string(self->context_.options.subscription_stall_timeout.count()) +
                                       " ms; resume from resume_from");
        return;
      }
      self->ArmWatchdog();
    });
  }

  void ArmHeartbeat() {
    heartbeat_.expires_after(context_.options.heartbeat_interval);
    heartbeat_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (error || self->closed_ || self->ending_ || !self->idle_) return;
      // pending_ must not change under a write in flight (the write points into it).
      if (!self->writing_ && self->pending_.empty()) {
        self->pending_ = Chunk("\n");
        self->Pump();
      }
      self->ArmHeartbeat();
    });
  }

  void OnHeadChanged() {
    if (idle_ && !ending_) Pump();
  }

  // Writes what is pending, else reads the next page; idles when caught up.
  void Pump() {
    if (closed_ || writing_) return;
    if (!pending_.empty()) return WriteSome();
    if (ending_) {
      if (tail_.empty()) return Close();
      pending_ = std::move(tail_);
      tail_.clear();
      return WriteSome();
    }
    ReadPage page;
    ServiceStatus status = context_.service->ReadLog(plan_.principal, cursor_, 0, plan_.filter, &page);
    if (!status.ok()) return End(std::string(status.CodeName()), status.message());
    if (page.next_after == cursor_) {  // caught up
      if (!idle_) {
        idle_ = true;
        ArmHeartbeat();
      }
      return;
    }
    idle_ = false;
    heartbeat_.cancel();
    std::string lines;
    for (const auto& event : page.events) lines += event.dump() + "\n";
    cursor_ = page.next_after;
    events_in_pending_ = page.events.size();
    if (lines.empty()) {  // every scanned event was filtered out: scan on, letting other work run between pages
      net::post(socket_.get_executor(), [self = shared_from_this()] { self->Pump(); });
      return;
    }
    pending_ = Chunk(lines);
    WriteSome();
  }

  void WriteSome() {
    writing_ = true;
    socket_.async_write_some(net::buffer(pending_.data() + offset_, pending_.size() - offset_),
                             [self = shared_from_this()](beast::error_code error, size_t written) {
                               self->OnWritten(error, written);
                             });
  }

  void OnWritten(beast::error_code error, size_t written) {
    writing_ = false;
    if (error) return Close();
    offset_ += written;
    if (written > 0) last_progress_ = Clock::now();
    if (offset_ < pending_.size()) return WriteSome();
    pending_.clear();
    offset_ = 0;
    if (context_.metrics != nullptr && events_in_pending_ > 0) {
      context_.metrics->Add("di_subscription_events_total", {}, static_cast<double>(events_in_pending_));
    }
    events_in_pending_ = 0;
    Pump();
  }

  // Queues the final line (after whatever is in flight), then closes; a grace timer closes regardless.
  void End(const std::string& code, const std::string& message) {
    if (ending_ || closed_) return;
    ending_ = true;
    heartbeat_.cancel();
    if (context_.metrics != nullptr && code != "shutdown") {
      context_.metrics->Add("di_subscriptions_dropped_total", {{"reason", code}});
    }
    nlohmann::ordered_json error;
    error["code"] = code;
    error["message"] = message;
    error["field"] = "";
    error["resume_from"] = cursor_;
    // Kept apart from pending_, which a write in flight may point into; sent once pending_ is through.
    tail_ = Chunk(nlohmann::ordered_json{{"error", error}}.dump() + "\n") + "0\r\n\r\n";
    grace_.expires_after(context_.options.subscription_drop_grace);
    grace_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (!error) self->Close();
    });
    Pump();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    watchdog_.cancel();
    heartbeat_.cancel();
    grace_.cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Context& context_;
  tcp::socket socket_;
  SubscriptionPlan plan_;
  uint64_t cursor_;  // every visible event <= cursor_ that matches is in pending_ or already written
  std::string pending_;  // bytes being written (one page, a heartbeat, or the final line)
  std::string tail_;     // the final line and the last chunk, queued by End()
  size_t offset_ = 0;
  size_t events_in_pending_ = 0;
  bool writing_ = false, idle_ = false, ending_ = false, closed_ = false;
  Clock::time_point last_progress_;
  net::steady_timer watchdog_, heartbeat_, grace_;
  char discard_[256];
  uint64_t connection_id_ = 0;
  uint64_t listener_id_ = 0;
};

}  // namespace

void StartSubscription(Context& context, beast::tcp_stream stream, SubscriptionPlan plan) {
  std::make_shared<Subscription>(context, std::move(stream), std::move(plan))->Start();
}

}  // namespace di::server::internal
