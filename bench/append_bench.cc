// append_bench: ledger Append throughput and latency against a raw RocksDB baseline and a PostgreSQL event
// table, in the same run (issue #6, items 1, 2 and 6).
//
// Workload: the seeded region history of `simulate --persons N` (2 500 persons: about a million events).
// Deliveries are 88 % of it and, once the rest of the history is recorded, independent of each other, so:
//   base      every event but deliveries and what refers to deliveries (corrections, voids, claims, reviews,
//             payments): projects, municipalities, providers, persons, assessments, plans, applications,
//             grants. Loaded into each store before a measurement, not measured.
//   measured  the `service_delivered` events, in history order, cut into batches of B. W writer threads take
//             the next batch from a shared counter and append it, so with W = 8 up to 8 batches are in
//             flight (the ledger's group commit and RocksDB's write group merge them; PostgreSQL commits
//             each transaction on its own). Each cell runs until the deliveries are used up or --seconds pass.
// The three systems, every write durable before it returns (fsync):
//   ledger    EventStore::Append (validation against the reference index, id/stream checks, hash chain,
//             Merkle tree, indexes), sync = true.
//   raw       RocksDB with default options, WriteOptions::sync = true, one Put per event: the ledger's
//             canonical Cap'n Proto bytes of the event under an 8-byte big-endian key. No validation, no
//             index, no hash. The ceiling for "events into RocksDB".
//   postgres  Debian's PostgreSQL 15, started by this program on a temp dir and 127.0.0.1, stopped after;
//             a classic event table (bigserial position, unique (stream, version), JSONB payload),
//             synchronous_commit on; one transaction and one round trip per batch (bench/postgres_event_table.h).
// Printed per (batch, writers): events/s and p50/p99 batch latency of each system, and the ratios
// ledger/raw and ledger/postgres. Then disk bytes per event and peak RSS.
//
//   build/bench/append_bench [--persons 2500] [--seconds 5] [--batches 1,10,100,1000,8000] [--writers 1,8]
//                            [--dir /tmp/di-append-bench] [--no-postgres]
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "machine.h"
#include "postgres_event_table.h"
#include "di/workload/region_history.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "append_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const di::ledger::Status& status, const std::string& what) {
  if (!status.ok()) Die(what + ": " + status.ToString());
}

// One event of the workload in the forms the three systems take.
struct WorkloadEvent {
  di::ledger::NewEvent event;  // ledger: the parsed event; raw: its canonical bytes
  std::string json;            // postgres: the JSON line as submitted (the JSONB payload)
  std::string stream;          // postgres: the ledger's stream name
  int64_t version = 0;         // postgres: the stream version the ledger would assign in this order
  std::string type;
};

struct Workload {
  std::vector<WorkloadEvent> base;
  std::vector<WorkloadEvent> deliveries;
  size_t encoded_bytes = 0;
};

bool RefersToDeliveries(const std::string& type) {
  return type == "service_delivered" || type == "delivery_corrected" || type == "delivery_voided" ||
         type == "reimbursement_claimed" || type == "claim_reviewed" || type == "reimbursement_paid";
}

Workload BuildWorkload(int persons) {
  di::workload::SimulateOptions simulate;
  simulate.seed = 1;
  simulate.persons = persons;
  std::stringstream history;
  di::workload::WriteSimulatedHistory(simulate, history);
  Workload workload;
  std::map<std::string, int64_t> versions;
  for (std::string line; std::getline(history, line);) {
    WorkloadEvent item;
    Check(di::ledger::EventFromJsonText(line, &item.event), "parse simulated event");
    const nlohmann::json parsed = nlohmann::json::parse(line);
    item.type = parsed.at("type").get<std::string>();
    workload.encoded_bytes += item.event.event.bytes().size();
    if (item.type == "service_delivered") {
      item.stream = "grant/" + parsed.at("data").at("grant_id").get<std::string>();
    } else if (RefersToDeliveries(item.type)) {
      continue;
    } else {
      // Base events are loaded, never measured: any unique stream serves the PostgreSQL table.
      item.stream = "base/" + parsed.at("id").get<std::string>();
    }
    item.version = ++versions[item.stream];
    item.json = std::move(line);
    (item.type == "service_delivered" ? workload.deliveries : workload.base).push_back(std::move(item));
  }
  return workload;
}

di::ledger::NewEvent CopyEvent(const di::ledger::NewEvent& event) {
  di::ledger::NewEvent copy;
  copy.event = di::ledger::CanonicalMessage<di::schema::Event>(di::ledger::CopyToWords(event.event.bytes()));
  return copy;
}

long ReadStatusKilobytes(const char* field) {
  std::ifstream status("/proc/self/status");
  const size_t length = std::strlen(field);
  for (std::string line; std::getline(status, line);) {
    if (line.compare(0, length, field) == 0) return std::atol(line.c_str() + length + 1);
  }
  return 0;
}

// Resets the peak resident set ("VmHWM") to the current one, so each cell reports its own peak.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

uint64_t DirectoryBytes(const std::string& path) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

struct CellResult {
  size_t events = 0;
  double seconds = 0;
  std::vector<double> latencies_us;
  double events_per_second() const { return seconds > 0 ? events / seconds : 0; }
  double Percentile(double fraction) const {
    if (latencies_us.empty()) return 0;
    std::vector<double> sorted = latencies_us;
    std::sort(sorted.begin(), sorted.end());
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(sorted.size() * fraction))];
  }
};

// Runs `writers` threads; each takes the next batch [begin, end) of the measured events and calls
// append(writer, batch_index, begin, end), timing the call. Stops when the events are used up or after
// `max_seconds` (a batch in flight completes).
template <typename AppendFunction>
CellResult RunWriters(int writers, size_t batch_size, size_t total, double max_seconds, AppendFunction append) {
  std::atomic<size_t> next_batch{0};
  std::vector<std::vector<double>> latencies(writers);
  std::vector<size_t> appended(writers, 0);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
  std::vector<std::thread> threads;
  for (int writer = 0; writer < writers; ++writer) {
    threads.emplace_back([&, writer] {
      for (;;) {
        if (Clock::now() >= deadline) return;
        const size_t batch = next_batch.fetch_add(1);
        const size_t begin = batch * batch_size;
        if (begin >= total) return;
        const size_t end = std::min(total, begin + batch_size);
        const auto before = Clock::now();
        append(writer, batch, begin, end);
        latencies[writer].push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
        appended[writer] += end - begin;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CellResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int writer = 0; writer < writers; ++writer) {
    result.events += appended[writer];
    result.latencies_us.insert(result.latencies_us.end(), latencies[writer].begin(), latencies[writer].end());
  }
  return result;
}

// ---- ledger ----

std::vector<std::vector<di::ledger::NewEvent>> CutBatches(const std::vector<WorkloadEvent>& events,
                                                          size_t batch_size) {
  std::vector<std::vector<di::ledger::NewEvent>> batches;
  for (size_t begin = 0; begin < events.size(); begin += batch_size) {
    batches.emplace_back();
    for (size_t i = begin; i < std::min(events.size(), begin + batch_size); ++i) {
      batches.back().push_back(CopyEvent(events[i].event));
    }
  }
  return batches;
}

// The base history, loaded once (unsynced) into a template directory that each cell copies.
void BuildLedgerBase(const Workload& workload, const std::string& path) {
  std::filesystem::remove_all(path);
  di::ledger::EventStoreOptions options;
  options.sync = false;
  std::unique_ptr<di::ledger::EventStore> store;
  Check(di::ledger::EventStore::Open(options, path, &store), "open ledger base");
  for (const auto& batch : CutBatches(workload.base, 5000)) {
    di::ledger::AppendResult result;
    Check(store->Append(batch, &result), "append ledger base");
  }
}

CellResult RunLedger(const std::vector<std::vector<di::ledger::NewEvent>>& batches, size_t batch_size, int writers,
                     size_t total, double max_seconds, const std::string& base, const std::string& path,
                     uint64_t* disk_bytes) {
  std::filesystem::remove_all(path);
  std::filesystem::copy(base, path, std::filesystem::copy_options::recursive);
  di::ledger::EventStoreOptions options;
  options.sync = true;
  std::unique_ptr<di::ledger::EventStore> store;
  Check(di::ledger::EventStore::Open(options, path, &store), "open ledger");
  CellResult result = RunWriters(writers, batch_size, total, max_seconds,
                                 [&](int, size_t batch, size_t, size_t) {
                                   di::ledger::AppendResult appended;
                                   Check(store->Append(batches[batch], &appended), "ledger append");
                                   if (appended.appended != batches[batch].size()) Die("ledger: events not appended");
                                 });
  store.reset();
  *disk_bytes = DirectoryBytes(path);
  return result;
}

// ---- raw RocksDB ----

void PutRaw(rocksdb::WriteBatch* batch, uint64_t key_number, std::string_view bytes) {
  char key[8];
  for (int b = 0; b < 8; ++b) key[b] = static_cast<char>(key_number >> (56 - 8 * b));
  batch->Put(rocksdb::Slice(key, 8), rocksdb::Slice(bytes.data(), bytes.size()));
}

void BuildRawBase(const Workload& workload, const std::string& path) {
  std::filesystem::remove_all(path);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(options, path, &db).ok()) Die("open raw base");
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < workload.base.size(); ++i) PutRaw(&batch, i + 1, workload.base[i].event.event.bytes());
  if (!db->Write(rocksdb::WriteOptions(), &batch).ok()) Die("write raw base");
  delete db;
}

CellResult RunRaw(const Workload& workload, size_t batch_size, int writers, double max_seconds,
                  const std::string& base, const std::string& path, uint64_t* disk_bytes) {
  std::filesystem::remove_all(path);
  std::filesystem::copy(base, path, std::filesystem::copy_options::recursive);
  rocksdb::Options options;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(options, path, &db).ok()) Die("open raw");
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const uint64_t first_key = workload.base.size() + 1;
  CellResult result = RunWriters(writers, batch_size, workload.deliveries.size(), max_seconds,
                                 [&](int, size_t, size_t begin, size_t end) {
                                   rocksdb::WriteBatch batch;
                                   for (size_t i = begin; i < end; ++i) {
                                     PutRaw(&batch, first_key + i, workload.deliveries[i].event.event.bytes());
                                   }
                                   if (!db->Write(write_options, &batch).ok()) Die("raw write");
                                 });
  delete db;
  *disk_bytes = DirectoryBytes(path);
  return result;
}

// ---- PostgreSQL ----

di::bench::PgEvent ToPgEvent(const WorkloadEvent& event) {
  return di::bench::PgEvent{event.stream, event.version, event.type, event.json};
}

CellResult RunPostgres(di::bench::PostgresServer& server, const Workload& workload, size_t batch_size, int writers,
                       double max_seconds, uint64_t* disk_bytes) {
  std::vector<std::unique_ptr<di::bench::PostgresEventTable>> connections(writers);
  for (int writer = 0; writer < writers; ++writer) {
    Check(di::bench::PostgresEventTable::Connect("127.0.0.1", server.port(), di::bench::PgInsertMethod::kAuto,
                                                 &connections[writer]),
          "postgres connect");
  }
  // A fresh table with the base history for every cell, as the other systems get a fresh store.
  Check(connections[0]->CreateSchema(), "postgres schema");
  for (size_t begin = 0; begin < workload.base.size(); begin += 5000) {
    std::vector<di::bench::PgEvent> batch;
    for (size_t i = begin; i < std::min(workload.base.size(), begin + 5000); ++i) {
      batch.push_back(ToPgEvent(workload.base[i]));
    }
    Check(connections[0]->AppendBatch(batch), "postgres base");
  }
  CellResult result = RunWriters(writers, batch_size, workload.deliveries.size(), max_seconds,
                                 [&](int writer, size_t, size_t begin, size_t end) {
                                   std::vector<di::bench::PgEvent> batch;
                                   batch.reserve(end - begin);
                                   for (size_t i = begin; i < end; ++i) batch.push_back(ToPgEvent(workload.deliveries[i]));
                                   Check(connections[writer]->AppendBatch(batch), "postgres append");
                                 });
  int64_t bytes = 0;
  Check(connections[0]->TableBytes(&bytes), "postgres size");
  *disk_bytes = bytes;
  return result;
}

std::vector<size_t> ParseList(const std::string& text) {
  std::vector<size_t> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stoul(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  int persons = 2500;
  double seconds = 5;
  std::vector<size_t> batch_sizes = {1, 10, 100, 1000, 8000};
  std::vector<size_t> writer_counts = {1, 8};
  std::string dir = "/tmp/di-append-bench";
  bool postgres = true;
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    command += " " + flag;
    if (flag == "--no-postgres") {
      postgres = false;
      continue;
    }
    if (i + 1 >= argc) Die("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    command += " " + value;
    if (flag == "--persons") {
      persons = std::stoi(value);
    } else if (flag == "--seconds") {
      seconds = std::stod(value);
    } else if (flag == "--batches") {
      batch_sizes = ParseList(value);
    } else if (flag == "--writers") {
      writer_counts = ParseList(value);
    } else if (flag == "--dir") {
      dir = value;
    } else {
      Die("unknown flag " + flag);
    }
  }
  for (size_t batch_size : batch_sizes) {
    if (batch_size < 1 || batch_size > 10000) Die("--batches: each size must be in 1..10000");
  }

  const auto build_started = Clock::now();
  const Workload workload = BuildWorkload(persons);
  const size_t total_events = workload.base.size() + workload.deliveries.size();
  std::printf("append_bench: %s\n", command.c_str());
  std::printf("machine: %u cores, %s\n", std::thread::hardware_concurrency(), di::bench::CpuModel().c_str());
  std::printf("workload: simulate --persons %d: %zu events loaded as base, %zu deliveries measured; mean %.0f bytes "
              "encoded (built in %.1f s)\n",
              persons, workload.base.size(), workload.deliveries.size(),
              static_cast<double>(workload.encoded_bytes) / total_events,
              std::chrono::duration<double>(Clock::now() - build_started).count());
  std::printf("every write durable before it returns (fsync); each cell runs <= %.0f s or until the deliveries are used "
              "up\n\n",
              seconds);

  std::filesystem::create_directories(dir);
  BuildLedgerBase(workload, dir + "/ledger-base");
  BuildRawBase(workload, dir + "/raw-base");
  std::unique_ptr<di::bench::PostgresServer> server;
  if (postgres) {
    Check(di::bench::PostgresServer::Start(dir + "/postgres", 0, &server), "start postgres");
  }

  std::printf("%5s %7s | %10s %8s %8s | %10s %8s %8s | %10s %8s %8s | %7s %7s\n", "batch", "writers", "ledger ev/s",
              "p50 us", "p99 us", "raw ev/s", "p50 us", "p99 us", "pg ev/s", "p50 us", "p99 us", "ldg/raw", "ldg/pg");
  uint64_t ledger_disk = 0, raw_disk = 0, postgres_disk = 0;
  size_t ledger_events = 0, raw_events = 0, postgres_events = 0;
  long ledger_peak = 0, raw_peak = 0;
  for (size_t batch_size : batch_sizes) {
    const auto batches = CutBatches(workload.deliveries, batch_size);
    for (size_t writers : writer_counts) {
      uint64_t disk = 0;
      ResetPeakRss();
      const CellResult ledger = RunLedger(batches, batch_size, static_cast<int>(writers), workload.deliveries.size(),
                                          seconds, dir + "/ledger-base", dir + "/ledger", &disk);
      ledger_peak = std::max(ledger_peak, ReadStatusKilobytes("VmHWM"));
      if (ledger.events >= ledger_events) ledger_events = ledger.events, ledger_disk = disk;
      ResetPeakRss();
      const CellResult raw = RunRaw(workload, batch_size, static_cast<int>(writers), seconds, dir + "/raw-base",
                                    dir + "/raw", &disk);
      raw_peak = std::max(raw_peak, ReadStatusKilobytes("VmHWM"));
      if (raw.events >= raw_events) raw_events = raw.events, raw_disk = disk;
      CellResult pg;
      if (server) {
        pg = RunPostgres(*server, workload, batch_size, static_cast<int>(writers), seconds, &disk);
        if (pg.events >= postgres_events) postgres_events = pg.events, postgres_disk = disk;
      }
      std::printf("%5zu %7zu | %10.0f %8.0f %8.0f | %10.0f %8.0f %8.0f | %10.0f %8.0f %8.0f | %6.0f%% %6.1fx\n",
                  batch_size, writers, ledger.events_per_second(), ledger.Percentile(0.5), ledger.Percentile(0.99),
                  raw.events_per_second(), raw.Percentile(0.5), raw.Percentile(0.99), pg.events_per_second(),
                  pg.Percentile(0.5), pg.Percentile(0.99),
                  100.0 * ledger.events_per_second() / raw.events_per_second(),
                  pg.events_per_second() > 0 ? ledger.events_per_second() / pg.events_per_second() : 0.0);
      std::fflush(stdout);
    }
  }
  if (server) server->Stop();

  std::printf("\ndisk, after the cell that appended the most (base + appended events; RocksDB: whole directory "
              "incl. WAL; postgres: table + indexes):\n");
  std::printf("  ledger   %8.0f bytes/event\n", static_cast<double>(ledger_disk) / (workload.base.size() + ledger_events));
  std::printf("  raw      %8.0f bytes/event\n", static_cast<double>(raw_disk) / (workload.base.size() + raw_events));
  if (postgres_events > 0) {
    std::printf("  postgres %8.0f bytes/event\n",
                static_cast<double>(postgres_disk) / (workload.base.size() + postgres_events));
  }
  std::printf("peak RSS of this process (the workload in memory is part of it): ledger cells %ld MB, raw cells %ld MB\n",
              ledger_peak / 1024, raw_peak / 1024);
  std::filesystem::remove_all(dir);
  return 0;
}
