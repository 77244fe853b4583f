// Subscriptions: GET /v1/subscribe?after=P streams every visible event after P, in order, as chunked NDJSON
// (one event per line, the JSON of export; pseudonymised for readers), then new events as they are folded.
//
// Pages are read and encoded by the server's page workers (page_workers.h), never on the io threads: the
// strand asks for the next page, a worker reads it through LedgerService::ReadLog (visibility, clerk scope and
// pseudonymisation are the service's; the model lock is taken only for a clerk's scope check, never while
// encoding) and encodes it to NDJSON, and posts it back. Memory is bounded per subscriber: the next page (at
// most subscription_page_events events and subscription_page_bytes bytes) is asked for only after the previous
// one was taken by the socket, so a slow consumer holds one page, never a backlog, and has at most one job
// in the workers' queue; writers never wait for it (they only post a wake-up to its strand). Progress is
// measured per write_some: a socket that accepts no byte for subscription_stall_timeout is a stalled consumer. It is
// dropped: the final line {"error":{"code":"slow_consumer",...,"resume_from":P}} is queued after the page in
// flight and the socket closed after subscription_drop_grace whether or not it got through (a consumer that
// reads again within the grace sees it). Every event before resume_from was in the bytes before that line,
// so resuming from it loses nothing and repeats nothing. A caught-up subscriber gets a blank line every
// heartbeat_interval, so it can tell an idle stream from a dead one (and the server notices a closed socket).
#include <atomic>
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
        executor_(socket_.get_executor()),
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
    if (context_.options.socket_send_buffer_bytes == 0 && context_.options.subscription_send_buffer_bytes > 0) {
      beast::error_code ignored;  // the kernel's default buffer is a larger one, not a failure
      socket_.set_option(net::socket_base::send_buffer_size(context_.options.subscription_send_buffer_bytes), ignored);
    }
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
      // pending_ must not change under a write in flight (the write points into it), nor be taken while a page
      // is being made (the page goes into pending_ when it arrives).
      if (!self->writing_ && self->pending_.empty() && !self->page_in_flight_) {
        self->pending_ = Chunk("\n");
        self->Pump();
      }
      self->ArmHeartbeat();
    });
  }

  void OnHeadChanged() {
    if (idle_ && !ending_) Pump();
  }

  // Writes what is pending, else asks for the next page (unless one is being made).
  void Pump() {
    if (closed_ || writing_) return;
    if (!pending_.empty()) return WriteSome();
    if (ending_) {
      if (tail_.empty()) return Close();
      pending_ = std::move(tail_);
      tail_.clear();
      return WriteSome();
    }
    if (!page_in_flight_) AskForPage();
  }

  // A page as a worker made it.
  struct Page {
    ServiceStatus status;
    uint64_t next_after = 0;  // the page's last position (scanned or sent): the cursor once it is taken
    uint64_t head = 0;        // the visible position when the read began
    size_t events = 0;
    std::string lines;        // NDJSON, one line per event
  };

  // Queues the making of the page after cursor_ behind the other subscribers' (one at a time per subscriber).
  void AskForPage() {
    page_in_flight_ = true;
    // Weak: a subscriber that leaves while it waits is destroyed at once, and its page is never made.
    std::weak_ptr<Subscription> weak = weak_from_this();
    context_.subscription_pages.Submit(context_.options.subscription_threads, [weak, after = cursor_] {
      std::shared_ptr<Subscription> self = weak.lock();
      if (self == nullptr || self->gone_.load()) return;
      Page page = MakePage(self->context_, self->plan_, after);
      auto executor = self->executor_;
      net::post(executor,
                [self = std::move(self), page = std::move(page)]() mutable { self->OnPage(std::move(page)); });
    });
  }

  // On a page worker: reads only what does not change after the subscription started (the plan, the options).
  static Page MakePage(Context& context, const SubscriptionPlan& plan, uint64_t after) {
    Page made;
    ReadPage page;
    made.status = context.service->ReadLog(plan.principal, after, context.options.subscription_page_events, plan.filter,
                                           &page);
    made.next_after = page.next_after;
    made.head = page.head;
    if (!made.status.ok()) return made;
    for (const auto& event : page.events) {
      if (made.events > 0 && made.lines.size() >= context.options.subscription_page_bytes) {
        // Full: the rest of the read is read again for the next page (work bounded by one read's events).
        made.next_after = event["position"].get<uint64_t>() - 1;
        break;
      }
      made.lines += event.dump();
      made.lines += '\n';
      ++made.events;
    }
    return made;
  }

  void OnPage(Page page) {
    page_in_flight_ = false;
    if (closed_) return;
    if (ending_) return Pump();  // unsent: the final line's resume_from (cursor_) was fixed before it
    if (!page.status.ok()) return End(std::string(page.status.CodeName()), page.status.message());
    if (page.next_after == cursor_) {  // caught up
      // An append made more visible while the page was being made: its wake-up found a page in flight.
      if (context_.service->VisiblePosition() > page.head) return AskForPage();
      if (!idle_) {
        idle_ = true;
        ArmHeartbeat();
      }
      return;
    }
    idle_ = false;
    heartbeat_.cancel();
    cursor_ = page.next_after;
    // Every scanned event was filtered out: scan on, behind the other subscribers.
    if (page.lines.empty()) return AskForPage();
    events_in_pending_ = page.events;
    pending_ = Chunk(page.lines);
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
    gone_ = true;
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
  bool page_in_flight_ = false;  // a page is queued or being made for this subscriber
  std::atomic<bool> gone_{false};  // closed_, for the page workers: a page for a closed socket is not made
  Clock::time_point last_progress_;
  net::any_io_executor executor_;  // the strand (copied once: the page workers post to it)
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
