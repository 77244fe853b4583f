// HTTP conformance (issue #12): what a standard client (curl, Node's fetch, Python's http.client, a proxy
// speaking HTTP/1.0) expects of the server, checked byte by byte. A real server on 127.0.0.1 (ephemeral port)
// over a real store in a temp dir; the client is a raw Boost.Asio socket, so the test decides exactly which
// bytes go out and when. Every wait is bounded by a deadline: a server that does not answer fails the test
// instead of hanging it. No timing thresholds.
#include <sys/socket.h>

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/asio.hpp>

#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "server_fixture.h"
#include "test_util.h"

namespace di::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using di::testing::Delivery;
using di::testing::kAuditor;
using di::testing::kClerk1;
using di::testing::kFinance;
using di::testing::TempDir;
using di::testing::World;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The wait for an answer that should come at once; long enough for a loaded CI machine, short enough that a
// server which never answers fails the test in seconds.
constexpr auto kAnswerDeadline = std::chrono::seconds(10);

// One response as it came over the wire.
struct RawResponse {
  std::string status_line;  // "HTTP/1.1 200 OK"
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool Has(const std::string& name) const { return headers.count(name) != 0; }
  // Not JSON: an empty object, so that a wrong answer fails the expectations instead of throwing.
  json Json() const {
    json parsed = json::parse(body, nullptr, false);
    return parsed.is_discarded() ? json::object() : parsed;
  }
};

// A decimal header value; 0 when it is not one.
size_t Number(const std::string& text) {
  size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() ? value : 0;
}

// A client connection on a raw socket. Every operation runs the io_context until it completes or its deadline
// passes (then the operation is cancelled and reported as timed out).
class Connection {
 public:
  explicit Connection(uint16_t port, int send_buffer_bytes = 0) : socket_(io_) {
    socket_.open(tcp::v4());
    // A small send buffer: the client cannot park a large body in the kernel and must really get it across.
    if (send_buffer_bytes > 0) socket_.set_option(net::socket_base::send_buffer_size(send_buffer_bytes));
    socket_.set_option(tcp::no_delay(true));  // with a small send buffer, Nagle's waits would slow the test down
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  // Writes every byte; the error (none when all of it was written).
  boost::system::error_code Write(const std::string& bytes, std::chrono::seconds limit = std::chrono::seconds(60)) {
    boost::system::error_code result;
    bool done = false;
    net::async_write(socket_, net::buffer(bytes), [&](boost::system::error_code error, size_t) {
      result = error;
      done = true;
    });
    if (!RunUntil(&done, Clock::now() + limit)) return net::error::timed_out;
    return result;
  }

  // Reads until `marker` is in the bytes read and not consumed yet, the peer closes, or the deadline passes.
  bool ReadUntil(const std::string& marker, Clock::time_point deadline) {
    while (data_.find(marker) == std::string::npos) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // The next response; nullopt (and the reason in `problem()`) if none arrives whole before the deadline.
  // `head`: the response to a HEAD request, which has no body whatever its Content-Length says.
  std::optional<RawResponse> ReadResponse(bool head = false, Clock::time_point deadline = Clock::now() + kAnswerDeadline) {
    if (!ReadUntil("\r\n\r\n", deadline)) return std::nullopt;
    const size_t end = data_.find("\r\n\r\n");
    RawResponse response;
    const std::string header = data_.substr(0, end);
    data_.erase(0, end + 4);
    size_t line_end = header.find("\r\n");
    response.status_line = header.substr(0, line_end);
    if (response.status_line.size() >= 12) response.status = Number(response.status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t next = header.find("\r\n", line_end + 2);
      const std::string line = header.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        response.headers[name] = value;
      }
      line_end = next;
    }
    if (head || response.status / 100 == 1) return response;
    if (response.Has("content-length")) {
      const size_t length = Number(response.Header("content-length"));
      while (data_.size() < length) {
        if (!ReadSome(deadline)) return std::nullopt;
      }
      response.body = data_.substr(0, length);
      data_.erase(0, length);
    }
    return response;
  }

  // Reads until the peer closes; true if it closed in order (EOF: a FIN, not a reset) before the deadline.
  // The bytes read meanwhile are kept in `rest()`.
  bool PeerClosesCleanly(Clock::time_point deadline = Clock::now() + kAnswerDeadline) {
    while (ReadSome(deadline)) {
    }
    return last_error_ == net::error::eof;
  }

  // Our side sends no more (FIN); reading goes on.
  void ShutdownSend() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  const std::string& rest() const { return data_; }
  std::string problem() const { return last_error_.message(); }

 private:
  bool ReadSome(Clock::time_point deadline) {
    boost::system::error_code result;
    size_t n = 0;
    bool done = false;
    socket_.async_read_some(net::buffer(chunk_), [&](boost::system::error_code error, size_t bytes) {
      result = error;
      n = bytes;
      done = true;
    });
    if (!RunUntil(&done, deadline)) {
      last_error_ = net::error::timed_out;
      return false;
    }
    data_.append(chunk_.data(), n);
    last_error_ = result;
    return !result;
  }

  // Runs handlers until `*done` or the deadline; on the deadline cancels what is pending (its handler runs).
  bool RunUntil(bool* done, Clock::time_point deadline) {
    io_.restart();
    while (!*done && io_.run_one_until(deadline) > 0) {
    }
    if (*done) return true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    io_.restart();
    io_.run();
    return false;
  }

  net::io_context io_;
  tcp::socket socket_;
  std::array<char, 65536> chunk_{};
  std::string data_;
  boost::system::error_code last_error_;
};

std::string RequestHead(const std::string& method, const std::string& target, const char* token,
                        const std::string& extra_headers = {}, const std::string& version = "HTTP/1.1") {
  std::string head = method + " " + target + " " + version + "\r\nHost: 127.0.0.1\r\n";
  if (token != nullptr) head += std::string("Authorization: Bearer ") + token + "\r\n";
  return head + extra_headers + "\r\n";
}

class HttpConformanceTest : public di::testing::ServerFixture {
 protected:
  static std::string Batch(const std::string& prefix, int count) {
    std::vector<json> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(Delivery(prefix + "-e" + std::to_string(i), prefix + "-d" + std::to_string(i),
                                "2021-01-" + std::string(i < 9 ? "0" : "") + std::to_string(1 + i)));
    }
    return json{{"events", events}}.dump();
  }
};

// Item 8: a client that sends its whole body before it reads (Node's fetch, Python's http.client) must get
// the 413, not EPIPE or a reset. The body is larger than any kernel buffer on the way (the client's send
// buffer is small, the server's receive buffer at most a few MiB), so it only gets across if the server reads
// and discards it.
TEST_F(HttpConformanceTest, OversizedBodyIsAnswered413AfterTheClientSentItAll) {
  HttpServerOptions options;
  options.body_limit_bytes = 64 * 1024;
  StartServer(options);
  const size_t body_size = 12 * 1024 * 1024;
  Connection client(port_, 64 * 1024);
  const std::string head = RequestHead("POST", "/v1/events", kClerk1,
                                       "Content-Type: application/json\r\nContent-Length: " +
                                           std::to_string(body_size) + "\r\n");
  ASSERT_FALSE(client.Write(head + std::string(body_size, ' '))) << "the server stopped taking the body";
  const std::optional<RawResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << client.problem();
  EXPECT_EQ(response->status, 413u) << response->status_line;
  EXPECT_EQ(response->Json()["error"]["code"], "payload_too_large");
  EXPECT_EQ(response->Json()["error"]["field"], "body");
  EXPECT_EQ(response->Header("connection"), "close");
  // Once it has the declared body, the server closes in order: a FIN, not a reset.
  EXPECT_TRUE(client.PeerClosesCleanly()) << client.problem();
  EXPECT_EQ(metrics_.Value("di_http_rejected_connections_total", {{"reason", "body_limit"}}), 1);
  EXPECT_EQ(store_->Head().position, 13u);
}

// Item 9: curl sends `Expect: 100-continue` for bodies over 1 MiB and waits (1 s) for "100 Continue" before it
// sends the body. The client here waits for it with a deadline; it must come, then the body is read as usual
// and the connection stays usable.
TEST_F(HttpConformanceTest, ExpectContinueGets100ContinueThenTheAnswer) {
  StartServer();
  const std::string body = Batch("x", 3);
  Connection client(port_);
  ASSERT_FALSE(client.Write(RequestHead("POST", "/v1/events", kClerk1,
                                        "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                                            std::to_string(body.size()) + "\r\n")));
  const std::optional<RawResponse> interim = client.ReadResponse();
  ASSERT_TRUE(interim.has_value()) << "no answer to Expect: 100-continue: " << client.problem();
  EXPECT_EQ(interim->status_line, "HTTP/1.1 100 Continue");
  ASSERT_FALSE(client.Write(body));
  const std::optional<RawResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << client.problem();
  EXPECT_EQ(response->status, 201u) << response->body;
  EXPECT_EQ(response->Json()["appended"], 3);
  EXPECT_EQ(store_->Head().position, 16u);
  // Same connection: the next request is answered (and a request without a body gets no 100).
  ASSERT_FALSE(client.Write(RequestHead("GET", "/healthz", nullptr, "Expect: 100-continue\r\n")));
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health.has_value()) << client.problem();
  EXPECT_EQ(health->status, 200u) << health->status_line;
}

// Item 9: a request that would be refused whatever its body says is refused on its header, before the client
// sends the body: no "100 Continue", the final status at once, and the connection closed once the client
// gives up on sending.
TEST_F(HttpConformanceTest, ExpectContinueRefusalsComeBeforeTheBody) {
  HttpServerOptions options;
  options.body_limit_bytes = 64 * 1024;
  StartServer(options);
  struct Case {
    std::string method, target;
    const char* token;
    size_t length;
    unsigned status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/events", kClerk1, 1024 * 1024, 413, "payload_too_large"},  // over the body limit
      {"POST", "/v1/events", nullptr, 1000, 401, "unauthenticated"},           // no token
      {"POST", "/v1/events", "wrong", 1000, 401, "unauthenticated"},           // unknown token
      {"POST", "/v1/nowhere", kClerk1, 1000, 404, "not_found"},                // no such route
      {"PUT", "/v1/events", kClerk1, 1000, 405, "method_not_allowed"},         // wrong method
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target + " expecting " + std::to_string(c.status));
    Connection client(port_);
    ASSERT_FALSE(client.Write(RequestHead(c.method, c.target, c.token,
                                          "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                                          "Content-Length: " + std::to_string(c.length) + "\r\n")));
    const std::optional<RawResponse> response = client.ReadResponse();
    ASSERT_TRUE(response.has_value()) << "no answer before the body: " << client.problem();
    EXPECT_EQ(response->status, c.status) << response->status_line << " " << response->body;
    EXPECT_EQ(response->Json()["error"]["code"], c.code) << response->body;
    EXPECT_EQ(response->Header("connection"), "close");
    if (c.status == 401) {
      EXPECT_EQ(response->Header("www-authenticate"), "Bearer");
    }
    // The client sends no body (it was refused) and closes its side: the server closes too.
    client.ShutdownSend();
    EXPECT_TRUE(client.PeerClosesCleanly()) << client.problem();
  }
  EXPECT_EQ(store_->Head().position, 13u);
}

// Item 10: HEAD answers wherever GET does, with the GET's status and headers (Content-Length included) and
// no body; the connection stays usable (the next response starts right after the header).
TEST_F(HttpConformanceTest, HeadAnswersLikeGetWithoutABody) {
  StartServer();
  Connection client(port_);
  for (const auto& [target, token] : std::vector<std::pair<std::string, const char*>>{
           {"/healthz", nullptr}, {"/v1/audit/head", kAuditor}, {"/v1/events?after=10", kAuditor}}) {
    SCOPED_TRACE(target);
    ASSERT_FALSE(client.Write(RequestHead("GET", target, token)));
    const std::optional<RawResponse> get = client.ReadResponse();
    ASSERT_TRUE(get.has_value()) << client.problem();
    ASSERT_EQ(get->status, 200u) << get->status_line;
    // HEAD, then GET pipelined behind it: if the HEAD answer carried a body, the GET's status line would not
    // follow its header.
    ASSERT_FALSE(client.Write(RequestHead("HEAD", target, token) + RequestHead("GET", target, token)));
    const std::optional<RawResponse> head = client.ReadResponse(/*head=*/true);
    ASSERT_TRUE(head.has_value()) << client.problem();
    EXPECT_EQ(head->status, 200u) << head->status_line;
    EXPECT_EQ(head->Header("content-length"), std::to_string(get->body.size()));
    EXPECT_EQ(head->Header("content-type"), get->Header("content-type"));
    const std::optional<RawResponse> again = client.ReadResponse();
    ASSERT_TRUE(again.has_value()) << client.problem();
    EXPECT_EQ(again->status_line, "HTTP/1.1 200 OK") << "the HEAD answer had a body";
    EXPECT_EQ(again->body, get->body);
  }
  // As GET: no token is 401 (header only); the subscription's header without the stream.
  ASSERT_FALSE(client.Write(RequestHead("HEAD", "/v1/events", nullptr)));
  const std::optional<RawResponse> unauthenticated = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(unauthenticated.has_value()) << client.problem();
  EXPECT_EQ(unauthenticated->status, 401u);
  EXPECT_EQ(unauthenticated->Header("www-authenticate"), "Bearer");
  ASSERT_FALSE(client.Write(RequestHead("HEAD", "/v1/subscribe?after=0", kAuditor) + RequestHead("GET", "/healthz", nullptr)));
  const std::optional<RawResponse> subscribe = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(subscribe.has_value()) << client.problem();
  EXPECT_EQ(subscribe->status, 200u) << subscribe->status_line;
  EXPECT_EQ(subscribe->Header("content-type"), "application/x-ndjson");
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health.has_value()) << client.problem();
  EXPECT_EQ(health->status_line, "HTTP/1.1 200 OK") << "the HEAD of a subscription streamed";
  // The methods a route allows name HEAD with GET.
  ASSERT_FALSE(client.Write(RequestHead("DELETE", "/v1/audit/head", kAuditor)));
  const std::optional<RawResponse> method = client.ReadResponse();
  ASSERT_TRUE(method.has_value()) << client.problem();
  EXPECT_EQ(method->status, 405u);
  EXPECT_EQ(method->Header("allow"), "GET, HEAD");
}

// Item 10: an HTTP/1.0 request is answered as HTTP/1.0: a 1.0 status line, a Content-Length, never chunked,
// closed after the answer unless the client asked for keep-alive. A subscription streams chunked, which 1.0
// does not have: refused with 400 naming the version. A request of another major version is 505.
TEST_F(HttpConformanceTest, Http10IsAnsweredAsHttp10AndItsSubscriptionIsRefused) {
  StartServer();
  {
    Connection client(port_);
    ASSERT_FALSE(client.Write(RequestHead("GET", "/healthz", nullptr, {}, "HTTP/1.0")));
    const std::optional<RawResponse> response = client.ReadResponse();
    ASSERT_TRUE(response.has_value()) << client.problem();
    EXPECT_EQ(response->status_line, "HTTP/1.0 200 OK");
    EXPECT_FALSE(response->Has("transfer-encoding"));
    EXPECT_TRUE(response->Has("content-length"));
    EXPECT_EQ(response->Json()["status"], "ok");
    EXPECT_TRUE(client.PeerClosesCleanly()) << client.problem();
  }
  {
    Connection client(port_);
    ASSERT_FALSE(client.Write(RequestHead("GET", "/v1/whoami", kClerk1, "Connection: keep-alive\r\n", "HTTP/1.0")));
    const std::optional<RawResponse> first = client.ReadResponse();
    ASSERT_TRUE(first.has_value()) << client.problem();
    EXPECT_EQ(first->status_line, "HTTP/1.0 200 OK");
    EXPECT_EQ(first->Header("connection"), "keep-alive");
    ASSERT_FALSE(client.Write(RequestHead("GET", "/healthz", nullptr, {}, "HTTP/1.0")));
    const std::optional<RawResponse> second = client.ReadResponse();
    ASSERT_TRUE(second.has_value()) << client.problem();
    EXPECT_EQ(second->status_line, "HTTP/1.0 200 OK");
  }
  {
    Connection client(port_);
    ASSERT_FALSE(client.Write(RequestHead("GET", "/v1/subscribe?after=0", kAuditor, {}, "HTTP/1.0")));
    const std::optional<RawResponse> response = client.ReadResponse();
    ASSERT_TRUE(response.has_value()) << client.problem();
    EXPECT_EQ(response->status_line, "HTTP/1.0 400 Bad Request");
    EXPECT_FALSE(response->Has("transfer-encoding"));
    EXPECT_EQ(response->Json()["error"]["code"], "unsupported_http_version") << response->body;
    EXPECT_EQ(response->Json()["error"]["field"], "http_version");
    EXPECT_TRUE(client.PeerClosesCleanly()) << client.problem();
  }
  {
    Connection client(port_);
    ASSERT_FALSE(client.Write(RequestHead("GET", "/healthz", nullptr, {}, "HTTP/2.0")));
    const std::optional<RawResponse> response = client.ReadResponse();
    ASSERT_TRUE(response.has_value()) << client.problem();
    EXPECT_EQ(response->status, 505u) << response->status_line;
    EXPECT_EQ(response->Json()["error"]["code"], "http_version_not_supported") << response->body;
    EXPECT_EQ(response->Json()["error"]["field"], "http_version");
  }
}

// Item 11: every 429 says when to retry. Two sources: the past-known-at load limit of the service (0 here, so
// every such load is refused) and the store's append queue (0 waiting appends allowed: every append is busy).
TEST_F(HttpConformanceTest, EveryTooManyRequestsAnswerCarriesRetryAfter) {
  ServiceOptions service_options;
  service_options.max_concurrent_replays = 0;
  StartServer({}, service_options);
  Connection client(port_);
  ASSERT_FALSE(client.Write(RequestHead("GET", "/v1/reports/funding?known_at=5", kFinance)));
  const std::optional<RawResponse> replay = client.ReadResponse();
  ASSERT_TRUE(replay.has_value()) << client.problem();
  EXPECT_EQ(replay->status, 429u) << replay->body;
  EXPECT_EQ(replay->Json()["error"]["code"], "busy");
  EXPECT_EQ(replay->Header("retry-after"), "1");

  server_.reset();
  service_.reset();
  store_.reset();
  ledger::EventStoreOptions busy;
  busy.max_pending_appends = 0;
  store_ = di::testing::OpenStore(dir_.Sub("data"), busy);
  StartServer();
  const std::string body = Batch("b", 1);
  Connection appender(port_);
  ASSERT_FALSE(appender.Write(RequestHead("POST", "/v1/events", kClerk1,
                                          "Content-Type: application/json\r\nContent-Length: " +
                                              std::to_string(body.size()) + "\r\n") +
                              body));
  const std::optional<RawResponse> append = appender.ReadResponse();
  ASSERT_TRUE(append.has_value()) << appender.problem();
  EXPECT_EQ(append->status, 429u) << append->body;
  EXPECT_EQ(append->Header("retry-after"), "1");
}

// Item 11: `serve` refuses to start with a clerk token for a municipality the store does not know (a typo would
// otherwise start a server whose clerk is refused everything), naming the entry and the municipality. Bounded:
// a server that starts anyway is stopped by `timeout` (and the test fails on its exit code).
TEST(ServeTokensTest, ServeRefusesAClerkOfAnUnknownMunicipality) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  {
    auto store = di::testing::OpenStore(data);
    ASSERT_TRUE(di::testing::AppendJson(*store, World()).ok());
  }
  const std::string tokens_path = dir.Sub("tokens.json");
  std::ofstream(tokens_path) << json::array({TokenEntryJson({"clerk-m1", Role::kClerk, "M-1"}, "a"),
                                             TokenEntryJson({"clerk-typo", Role::kClerk, "M-TYPO"}, "b")})
                                    .dump();
  const di::testing::CommandOutput output = di::testing::RunCommand(
      "timeout -s TERM 20 " + std::string(DI_CLI_BINARY) + " serve --data " + data + " --tokens " + tokens_path +
      " --port 0");
  EXPECT_EQ(output.exit_code, 2) << output.text;
  EXPECT_NE(output.text.find("tokens[1]"), std::string::npos) << output.text;
  EXPECT_NE(output.text.find("clerk-typo"), std::string::npos) << output.text;
  EXPECT_NE(output.text.find("'M-TYPO'"), std::string::npos) << output.text;
  EXPECT_EQ(output.text.find("listening on"), std::string::npos) << output.text;
}

}  // namespace
}  // namespace di::server
