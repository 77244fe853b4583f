// The server-level tests' fixture: the test world in a real store in a temp dir, its tokens, the server's
// metrics, a LedgerService and an HttpServer on 127.0.0.1 (ephemeral port) in this process; and the clients they
// are spoken to with: one request on a fresh Beast connection, and a raw socket (malformed, slow and streaming
// clients). Every wait is bounded by a generous deadline; no timing thresholds.
#ifndef DI_TESTS_TESTING_SERVER_FIXTURE_H_
#define DI_TESTS_TESTING_SERVER_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "di/ledger/event_store.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "test_util.h"
#include "world.h"

namespace di::testing {

// ---- Tokens of the test world (plain text; the registry holds their SHA-256) ----------------------------------
inline constexpr const char* kClerk1 = "tok-clerk-m1";    // clerk of M-1 (P-C1, P-P1 and the grant G-1 live there)
inline constexpr const char* kClerk2 = "tok-clerk-m2";    // clerk of M-2 (P-A1 lives there)
inline constexpr const char* kProject = "tok-project";
inline constexpr const char* kFinance = "tok-finance";
inline constexpr const char* kAuditor = "tok-auditor";
inline constexpr const char* kReader = "tok-reader";
inline constexpr const char* kMigration = "tok-migration";  // the importer of a migration: keeps recorded times

// The tokens file of the test world: one entry per token above.
nlohmann::json TokensJson();

// ---- HTTP: one request on a fresh connection (Beast, synchronous) ---------------------------------------------

// Every request's deadline: connect, write and read.
inline constexpr std::chrono::seconds kRequestDeadline{30};

struct Response {
  unsigned status = 0;  // 0: no answer (TrySend only)
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header_allow;
  std::string content_type;
};

// Throws on a transport error (refused, reset, past the deadline).
Response Send(uint16_t port, boost::beast::http::verb verb, const std::string& target, const char* token = nullptr,
              const std::string& body = {});
Response Send(uint16_t port, boost::beast::http::verb verb, const std::string& target, const std::string& token,
              const std::string& body = {});
// The same, with status 0 instead of an exception on a transport error.
Response TrySend(uint16_t port, boost::beast::http::verb verb, const std::string& target, const char* token = nullptr,
                 const std::string& body = {});
Response TrySend(uint16_t port, boost::beast::http::verb verb, const std::string& target, const std::string& token,
                 const std::string& body = {});

Response Get(uint16_t port, const std::string& target, const char* token = nullptr);
// POST /v1/events {"events": events}.
Response Post(uint16_t port, const std::vector<nlohmann::json>& events, const char* token);
Response Post(uint16_t port, const std::vector<nlohmann::json>& events, const std::string& token);
// The same, with status 0 instead of an exception on a transport error.
Response TryPost(uint16_t port, const std::vector<nlohmann::json>& events, const std::string& token);

// ---- A raw TCP connection to 127.0.0.1: malformed, slow and streaming clients -----------------------------------
class RawClient {
 public:
  // Every recv is bounded by `receive_timeout`; a receive buffer of `receive_buffer_bytes` (0: the default),
  // set before connecting.
  explicit RawClient(uint16_t port, int receive_buffer_bytes = 0,
                     std::chrono::seconds receive_timeout = std::chrono::seconds(10));
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return connected_; }

  bool Write(const std::string& bytes);
  // Reads what arrives until the peer closes (or the receive timeout passes with nothing). Returns everything read.
  std::string ReadToEnd();
  // True if the peer closed the connection (recv returns 0 or a reset) within the receive timeout.
  bool PeerClosed();

  // Streaming (chunked NDJSON) ---------------------------------------------------------------------------------
  // Sends the subscription request (GET `target` with `token`) and reads the response header.
  bool Subscribe(const std::string& target, const char* token, unsigned* status);
  // The response status; 0 if none came.
  unsigned Subscribe(const std::string& target, const std::string& token) {
    unsigned status = 0;
    return Subscribe(target, token.c_str(), &status) ? status : 0;
  }
  // The next non-blank NDJSON line; false when the stream ended (closed, or the last chunk).
  bool NextLine(std::string* line);
  // The chunks read so far that held more than a heartbeat's "\n".
  size_t chunks() const { return chunks_; }

 private:
  bool Fill();
  bool NextChunk();

  int fd_ = -1;
  bool connected_ = false;
  size_t chunks_ = 0;
  std::string buffer_;  // raw bytes not yet decoded
  std::string body_;    // decoded chunk data not yet split into lines
};

// ---- The fixture ------------------------------------------------------------------------------------------------
class ServerFixture : public ::testing::Test {
 protected:
  // The store (dir_/data) holding World(), the tokens of TokensJson(), the server's metrics declared.
  void SetUp() override;
  void TearDown() override;

  // The store (dir_/data) and the tokens, without any event yet.
  void OpenEmptyStore();
  // A LedgerService (the test pseudonym key) over `store` (store_ if null).
  void StartService(server::ServiceOptions options = {}, ledger::EventStore* store = nullptr);
  // The service, then an HttpServer over it on an ephemeral port (port_).
  void StartServer(server::HttpServerOptions options = {}, server::ServiceOptions service_options = {});

  TempDir dir_;
  std::unique_ptr<ledger::EventStore> store_;
  server::TokenRegistry tokens_;
  server::Metrics metrics_;
  std::unique_ptr<server::LedgerService> service_;
  std::unique_ptr<server::HttpServer> server_;
  uint16_t port_ = 0;

  // StartService without the assertion: the status of LedgerService::Start.
  ledger::Status NewService(server::ServiceOptions options, ledger::EventStore* store = nullptr);
};

}  // namespace di::testing

#endif  // DI_TESTS_TESTING_SERVER_FIXTURE_H_
