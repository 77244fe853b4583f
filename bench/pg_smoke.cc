// pg_smoke: proves the PostgreSQL baseline classes work end to end and prints their throughput.
//
// Starts a throw-away cluster. First, for both insert methods: a payload with quotes, backslashes, a
// JSON-escaped tab and Latvian letters reads back equal as jsonb; a duplicate (stream, version), against
// the table or within one batch, is refused (kConflict) and invalid JSON too (kInvalidArgument); the
// refused batches left nothing behind. Then for 1 and 4 writer threads (one connection each) and batches
// of 1, 100 and 1000 synthetic events: recreates the table, appends, checks SELECT count(*), prints
// events/s. Stops the server and checks its directory is gone. Exit status 1 on any failed check.
//
//   build-pg/bench/pg_smoke [--method auto|unnest|copy|all] [--transport tcp|socket]
//                           [--batches 1,100,1000] [--scale F] [--dir D] [--fsync-off-diagnostic]
//
// Events per run (split evenly between the threads): 1000 per event of batch size, at least 2000 and at
// most 100000, times --scale.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <unistd.h>

#include "postgres_event_table.h"

namespace {

using di::bench::PgEvent;
using di::bench::PgInsertMethod;
using di::bench::PostgresEventTable;
using di::bench::PostgresServer;
using di::ledger::Status;
using di::ledger::StatusCode;

constexpr int kEventsPerStream = 10;

// ~270 bytes, shaped like a ServiceDelivered event; the provider name and note carry every character the
// array-literal and COPY escaping must get right.
std::string SyntheticPayload(int writer, int64_t index) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer,
                "{\"event_id\":\"E-%d-%08lld\",\"person_id\":\"P-%d-%06lld\",\"provider\":\"Biedr\xc4\xab"
                "ba \\\"R\xc4\xabgas apr\xc5\xab"
                "pe\\\"\",\"service\":\"respite_care\",\"date\":\"2024-03-%02lld\",\"care_minutes\":%lld,"
                "\"amount_cents\":%lld,\"funding\":{\"esf_cents\":%lld,\"state_cents\":%lld},"
                "\"note\":\"dati\\\\C:\\\\x\\tcilne\",\"measure\":\"9.2.2.1\"}",
                writer, static_cast<long long>(index), writer, static_cast<long long>(index / kEventsPerStream),
                static_cast<long long>(index % 28 + 1), static_cast<long long>(30 + index % 240),
                static_cast<long long>(1000 + index % 9000), static_cast<long long>((1000 + index % 9000) * 85 / 100),
                static_cast<long long>((1000 + index % 9000) - (1000 + index % 9000) * 85 / 100));
  return buffer;
}

PgEvent SyntheticEvent(int writer, int64_t index) {
  PgEvent event;
  event.stream = "person-" + std::to_string(writer) + "-" + std::to_string(index / kEventsPerStream);
  event.version = index % kEventsPerStream + 1;
  event.type = "ServiceDelivered";
  event.json_payload = SyntheticPayload(writer, index);
  return event;
}

bool Check(bool condition, const std::string& what) {
  if (!condition) std::fprintf(stderr, "pg_smoke: FAILED: %s\n", what.c_str());
  return condition;
}

bool CheckOk(const Status& status, const std::string& what) {
  return Check(status.ok(), what + ": " + status.ToString());
}

const char* MethodName(PgInsertMethod method) {
  switch (method) {
    case PgInsertMethod::kAuto: return "auto";
    case PgInsertMethod::kUnnest: return "unnest";
    case PgInsertMethod::kCopy: return "copy";
  }
  return "?";
}

struct RunResult {
  bool ok = false;
  double events_per_second = 0;
  int64_t events = 0;
};

// `writers` threads, one connection each, each appending events_per_writer events of its own streams.
RunResult RunAppends(const std::string& host, int port, PgInsertMethod method, int writers, int batch_size,
                     int64_t events_per_writer) {
  RunResult run;
  std::vector<std::unique_ptr<PostgresEventTable>> tables(writers);
  for (int w = 0; w < writers; ++w) {
    if (!CheckOk(PostgresEventTable::Connect(host, port, method, &tables[w]), "connect")) return run;
  }
  if (!CheckOk(tables[0]->CreateSchema(), "create schema")) return run;
  // Batches are built before the clock starts: the figure is PostgreSQL's, not the generator's.
  std::vector<std::vector<std::vector<PgEvent>>> batches(writers);
  for (int w = 0; w < writers; ++w) {
    for (int64_t begin = 0; begin < events_per_writer; begin += batch_size) {
      std::vector<PgEvent> batch;
      for (int64_t i = begin; i < std::min<int64_t>(events_per_writer, begin + batch_size); ++i) {
        batch.push_back(SyntheticEvent(w, i));
      }
      batches[w].push_back(std::move(batch));
    }
  }
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (const std::vector<PgEvent>& batch : batches[w]) {
        const Status status = tables[w]->AppendBatch(batch);
        if (!status.ok()) {
          std::fprintf(stderr, "pg_smoke: append failed: %s\n", status.ToString().c_str());
          failures.fetch_add(1);
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!Check(failures.load() == 0, "appends")) return run;
  int64_t count = -1;
  if (!CheckOk(tables[0]->CountEvents(&count), "count")) return run;
  run.events = events_per_writer * writers;
  if (!Check(count == run.events, "count(*) = " + std::to_string(count) + ", expected " + std::to_string(run.events))) {
    return run;
  }
  run.events_per_second = run.events / seconds;
  run.ok = true;
  return run;
}

// Escaping, duplicate refusal and batch atomicity, on a fresh table.
bool CheckCorrectness(const std::string& host, int port, PgInsertMethod method) {
  std::unique_ptr<PostgresEventTable> table;
  if (!CheckOk(PostgresEventTable::Connect(host, port, method, &table), "connect")) return false;
  if (!CheckOk(table->CreateSchema(), "create schema")) return false;
  std::vector<PgEvent> batch = {SyntheticEvent(0, 0), SyntheticEvent(0, 1), SyntheticEvent(0, 2)};
  if (!CheckOk(table->AppendBatch(batch), "append 3")) return false;
  int64_t count = -1;
  if (!CheckOk(table->CountEventsWithPayload(batch[1].json_payload, &count), "payload read back")) return false;
  if (!Check(count == 1, "payload with quotes/backslashes/tab/UTF-8 equal as jsonb: " + std::to_string(count))) {
    return false;
  }
  // A new event plus an existing (stream, version): refused as a whole.
  std::vector<PgEvent> duplicate = {SyntheticEvent(0, 3), SyntheticEvent(0, 1)};
  const Status refused = table->AppendBatch(duplicate);
  if (!Check(refused.code() == StatusCode::kConflict, "duplicate (stream, version) refused as conflict: " +
                                                          refused.ToString())) {
    return false;
  }
  // Twice within one batch: refused too.
  std::vector<PgEvent> twice = {SyntheticEvent(0, 4), SyntheticEvent(0, 4)};
  if (!Check(table->AppendBatch(twice).code() == StatusCode::kConflict, "duplicate within a batch refused")) {
    return false;
  }
  // Invalid JSON: refused as invalid argument, not stored.
  PgEvent invalid = SyntheticEvent(0, 5);
  invalid.json_payload = "{\"unterminated\": ";
  if (!Check(table->AppendBatch({invalid}).code() == StatusCode::kInvalidArgument, "invalid JSON refused")) {
    return false;
  }
  if (!CheckOk(table->CountEvents(&count), "count")) return false;
  if (!Check(count == 3, "refused batches left nothing: count(*) = " + std::to_string(count))) return false;
  // The connection is usable after the refusals.
  if (!CheckOk(table->AppendBatch({SyntheticEvent(0, 3)}), "append after refusals")) return false;
  std::printf("checks (%s): payload escaping, duplicate (stream, version) refused (\"%s\"), batch atomicity: ok\n",
              MethodName(method), refused.message().c_str());
  return true;
}

// --fsync-off-diagnostic: turns fsync off on the running server (ALTER SYSTEM + reload; fsync is a
// reload-time setting) so the insert methods can be compared on CPU and round trips alone, without this
// machine's fsync latency, which drifts several-fold over minutes. Never for the baseline figures.
bool TurnFsyncOff(const std::string& host, int port) {
  const std::string port_text = std::to_string(port);
  const char* keywords[] = {"host", "port", "user", "dbname", nullptr};
  const char* values[] = {host.c_str(), port_text.c_str(), "postgres", "postgres", nullptr};
  PGconn* connection = PQconnectdbParams(keywords, values, 0);
  bool ok = PQstatus(connection) == CONNECTION_OK;
  // Separate commands: ALTER SYSTEM refuses to run inside the implicit transaction of a multi-statement string.
  for (const char* sql : {"ALTER SYSTEM SET fsync = off", "SELECT pg_reload_conf()", "SELECT pg_sleep(0.5)"}) {
    if (!ok) break;
    PGresult* result = PQexec(connection, sql);
    ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
    if (!ok) std::fprintf(stderr, "pg_smoke: %s: %s", sql, PQerrorMessage(connection));
    PQclear(result);
  }
  PQfinish(connection);
  return ok;
}

// Events per run: enough batches that one slow fsync does not decide the figure, at most 100000.
int64_t EventsForBatchSize(int batch_size, double scale) {
  const int64_t events = std::min<int64_t>(100000, std::max<int64_t>(2000, int64_t{batch_size} * 1000));
  return std::max<int64_t>(1, static_cast<int64_t>(scale * static_cast<double>(events)));
}

}  // namespace

int main(int argc, char** argv) {
  std::string method_name = "auto";
  std::string transport = "tcp";
  std::string batches_text = "1,100,1000";
  double scale = 1.0;
  bool fsync_off_diagnostic = false;
  std::string dir = "/tmp/di-ledger-pg-smoke-" + std::to_string(getpid());
  bool arguments_valid = true;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--fsync-off-diagnostic") {
      fsync_off_diagnostic = true;
      continue;
    }
    if (i + 1 >= argc) {
      arguments_valid = false;
      break;
    }
    const char* value = argv[++i];
    if (name == "--method") method_name = value;
    else if (name == "--transport") transport = value;
    else if (name == "--batches") batches_text = value;
    else if (name == "--scale") scale = std::atof(value);
    else if (name == "--dir") dir = value;
    else arguments_valid = false;
  }
  std::vector<PgInsertMethod> methods;
  if (method_name == "auto" || method_name == "all") methods.push_back(PgInsertMethod::kAuto);
  if (method_name == "unnest" || method_name == "all") methods.push_back(PgInsertMethod::kUnnest);
  if (method_name == "copy" || method_name == "all") methods.push_back(PgInsertMethod::kCopy);
  std::vector<int> batch_sizes;
  for (size_t begin = 0; begin < batches_text.size() && batch_sizes.size() < 16;) {
    size_t end = batches_text.find(',', begin);
    if (end == std::string::npos) end = batches_text.size();
    batch_sizes.push_back(std::atoi(batches_text.substr(begin, end - begin).c_str()));
    begin = end + 1;
  }
  const bool batches_valid =
      !batch_sizes.empty() && std::all_of(batch_sizes.begin(), batch_sizes.end(), [](int b) { return b >= 1 && b <= 10000; });
  if (!arguments_valid || methods.empty() || (transport != "tcp" && transport != "socket") || !(scale > 0) || !batches_valid) {
    std::fprintf(stderr,
                 "usage: pg_smoke [--method auto|unnest|copy|all] [--transport tcp|socket] [--batches 1,100,1000]"
                 " [--scale F] [--dir D] [--fsync-off-diagnostic]\n");
    return 2;
  }

  std::unique_ptr<PostgresServer> server;
  const auto start_begin = std::chrono::steady_clock::now();
  if (!CheckOk(PostgresServer::Start(dir, 0, &server), "start postgres")) return 1;
  const double start_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_begin).count();
  const std::string host = transport == "tcp" ? "127.0.0.1" : server->socket_directory();
  std::printf("postgres 15 on %s port %d (%s), started in %.1f s; fsync=on synchronous_commit=on shared_buffers=256MB\n",
              host.c_str(), server->port(), transport.c_str(), start_seconds);

  bool ok = true;
  for (PgInsertMethod method : {PgInsertMethod::kUnnest, PgInsertMethod::kCopy}) {
    ok = ok && CheckCorrectness(host, server->port(), method);
  }
  if (ok && fsync_off_diagnostic) {
    ok = Check(TurnFsyncOff(host, server->port()), "fsync off");
    std::printf("DIAGNOSTIC: fsync=off (methods compared without disk flushes; not a baseline figure)\n");
  }
  if (ok) {
    std::printf("\n%-7s %7s %6s %8s | %12s\n", "method", "writers", "batch", "events", "events/s");
    // Methods innermost: the machine's fsync latency drifts over minutes, so the methods of one row run
    // back to back and are comparable with each other.
    for (int writers : {1, 4}) {
      for (int batch_size : batch_sizes) {
        for (PgInsertMethod method : methods) {
          const int64_t per_writer = std::max<int64_t>(1, EventsForBatchSize(batch_size, scale) / writers);
          const RunResult run = RunAppends(host, server->port(), method, writers, batch_size, per_writer);
          if (!run.ok) {
            ok = false;
            break;
          }
          std::printf("%-7s %7d %6d %8lld | %12.0f\n", MethodName(method), writers, batch_size,
                      static_cast<long long>(run.events), run.events_per_second);
          std::fflush(stdout);
        }
      }
    }
  }

  const std::string socket_directory = server->socket_directory();
  ok = CheckOk(server->Stop(), "stop postgres") && ok;
  ok = Check(!std::filesystem::exists(socket_directory), "directory removed: " + socket_directory) && ok;
  std::printf("\n%s\n", ok ? "pg_smoke: ok" : "pg_smoke: FAILED");
  return ok ? 0 : 1;
}
