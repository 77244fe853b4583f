// append_bench: ledger Append throughput and latency vs a raw RocksDB baseline writing the same bytes.
//
// Workload: the seeded region history from `simulate` (realistic mix of all event types), appended in
// order in batches of 1, 10, 100, 1000. Both sides fsync every write (WriteOptions::sync = true).
// The raw baseline writes, per event, the canonical Cap'n Proto bytes the ledger stores, under an 8-byte
// big-endian key, in one column family, with no validation, no indexes and no hashing: the ceiling.
// One writer thread. (Concurrent writers and PostgreSQL are issue #6.)
//
//   build/bench/append_bench [--persons N] [--years Y] [--dir /tmp/x]
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "simulate.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double events_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  size_t events = 0;
};

Result Summarise(std::vector<double> latencies_us, size_t events, double seconds) {
  std::sort(latencies_us.begin(), latencies_us.end());
  Result result;
  result.events = events;
  result.events_per_second = events / seconds;
  result.p50_us = latencies_us[latencies_us.size() / 2];
  result.p99_us = latencies_us[std::min(latencies_us.size() - 1, latencies_us.size() * 99 / 100)];
  return result;
}

Result RunLedger(const std::vector<di::ledger::NewEvent>& events, size_t batch_size, size_t max_events,
                 const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::unique_ptr<di::ledger::EventStore> store;
  di::ledger::EventStoreOptions options;
  options.max_batch_events = 10000;
  if (!di::ledger::EventStore::Open(options, dir, &store).ok()) std::abort();
  std::vector<double> latencies;
  const size_t count = std::min(events.size(), max_events);
  const auto start = Clock::now();
  for (size_t begin = 0; begin < count; begin += batch_size) {
    const size_t end = std::min(count, begin + batch_size);
    std::vector<di::ledger::NewEvent> batch;
    batch.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      di::ledger::NewEvent copy;
      copy.event = di::ledger::CanonicalMessage<di::schema::Event>(di::ledger::CopyToWords(events[i].event.bytes()));
      batch.push_back(std::move(copy));
    }
    di::ledger::AppendResult result;
    const auto before = Clock::now();
    di::ledger::Status status = store->Append(batch, &result);
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
    if (!status.ok()) {
      std::fprintf(stderr, "append failed: %s\n", status.ToString().c_str());
      std::abort();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Summarise(std::move(latencies), count, seconds);
}

Result RunRaw(const std::vector<di::ledger::NewEvent>& events, size_t batch_size, size_t max_events,
              const std::string& dir) {
  std::filesystem::remove_all(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(options, dir, &db).ok()) std::abort();
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  std::vector<double> latencies;
  const size_t count = std::min(events.size(), max_events);
  const auto start = Clock::now();
  for (size_t begin = 0; begin < count; begin += batch_size) {
    const size_t end = std::min(count, begin + batch_size);
    const auto before = Clock::now();
    rocksdb::WriteBatch batch;
    for (size_t i = begin; i < end; ++i) {
      char key[8];
      for (int b = 0; b < 8; ++b) key[b] = static_cast<char>((i + 1) >> (56 - 8 * b));
      batch.Put(rocksdb::Slice(key, 8), events[i].event.bytes());
    }
    if (!db->Write(write_options, &batch).ok()) std::abort();
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  delete db;
  return Summarise(std::move(latencies), count, seconds);
}

}  // namespace

int main(int argc, char** argv) {
  di::cli::SimulateOptions simulate;
  simulate.persons = 200;
  simulate.years = 8;
  std::string dir = "/tmp/di-ledger-append-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--persons") == 0) simulate.persons = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--years") == 0) simulate.years = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  std::stringstream history;
  di::cli::WriteSimulatedHistory(simulate, history);
  std::vector<di::ledger::NewEvent> events;
  std::string line;
  size_t bytes = 0;
  while (std::getline(history, line)) {
    di::ledger::NewEvent event;
    if (!di::ledger::EventFromJsonText(line, &event).ok()) std::abort();
    bytes += event.event.bytes().size();
    events.push_back(std::move(event));
  }
  std::printf("workload: simulate --persons %d --years %d: %zu events, mean %.0f bytes encoded; sync=true, 1 writer\n\n",
              simulate.persons, simulate.years, events.size(), static_cast<double>(bytes) / events.size());
  std::printf("%6s %8s | %12s %9s %9s | %12s %9s %9s | %6s\n", "batch", "events", "ledger ev/s", "p50 us", "p99 us",
              "raw ev/s", "p50 us", "p99 us", "ratio");
  for (size_t batch_size : {1, 10, 100, 1000}) {
    // Batch 1 is fsync-bound (~5k/s): a prefix keeps the run short.
    const size_t max_events = batch_size == 1 ? 3000 : batch_size == 10 ? 20000 : events.size();
    const Result ledger = RunLedger(events, batch_size, max_events, dir + "/ledger");
    const Result raw = RunRaw(events, batch_size, max_events, dir + "/raw");
    std::printf("%6zu %8zu | %12.0f %9.0f %9.0f | %12.0f %9.0f %9.0f | %5.0f%%\n", batch_size, ledger.events,
                ledger.events_per_second, ledger.p50_us, ledger.p99_us, raw.events_per_second, raw.p50_us, raw.p99_us,
                100.0 * ledger.events_per_second / raw.events_per_second);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
