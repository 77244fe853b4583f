// Fuzz target: the HTTP request path without sockets (di::server::HandleRawRequestForTesting): Beast's
// request parser with the server's limits, the router and every handler, against a LedgerService over a
// small store (the default rules and the test world of tests/testing/test_util.h). The tokens below are the ones
// the seed corpus uses (tests/fuzz/corpus/http_request/), one per role. Error answers (4xx) are expected; a crash,
// an abort, a sanitizer report or a 5xx other than 503 and 505 is a bug. The store and the service are recreated
// every kResetEvery executions so that appends do not grow the store without bound.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "di/projections/default_rules.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "fuzz_util.h"

namespace {

using di::server::Role;
using nlohmann::json;

constexpr int kResetEvery = 1000;

std::vector<json> World() {
  std::vector<json> world = {{{"id", "rules"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"},
                              {"actor", "test"},
                              {"data", {{"rule_set_id", "MK313"}, {"title", "default rules"},
                                        {"document", json::parse(di::projections::DefaultRulesDocument())}}}}};
  for (json& event : di::testing::BaseWorld()) world.push_back(std::move(event));
  return world;
}

struct Server {
  Server() : scratch(World()) {
    const json tokens_json = json::array(
        {di::server::TokenEntryJson({"clerk-m1", Role::kClerk, "M-1"}, "tok-clerk-m1"),
         di::server::TokenEntryJson({"clerk-m2", Role::kClerk, "M-2"}, "tok-clerk-m2"),
         di::server::TokenEntryJson({"project", Role::kProject, ""}, "tok-project"),
         di::server::TokenEntryJson({"finance", Role::kFinance, ""}, "tok-finance"),
         di::server::TokenEntryJson({"auditor", Role::kAuditor, ""}, "tok-auditor"),
         di::server::TokenEntryJson({"reader", Role::kReader, ""}, "tok-reader")});
    if (!di::server::TokenRegistry::FromJson(tokens_json, &tokens).ok()) std::abort();
    options.body_limit_bytes = 64 * 1024;  // small, so that fuzzer-sized inputs reach the limit
    options.header_limit_bytes = 4 * 1024;
    StartService();
  }

  // A new Metrics with every service: LedgerService registers a metrics collector that points to itself and
  // is never removed, so a Metrics must not outlive the service it was given to.
  void StartService() {
    service.reset();
    metrics = std::make_unique<di::server::Metrics>();
    di::server::DeclareServerMetrics(*metrics);
    di::server::ServiceOptions service_options;
    service_options.pseudonym_key = std::string(32, 'k');
    service = std::make_unique<di::server::LedgerService>(&scratch.store(), service_options, metrics.get());
    di::ledger::Status status = service->Start();
    if (!status.ok()) {
      std::fprintf(stderr, "fuzz: the service did not start: %s\n", status.ToString().c_str());
      std::abort();
    }
  }

  void Reset() {
    service.reset();  // before the store it reads
    scratch.Reset();
    StartService();
  }

  di::fuzzing::ScratchStore scratch;
  di::server::TokenRegistry tokens;
  std::unique_ptr<di::server::Metrics> metrics;
  di::server::HttpServerOptions options;
  std::unique_ptr<di::server::LedgerService> service;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* server = new Server();
  static int executions = 0;
  if (++executions % kResetEvery == 0) server->Reset();
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const di::server::RawHttpExchange exchange = di::server::HandleRawRequestForTesting(
      server->service.get(), &server->tokens, server->metrics.get(), server->options, request);
  // 500 is the answer to corruption (HttpStatusFor in routes.cc): on this healthy store, a bug. 505 is the
  // answer to a request line of another HTTP major version ("HTTP/2.0"), a client's choice.
  if (exchange.status >= 500 && exchange.status != 503 && exchange.status != 505) {
    std::fprintf(stderr, "fuzz: status %u for a request: %s\n", exchange.status, exchange.body.c_str());
    std::abort();
  }
  return 0;
}
