// http_bench: throughput and latency of `di-ledger serve` under load from a second process (issue #6 item 5).
//
// wrk is not packaged for us, so this is a small load generator of our own: Boost.Beast, synchronous, one
// thread per keep-alive connection. The server is a child process (the real binary, as operators run it);
// the load comes from this process. In one run:
//   store     `di-ledger init`, `simulate --persons N`, `import`, `rebuild` (the projection checkpoints) into a
//             fresh directory (not measured); tokens from `di-ledger token`: one project token (queries) and one
//             clerk per territory (appends).
//   baseline  the same entitlement queries computed in-process from the same store (LoadModel +
//             ComputeEntitlements [+ EntitlementsToJson and dump]), so the HTTP overhead shows: on the model
//             decoded from the head snapshot in a fresh heap (as the server's live model starts), and on the model
//             folded from the log (the same answers; its scattered memory layout makes queries ~2x slower); one
//             snapshot Save timed; a few past known-at models loaded (LoadModel from the checkpoints).
//   serve     `di-ledger serve --port 0` as a child; waits for GET /healthz; SIGTERM and wait at the end,
//             also on failure and on SIGINT/SIGTERM of the bench.
//   phases    for a fixed time each (--seconds):
//             entitlements  GET /v1/entitlements/{person}?valid_at=<random 2017..2023>, random enrolled person,
//                           known now (the live model), C = 1, 8, 32 connections;
//             known_at      the same with known_at=<random position from the person's enrolment to the head>: the
//                           family's facts folded and the caps' usage read from the journal store (without a store:
//                           the family's streams folded); C = 1, 4 (a 429 busy makes the connection wait 10 ms
//                           before its next request so that 429s do not spin the CPU);
//             funding       GET /v1/reports/funding?known_at=<random past position>&group_by=<one of five>, C = 1
//             changes       GET /v1/reports/changes between two positions a month of the history apart, C = 1
//             (before the phases the bench waits until the server's funding journal has reached the head,
//             di_journal_projected_position; the answers' sources are printed at the end)
//             append        POST /v1/events with batches of 1 and 100 new service_delivered events, C = 1, 8.
//                           Each copies a delivery of the history (grant, provider, mode, date, quantity, cost,
//                           purpose, last date) under a fresh event id and delivery id, sent by the clerk of the
//                           grant's person's territory; 201 expected.
// Each row: requests, errors (non-2xx, transport errors as status 0), requests/s, events/s (appends), client-side
// latency percentiles of the 2xx answers (µs, from the first byte written to the last byte read), the server's
// own handling time p99 (its di_http_request_seconds histogram, as the bucket bound that holds the 99th
// percentile), the live-model snapshots the server wrote, the cores used by the server, this generator and the
// rest of the machine, the server's peak RSS so far (VmHWM of the child), the answers by HTTP status. The first
// body of every non-2xx status is printed under the table.
//
// Client and server share the machine (and, here, 2 cores with other work: the "oth" cores say how much), so the
// figures are a lower bound of what the server does alone.
//
//   build/bench/http_bench [--persons 1000] [--years 8] [--seconds 10] [--threads 4] [--cli build/di-ledger]
//                          [--dir /tmp/x] [--keep] [--seed 1]
// --persons 1000 (444 273 events) keeps a run under 3 minutes on 2 cores. The working directory is a new
// /tmp/di-ledger-http-bench-XXXXXX, removed after a successful run unless --keep; kept after a failure (its
// server.log, import.log ... say why).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/projections/checkpoint.h"
#include "di/projections/entitlements.h"
#include "di/projections/replay.h"
#include "bench_util.h"
#include "child_process.h"
#include "machine.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
// Every failure unwinds to main, so the server child is always stopped (ServerProcess's destructor).
using di::bench::Check;
using di::bench::Fail;
using di::bench::Percentile;
using di::bench::SecondsSince;

struct Options {
  int persons = 1000;
  int years = 8;
  double seconds = 10;
  int server_threads = 4;
  uint64_t seed = 1;
  std::string cli;  // the di-ledger binary
  std::string dir;  // working directory (store, history, tokens, server log)
  bool keep = false;
};

// --- child processes -----------------------------------------------------------------------------------------

// The server's pid, for the signal handler: Ctrl-C on the bench must not leave a server running.
volatile sig_atomic_t server_pid_for_signal = 0;

void OnSignal(int signal_number) {
  if (server_pid_for_signal > 0) ::kill(server_pid_for_signal, SIGTERM);
  ::_exit(128 + signal_number);
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Runs `argv` to completion; its output goes to `output_path`. A non-zero exit fails the bench with the output.
void RunToCompletion(const std::vector<std::string>& argv, const std::string& output_path) {
  std::filesystem::remove(output_path);
  di::testing::ChildProcess child;
  const bool started = child.Start(argv, output_path);
  const int status = started ? child.Wait() : 0;
  if (!started || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const std::string& arg : argv) command += arg + " ";
    Fail("`" + command + "` failed:\n" + ReadFile(output_path));
  }
}

// `di-ledger serve` as a child process. Stop() (also from the destructor, so on every failure path) sends
// SIGTERM and waits for the graceful shutdown, SIGKILL after 30 s.
class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  void Start(const Options& options, const std::string& data_dir, const std::string& tokens_file,
             const std::string& log_path) {
    std::filesystem::remove(log_path);
    if (!child_.Start({options.cli, "serve", "--data", data_dir, "--address", "127.0.0.1", "--port", "0", "--tokens",
                       tokens_file, "--threads", std::to_string(options.server_threads)},
                      log_path)) {
      Fail("cannot start " + options.cli);
    }
    server_pid_for_signal = child_.pid();
    // Starting verifies the whole chain and loads the live model: seconds for a million events. Bounded wait.
    const auto started = Clock::now();
    port_ = child_.WaitForPortAfter(di::testing::kServeListeningPrefix, std::chrono::seconds(300));
    if (port_ == 0) {
      if (!child_.Running()) Fail("the server exited while starting:\n" + ReadFile(log_path));
      Fail("the server did not start within 300 s:\n" + ReadFile(log_path));
    }
    start_seconds_ = SecondsSince(started);
  }

  void Stop() {
    if (child_.Running()) child_.Stop(std::chrono::seconds(30));
    server_pid_for_signal = 0;
  }

  // Peak resident set of the server so far (VmHWM), MB; -1 if unreadable.
  double PeakRssMegabytes() const {
    std::ifstream status("/proc/" + std::to_string(child_.pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:  123456 kB"
    }
    return -1;
  }

  pid_t pid() const { return child_.pid(); }
  uint16_t port() const { return port_; }
  double start_seconds() const { return start_seconds_; }

 private:
  di::testing::ChildProcess child_;
  uint16_t port_ = 0;
  double start_seconds_ = 0;
};

// --- HTTP client ---------------------------------------------------------------------------------------------

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// One keep-alive connection, synchronous. Reconnects when the server closes (Connection: close) or on a
// transport error (counted by the caller as status 0).
class Connection {
 public:
  explicit Connection(uint16_t port) : port_(port), socket_(io_) {}

  // Sends `request`, reads the whole answer. false: a transport error (the connection is reset).
  bool RoundTrip(const Request& request, Response* response) {
    try {
      if (!socket_.is_open()) Connect();
      http::write(socket_, request);
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read(socket_, buffer_, parser);
      *response = parser.release();
      if (!response->keep_alive()) Close();
      return true;
    } catch (const std::exception&) {
      Close();
      return false;
    }
  }

  void Connect() {
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port_);
    socket_.connect(endpoint);
    socket_.set_option(asio::ip::tcp::no_delay(true));
    buffer_.clear();
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    buffer_.clear();
  }

 private:
  uint16_t port_;
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Request MakeGet(const std::string& target, const std::string& token) {
  Request request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  request.keep_alive(true);
  return request;
}

// One GET on a fresh connection (health checks, metrics scrapes). Status 0: transport error.
std::string GetOnce(uint16_t port, const std::string& target, int* status) {
  Connection connection(port);
  Response response;
  *status = connection.RoundTrip(MakeGet(target, ""), &response) ? static_cast<int>(response.result_int()) : 0;
  return response.body();
}

// --- measurement ---------------------------------------------------------------------------------------------

struct PhaseResult {
  std::string name;
  int connections = 0;
  uint64_t requests = 0;
  uint64_t events = 0;  // events appended (2xx appends only)
  double seconds = 0;
  std::map<int, uint64_t> statuses;          // HTTP status (0: transport error) -> count
  std::map<int, std::string> first_bodies;   // the first body of each non-2xx status
  std::vector<uint32_t> latencies_us;        // 2xx answers only
  std::string server_p99;                    // from the server's histogram
  uint64_t snapshots = 0;                    // live-model snapshots the server wrote during the phase
  double server_cores = 0, bench_cores = 0, other_cores = 0;
  double server_peak_rss_mb = 0;
};

// What one request of a phase is: fills `request`; `events` is how many events it appends (0 for queries).
using RequestMaker = std::function<void(std::mt19937_64& random, Request* request, uint64_t* events)>;

// Runs `connections` threads, each with its own keep-alive connection, for `seconds`. Connections are opened
// before the clock starts; every thread starts together.
PhaseResult RunPhase(const std::string& name, int connections, double seconds, uint16_t port, uint64_t seed,
                     const RequestMaker& make_request, bool pause_after_busy) {
  struct Worker {
    std::map<int, uint64_t> statuses;
    std::map<int, std::string> first_bodies;
    std::vector<uint32_t> latencies_us;
    uint64_t events = 0;
    std::string failure;
  };
  std::vector<Worker> workers(connections);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      Worker& worker = workers[i];
      worker.latencies_us.reserve(1 << 16);
      std::mt19937_64 random(seed * 1000003 + static_cast<uint64_t>(i));
      Connection connection(port);
      try {
        connection.Connect();
      } catch (const std::exception& error) {
        worker.failure = error.what();
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      if (!worker.failure.empty()) return;
      Request request;
      Response response;
      while (Clock::now() < deadline) {
        uint64_t events = 0;
        make_request(random, &request, &events);
        const auto started = Clock::now();
        const bool answered = connection.RoundTrip(request, &response);
        const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
        const int status = answered ? static_cast<int>(response.result_int()) : 0;
        ++worker.statuses[status];
        if (status >= 200 && status < 300) {
          worker.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(latency, UINT32_MAX)));
          worker.events += events;
        } else {
          if (!worker.first_bodies.count(status)) {
            std::string body = answered ? response.body().substr(0, 400) : "(connection error)";
            while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
            worker.first_bodies[status] = body;
          }
          if (status == 429 && pause_after_busy) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          if (status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // bounded reconnect rate
        }
      }
    });
  }
  while (ready.load() < connections) std::this_thread::yield();
  const auto started = Clock::now();
  deadline = started + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  go.store(true);
  for (std::thread& thread : threads) thread.join();
  PhaseResult result;
  result.name = name;
  result.connections = connections;
  result.seconds = SecondsSince(started);
  for (Worker& worker : workers) {
    if (!worker.failure.empty()) Fail(name + ": cannot connect: " + worker.failure);
    for (const auto& [status, count] : worker.statuses) {
      result.statuses[status] += count;
      result.requests += count;
    }
    for (const auto& [status, body] : worker.first_bodies) result.first_bodies.emplace(status, body);
    result.latencies_us.insert(result.latencies_us.end(), worker.latencies_us.begin(), worker.latencies_us.end());
    result.events += worker.events;
  }
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  return result;
}

std::string ScrapeMetrics(uint16_t port) {
  int status = 0;
  std::string text = GetOnce(port, "/metrics", &status);
  if (status != 200) Fail("GET /metrics answered " + std::to_string(status));
  return text;
}

// A counter without labels from a Prometheus text page (0 if absent).
uint64_t CounterValue(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return static_cast<uint64_t>(std::stod(line.substr(name.size() + 1)));
  }
  return 0;
}

// The sum of a labelled counter's series whose `journal` label is `value` ("": every series).
uint64_t LabelledSum(const std::string& text, const std::string& name, const std::string& value) {
  uint64_t sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    if (!value.empty() && line.find("journal=\"" + value + "\"") == std::string::npos) continue;
    sum += static_cast<uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return sum;
}

// The server's handling-time histogram of one route, cumulative bucket counts by upper bound (seconds).
std::map<double, uint64_t> HistogramBuckets(const std::string& text, const std::string& route) {
  std::map<double, uint64_t> buckets;
  const std::string prefix = "di_http_request_seconds_bucket{";
  const std::string route_label = "route=\"" + route + "\"";
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0 || line.find(route_label) == std::string::npos) continue;
    const size_t le = line.find("le=\"");
    const size_t space = line.rfind(' ');
    if (le == std::string::npos || space == std::string::npos) continue;
    const std::string bound = line.substr(le + 4, line.find('"', le + 4) - le - 4);
    const double upper = bound == "+Inf" ? INFINITY : std::stod(bound);
    buckets[upper] = std::stoull(line.substr(space + 1));
  }
  return buckets;
}

// "≤ 2.5 ms": the smallest bucket bound that holds 99 % of the requests between two scrapes.
std::string HistogramP99(const std::map<double, uint64_t>& before, const std::map<double, uint64_t>& after) {
  if (after.empty()) return "-";
  const uint64_t total = after.rbegin()->second - (before.empty() ? 0 : before.rbegin()->second);
  if (total == 0) return "-";
  for (const auto& [upper, cumulative] : after) {
    auto it = before.find(upper);
    const uint64_t count = cumulative - (it == before.end() ? 0 : it->second);
    if (static_cast<double>(count) >= 0.99 * static_cast<double>(total)) {
      if (std::isinf(upper)) return "> 10 s";
      char text[32];
      std::snprintf(text, sizeof(text), "<=%gms", upper * 1000);
      return text;
    }
  }
  return "-";
}

// CPU time in clock ticks: the whole machine's busy time (/proc/stat: all but idle and iowait), and one
// process's user + system time (/proc/PID/stat, fields 14 and 15). The machine is shared (other builds may run),
// so each row says how many cores the server, this load generator and everything else used.
uint64_t MachineBusyTicks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return user + nice + system + irq + softirq + steal;
}

uint64_t ProcessTicks(pid_t pid) {
  const std::string text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 0; i < 11; ++i) fields >> field;  // state .. cmajflt
  fields >> utime >> stime;
  return utime + stime;
}

struct CpuSample {
  uint64_t machine = 0, server = 0, bench = 0;
  static CpuSample Take(pid_t server_pid) { return {MachineBusyTicks(), ProcessTicks(server_pid), ProcessTicks(::getpid())}; }
};

void PrintHeader() {
  std::printf("%-32s %3s %8s %7s %8s %8s %8s %8s %8s %10s %5s %16s %6s  %s\n", "phase", "C", "requests", "errors",
              "req/s", "events/s", "p50 us", "p99 us", "p99.9 us", "server p99", "snaps", "cores srv/gen/oth",
              "RSS MB", "HTTP statuses");
}

void PrintRow(const PhaseResult& result) {
  uint64_t errors = 0;
  std::string statuses;
  for (const auto& [status, count] : result.statuses) {
    if (status < 200 || status >= 300) errors += count;
    if (!statuses.empty()) statuses += ' ';
    statuses += std::to_string(status);
    statuses += ':';
    statuses += std::to_string(count);
  }
  const double rate = static_cast<double>(result.requests) / result.seconds;
  char events[32] = "-";
  if (result.events > 0) std::snprintf(events, sizeof(events), "%.0f", static_cast<double>(result.events) / result.seconds);
  char cores[48];
  std::snprintf(cores, sizeof(cores), "%.2f/%.2f/%.2f", result.server_cores, result.bench_cores, result.other_cores);
  std::printf("%-32s %3d %8llu %7llu %8.1f %8s %8u %8u %8u %10s %5llu %16s %6.0f  %s\n", result.name.c_str(),
              result.connections, static_cast<unsigned long long>(result.requests),
              static_cast<unsigned long long>(errors), rate, events, Percentile(result.latencies_us, 0.50),
              Percentile(result.latencies_us, 0.99), Percentile(result.latencies_us, 0.999),
              result.server_p99.c_str(), static_cast<unsigned long long>(result.snapshots), cores,
              result.server_peak_rss_mb, statuses.c_str());
  std::fflush(stdout);
}

// An in-process row: single thread, no HTTP.
void PrintBaselineRow(const std::string& name, std::vector<uint32_t> latencies_us, double seconds) {
  std::sort(latencies_us.begin(), latencies_us.end());
  std::printf("%-32s %3d %8zu %7d %8.1f %8s %8u %8u %8u %10s %5s %16s %6s\n", name.c_str(), 1, latencies_us.size(),
              0, static_cast<double>(latencies_us.size()) / seconds, "-", Percentile(latencies_us, 0.50),
              Percentile(latencies_us, 0.99), Percentile(latencies_us, 0.999), "-", "-", "-", "-");
  std::fflush(stdout);
}

// --- workload ------------------------------------------------------------------------------------------------

// A delivery of the history to copy: its event JSON with two placeholders cut out (event id, delivery id), and
// the token of the clerk who may append it.
struct DeliveryTemplate {
  std::string before_id, between, after_delivery_id;
  size_t clerk = 0;  // index into Workload::clerk_tokens
};

struct Workload {
  std::vector<std::string> persons;       // enrolled persons
  std::vector<uint64_t> enrolled_at;      // the position of each one's person_enrolled event
  uint64_t head_position = 0;
  std::string project_token;
  std::vector<std::string> clerk_tokens;  // one per territory with deliveries
  std::vector<std::string> clerk_territories;
  std::vector<DeliveryTemplate> deliveries;
  std::vector<std::vector<size_t>> deliveries_by_clerk;
};

std::string CliOutput(const Options& options, const std::vector<std::string>& argv) {
  const std::string path = options.dir + "/cli-output.txt";
  RunToCompletion(argv, path);
  return ReadFile(path);
}

// `di-ledger token`: the token text and its tokens-file entry.
Json MakeToken(const Options& options, const std::string& name, const std::string& role,
               const std::string& municipality, std::string* token) {
  std::vector<std::string> argv = {options.cli, "token", "--name", name, "--role", role};
  if (!municipality.empty()) {
    argv.push_back("--municipality");
    argv.push_back(municipality);
  }
  const std::string output = CliOutput(options, argv);
  const di::testing::MadeToken made = di::testing::ParseMadeToken(output);
  if (made.token.empty() || !made.entry.is_object()) Fail("unexpected `di-ledger token` output: " + output);
  *token = made.token;
  return made.entry;
}

// The deliveries of the history that a clerk may append again under new ids: inside their grant's validity as
// the model knows it (a later amendment or end may have cut it), the person's residence known.
void CollectDeliveryTemplates(const Options& options, const std::string& history_path,
                              const di::projections::LedgerModel& model, Workload* workload,
                              std::map<std::string, size_t>* clerk_of_territory) {
  std::ifstream history(history_path);
  std::mt19937_64 random(options.seed);
  const size_t kMaxTemplates = 20000;  // reservoir sample: bounded memory whatever --persons is
  std::vector<std::string> sample;
  uint64_t seen = 0, lines = 0;
  std::map<std::string, uint64_t> enrolled_line;  // person id -> line number (1-based) of its person_enrolled
  for (std::string line; std::getline(history, line);) {
    ++lines;
    if (line.find("\"type\":\"person_enrolled\"") != std::string::npos) {
      enrolled_line[Json::parse(line)["data"]["person_id"].get<std::string>()] = lines;
    }
    if (line.find("\"type\":\"service_delivered\"") == std::string::npos) continue;
    ++seen;
    if (sample.size() < kMaxTemplates) {
      sample.push_back(line);
    } else if (const uint64_t slot = random() % seen; slot < kMaxTemplates) {
      sample[slot] = line;
    }
  }
  // The import appended line n at position n + (events before it: init's rules), so a person's enrolment
  // position is known, and a past known-at query can ask about a person who existed then (else 404).
  if (lines > workload->head_position) Fail("the store holds fewer events than the history has lines");
  const uint64_t offset = workload->head_position - lines;
  for (const std::string& person : workload->persons) {
    auto it = enrolled_line.find(person);
    if (it == enrolled_line.end()) Fail("no person_enrolled line for " + person);
    workload->enrolled_at.push_back(offset + it->second);
  }
  const std::string kIdMark = "@@EVENT_ID@@", kDeliveryMark = "@@DELIVERY_ID@@";
  for (const std::string& line : sample) {
    nlohmann::ordered_json event = nlohmann::ordered_json::parse(line);  // keeps "id" before "data"
    const std::optional<std::string> territory = di::bench::ClerkTerritoryOf(model, event);
    if (!territory.has_value()) continue;
    auto [clerk, added] = clerk_of_territory->emplace(*territory, workload->clerk_territories.size());
    if (added) workload->clerk_territories.push_back(*territory);
    event["id"] = kIdMark;
    event["actor"] = "http-bench";
    event["data"]["delivery_id"] = kDeliveryMark;
    const std::string text = event.dump();
    const size_t id_at = text.find(kIdMark), delivery_at = text.find(kDeliveryMark);
    if (id_at == std::string::npos || delivery_at == std::string::npos || delivery_at < id_at) continue;
    DeliveryTemplate delivery;
    delivery.before_id = text.substr(0, id_at);
    delivery.between = text.substr(id_at + kIdMark.size(), delivery_at - id_at - kIdMark.size());
    delivery.after_delivery_id = text.substr(delivery_at + kDeliveryMark.size());
    delivery.clerk = clerk->second;
    workload->deliveries.push_back(std::move(delivery));
  }
  if (workload->deliveries.empty()) Fail("no delivery of the history can serve as a template");
  workload->deliveries_by_clerk.resize(workload->clerk_territories.size());
  for (size_t i = 0; i < workload->deliveries.size(); ++i) {
    workload->deliveries_by_clerk[workload->deliveries[i].clerk].push_back(i);
  }
}

// Random valid date 2017-01-01..2023-12-31, formatted.
class ValidDates {
 public:
  ValidDates() {
    for (int32_t day = di::ledger::DaysFromCivil(2017, 1, 1); day <= di::ledger::DaysFromCivil(2023, 12, 31); ++day) {
      dates_.push_back(di::ledger::FormatDate(day));
    }
  }
  const std::string& Pick(std::mt19937_64& random) const { return dates_[random() % dates_.size()]; }
  int32_t PickDay(std::mt19937_64& random) const {
    int32_t day = 0;
    di::ledger::ParseDate(Pick(random), &day);
    return day;
  }

 private:
  std::vector<std::string> dates_;
};

std::string MachineDescription() {
  return "nproc " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + ", " + di::bench::CpuModel();
}

std::string DefaultCli(const char* argv0) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) self = argv0;
  for (const auto& candidate : {self.parent_path() / ".." / "di-ledger", self.parent_path() / "di-ledger",
                                self.parent_path() / ".." / "cli" / "di-ledger"}) {
    if (std::filesystem::exists(candidate)) return std::filesystem::weakly_canonical(candidate).string();
  }
  return "";
}

int Run(const Options& options) {
  std::filesystem::create_directories(options.dir);
  const std::string data_dir = options.dir + "/store";
  const std::string history_path = options.dir + "/history.jsonl";
  const std::string tokens_path = options.dir + "/tokens.json";
  std::filesystem::remove_all(data_dir);

  // --- store (not measured) ----------------------------------------------------------------------------------
  auto started = Clock::now();
  RunToCompletion({options.cli, "init", "--data", data_dir}, options.dir + "/init.log");
  RunToCompletion({options.cli, "simulate", "--seed", std::to_string(options.seed), "--persons",
                   std::to_string(options.persons), "--years", std::to_string(options.years), "--output",
                   history_path},
                  options.dir + "/simulate.log");
  RunToCompletion({options.cli, "import", "--data", data_dir, history_path}, options.dir + "/import.log");
  // The projection checkpoints (a snapshot every 50 000 positions and at the head), as an operator makes them:
  // the server starts from the head one, past known-at queries fold from the nearest one.
  RunToCompletion({options.cli, "rebuild", "--data", data_dir}, options.dir + "/rebuild.log");
  const double store_seconds = SecondsSince(started);

  // --- the model, the workload and the in-process baseline ---------------------------------------------------
  Workload workload;
  std::map<std::string, size_t> clerk_of_territory;
  const ValidDates valid_dates;
  // Latencies of the in-process rows: entitlements on the model folded from the log, entitlements (+ JSON) on
  // the model decoded from the head snapshot (as the server's live model starts), past known-at model loads.
  std::vector<uint32_t> folded_compute_us, compute_us, compute_json_us, past_load_us;
  double folded_seconds = 0, baseline_seconds = 0, past_baseline_seconds = 0, fold_seconds = 0,
         snapshot_load_seconds = 0, snapshot_save_seconds = 0;
  uint64_t events_in_store = 0, snapshot_bytes = 0;
  size_t past_loads = 0;
  {
    std::unique_ptr<di::ledger::EventStore> store;
    di::ledger::EventStoreOptions store_options;
    store_options.create_if_missing = false;
    Check(di::ledger::EventStore::Open(store_options, data_dir, &store), "open the store");
    std::unique_ptr<di::projections::CheckpointStore> checkpoints;
    Check(di::projections::CheckpointStore::Open(di::projections::CheckpointStore::PathFor(data_dir), {},
                                                 &checkpoints),
          "open the projection checkpoints");
    events_in_store = store->Head().position;
    workload.head_position = events_in_store;
    std::mt19937_64 random(options.seed);

    // The entitlement queries of the HTTP phase, in-process: what the server computes for each request.
    auto query_for = [&](const di::projections::LedgerModel& model, double seconds, std::vector<uint32_t>* compute,
                         std::vector<uint32_t>* compute_json) {
      const auto begin_all = Clock::now();
      const auto deadline = begin_all + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
      while (Clock::now() < deadline) {
        const std::string& person = workload.persons[random() % workload.persons.size()];
        const int32_t valid_day = valid_dates.PickDay(random);
        const auto begin = Clock::now();
        di::projections::Entitlements entitlements;
        Check(di::projections::ComputeEntitlements(model, person, valid_day, &entitlements), "entitlements");
        const auto computed = Clock::now();
        const std::string body =
            compute_json != nullptr ? di::projections::EntitlementsToJson(entitlements).dump() : std::string("-");
        const auto dumped = Clock::now();
        if (body.empty()) Fail("empty entitlements JSON");
        compute->push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(computed - begin).count()));
        if (compute_json != nullptr) {
          compute_json->push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(dumped - begin).count()));
        }
      }
      return SecondsSince(begin_all);
    };

    {
      // First, in a heap nothing else has used yet, the model as the server's live model starts: decoded from
      // the head snapshot.
      started = Clock::now();
      di::projections::LedgerModel model;
      Check(di::projections::LoadModel(*store, checkpoints.get(), di::projections::kKnownNow, &model), "load");
      snapshot_load_seconds = SecondsSince(started);
      for (const auto& [id, person] : model.persons()) {
        if (person.enrolled) workload.persons.push_back(id);
      }
      if (workload.persons.empty()) Fail("no enrolled person in the store");
      CollectDeliveryTemplates(options, history_path, model, &workload, &clerk_of_territory);
      baseline_seconds = query_for(model, options.seconds / 2, &compute_us, &compute_json_us);
    }
    {
      // Then the same model folded event by event from the log (no checkpoints): the same answers, another
      // memory layout.
      started = Clock::now();
      di::projections::LedgerModel folded;
      Check(di::projections::LoadModel(*store, nullptr, di::projections::kKnownNow, &folded), "fold");
      fold_seconds = SecondsSince(started);
      folded_seconds = query_for(folded, options.seconds / 2, &folded_compute_us, nullptr);
      // What the server's snapshot thread does each time its live model passes a snapshot stride
      // (LedgerService::SnapshotLoop): one snapshot of the whole model (same position: replaces it).
      started = Clock::now();
      di::projections::CheckpointInfo info;
      Check(checkpoints->Save(folded, store->Head().hash, &info), "save a snapshot");
      snapshot_save_seconds = SecondsSince(started);
      snapshot_bytes = info.snapshot_bytes;
    }

    // Past known-at models, in-process: the nearest checkpoint plus the events after it (what the server does
    // per known_at request before computing the answer). A few only: each is a fold.
    started = Clock::now();
    while (SecondsSince(started) < options.seconds / 2 && past_loads < 50) {
      const uint64_t known_at = 1 + random() % (workload.head_position - 1);
      const auto begin = Clock::now();
      di::projections::LedgerModel past;
      Check(di::projections::LoadModel(*store, checkpoints.get(), known_at, &past), "load past model");
      past_load_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count()));
      ++past_loads;
    }
    past_baseline_seconds = SecondsSince(started);
  }

  // --- tokens ------------------------------------------------------------------------------------------------
  Json entries = Json::array();
  entries.push_back(MakeToken(options, "bench-project", "project", "", &workload.project_token));
  for (const std::string& territory : workload.clerk_territories) {
    std::string token;
    entries.push_back(MakeToken(options, "bench-clerk-" + territory, "clerk", territory, &token));
    workload.clerk_tokens.push_back(token);
  }
  {
    std::ofstream tokens(tokens_path);
    tokens << entries.dump(2) << "\n";
    if (!tokens) Fail("cannot write " + tokens_path);
  }

  // --- serve ---------------------------------------------------------------------------------------------------
  ServerProcess server;
  server.Start(options, data_dir, tokens_path, options.dir + "/server.log");
  {
    int status = 0;
    const auto waited = Clock::now();
    while (GetOnce(server.port(), "/healthz", &status), status != 200) {
      if (SecondsSince(waited) > 60) Fail("GET /healthz did not answer 200 within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  // The server starts its funding journal on a thread of its own: the journal store brought to the head (`rebuild`
  // projected it), then the live journal reset on the live model. Until then answers come from folds; the phases
  // measure the journal's answers, so wait for it (bounded: 10 min).
  double journal_wait_seconds = 0;
  {
    const auto waited = Clock::now();
    while (CounterValue(ScrapeMetrics(server.port()), "di_journal_projected_position") < workload.head_position) {
      if (SecondsSince(waited) > 600) Fail("the server's journal did not reach the head within 10 min");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    journal_wait_seconds = SecondsSince(waited);
  }
  std::printf("store: simulate --seed %llu --persons %d --years %d: %llu events, %zu enrolled persons, %zu delivery "
              "templates over %zu territories (init + simulate + import: %.1f s)\n",
              static_cast<unsigned long long>(options.seed), options.persons, options.years,
              static_cast<unsigned long long>(events_in_store), workload.persons.size(), workload.deliveries.size(),
              workload.clerk_territories.size(), store_seconds);
  std::printf("in-process: model loaded from the head snapshot (%.1f MB) in %.2f s, folded from the log in %.2f s; "
              "one snapshot saved in %.3f s\n",
              static_cast<double>(snapshot_bytes) / 1e6, snapshot_load_seconds, fold_seconds, snapshot_save_seconds);
  std::printf("server: pid %d, port %u, --threads %d, ready in %.1f s (chain verified, live model loaded); its funding "
              "journal at the head %.1f s later\n\n",
              static_cast<int>(server.pid()), server.port(), options.server_threads, server.start_seconds(),
              journal_wait_seconds);
  std::printf("latency: client-side, per request, 2xx answers only, microseconds. server p99: the server's own handling\n"
              "time (its di_http_request_seconds histogram: the bucket bound holding the 99th percentile). snaps: live-model\n"
              "snapshots the server wrote (by its snapshot thread; appends wait for the encode only). cores: CPU used\n"
              "during the phase by the server, this load generator and everything else on the machine. RSS: the server's\n"
              "VmHWM at the end of the phase.\n\n");
  PrintHeader();
  PrintBaselineRow("in-process entitlements", compute_us, baseline_seconds);
  PrintBaselineRow("in-process entitlements + JSON", compute_json_us, baseline_seconds);
  PrintBaselineRow("in-process entitlements, folded", folded_compute_us, folded_seconds);

  std::vector<PhaseResult> results;
  uint64_t phase_seed = options.seed;
  auto run = [&](const std::string& name, const std::string& route, int connections, const RequestMaker& maker,
                 bool pause_after_busy) {
    const std::string metrics_before = ScrapeMetrics(server.port());
    const CpuSample cpu_before = CpuSample::Take(server.pid());
    PhaseResult result = RunPhase(name, connections, options.seconds, server.port(), ++phase_seed, maker,
                                  pause_after_busy);
    const CpuSample cpu_after = CpuSample::Take(server.pid());
    const std::string metrics_after = ScrapeMetrics(server.port());
    result.server_p99 = HistogramP99(HistogramBuckets(metrics_before, route), HistogramBuckets(metrics_after, route));
    result.snapshots = CounterValue(metrics_after, "di_model_snapshots_total") -
                       CounterValue(metrics_before, "di_model_snapshots_total");
    const double tick_seconds = static_cast<double>(::sysconf(_SC_CLK_TCK)) * result.seconds;
    const uint64_t server_ticks = cpu_after.server - cpu_before.server, bench_ticks = cpu_after.bench - cpu_before.bench;
    const uint64_t machine_ticks = cpu_after.machine - cpu_before.machine;
    result.server_cores = static_cast<double>(server_ticks) / tick_seconds;
    result.bench_cores = static_cast<double>(bench_ticks) / tick_seconds;
    result.other_cores = static_cast<double>(machine_ticks - std::min(machine_ticks, server_ticks + bench_ticks)) /
                         tick_seconds;
    result.server_peak_rss_mb = server.PeakRssMegabytes();
    PrintRow(result);
    results.push_back(std::move(result));
  };

  // a. entitlements, known now (the live model).
  const RequestMaker entitlements = [&](std::mt19937_64& random, Request* request, uint64_t* events) {
    const std::string& person = workload.persons[random() % workload.persons.size()];
    *request = MakeGet("/v1/entitlements/" + person + "?valid_at=" + valid_dates.Pick(random), workload.project_token);
  };
  for (int connections : {1, 8, 32}) {
    run("GET entitlements (known now)", "/v1/entitlements/{person_id}", connections, entitlements, false);
  }

  // b. entitlements as known at a past position: the family's facts folded, the usage from the journal store.
  PrintBaselineRow("in-process LoadModel (past)", past_load_us, past_baseline_seconds);
  // A random person, known at a random position from their enrolment to the head (exclusive: the head is the
  // live model).
  const RequestMaker past = [&](std::mt19937_64& random, Request* request, uint64_t* events) {
    const size_t index = random() % workload.persons.size();
    const std::string& person = workload.persons[index];
    const uint64_t from = workload.enrolled_at[index];
    const uint64_t known_at = from + random() % std::max<uint64_t>(1, workload.head_position - from);
    *request = MakeGet("/v1/entitlements/" + person + "?valid_at=" + valid_dates.Pick(random) +
                           "&known_at=" + std::to_string(known_at),
                       workload.project_token);
  };
  for (int connections : {1, 4}) {
    run("GET entitlements (past known_at)", "/v1/entitlements/{person_id}", connections, past, true);
  }

  // c. the funding report as known at a past position (from the journal store: an image and the records after it),
  //    and what changed over a month of the history (the store's records); C = 1.
  const RequestMaker past_funding = [&](std::mt19937_64& random, Request* request, uint64_t* events) {
    static const char* const kGroupings[] = {"month", "territory", "territory,month", "service,month", "municipality"};
    const uint64_t known_at = 1 + random() % (workload.head_position - 1);
    *request = MakeGet("/v1/reports/funding?valid_at=" + valid_dates.Pick(random) + "&known_at=" +
                           std::to_string(known_at) + "&group_by=" + kGroupings[random() % 5],
                       workload.project_token);
  };
  run("GET funding (past known_at)", "/v1/reports/funding", 1, past_funding, true);
  const uint64_t month = std::max<uint64_t>(1, workload.head_position / (static_cast<uint64_t>(options.years) * 12));
  const RequestMaker changes = [&](std::mt19937_64& random, Request* request, uint64_t* events) {
    const uint64_t from = 1 + random() % (workload.head_position - month - 1);
    *request = MakeGet("/v1/reports/changes?group_by=territory,month&known_at=" + std::to_string(from) +
                           "&to=" + std::to_string(from + month),
                       workload.project_token);
  };
  run("GET changes (a month apart)", "/v1/reports/changes", 1, changes, true);

  // d. appends of new deliveries, batches of 1 and 100, by the clerk of the deliveries' territory.
  std::atomic<uint64_t> next_id{1};
  const std::string run_tag = std::to_string(::getpid());
  for (int batch : {1, 100}) {
    const RequestMaker append = [&, batch](std::mt19937_64& random, Request* request, uint64_t* events) {
      const size_t clerk = workload.deliveries[random() % workload.deliveries.size()].clerk;
      const std::vector<size_t>& candidates = workload.deliveries_by_clerk[clerk];
      std::string body = "{\"events\":[";
      for (int i = 0; i < batch; ++i) {
        const DeliveryTemplate& delivery = workload.deliveries[candidates[random() % candidates.size()]];
        const std::string id = std::to_string(next_id.fetch_add(1));
        if (i > 0) body += ',';
        body += delivery.before_id;
        body += "bench-" + run_tag + "-" + id;
        body += delivery.between;
        body += "D-BENCH-" + run_tag + "-" + id;
        body += delivery.after_delivery_id;
      }
      body += "]}";
      *request = Request(http::verb::post, "/v1/events", 11);
      request->set(http::field::host, "127.0.0.1");
      request->set(http::field::authorization, "Bearer " + workload.clerk_tokens[clerk]);
      request->set(http::field::content_type, "application/json");
      request->keep_alive(true);
      request->body() = std::move(body);
      request->prepare_payload();
      *events = static_cast<uint64_t>(batch);
    };
    for (int connections : {1, 8}) {
      run("POST events (batch " + std::to_string(batch) + ")", "/v1/events", connections, append, false);
    }
  }

  // Non-2xx answers, one body per status and phase.
  bool any_error = false;
  for (const PhaseResult& result : results) {
    for (const auto& [status, body] : result.first_bodies) {
      if (!any_error) std::printf("\nnon-2xx answers (the first body of each status per phase):\n");
      any_error = true;
      std::printf("  %s C=%d: %d x%llu: %s\n", result.name.c_str(), result.connections, status,
                  static_cast<unsigned long long>(result.statuses.at(status)), body.c_str());
    }
  }
  // Which path answered: the journal's (entitlements' usage, funding and changes from the store) or folds.
  const std::string metrics = ScrapeMetrics(server.port());
  std::printf("\nanswered by the journal: entitlements %llu (live %llu, store %llu), funding as known now %llu, from the "
              "store %llu; by folds: past models %llu, person-scoped %llu. Journal projected up to %llu, head %llu\n",
              static_cast<unsigned long long>(LabelledSum(metrics, "di_entitlements_from_journal_total", "")),
              static_cast<unsigned long long>(LabelledSum(metrics, "di_entitlements_from_journal_total", "live")),
              static_cast<unsigned long long>(LabelledSum(metrics, "di_entitlements_from_journal_total", "store")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_funding_from_journal_total")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_funding_from_journal_store_total")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_model_replays_total")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_model_scoped_loads_total")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_journal_projected_position")),
              static_cast<unsigned long long>(CounterValue(metrics, "di_head_position")));
  server.Stop();
  std::printf("\nserver stopped; its log: %s\n", (options.dir + "/server.log").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return di::bench::Main("http_bench", [&] {
    Options options;
    di::bench::Flags flags(argc, argv);
    while (flags.Next()) {
      if (flags.Is("--persons")) options.persons = flags.Int();
      else if (flags.Is("--years")) options.years = flags.Int();
      else if (flags.Is("--seconds")) options.seconds = flags.Double();
      else if (flags.Is("--threads")) options.server_threads = flags.Int();
      else if (flags.Is("--seed")) options.seed = flags.Uint64();
      else if (flags.Is("--cli")) options.cli = flags.Value();
      else if (flags.Is("--dir")) options.dir = flags.Value();
      else if (flags.Is("--keep")) options.keep = true;
      else if (flags.Is("--help") || flags.Is("-h")) {
        std::printf("usage: http_bench [--persons 1000] [--years 8] [--seconds 10] [--threads 4 (server)] [--seed 1]\n"
                    "                  [--cli PATH/di-ledger] [--dir DIR] [--keep]\n");
        return 0;
      } else {
        flags.Unknown();
      }
    }
    if (options.persons < 1 || options.seconds <= 0 || options.server_threads < 1) Fail("bad option value");
    if (options.cli.empty()) options.cli = DefaultCli(argv[0]);
    if (options.cli.empty() || ::access(options.cli.c_str(), X_OK) != 0) {
      Fail("cannot find the di-ledger binary (give --cli PATH)");
    }
    di::bench::WorkDir work_dir("di-ledger-http-bench", &options.dir);
    struct sigaction action {};
    action.sa_handler = OnSignal;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    std::printf("http_bench: %s\nmachine: %s\ncli: %s\ndir: %s\n", flags.command_line().c_str(),
                MachineDescription().c_str(), options.cli.c_str(), options.dir.c_str());
    std::fflush(stdout);
    const int code = Run(options);
    work_dir.Finish(options.keep);
    return code;
  });
}
