#include "server_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace di::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using server::Role;
using server::TokenEntryJson;

nlohmann::json TokensJson() {
  return nlohmann::json::array({TokenEntryJson({"clerk-m1", Role::kClerk, "M-1"}, kClerk1),
                                TokenEntryJson({"clerk-m2", Role::kClerk, "M-2"}, kClerk2),
                                TokenEntryJson({"project", Role::kProject, ""}, kProject),
                                TokenEntryJson({"finance", Role::kFinance, ""}, kFinance),
                                TokenEntryJson({"auditor", Role::kAuditor, ""}, kAuditor),
                                TokenEntryJson({"reader", Role::kReader, ""}, kReader),
                                TokenEntryJson({"migration", Role::kMigration, ""}, kMigration)});
}

// ---- HTTP ---------------------------------------------------------------------------------------------------------

Response Send(uint16_t port, http::verb verb, const std::string& target, const char* token, const std::string& body) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(kRequestDeadline);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (token != nullptr) request.set(http::field::authorization, std::string("Bearer ") + token);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  http::read(stream, buffer, parser);
  Response response;
  response.status = parser.get().result_int();
  response.body = parser.get().body();
  response.header_allow = std::string(parser.get()[http::field::allow]);
  response.content_type = std::string(parser.get()[http::field::content_type]);
  return response;
}

Response Send(uint16_t port, http::verb verb, const std::string& target, const std::string& token,
              const std::string& body) {
  return Send(port, verb, target, token.c_str(), body);
}

Response TrySend(uint16_t port, http::verb verb, const std::string& target, const char* token,
                 const std::string& body) {
  try {
    return Send(port, verb, target, token, body);
  } catch (const std::exception&) {
    return Response{};
  }
}

Response TrySend(uint16_t port, http::verb verb, const std::string& target, const std::string& token,
                 const std::string& body) {
  return TrySend(port, verb, target, token.c_str(), body);
}

Response Get(uint16_t port, const std::string& target, const char* token) {
  return Send(port, http::verb::get, target, token);
}

Response Post(uint16_t port, const std::vector<nlohmann::json>& events, const char* token) {
  return Send(port, http::verb::post, "/v1/events", token, nlohmann::json{{"events", events}}.dump());
}

Response Post(uint16_t port, const std::vector<nlohmann::json>& events, const std::string& token) {
  return Post(port, events, token.c_str());
}

Response TryPost(uint16_t port, const std::vector<nlohmann::json>& events, const std::string& token) {
  return TrySend(port, http::verb::post, "/v1/events", token, nlohmann::json{{"events", events}}.dump());
}

// ---- RawClient ----------------------------------------------------------------------------------------------------

RawClient::RawClient(uint16_t port, int receive_buffer_bytes, std::chrono::seconds receive_timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer_bytes > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  timeval timeout{static_cast<time_t>(receive_timeout.count()), 0};  // every recv is bounded
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

RawClient::~RawClient() { ::close(fd_); }

bool RawClient::Write(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string RawClient::ReadToEnd() {
  std::string all;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    all.append(buffer, static_cast<size_t>(n));
  }
  return all;
}

bool RawClient::PeerClosed() {
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

bool RawClient::Subscribe(const std::string& target, const char* token, unsigned* status) {
  if (!connected_) return false;
  if (!Write("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n")) {
    return false;
  }
  while (buffer_.find("\r\n\r\n") == std::string::npos) {
    if (!Fill()) return false;
  }
  const size_t end = buffer_.find("\r\n\r\n");
  *status = static_cast<unsigned>(std::stoi(buffer_.substr(9, 3)));
  buffer_.erase(0, end + 4);
  return true;
}

bool RawClient::NextLine(std::string* line) {
  while (true) {
    const size_t newline = body_.find('\n');
    if (newline != std::string::npos) {
      *line = body_.substr(0, newline);
      body_.erase(0, newline + 1);
      if (line->empty()) continue;  // heartbeat
      return true;
    }
    if (!NextChunk()) return false;
  }
}

bool RawClient::Fill() {
  char buffer[65536];
  const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
  if (n <= 0) return false;
  buffer_.append(buffer, static_cast<size_t>(n));
  return true;
}

bool RawClient::NextChunk() {
  while (buffer_.find("\r\n") == std::string::npos) {
    if (!Fill()) return false;
  }
  const size_t line_end = buffer_.find("\r\n");
  const size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
  if (size == 0) return false;
  while (buffer_.size() < line_end + 2 + size + 2) {
    if (!Fill()) return false;
  }
  if (size > 1) ++chunks_;  // not a heartbeat's "\n"
  body_.append(buffer_, line_end + 2, size);
  buffer_.erase(0, line_end + 2 + size + 2);
  return true;
}

// ---- ServerFixture ------------------------------------------------------------------------------------------------

void ServerFixture::SetUp() {
  OpenEmptyStore();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(AppendJson(*store_, World()).ok());
}

void ServerFixture::TearDown() {
  server_.reset();
  service_.reset();
}

void ServerFixture::OpenEmptyStore() {
  store_ = OpenStore(dir_.Sub("data"));
  ASSERT_TRUE(store_);
  ASSERT_TRUE(server::TokenRegistry::FromJson(TokensJson(), &tokens_).ok());
  server::DeclareServerMetrics(metrics_);
}

ledger::Status ServerFixture::NewService(server::ServiceOptions options, ledger::EventStore* store) {
  options.pseudonym_key = std::string(32, 'k');
  service_ = std::make_unique<server::LedgerService>(store != nullptr ? store : store_.get(), options, &metrics_);
  return service_->Start();
}

void ServerFixture::StartService(server::ServiceOptions options, ledger::EventStore* store) {
  ASSERT_TRUE(NewService(options, store).ok());
}

void ServerFixture::StartServer(server::HttpServerOptions options, server::ServiceOptions service_options) {
  ASSERT_TRUE(NewService(service_options, nullptr).ok());
  options.port = 0;
  server_ = std::make_unique<server::HttpServer>(service_.get(), &tokens_, &metrics_, options);
  ASSERT_TRUE(server_->Start().ok());
  port_ = server_->port();
}

}  // namespace di::testing
