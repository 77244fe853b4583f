// Subscriptions: GET /v1/subscribe?after=P streams every visible event after P, in order, as chunked NDJSON
// (one event per line, the JSON of export; pseudonymised for readers), then new events as they are folded.
//
// The pump (subscription_pump.h, shared with the binary endpoint) owns the cursor, the pages (read and made by
// the page workers, never on the io threads; the next one asked for only once the socket took the previous
// one, so a slow consumer holds one page, never a backlog), the wait for the head, the stall watchdog and the
// heartbeats. This file is the HTTP side: the response header, a page as one chunk of at most
// subscription_page_events lines and subscription_page_bytes bytes, a blank line as the heartbeat (so a
// caught-up subscriber can tell an idle stream from a dead one, and the server notices a closed socket), and
// the final line. A stalled consumer (no byte taken for subscription_stall_timeout) is dropped: the final line
// {"error":{"code":"slow_consumer",...,"resume_from":P}} is queued after the page in flight and the socket
// closed after subscription_drop_grace whether or not it got through (a consumer that reads again within the
// grace sees it). Every event before resume_from was in the bytes before that line, so resuming from it loses
// nothing and repeats nothing.
#include <chrono>
#include <cstdio>

#include "http_internal.h"
#include "socket_writer.h"
#include "subscription_pump.h"

namespace di::server::internal {
namespace {

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string chunk(size);
  chunk.append(data);
  chunk.append("\r\n");
  return chunk;
}

// One subscription: the HTTP side of its pump (subscription_pump.h): the response header, NDJSON pages in chunks,
// blank-line heartbeats, the final line, and the socket.
class Subscription : public std::enable_shared_from_this<Subscription>, public SubscriptionStream {
 public:
  Subscription(Context& context, beast::tcp_stream stream, SubscriptionPlan plan)
      : context_(context),
        socket_(std::move(stream.socket())),
        plan_(std::move(plan)),
        pump_(socket_.get_executor(), *context_.service, context_.subscription_pages),
        writer_(socket_),
        grace_(socket_.get_executor()) {}

  ~Subscription() {
    pump_.RemoveHeadListener();
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
    const HttpServerOptions& options = context_.options;
    SubscriptionPumpOptions pump;
    pump.principal = std::move(plan_.principal);
    pump.filter = std::move(plan_.filter);
    pump.after = plan_.after;
    pump.page_events = options.subscription_page_events;
    pump.page_threads = options.subscription_threads;
    pump.stall_timeout = options.subscription_stall_timeout;
    pump.watchdog_period_min = std::chrono::milliseconds(20);
    pump.heartbeat_interval = options.heartbeat_interval;
    pump.resume_hint = "resume from resume_from";
    pump_.Start(shared_from_this(), std::move(pump));
    writer_.SetPending(
        "HTTP/1.1 200 OK\r\nServer: di-ledger\r\nContent-Type: application/x-ndjson\r\nCache-Control: no-store\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    if (options.socket_send_buffer_bytes == 0 && options.subscription_send_buffer_bytes > 0) {
      beast::error_code ignored;  // the kernel's default buffer is a larger one, not a failure
      socket_.set_option(net::socket_base::send_buffer_size(options.subscription_send_buffer_bytes), ignored);
    }
    WatchClient();
    WriteNext();
  }

  // SubscriptionStream ----------------------------------------------------------------------------------------

  // On a page worker: one line per event, one chunk per page.
  void EncodePage(const ReadPage& read, SubscriptionPage* page) const override {
    page->cursor = read.next_after;
    std::string lines;
    for (const auto& event : read.events) {
      if (page->events > 0 && lines.size() >= context_.options.subscription_page_bytes) {
        // Full: the rest of the read is read again for the next page (work bounded by one read's events).
        page->cursor = event["position"].get<uint64_t>() - 1;
        break;
      }
      lines += event.dump();
      lines += '\n';
      ++page->events;
    }
    if (!lines.empty()) page->bytes = Chunk(lines);
  }

  std::string EncodeHeartbeat(uint64_t) override { return Chunk("\n"); }

  void Send(std::string bytes, size_t events) override {
    writer_.SetPending(std::move(bytes), events);
    WriteSome();
  }

  bool Writing() const override { return writer_.writing(); }
  bool HasPending() const override { return writer_.has_pending(); }

  // Writes what is pending, else the final line, else asks for the next page.
  void WriteNext() override {
    if (closed_ || writer_.writing()) return;
    if (writer_.has_pending()) return WriteSome();
    if (ending_) {
      if (!writer_.TakeFinal()) return Close();
      return WriteSome();
    }
    pump_.Next();
  }

  void EndStream(std::string_view code, const std::string& message, const std::string&) override {
    End(std::string(code), message);
  }

 private:
  // Reading from the client only tells us when it leaves (EOF or reset): it sends nothing after its request.
  void WatchClient() {
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) return self->Close();
      self->WatchClient();
    });
  }

  void WriteSome() {
    writer_.WriteSome(
        [self = shared_from_this()](beast::error_code error, size_t written) { self->OnWritten(error, written); });
  }

  void OnWritten(beast::error_code error, size_t written) {
    if (error) return Close();
    if (written > 0) pump_.NoteProgress();
    size_t events = 0;
    if (!writer_.Wrote(written, &events)) return WriteSome();
    if (context_.metrics != nullptr && events > 0) {
      context_.metrics->Add("di_subscription_events_total", {}, static_cast<double>(events));
    }
    WriteNext();
  }

  // Queues the final line (after whatever is in flight), then closes; a grace timer closes regardless.
  void End(const std::string& code, const std::string& message) {
    if (ending_ || closed_) return;
    ending_ = true;
    pump_.End();
    if (context_.metrics != nullptr && code != "shutdown") {
      context_.metrics->Add("di_subscriptions_dropped_total", {{"reason", code}});
    }
    nlohmann::ordered_json error;
    error["code"] = code;
    error["message"] = message;
    error["field"] = "";
    error["resume_from"] = pump_.cursor();
    // The final line and the last chunk, sent once what is in flight is through.
    writer_.SetFinal(Chunk(nlohmann::ordered_json{{"error", error}}.dump() + "\n") + "0\r\n\r\n");
    grace_.expires_after(context_.options.subscription_drop_grace);
    grace_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (!error) self->Close();
    });
    WriteNext();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    pump_.Close();
    grace_.cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Context& context_;
  tcp::socket socket_;
  SubscriptionPlan plan_;  // moved into the pump by Start()
  SubscriptionPump pump_;
  SocketWriter writer_;  // the header, one page, a heartbeat, or the final line
  bool ending_ = false, closed_ = false;
  net::steady_timer grace_;
  char discard_[256];
  uint64_t connection_id_ = 0;
};

}  // namespace

void StartSubscription(Context& context, beast::tcp_stream stream, SubscriptionPlan plan) {
  std::make_shared<Subscription>(context, std::move(stream), std::move(plan))->Start();
}

}  // namespace di::server::internal
