// Internal to server/: what the connection code (http_server.cc), the routes (routes.cc) and the
// subscription streams (subscription.cc) share.
#ifndef DI_SERVER_HTTP_INTERNAL_H_
#define DI_SERVER_HTTP_INTERNAL_H_

#include <atomic>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "page_workers.h"

namespace di::server::internal {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;

// Everything a connection needs, owned by HttpServer::Impl.
struct Context {
  LedgerService* service = nullptr;
  const TokenRegistry* tokens = nullptr;
  Metrics* metrics = nullptr;
  HttpServerOptions options;

  std::atomic<bool> stopping{false};
  std::atomic<size_t> subscribers{0};

  // Open connections (plain and streaming), and how to ask each to stop (posts to its strand).
  std::mutex connections_mutex;
  std::condition_variable connections_closed;
  std::map<uint64_t, std::function<void()>> stoppers;
  uint64_t next_connection_id = 1;
  size_t open_connections = 0;

  uint64_t RegisterConnection(std::function<void()> stopper);
  void UnregisterConnection(uint64_t id);

  // Subscribers' pages are read and encoded here, never on the io threads (page_workers.h says why). Started
  // by the first subscription; stopped by HttpServer::Stop once the io threads are joined.
  PageWorkers subscription_pages;
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, WWW-Authenticate, Retry-After...
};

// A GET /v1/subscribe that passed authentication, authorisation and parameter checks.
struct SubscriptionPlan {
  Principal principal;
  uint64_t after = 0;
  EventFilter filter;
};

unsigned HttpStatusFor(ledger::StatusCode code);
// {"error":{"code","message","field"[,"event_id"]}} with the matching HTTP status.
Reply ErrorReply(const ledger::Status& status);
Reply ErrorReply(unsigned http_status, std::string_view code, std::string message, std::string field = {});

// Routes one request. Fills `reply`, or, for an accepted subscription, fills `subscription` and returns true
// (the connection then streams). `route` gets the route pattern for metrics ("/v1/events/{id}").
bool Route(Context& context, const Request& request, Reply* reply, SubscriptionPlan* subscription, std::string* route);

// For a request whose body has not been read yet ("Expect: 100-continue"): whether the header alone already
// decides a refusal (unparseable target, HTTP version, no route, method, missing or unknown token). False:
// `refusal` is the answer (and `route` the route for metrics); true: the body is worth sending.
bool AcceptsBody(Context& context, const Request& header, Reply* refusal, std::string* route);

// Takes over the connection and streams chunked NDJSON until the client leaves, stalls, or the server stops.
void StartSubscription(Context& context, beast::tcp_stream stream, SubscriptionPlan plan);

// Percent-decoding of a URL component ('+' stays '+'); false on a bad escape.
bool UrlDecode(std::string_view text, std::string* out);

}  // namespace di::server::internal

#endif  // DI_SERVER_HTTP_INTERNAL_H_
