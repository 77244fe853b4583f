// Child process of the crash-safety test (durability_test.cc, CrashSafety.*).
//
//   durability_child <data dir> <round> <seed> [<key file> <checkpoint every> <snapshot interval>]
//   durability_child <data dir> <round> <seed> kill-before-index-write=<n>
//
// Opens the event store in <data dir> (the parent has already appended BaseWorld(), so deliveries under
// grant G-1 validate) and appends batches of 1..50 deliveries until the parent SIGKILLs it. It is a
// separate executable, started with posix_spawn, because fork()ing a process that has used RocksDB
// copies its background threads' locks in an arbitrary state.
//
// With kill-before-index-write=<n> the child SIGKILLs itself when its indexer is about to write the indexes
// for the n-th time: groups durable in the log (and perhaps acknowledged), their indexes not written.
//
// With the three optional arguments the store also writes signed Merkle checkpoints (checkpoint_every,
// signed with the key in <key file>) inside the appenders' groups, and one more thread folds the
// projections over and over with a CheckpointStore in <data dir>/projections whose interval is <snapshot
// interval>, so that snapshots (written without fsync) are being written when the kill lands.
//
// Protocol on stdout, one line per write(2) (unbuffered and shorter than PIPE_BUF, so each line reaches
// the pipe whole or not at all, even with several appender threads):
//   "ready\n"                                   the store is open
//   "ack <batch-id> <first-position> <count>\n" written only AFTER Append returned ok for that batch
//   "fail <status>\n"                           an append or the open failed (the parent fails the test)
//   "fold <snapshots written> <events folded>\n" one LoadModel of the folding thread returned ok
//
// Event ids encode everything the parent needs to check a batch without any other record:
//   r<round>-t<thread>-b<batch>-n<batch size>-i<index in batch>      (batch id = up to "-i")
// Odd rounds use two appender threads, so that the writer groups several batches into one RocksDB
// write: a crash must then still never expose part of a batch.
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "di/ledger/audit.h"
#include "di/projections/checkpoint.h"
#include "di/projections/replay.h"
#include "test_util.h"

namespace {

using di::ledger::AppendResult;
using di::ledger::EventStore;
using di::ledger::EventStoreOptions;
using di::ledger::Status;

// Writes one whole line with a single write(2): no stdio buffer can hold back an acknowledgement.
void WriteLine(const std::string& line) {
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(STDOUT_FILENO, data, left);
    if (written < 0) std::_Exit(4);  // the parent is gone (EPIPE): nothing left to report to
    data += written;
    left -= static_cast<size_t>(written);
  }
}

// A date inside grant G-1 (2021-01-01..2023-08-31): 32 months, days 1..28 exist in every month.
std::string RandomDate(std::mt19937_64& rng) {
  const int month_index = static_cast<int>(rng() % 32);
  const int day = 1 + static_cast<int>(rng() % 28);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", 2021 + month_index / 12, 1 + month_index % 12, day);
  return text;
}

void AppendLoop(EventStore* store, int round, int thread, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(round) * 101 + static_cast<uint64_t>(thread));
  // Bounded so that an orphaned child cannot run forever (the parent kills it after at most ~80 ms of
  // appending; EPIPE also ends it if the parent dies).
  for (int batch = 0; batch < 200000; ++batch) {
    const int size = 1 + static_cast<int>(rng() % 50);
    const std::string batch_id = "r" + std::to_string(round) + "-t" + std::to_string(thread) + "-b" +
                                 std::to_string(batch) + "-n" + std::to_string(size);
    std::vector<nlohmann::json> events;
    for (int i = 0; i < size; ++i) {
      const std::string id = batch_id + "-i" + std::to_string(i);
      events.push_back(di::testing::Delivery(id, "D-" + id, RandomDate(rng), 1 + static_cast<int64_t>(rng() % 1440),
                                             static_cast<int64_t>(rng() % 100000)));
    }
    AppendResult result;
    const Status status = di::testing::AppendJson(*store, events, &result);
    if (!status.ok() || result.positions.size() != static_cast<size_t>(size) ||
        result.appended != static_cast<size_t>(size)) {
      WriteLine("fail " + batch_id + " " + status.ToString() + "\n");
      std::_Exit(3);
    }
    // Only now, after Append returned ok, is the batch acknowledged.
    WriteLine("ack " + batch_id + " " + std::to_string(result.positions.front()) + " " + std::to_string(size) + "\n");
  }
}

// Folds the projections from the newest snapshot up to the head, again and again, saving snapshots at every
// interval multiple passed, until the parent SIGKILLs the process. Bounded like AppendLoop.
void FoldLoop(EventStore* store, di::projections::CheckpointStore* checkpoints) {
  for (int fold = 0; fold < 10000000; ++fold) {
    di::projections::LedgerModel model;
    di::projections::LoadReport report;
    const Status status = di::projections::LoadModel(*store, checkpoints, di::projections::kKnownNow, &model, &report);
    if (!status.ok()) {
      WriteLine("fail fold " + status.ToString() + "\n");
      std::_Exit(3);
    }
    if (report.events_folded == 0) {
      std::this_thread::yield();  // nothing new yet: leave the core to the appenders
      continue;
    }
    WriteLine("fold " + std::to_string(report.snapshots_written) + " " + std::to_string(report.events_folded) + "\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kill_flag = "kill-before-index-write=";
  const bool kill_before_index_write = argc == 5 && std::string(argv[4]).starts_with(kill_flag);
  if (argc != 4 && argc != 7 && !kill_before_index_write) {
    std::fprintf(stderr,
                 "usage: %s <data dir> <round> <seed> [<key file> <checkpoint every> <snapshot interval> | "
                 "kill-before-index-write=<n>]\n",
                 argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  const int round = std::atoi(argv[2]);
  const uint64_t seed = std::strtoull(argv[3], nullptr, 10);

  EventStoreOptions options;
  options.create_if_missing = false;  // round 0 of the parent created it: never start an empty store
  options.sync = true;                // as in production: the point is what an acknowledgement promises
  if (kill_before_index_write) {
    const int kill_at = std::atoi(argv[4] + kill_flag.size());
    options.index_in_group_max_events = 0;  // every group through the indexer, where the kill lands
    options.before_index_write_for_testing = [kill_at] {
      static std::atomic<int> writes{0};
      if (++writes == kill_at) ::raise(SIGKILL);
    };
  }
  const bool with_checkpoints = argc == 7;
  std::unique_ptr<di::projections::CheckpointStore> checkpoints;
  if (with_checkpoints) {
    auto key = std::make_shared<di::ledger::SigningKey>();
    const Status loaded = di::ledger::SigningKey::Load(argv[4], key.get());
    if (!loaded.ok()) {
      WriteLine("fail key " + loaded.ToString() + "\n");
      return 2;
    }
    options.checkpoint_key = key;
    options.checkpoint_every = std::strtoull(argv[5], nullptr, 10);
    di::projections::CheckpointOptions checkpoint_options;
    checkpoint_options.interval_events = std::strtoull(argv[6], nullptr, 10);
    const Status opened = di::projections::CheckpointStore::Open(di::projections::CheckpointStore::PathFor(dir),
                                                                 checkpoint_options, &checkpoints);
    if (!opened.ok()) {
      WriteLine("fail open checkpoints " + opened.ToString() + "\n");
      return 2;
    }
  }
  std::unique_ptr<EventStore> store;
  const Status status = EventStore::Open(options, dir, &store);
  if (!status.ok()) {
    WriteLine("fail open " + status.ToString() + "\n");
    return 2;
  }
  WriteLine("ready\n");

  const int threads = (round % 2 == 1) ? 2 : 1;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(AppendLoop, store.get(), round, t, seed);
  if (checkpoints) workers.emplace_back(FoldLoop, store.get(), checkpoints.get());
  for (auto& worker : workers) worker.join();
  return 0;
}
