// HTTP connections: accept, read one request under a deadline and size limits, route, write, keep alive.
//
// Every connection runs on its own strand. A request must arrive whole within read_timeout (a slow or
// stalled client holds only its own socket and is closed then); bodies over body_limit_bytes get 413 and
// header blocks over header_limit_bytes 431 before the rest is read. The header is read first: a request
// with "Expect: 100-continue" gets "100 Continue" before its body is read, or its refusal at once when the
// header alone decides it. A refusal sent before the body was read (413, a refused expectation) is followed
// by reading and discarding the rest of the body, bounded, then the close: a client still writing its body
// would otherwise get a reset instead of the answer. HEAD gets the header a GET would (no body); an HTTP/1.0
// request is answered in HTTP/1.0. Handlers run inline on the io thread: an append blocks its thread until
// durable, so `threads` bounds the appends in flight at once (they share group commits). Graceful stop: the
// acceptor closes, idle connections close, a request being handled finishes and its response is written with
// "Connection: close", subscriptions get a final line.
#include "di/server/http_server.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <string_view>
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

// The major version of a well-formed request line at the start of `bytes` ("GET / HTTP/2.0" and the HTTP/2
// preface "PRI * HTTP/2.0": 2), or -1.
int RequestLineMajorVersion(std::string_view bytes) {
  const std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  const size_t space = line.rfind(' ');
  if (space == std::string_view::npos || space == 0) return -1;
  const std::string_view version = line.substr(space + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) || version[6] != '.' ||
      !digit(version[7])) {
    return -1;
  }
  return version[5] - '0';
}

// The answer to a request that could not be read (`error` from the parser; `unread`: the bytes it has not
// consumed, which start with the request line when that was refused), with the reason of the
// rejected-connection metric; nullopt: close without an answer.
std::optional<Reply> RequestErrorReply(const Context& context, beast::error_code error, std::string_view unread,
                                       const char** reason) {
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
  // Beast reads HTTP/1.0 and 1.1 only. Another major version in a well-formed request line is 505 (RFC 9110
  // section 15.6.6), so that the client learns to fall back to HTTP/1.1; any other bad version is malformed.
  if (error == http::error::bad_version) {
    if (const int major = RequestLineMajorVersion(unread); major >= 0 && major != 1) {
      *reason = "malformed";
      return ErrorReply(505, "http_version_not_supported",
                        "HTTP/" + std::to_string(major) + " is not supported here; use HTTP/1.1", "http_version");
    }
  }
  if (error.category() == http::make_error_code(http::error::bad_target).category()) {
    *reason = "malformed";
    return ErrorReply(400, "malformed_request", "not a valid HTTP/1.1 request: " + error.message());
  }
  return std::nullopt;
}

// The interim answer to "Expect: 100-continue" (RFC 9110 section 15.2.1).
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool ExpectsContinue(const Request& header) {
  const auto expect = header.find(http::field::expect);
  return expect != header.end() && beast::iequals(expect->value(), "100-continue");
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
    version_ = 11;
    head_ = false;
    // One deadline for the header and the body together: read_timeout bounds the whole request.
    stream_.expires_after(context_.options.read_timeout);
    reading_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, size_t) { self->OnHeader(error); });
  }

  // The header is in. A client that sent "Expect: 100-continue" (curl does for bodies over 1 MiB) waits for
  // an answer before it sends the body: "100 Continue" if the header passes what can be checked without the
  // body (route, method, token; its Content-Length was checked against the body limit by the parser), else
  // the final refusal at once, so that the body is never sent for nothing. An HTTP/1.0 client does not know
  // 100 (Continue): its expectation is ignored (RFC 9110 section 10.1.1).
  void OnHeader(beast::error_code error) {
    if (error) return OnReadError(error);
    const Request& header = parser_->get();
    if (parser_->is_done() || header.version() < 11 || !ExpectsContinue(header)) return ReadBody();
    Reply refusal;
    std::string route;
    if (!AcceptsBody(context_, header, &refusal, &route)) {
      reading_ = false;
      version_ = header.version() == 10 ? 10 : 11;
      head_ = header.method() == http::verb::head;
      if (context_.metrics != nullptr) {
        context_.metrics->Add("di_http_requests_total", {{"route", route}, {"status", std::to_string(refusal.status)}});
      }
      return Refuse(std::move(refusal));
    }
    // Written under the request's read deadline (25 bytes; the client is waiting for them).
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->Close();
                       self->ReadBody();
                     });
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRead({});
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) { self->OnRead(error); });
  }

  void OnReadError(beast::error_code error) {
    reading_ = false;
    if (error == http::error::end_of_stream || error == net::error::operation_aborted ||
        error == net::error::connection_reset || error == net::error::eof) {
      return Close();
    }
    if (error == beast::error::timeout) {
      Count("timeout");
      return;  // the stream closed the socket when the deadline passed
    }
    const char* reason = "";
    const auto unread = buffer_.data();
    std::optional<Reply> reply = RequestErrorReply(
        context_, error, std::string_view(static_cast<const char*>(unread.data()), unread.size()), &reason);
    if (!reply) return Close();
    Count(reason);
    version_ = parser_->get().version() == 10 ? 10 : 11;
    // Too large: the body is still coming (the limit is checked against Content-Length as soon as the header
    // is in, or as a chunked body grows past it).
    if (error == http::error::body_limit) return Refuse(std::move(*reply));
    return Send(std::move(*reply), false);
  }

  void OnRead(beast::error_code error) {
    if (error) return OnReadError(error);
    reading_ = false;
    const Request request = parser_->release();
    // HTTP/1.0 is answered in HTTP/1.0 (a 1.0 client or proxy need not understand a 1.1 answer: chunked,
    // persistent by default), HTTP/1.1 in 1.1; the parser refuses every other version (RequestErrorReply).
    version_ = request.version() == 10 ? 10 : 11;
    head_ = request.method() == http::verb::head;
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
    if (subscribe && head_) {
      // HEAD of a subscription: the header its stream would start with, and no stream.
      Reply header;
      header.content_type = "application/x-ndjson";
      return Send(std::move(header), request.keep_alive(), Then::kNext, /*chunked_header=*/true);
    }
    if (subscribe) {
      stream_.expires_never();
      handed_off_ = true;
      StartSubscription(context_, std::move(stream_), std::move(plan));
      return;
    }
    Send(std::move(reply), request.keep_alive());
  }

  // What follows a response: the next request, the close, or discarding the rest of a refused body.
  enum class Then { kNext, kClose, kDiscardBody };

  // Answers a request whose body was not read (too large, or refused on its header), then reads and discards
  // what the client still sends of that body before closing: closing a socket with unread data, or receiving
  // data on a closed one, resets the connection, and a client still writing its body (Node's fetch, Python's
  // http.client) then sees its write fail (EPIPE, ECONNRESET) and never reads the answer. Bounded: the body's
  // declared rest, at most discard_limit_bytes, within read_timeout; the client closing ends it earlier.
  void Refuse(Reply reply) {
    discard_left_ = DeclaredBodyLeft();
    Send(std::move(reply), false, Then::kDiscardBody);
  }

  // The bytes of the body still to come: its Content-Length less what is buffered (nothing of the body was
  // parsed yet when a refusal is sent); nullopt when the length is not declared (chunked).
  std::optional<uint64_t> DeclaredBodyLeft() const {
    const Request& header = parser_->get();
    const auto field = header.find(http::field::content_length);
    if (field == header.end()) return std::nullopt;
    uint64_t length = 0;
    const std::string_view text(field->value().data(), field->value().size());
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return length > buffer_.size() ? length - buffer_.size() : 0;
  }

  void Send(Reply reply, bool keep_alive, Then then = Then::kNext, bool chunked_header = false) {
    keep_alive = keep_alive && then == Then::kNext && !stopping_ && !context_.stopping;
    if (then == Then::kNext && !keep_alive) then = Then::kClose;
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), version_);
    response->set(http::field::server, "di-ledger");
    response->set(http::field::content_type, reply.content_type);
    response->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : reply.headers) response->set(name, value);
    response->body() = std::move(reply.body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    if (chunked_header) response->chunked(true);
    response_ = response;
    stream_.expires_after(context_.options.write_timeout);
    auto written = [self = shared_from_this(), then](beast::error_code error, size_t) { self->OnWritten(error, then); };
    if (head_) {
      // HEAD: the header the GET gets, Content-Length included, and no body (RFC 9110 section 9.3.2).
      serializer_ = std::make_shared<http::response_serializer<http::string_body>>(*response_);
      http::async_write_header(stream_, *serializer_, std::move(written));
    } else {
      http::async_write(stream_, *response_, std::move(written));
    }
  }

  void OnWritten(beast::error_code error, Then then) {
    serializer_.reset();
    response_.reset();
    if (error) return Close();
    if (then == Then::kDiscardBody) return StartDiscarding();
    if (then == Then::kClose || stopping_ || context_.stopping) return Close();
    Read();
  }

  void StartDiscarding() {
    // The answer is complete: say so (FIN) while the client's body is still taken in.
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.consume(buffer_.size());
    discard_buffer_.resize(64 * 1024);
    stream_.expires_after(context_.options.read_timeout);
    Discard();
  }

  void Discard() {
    if ((discard_left_.has_value() && *discard_left_ == 0) || discarded_ >= context_.options.discard_limit_bytes ||
        stopping_ || context_.stopping) {
      return Close();
    }
    reading_ = true;  // a stop closes the connection at once, as for a request not yet read
    stream_.async_read_some(net::buffer(discard_buffer_), [self = shared_from_this()](beast::error_code error, size_t n) {
      self->reading_ = false;
      if (error) return self->Close();  // the client closed or reset, or read_timeout passed
      self->discarded_ += n;
      if (self->discard_left_.has_value()) *self->discard_left_ -= std::min<uint64_t>(n, *self->discard_left_);
      self->Discard();
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
  std::shared_ptr<http::response_serializer<http::string_body>> serializer_;  // HEAD answers
  unsigned version_ = 11;  // of the answer: the request's (1.0 or 1.1)
  bool head_ = false;      // the request is HEAD: the answer's header only
  std::optional<uint64_t> discard_left_;  // of a refused body: bytes still to come (nullopt: unknown)
  uint64_t discarded_ = 0;
  std::vector<char> discard_buffer_;
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

ledger::Status HttpServer::Start() {
  Impl& impl = *impl_;
  beast::error_code error;
  const auto address = net::ip::make_address(impl.context.options.address, error);
  if (error) return ledger::Status::InvalidArgument("not an IP address: " + impl.context.options.address, "address");
  tcp::endpoint endpoint(address, impl.context.options.port);
  impl.acceptor.emplace(impl.io_context);
  impl.acceptor->open(endpoint.protocol(), error);
  if (!error) impl.acceptor->set_option(net::socket_base::reuse_address(true), error);
  if (!error) impl.acceptor->bind(endpoint, error);
  if (!error) impl.acceptor->listen(net::socket_base::max_listen_connections, error);
  if (error) {
    return ledger::Status::Make(ledger::StatusCode::kIOError, "cannot listen on " + impl.context.options.address + ":" +
                                                                  std::to_string(impl.context.options.port) + ": " +
                                                                  error.message());
  }
  impl.port = impl.acceptor->local_endpoint().port();
  impl.Accept();
  const int threads = std::max(1, impl.context.options.threads);
  for (int i = 0; i < threads; ++i) impl.threads.emplace_back([&impl] { impl.io_context.run(); });
  impl.running = true;
  return ledger::Status::Ok();
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
    // After the io threads: until they stopped, a subscription ending could still be waiting for its page.
    impl.context.subscription_pages.Stop();
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
    if (std::optional<Reply> reply = RequestErrorReply(
            context, error, std::string_view(static_cast<const char*>(remaining.data()), remaining.size()), &reason)) {
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
