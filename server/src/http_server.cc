// HTTP connections: accept, read one request under a deadline and size limits, route, write, keep alive.
//
// Every connection runs on its own strand. A request must arrive whole within read_timeout (a slow or
// stalled client holds only its own socket and is closed then); bodies over body_limit_bytes get 413 and
// header blocks over header_limit_bytes 431 before the rest is read. Handlers run inline on the io thread:
// an append blocks its thread until durable, so `threads` bounds the appends in flight at once (they share
// group commits). Graceful stop: the acceptor closes, idle connections close, a request being handled
// finishes and its response is written with "Connection: close", subscriptions get a final line.
#include "di/server/http_server.h"

#include <chrono>
#include <optional>
#include <thread>

#include "http_internal.h"

namespace di::server {

using namespace internal;  // NOLINT: the internal names are this file's vocabulary

uint64_t Context::RegisterConnection(std::function<void()> stopper) {
  std::lock_guard lock(connections_mutex);
  const uint64_t id = next_connection_id++;
  stoppers[id] = std::move(stopper);
  ++open_connections;
  if (metrics != nullptr) metrics->Set("di_http_connections", {}, static_cast<double>(open_connections));
  return id;
}

void Context::UnregisterConnection(uint64_t id) {
  std::lock_guard lock(connections_mutex);
  stoppers.erase(id);
  --open_connections;
  if (metrics != nullptr) metrics->Set("di_http_connections", {}, static_cast<double>(open_connections));
  connections_closed.notify_all();
}

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The answer to a request that could not be read (`error` from the parser), with the reason of the
// rejected-connection metric; nullopt: close without an answer.
std::optional<Reply> RequestErrorReply(const Context& context, beast::error_code error, const char** reason) {
  if (error == http::error::body_limit) {
    *reason = "body_limit";
    return ErrorReply(413, "payload_too_large",
                      "the request body is larger than " + std::to_string(context.options.body_limit_bytes) + " bytes",
                      "body");
  }
  if (error == http::error::header_limit) {
    *reason = "header_limit";
    return ErrorReply(431, "headers_too_large",
                      "the request headers are larger than " + std::to_string(context.options.header_limit_bytes) +
                          " bytes");
  }
  if (error.category() == http::make_error_code(http::error::bad_target).category()) {
    *reason = "malformed";
    return ErrorReply(400, "malformed_request", "not a valid HTTP/1.1 request: " + error.message());
  }
  return std::nullopt;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Context& context, tcp::socket socket, bool reject)
      : context_(context), stream_(std::move(socket)), reject_(reject) {}

  ~Session() {
    if (id_ != 0) context_.UnregisterConnection(id_);
  }

  void Start() {
    std::weak_ptr<Session> weak = weak_from_this();
    auto executor = stream_.get_executor();
    id_ = context_.RegisterConnection([weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->OnStop();
      });
    });
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reject_) {
        self->Count("too_many_connections");
        self->Send(ErrorReply(503, "overloaded", "too many open connections; retry later"), false);
      } else {
        self->Read();
      }
    });
  }

 private:
  void Count(const char* reason) {
    if (context_.metrics != nullptr) context_.metrics->Add("di_http_rejected_connections_total", {{"reason", reason}});
  }

  void OnStop() {
    stopping_ = true;
    if (reading_) Close();  // an idle keep-alive connection, or a request not yet whole: never acknowledged
  }

  void Read() {
    if (stopping_ || context_.stopping) return Close();
    parser_.emplace();
    parser_->body_limit(context_.options.body_limit_bytes);
    parser_->header_limit(context_.options.header_limit_bytes);
    stream_.expires_after(context_.options.read_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) { self->OnRead(error); });
  }

  void OnRead(beast::error_code error) {
    reading_ = false;
    if (error == http::error::end_of_stream || error == net::error::operation_aborted ||
        error == net::error::connection_reset || error == net::error::eof) {
      return Close();
    }
    if (error == beast::error::timeout) {
      Count("timeout");
      return;  // the stream closed the socket when the deadline passed
    }
    if (error) {
      const char* reason = "";
      if (std::optional<Reply> reply = RequestErrorReply(context_, error, &reason)) {
        Count(reason);
        return Send(std::move(*reply), false);
      }
      return Close();
    }
    const Request request = parser_->release();
    const auto started = std::chrono::steady_clock::now();
    Reply reply;
    SubscriptionPlan plan;
    std::string route;
    const bool subscribe = Route(context_, request, &reply, &plan, &route);
    if (context_.metrics != nullptr) {
      context_.metrics->Add("di_http_requests_total",
                            {{"route", route}, {"status", std::to_string(subscribe ? 200 : reply.status)}});
      context_.metrics->Observe("di_http_request_seconds", {{"route", route}}, SecondsSince(started));
    }
    if (subscribe) {
      stream_.expires_never();
      handed_off_ = true;
      StartSubscription(context_, std::move(stream_), std::move(plan));
      return;
    }
    Send(std::move(reply), request.keep_alive());
  }

  void Send(Reply reply, bool keep_alive) {
    keep_alive = keep_alive && !stopping_ && !context_.stopping;
    auto response = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), 11);
    response->set(http::field::server, "di-ledger");
    response->set(http::field::content_type, reply.content_type);
    response->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : reply.headers) response->set(name, value);
    response->body() = std::move(reply.body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    response_ = response;
    stream_.expires_after(context_.options.write_timeout);
    http::async_write(stream_, *response_, [self = shared_from_this(), keep_alive](beast::error_code error, size_t) {
      self->response_.reset();
      if (error) return self->Close();
      if (!keep_alive || self->stopping_ || self->context_.stopping) return self->Close();
      self->Read();
    });
  }

  void Close() {
    if (handed_off_) return;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  Context& context_;
  beast::tcp_stream stream_;
  bool reject_ = false;
  uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  bool reading_ = false;
  bool stopping_ = false;
  bool handed_off_ = false;
};

}  // namespace

struct HttpServer::Impl {
  Context context;
  net::io_context io_context;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;
  std::once_flag stop_once;

  void Accept() {
    acceptor->async_accept(net::make_strand(io_context), [this](beast::error_code error, tcp::socket socket) {
      if (error == net::error::operation_aborted || !acceptor->is_open()) return;
      if (!error) {
        if (context.options.socket_send_buffer_bytes > 0) {
          beast::error_code ignored;
          socket.set_option(net::socket_base::send_buffer_size(context.options.socket_send_buffer_bytes), ignored);
        }
        socket.set_option(tcp::no_delay(true), error);
        size_t open = 0;
        {
          std::lock_guard lock(context.connections_mutex);
          open = context.open_connections;
        }
        std::make_shared<Session>(context, std::move(socket), open >= context.options.max_connections)->Start();
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->context.service = service;
  impl_->context.tokens = tokens;
  impl_->context.metrics = metrics;
  impl_->context.options = std::move(options);
}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port; }

ServiceStatus HttpServer::Start() {
  Impl& impl = *impl_;
  beast::error_code error;
  const auto address = net::ip::make_address(impl.context.options.address, error);
  if (error) return ServiceStatus::InvalidArgument("not an IP address: " + impl.context.options.address, "address");
  tcp::endpoint endpoint(address, impl.context.options.port);
  impl.acceptor.emplace(impl.io_context);
  impl.acceptor->open(endpoint.protocol(), error);
  if (!error) impl.acceptor->set_option(net::socket_base::reuse_address(true), error);
  if (!error) impl.acceptor->bind(endpoint, error);
  if (!error) impl.acceptor->listen(net::socket_base::max_listen_connections, error);
  if (error) {
    return ServiceStatus::Make(ServiceCode::kIOError, "cannot listen on " + impl.context.options.address + ":" +
                                                          std::to_string(impl.context.options.port) + ": " +
                                                          error.message());
  }
  impl.port = impl.acceptor->local_endpoint().port();
  impl.Accept();
  const int threads = std::max(1, impl.context.options.threads);
  for (int i = 0; i < threads; ++i) impl.threads.emplace_back([&impl] { impl.io_context.run(); });
  impl.running = true;
  return ServiceStatus::Ok();
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  std::call_once(impl.stop_once, [&impl] {
    impl.context.stopping = true;
    // 1. No new connections.
    net::post(impl.io_context, [&impl] {
      beast::error_code ignored;
      impl.acceptor->close(ignored);
    });
    // 2. Ask every connection to finish: idle ones close now, busy ones after their response, subscriptions
    //    after a final line.
    std::vector<std::function<void()>> stoppers;
    {
      std::lock_guard lock(impl.context.connections_mutex);
      for (auto& [id, stopper] : impl.context.stoppers) stoppers.push_back(stopper);
    }
    for (auto& stopper : stoppers) stopper();
    // 3. Wait for them, bounded.
    {
      std::unique_lock lock(impl.context.connections_mutex);
      impl.context.connections_closed.wait_for(lock, impl.context.options.stop_timeout,
                                               [&] { return impl.context.open_connections == 0; });
    }
    impl.io_context.stop();
    for (auto& thread : impl.threads) thread.join();
    impl.threads.clear();
  });
}

RawHttpExchange HandleRawRequestForTesting(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics,
                                           const HttpServerOptions& options, std::string_view request_bytes) {
  Context context;
  context.service = service;
  context.tokens = tokens;
  context.metrics = metrics;
  context.options = options;
  // What http::async_read does with the bytes of a connection: feed the parser until the request is whole,
  // then tell it the stream ended if it is not.
  http::request_parser<http::string_body> parser;
  parser.body_limit(options.body_limit_bytes);
  parser.header_limit(options.header_limit_bytes);
  parser.eager(true);
  beast::error_code error;
  net::const_buffer remaining(request_bytes.data(), request_bytes.size());
  while (!parser.is_done() && remaining.size() > 0) {
    const size_t used = parser.put(remaining, error);
    remaining += used;
    if (error == http::error::need_more) {
      error = {};
      if (used == 0) break;  // the parser needs bytes that are not there
    } else if (error) {
      break;
    }
  }
  RawHttpExchange exchange;
  if (!error && !parser.is_done()) {
    if (!parser.got_some()) return exchange;  // no request at all: http::read's end_of_stream, closed
    parser.put_eof(error);
  }
  if (error) {
    const char* reason = "";
    if (std::optional<Reply> reply = RequestErrorReply(context, error, &reason)) {
      exchange.status = reply->status;
      exchange.body = std::move(reply->body);
    }
    return exchange;
  }
  const Request request = parser.release();
  Reply reply;
  SubscriptionPlan plan;
  std::string route;
  if (Route(context, request, &reply, &plan, &route)) {
    exchange.status = 200;
    return exchange;
  }
  exchange.status = reply.status;
  exchange.body = std::move(reply.body);
  return exchange;
}

}  // namespace di::server
