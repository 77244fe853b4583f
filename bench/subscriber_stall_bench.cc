// subscriber_stall_bench: what open subscriptions cost everyone else (issue #12 item 4).
//
// In one process and one run: a store of the simulated region (init's default rules + `simulate --persons N`,
// appended in batches; not measured), a LedgerService and an HttpServer on 127.0.0.1 (port 0), then phases of
// --seconds each, and each at least until the server has taken all of its subscriptions (a server that serves
// requests behind the subscribers' catch-up takes the later ones late; bounded: 300 s). In every phase two
// probes run side by side, paced (one request, then --pause-ms):
//   healthz  GET /healthz on a keep-alive connection;
//   append   POST /v1/events with one new service_delivered event, by the clerk of the delivery's territory
//            (a copy of a delivery of the history under a fresh event id and delivery id; 201 expected).
// At the start of a phase (with the probes already running) its subscribers connect, each with SO_RCVBUF
// --rcvbuf-bytes, and send GET /v1/subscribe?after=0 as a reader (pseudonymised events, from the first one):
//   idle         none: the baseline the other rows are divided by;
//   reading R    R subscribers that read (and discard) everything as fast as one poll() thread takes it;
//   stalled S    S subscribers that never read a byte, not even the response header.
// The server's stall timeout is --stall-timeout-ms (default: longer than a phase, so that every stalled
// subscriber is still connected when the phase ends: the worst case; the "open" column shows it).
// Between phases the subscribers close and the bench waits (bounded) until the server has let them all go.
//
// Each row: how long the phase lasted; the probes' latencies (client-side, first byte written to last byte
// read; ms): the number answered (a probe stuck behind subscribers answers late: few answers are the symptom),
// p50, p99, max, and the p99 as a multiple of the idle row's; events the server sent to subscribers,
// subscriptions still open at the end of the phase, subscriptions the server dropped, the process's peak RSS
// during the phase (server and this load generator share the process and the machine's cores).
//
//   build/bench/subscriber_stall_bench [--persons 300] [--seconds 10] [--threads 4] [--reading 32]
//       [--stalled 50,256] [--rcvbuf-bytes 4096] [--pause-ms 10] [--stall-timeout-ms 600000] [--dir DIR] [--keep]
// Every wait is bounded: a probe request that takes longer than 120 s fails the bench.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/projections/default_rules.h"
#include "di/projections/replay.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "bench_util.h"
#include "machine.h"
#include "di/workload/region_history.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using di::server::Principal;
using di::server::Role;

using di::bench::Check;
using di::bench::Fail;
using di::bench::SecondsSince;

// Every wait of the bench is bounded by one of these.
constexpr auto kRequestTimeout = std::chrono::seconds(120);  // one probe request
constexpr auto kReleaseTimeout = std::chrono::seconds(120);  // the server letting a phase's subscribers go
constexpr auto kOpenTimeout = std::chrono::seconds(300);     // the server taking a phase's subscriptions
constexpr size_t kMaxTemplates = 2000;                       // deliveries kept to copy (bounded memory)
constexpr size_t kImportBatch = 1000;                        // events per store append while building

struct Options {
  int persons = 300;
  double seconds = 10;
  int threads = 4;
  int reading = 32;
  std::vector<int> stalled = {50, 256};
  int rcvbuf_bytes = 4096;
  int pause_ms = 10;
  int stall_timeout_ms = 600000;
  std::string dir;
  bool keep = false;
};

// --- store and workload ----------------------------------------------------------------------------------------

// A delivery of the history as JSON, to be appended again under fresh ids by the clerk of its territory.
struct Workload {
  uint64_t events = 0;
  std::string territory;                       // the clerk's municipality
  std::vector<nlohmann::ordered_json> deliveries;  // all of that territory
};

// The default rules, then the simulated history, appended in batches (the order is one the ledger accepts).
std::vector<std::string> BuildStore(const Options& options, di::ledger::EventStore& store) {
  nlohmann::ordered_json rules = {{"id", "rules-mk313"},
                                  {"type", "rules_enacted"},
                                  {"effective_date", "2015-07-01"},
                                  {"actor", "bench"},
                                  {"data",
                                   {{"rule_set_id", "MK313"},
                                    {"title", "default rules"},
                                    {"document",
                                     nlohmann::ordered_json::parse(di::projections::DefaultRulesDocument())}}}};
  di::workload::SimulateOptions simulate;
  simulate.persons = options.persons;
  std::stringstream history;
  di::workload::WriteSimulatedHistory(simulate, history);
  std::vector<std::string> deliveries;
  std::vector<di::ledger::NewEvent> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    di::ledger::AppendResult result;
    Check(store.Append(batch, &result), "append the history");
    batch.clear();
  };
  batch.emplace_back();
  Check(di::ledger::EventFromJsonText(rules.dump(), &batch.back()), "parse the rules event");
  for (std::string line; std::getline(history, line);) {
    batch.emplace_back();
    Check(di::ledger::EventFromJsonText(line, &batch.back()), "parse a simulated event");
    if (line.find("\"type\":\"service_delivered\"") != std::string::npos && deliveries.size() < kMaxTemplates * 4) {
      deliveries.push_back(line);
    }
    if (batch.size() == kImportBatch) flush();
  }
  flush();
  return deliveries;
}

// The deliveries a clerk may append again: inside their grant's validity, the person's residence known; the
// territory with the most of them.
Workload ChooseWorkload(di::server::LedgerService& service, const std::vector<std::string>& lines) {
  Workload workload;
  workload.events = service.VisiblePosition();
  std::map<std::string, std::vector<nlohmann::ordered_json>> by_territory;
  Check(service.WithModel(di::projections::kKnownNow,
                          [&](const di::projections::LedgerModel& model, uint64_t) {
                            for (const std::string& line : lines) {
                              nlohmann::ordered_json event = nlohmann::ordered_json::parse(line);
                              const std::optional<std::string> territory = di::bench::ClerkTerritoryOf(model, event);
                              if (!territory.has_value()) continue;
                              auto& list = by_territory[*territory];
                              if (list.size() < kMaxTemplates) list.push_back(std::move(event));
                            }
                            return di::ledger::Status::Ok();
                          }),
        "choose deliveries");
  for (auto& [territory, list] : by_territory) {
    if (list.size() > workload.deliveries.size()) {
      workload.territory = territory;
      workload.deliveries = std::move(list);
    }
  }
  if (workload.deliveries.empty()) Fail("no delivery of the history can be appended again by a clerk");
  return workload;
}

// --- HTTP probes -------------------------------------------------------------------------------------------------

// One keep-alive connection, synchronous, every request bounded by kRequestTimeout.
class Connection {
 public:
  explicit Connection(uint16_t port) : stream_(io_) {
    stream_.expires_after(kRequestTimeout);
    stream_.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream_.socket().set_option(net::ip::tcp::no_delay(true));
  }
  unsigned RoundTrip(const http::request<http::string_body>& request) {
    stream_.expires_after(kRequestTimeout);
    http::write(stream_, request);
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return response.result_int();
  }

 private:
  net::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct ProbeResult {
  std::vector<double> ms;  // answered as expected
  uint64_t unexpected = 0;
  std::string first_unexpected;
};

// Requests made by `make` (expecting `expected`) on one connection until `stop`, `pause` apart.
ProbeResult Probe(uint16_t port, const std::atomic<bool>& stop, std::chrono::milliseconds pause, unsigned expected,
                  const std::function<http::request<http::string_body>()>& make) {
  ProbeResult result;
  Connection connection(port);
  while (!stop.load()) {
    const auto request = make();
    const auto started = Clock::now();
    const unsigned status = connection.RoundTrip(request);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (status == expected) {
      result.ms.push_back(ms);
    } else if (result.unexpected++ == 0) {
      result.first_unexpected = std::to_string(status);
    }
    std::this_thread::sleep_for(pause);
  }
  return result;
}

// Nearest-rank percentile of the latencies (ms); NAN when there are none.
double Percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  return di::bench::Percentile(values, fraction, static_cast<double>(NAN));
}

// --- subscribers ---------------------------------------------------------------------------------------------------

// A connected socket with a small receive buffer (set before connect, so the window is small from the start) that
// has sent its subscription request. -1: failed.
int OpenSubscriber(uint16_t port, int rcvbuf_bytes, const std::string& token) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (rcvbuf_bytes > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  const std::string request =
      "GET /v1/subscribe?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads (and discards) everything the reading subscribers get, on one thread, until `stop`.
void ReadAll(std::vector<int> fds, const std::atomic<bool>& stop, std::atomic<uint64_t>* bytes) {
  std::vector<pollfd> polls;
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    polls.push_back({fd, POLLIN, 0});
  }
  std::vector<char> buffer(1 << 16);
  while (!stop.load()) {
    if (::poll(polls.data(), polls.size(), 50) <= 0) continue;
    for (pollfd& entry : polls) {
      if (entry.fd < 0 || entry.revents == 0) continue;
      const ssize_t n = ::recv(entry.fd, buffer.data(), buffer.size(), 0);
      if (n > 0) {
        *bytes += static_cast<uint64_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        entry.fd = -entry.fd - 1;  // closed by the server: poll ignores negative fds; closed by us later
      }
    }
  }
}

long StatusKilobytes(const char* field) {
  std::ifstream status("/proc/self/status");
  const size_t length = std::strlen(field);
  for (std::string line; std::getline(status, line);) {
    if (line.compare(0, length, field) == 0) return std::atol(line.c_str() + length + 1);
  }
  return 0;
}

// --- phases --------------------------------------------------------------------------------------------------------

struct Phase {
  std::string name;
  int reading = 0, stalled = 0;
};

struct PhaseResult {
  Phase phase;
  ProbeResult healthz, append;
  double subscriber_events = 0, dropped = 0, open_at_end = 0, release_seconds = 0, seconds = 0;
  int refused = 0;
  long peak_rss_kb = 0;
};

struct Bench {
  Options options;
  di::server::Metrics* metrics = nullptr;
  uint16_t port = 0;
  std::string reader_token, clerk_token;
  Workload workload;
  std::atomic<uint64_t> next_id{1};

  http::request<http::string_body> Healthz() const {
    http::request<http::string_body> request(http::verb::get, "/healthz", 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(true);
    return request;
  }

  http::request<http::string_body> Append() {
    const uint64_t id = next_id.fetch_add(1);
    nlohmann::ordered_json event = workload.deliveries[id % workload.deliveries.size()];
    event["id"] = "stall-bench-" + std::to_string(::getpid()) + "-" + std::to_string(id);
    event["actor"] = "stall-bench";
    event["data"]["delivery_id"] = "D-STALL-" + std::to_string(::getpid()) + "-" + std::to_string(id);
    http::request<http::string_body> request(http::verb::post, "/v1/events", 11);
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + clerk_token);
    request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = nlohmann::ordered_json{{"events", nlohmann::ordered_json::array({event})}}.dump();
    request.prepare_payload();
    return request;
  }

  PhaseResult Run(const Phase& phase) {
    PhaseResult result;
    result.phase = phase;
    std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM from here: this phase's peak
    const double events_before = metrics->Value("di_subscription_events_total");
    const double dropped_before = metrics->Value("di_subscriptions_dropped_total", {{"reason", "slow_consumer"}});
    const auto started = Clock::now();
    const auto deadline = started + std::chrono::microseconds(static_cast<int64_t>(options.seconds * 1e6));
    const auto pause = std::chrono::milliseconds(options.pause_ms);
    std::atomic<bool> probes_stop{false};
    std::thread healthz([&] { result.healthz = Probe(port, probes_stop, pause, 200, [&] { return Healthz(); }); });
    std::thread append([&] { result.append = Probe(port, probes_stop, pause, 201, [&] { return Append(); }); });
    // The probes are running: now the subscribers come.
    std::vector<int> reading, stalled;
    for (int i = 0; i < phase.reading + phase.stalled; ++i) {
      const int fd = OpenSubscriber(port, options.rcvbuf_bytes, reader_token);
      if (fd < 0) {
        ++result.refused;
        continue;
      }
      (i < phase.reading ? reading : stalled).push_back(fd);
    }
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bytes{0};
    std::thread reader([&] { ReadAll(reading, stop, &bytes); });
    // The phase lasts --seconds, and at least until the server has taken every subscription (a server that
    // serves requests behind the subscribers' catch-up takes them late: the probes must see all of that).
    const size_t opened = reading.size() + stalled.size();
    while (Clock::now() < deadline || metrics->Value("di_subscribers") < static_cast<double>(opened)) {
      if (Clock::now() - started > kOpenTimeout) break;  // the "open" column then says how many it took
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    probes_stop = true;
    healthz.join();
    append.join();
    result.seconds = SecondsSince(started);
    result.open_at_end = metrics->Value("di_subscribers");
    result.subscriber_events = metrics->Value("di_subscription_events_total") - events_before;
    result.dropped = metrics->Value("di_subscriptions_dropped_total", {{"reason", "slow_consumer"}}) - dropped_before;
    result.peak_rss_kb = StatusKilobytes("VmHWM:");
    stop = true;
    reader.join();
    for (int fd : reading) ::close(fd);
    for (int fd : stalled) ::close(fd);
    // The next phase starts with none: the server notices the closes (bounded wait).
    const auto released = Clock::now();
    while (metrics->Value("di_subscribers") > 0) {
      if (Clock::now() - released > kReleaseTimeout) Fail("the server kept subscriptions of closed sockets");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    result.release_seconds = SecondsSince(released);
    return result;
  }
};

void PrintTable(const std::vector<PhaseResult>& results) {
  const PhaseResult& idle = results.front();
  const double idle_healthz = Percentile(idle.healthz.ms, 0.99), idle_append = Percentile(idle.append.ms, 0.99);
  std::printf("%-14s %5s %6s | %-37s | %-37s | %9s %6s %7s %6s\n", "phase", "subs", "secs",
              "GET /healthz: n  p50 ms  p99 ms  max ms  p99/idle", "clerk append: n  p50 ms  p99 ms  max ms  p99/idle",
              "sub.events", "open", "dropped", "RSS MB");
  for (const PhaseResult& result : results) {
    auto cells = [](const ProbeResult& probe, double idle_p99) {
      char text[96];
      const double p99 = Percentile(probe.ms, 0.99);
      std::snprintf(text, sizeof(text), "%5zu %7.2f %7.2f %7.1f %8.1fx", probe.ms.size(), Percentile(probe.ms, 0.5),
                    p99, probe.ms.empty() ? NAN : *std::max_element(probe.ms.begin(), probe.ms.end()), p99 / idle_p99);
      return std::string(text);
    };
    std::printf("%-14s %5d %6.1f | %-37s | %-37s | %9.0f %6.0f %7.0f %6.0f\n", result.phase.name.c_str(),
                result.phase.reading + result.phase.stalled, result.seconds,
                cells(result.healthz, idle_healthz).c_str(),
                cells(result.append, idle_append).c_str(), result.subscriber_events, result.open_at_end, result.dropped,
                static_cast<double>(result.peak_rss_kb) / 1024.0);
  }
  for (const PhaseResult& result : results) {
    if (result.refused > 0) {
      std::printf("  %s: %d subscriptions refused at connect\n", result.phase.name.c_str(), result.refused);
    }
    if (result.healthz.unexpected > 0) {
      std::printf("  %s: %llu healthz answers not 200 (first: %s)\n", result.phase.name.c_str(),
                  static_cast<unsigned long long>(result.healthz.unexpected), result.healthz.first_unexpected.c_str());
    }
    if (result.append.unexpected > 0) {
      std::printf("  %s: %llu appends not 201 (first: %s)\n", result.phase.name.c_str(),
                  static_cast<unsigned long long>(result.append.unexpected), result.append.first_unexpected.c_str());
    }
  }
}

int Run(const Options& options) {
  const std::string data_dir = options.dir + "/store";
  std::filesystem::remove_all(data_dir);
  std::unique_ptr<di::ledger::EventStore> store;
  di::ledger::EventStoreOptions store_options;
  store_options.create_if_missing = true;
  Check(di::ledger::EventStore::Open(store_options, data_dir, &store), "open the store");
  auto started = Clock::now();
  const std::vector<std::string> delivery_lines = BuildStore(options, *store);
  const double build_seconds = SecondsSince(started);

  di::server::Metrics metrics;
  di::server::DeclareServerMetrics(metrics);
  di::server::ServiceOptions service_options;
  service_options.pseudonym_key = std::string(32, 'k');  // a bench key: the pseudonyms are never kept
  di::server::LedgerService service(store.get(), service_options, &metrics);
  Check(service.Start(), "start the service");

  Bench bench;
  bench.options = options;
  bench.metrics = &metrics;
  bench.workload = ChooseWorkload(service, delivery_lines);
  bench.reader_token = "stall-bench-reader";
  bench.clerk_token = "stall-bench-clerk";
  di::server::TokenRegistry tokens;
  Check(di::server::TokenRegistry::FromJson(
            nlohmann::json::array(
                {di::server::TokenEntryJson({"bench-reader", Role::kReader, ""}, bench.reader_token),
                 di::server::TokenEntryJson({"bench-clerk", Role::kClerk, bench.workload.territory},
                                            bench.clerk_token)}),
            &tokens),
        "tokens");

  di::server::HttpServerOptions server_options;
  server_options.port = 0;
  server_options.threads = options.threads;
  server_options.subscription_stall_timeout = std::chrono::milliseconds(options.stall_timeout_ms);
  di::server::HttpServer server(&service, &tokens, &metrics, server_options);
  Check(server.Start(), "start the server");
  bench.port = server.port();

  std::printf("store: default rules + simulate --persons %d: %llu events (built in %.1f s); clerk of %s appends copies "
              "of %zu deliveries\n",
              options.persons, static_cast<unsigned long long>(bench.workload.events), build_seconds,
              bench.workload.territory.c_str(), bench.workload.deliveries.size());
  std::printf("server: in-process, 127.0.0.1:%u, --threads %d, stall timeout %d ms, max %zu subscribers, pages of "
              "<= %zu events and %zu KiB, %d page thread(s)\n",
              bench.port, options.threads, options.stall_timeout_ms, server_options.max_subscribers,
              std::min(server_options.subscription_page_events, service_options.max_read_events),
              server_options.subscription_page_bytes / 1024, server_options.subscription_threads);
  std::printf("probes: one GET /healthz and one clerk append (1 event) at a time, %d ms apart, %.1f s per phase; "
              "subscribers: reader, after=0, SO_RCVBUF %d\n\n",
              options.pause_ms, options.seconds, options.rcvbuf_bytes);

  std::vector<Phase> phases = {{"idle", 0, 0}};
  if (options.reading > 0) phases.push_back({"reading " + std::to_string(options.reading), options.reading, 0});
  for (int stalled : options.stalled) phases.push_back({"stalled " + std::to_string(stalled), 0, stalled});
  phases.push_back({"idle again", 0, 0});
  std::vector<PhaseResult> results;
  for (const Phase& phase : phases) {
    results.push_back(bench.Run(phase));
    std::fprintf(stderr, "  %s done (subscribers released in %.2f s)\n", phase.name.c_str(),
                 results.back().release_seconds);
  }
  PrintTable(results);
  server.Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return di::bench::Main("subscriber_stall_bench", [&] {
    Options options;
    di::bench::Flags flags(argc, argv);
    while (flags.Next()) {
      if (flags.Is("--persons")) options.persons = flags.Int();
      else if (flags.Is("--seconds")) options.seconds = flags.Double();
      else if (flags.Is("--threads")) options.threads = flags.Int();
      else if (flags.Is("--reading")) options.reading = flags.Int();
      else if (flags.Is("--stalled")) options.stalled = flags.IntList();
      else if (flags.Is("--rcvbuf-bytes")) options.rcvbuf_bytes = flags.Int();
      else if (flags.Is("--pause-ms")) options.pause_ms = flags.Int();
      else if (flags.Is("--stall-timeout-ms")) options.stall_timeout_ms = flags.Int();
      else if (flags.Is("--dir")) options.dir = flags.Value();
      else if (flags.Is("--keep")) options.keep = true;
      else if (flags.Is("--help") || flags.Is("-h")) {
        std::printf("usage: subscriber_stall_bench [--persons 300] [--seconds 10] [--threads 4] [--reading 32]\n"
                    "         [--stalled 50,256] [--rcvbuf-bytes 4096] [--pause-ms 10] [--stall-timeout-ms 600000]\n"
                    "         [--dir DIR] [--keep]\n");
        return 0;
      } else {
        flags.Unknown();
      }
    }
    if (options.persons < 1 || options.seconds <= 0 || options.threads < 1 || options.pause_ms < 0) {
      Fail("bad option value");
    }
    di::bench::WorkDir work_dir("di-ledger-stall-bench", &options.dir);
    std::printf("subscriber_stall_bench: %s\nmachine: nproc %ld, %s\ndir: %s\n", flags.command_line().c_str(),
                ::sysconf(_SC_NPROCESSORS_ONLN), di::bench::CpuModel().c_str(), options.dir.c_str());
    std::fflush(stdout);
    const int code = Run(options);
    work_dir.Finish(options.keep);
    return code;
  });
}
