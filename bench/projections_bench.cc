// projections_bench: rebuild throughput against the raw ceiling, and as-of query latency (issue #6, items
// 3, 4 and 6).
//
// Workload: `simulate --persons N --years Y` imported into a store (built once; --reuse keeps it between
// runs). Then, in the same run:
//   rebuild   raw RocksDB scan of the log column family + Cap'n Proto decode of every event (the ceiling),
//             the ledger's ReadLog (adds the canonical-form and position checks), the LedgerModel fold
//             (ReadLog + Apply), and `rebuild` (the fold + writing snapshots); events/s and the ratio to raw.
//   as-of     Q random (valid date, known-at) pairs: entitlements of a random person, and the funding report
//             of the month of the valid date; the model comes from the nearest checkpoint (LoadModel); p50/p99
//             of the load, of each query, and of load + query.
//   memory    peak RSS of the process; bytes on disk per event.
//
//   build/bench/projections_bench [--persons 2500] [--years 8] [--queries 40] [--scoped-queries 400]
//                                 [--dir /tmp/x] [--reuse]
//                                 [--as-of-only | --scoped-only]
// --as-of-only skips the rebuild rows and keeps the snapshots of an earlier run; --scoped-only also skips the
// whole-model rows, so the person-scoped answers go unchecked (for profiling the scoped path).
#include <capnp/message.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <random>
#include <string>
#include <vector>

#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/projections/checkpoint.h"
#include "di/projections/default_rules.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding.h"
#include "di/projections/person_scope.h"
#include "di/projections/replay.h"
#include "events.capnp.h"
#include "machine.h"
#include "simulated_store.h"
#include "di/workload/region_history.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

void Die(const std::string& what) {
  std::fprintf(stderr, "projections_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const di::ledger::Status& status, const char* what) {
  if (!status.ok()) Die(std::string(what) + ": " + status.ToString());
}

// Builds the store: the default rules, then the simulated history, in batches of 1000 (not measured).
void BuildStore(const std::string& path, int persons, int years) { di::bench::BuildSimulatedStore(path, persons, years); }

// The ceiling: iterate the log column family and decode each event's Cap'n Proto body, nothing else.
// `*seconds` times the scan only (opening replays the WAL, which the ledger's open does too, untimed).
uint64_t RawScan(const std::string& path, double* seconds) {
  std::vector<std::string> families;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &families).ok()) Die("list column families");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : families) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, descriptors, &handles, &raw).ok()) Die("open raw");
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (size_t i = 0; i < families.size(); ++i) {
    if (families[i] == "log") log = handles[i];
  }
  uint64_t events = 0, checksum = 0;
  std::vector<capnp::word> aligned;
  const auto started = Clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), log));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice value = it->value();
      const size_t words = (value.size() - 32) / sizeof(capnp::word);
      aligned.resize(words);
      std::memcpy(aligned.data(), value.data() + 32, words * sizeof(capnp::word));
      // The stored body is one canonical segment (no framing), as the ledger reads it.
      const kj::ArrayPtr<const capnp::word> segment(aligned.data(), words);
      capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1));
      const auto recorded = reader.getRoot<di::schema::RecordedEvent>();
      checksum += recorded.getPosition() + static_cast<uint64_t>(recorded.getEvent().getPayload().which());
      ++events;
    }
  }
  *seconds = Seconds(started);
  for (auto* handle : handles) raw->DestroyColumnFamilyHandle(handle);
  delete raw;
  if (checksum == 0) Die("empty log");
  return events;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles Summarise(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Percentiles result;
  if (values.empty()) return result;
  result.p50 = values[values.size() / 2];
  result.p99 = values[std::min(values.size() - 1, values.size() * 99 / 100)];
  result.max = values.back();
  return result;
}

long PeakRssMegabytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  int persons = 2500, years = 8, queries = 40, scoped_queries = 400;
  bool reuse = false, as_of_only = false, scoped_only = false;
  std::string dir = "/tmp/di-ledger-projections-bench";
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? argv[++i] : (Die(std::string("missing value after ") + argv[i]), ""); };
    if (std::strcmp(argv[i], "--persons") == 0) persons = std::atoi(next());
    else if (std::strcmp(argv[i], "--years") == 0) years = std::atoi(next());
    else if (std::strcmp(argv[i], "--queries") == 0) queries = std::atoi(next());
    else if (std::strcmp(argv[i], "--scoped-queries") == 0) scoped_queries = std::atoi(next());
    else if (std::strcmp(argv[i], "--dir") == 0) dir = next();
    else if (std::strcmp(argv[i], "--reuse") == 0) reuse = true;
    else if (std::strcmp(argv[i], "--as-of-only") == 0) as_of_only = true;
    else if (std::strcmp(argv[i], "--scoped-only") == 0) scoped_only = as_of_only = true;
    else Die(std::string("unknown option ") + argv[i]);
  }
  const std::string path = dir + "/store";
  auto started = Clock::now();
  // --reuse takes a store only if a build of the same workload finished it (a run killed while building leaves
  // no marker; another --persons leaves another one).
  std::string marker;
  std::getline(std::ifstream(path + ".complete"), marker);
  if (!reuse || marker != "simulate --persons " + std::to_string(persons) + " --years " + std::to_string(years)) {
    std::filesystem::remove(path + ".complete");
    BuildStore(path, persons, years);
  }
  // --as-of-only keeps the snapshots an earlier run's rebuild wrote (the as-of rows need them), and skips the
  // rebuild rows: a quicker loop while working on queries. The full run starts from no snapshots.
  if (!as_of_only) std::filesystem::remove_all(di::projections::CheckpointStore::PathFor(path));
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  const std::string cpu = di::bench::CpuModel();
  std::printf("projections_bench: %s\nmachine: %u cores, %s\n", command.c_str(), std::thread::hardware_concurrency(),
              cpu.c_str());
  std::printf("workload: simulate --seed 1 --persons %d --years %d (store ready in %.1f s)\n", persons, years,
              Seconds(started));

  // --- rebuild -------------------------------------------------------------------------------------------
  double raw_seconds = 0;
  uint64_t raw_events = 0;
  if (!as_of_only) {
    RawScan(path, &raw_seconds);  // warm the page cache for every contender alike
    raw_events = RawScan(path, &raw_seconds);
  }

  std::unique_ptr<di::ledger::EventStore> store;
  di::ledger::EventStoreOptions options;
  options.create_if_missing = false;
  Check(di::ledger::EventStore::Open(options, path, &store), "open");
  const uint64_t head = store->Head().position;
  di::ledger::StoreStats stats;
  Check(store->GetStats(&stats), "stats");
  std::unique_ptr<di::projections::CheckpointStore> checkpoints;
  Check(di::projections::CheckpointStore::Open(di::projections::CheckpointStore::PathFor(path), {}, &checkpoints),
        "checkpoints");

  // The head model: what the server holds live, and where the person-scoped queries take the family from.
  di::projections::LedgerModel folded;
  if (as_of_only) {
    started = Clock::now();
    Check(di::projections::LoadModel(*store, checkpoints.get(), di::projections::kKnownNow, &folded), "load");
    std::printf("\nhead model (%llu events) loaded in %.1f s; rebuild rows skipped (--as-of-only)\n",
                static_cast<unsigned long long>(head), Seconds(started));
  } else {
    started = Clock::now();
    uint64_t read_events = 0;
    Check(store->ReadLog(1, 0, [&](const di::ledger::StoredEvent&) { return ++read_events > 0; }), "read log");
    const double read_seconds = Seconds(started);

    started = Clock::now();
    Check(di::projections::ReplayInto(*store, di::projections::kKnownNow, &folded), "fold");
    const double fold_seconds = Seconds(started);

    started = Clock::now();
    di::projections::CheckpointInfo head_snapshot;
    di::projections::LoadReport rebuild_report;
    Check(di::projections::Rebuild(*store, *checkpoints, &head_snapshot, &rebuild_report), "rebuild");
    const double rebuild_seconds = Seconds(started);

    started = Clock::now();
    {
      di::projections::LedgerModel loaded;
      Check(di::projections::LoadModel(*store, checkpoints.get(), di::projections::kKnownNow, &loaded), "load");
    }
    const double load_seconds = Seconds(started);

    std::printf("\nrebuild: %llu events (%llu deliveries), %.0f bytes on disk per event\n",
                static_cast<unsigned long long>(head), static_cast<unsigned long long>(folded.deliveries().size()),
                static_cast<double>(stats.disk_bytes) / static_cast<double>(std::max<uint64_t>(head, 1)));
    std::printf("%-46s %10s %14s %8s\n", "", "seconds", "events/s", "vs raw");
    auto row = [&](const char* what, uint64_t events, double seconds) {
      const double rate = events / seconds, raw_rate = raw_events / raw_seconds;
      std::printf("%-46s %10.3f %14.0f %7.0f%%\n", what, seconds, rate, 100.0 * rate / raw_rate);
    };
    row("raw RocksDB scan + Cap'n Proto decode (ceiling)", raw_events, raw_seconds);
    row("ledger ReadLog (checks, no fold)", read_events, read_seconds);
    row("LedgerModel fold (ReadLog + Apply)", head, fold_seconds);
    row("rebuild (fold + snapshots)", head, rebuild_seconds);
    std::printf("%-46s %10.3f %14s %8s  (snapshot %.1f MB)\n", "load the head snapshot", load_seconds, "", "",
                head_snapshot.snapshot_bytes / 1e6);
  }

  {
    // What a live-model snapshot costs the server: the encode holds the model lock, the digest and the write do not.
    di::ledger::Hash head_hash{};
    Check(store->ReadLog(head, 1, [&](const di::ledger::StoredEvent& event) { head_hash = event.hash; return false; }),
          "read head");
    started = Clock::now();
    const std::string snapshot = folded.EncodeSnapshot();
    const double encode_seconds = Seconds(started);
    started = Clock::now();
    Check(checkpoints->SaveEncoded(folded.last_position(), head_hash, snapshot, nullptr), "save");
    std::printf("%-46s %10.3f %14s %8s  (%.1f MB; digest + write %.3f s)\n", "encode a snapshot of the head model",
                encode_seconds, "", "", snapshot.size() / 1e6, Seconds(started));
  }

  // --- as-of queries -----------------------------------------------------------------------------------------
  std::vector<std::string> persons_with_grants;
  for (const auto& [id, grant] : folded.grants()) persons_with_grants.push_back(grant.person_id);
  std::sort(persons_with_grants.begin(), persons_with_grants.end());
  persons_with_grants.erase(std::unique(persons_with_grants.begin(), persons_with_grants.end()), persons_with_grants.end());
  if (persons_with_grants.empty()) Die("no grants in the workload");
  std::mt19937_64 random(42);
  const int32_t first_day = stats.first_effective_date, last_day = stats.last_effective_date;
  struct Query {
    uint64_t known_at;
    int32_t valid;
    std::string person;
    std::string expected;  // the full model's entitlements (JSON), or the error code
  };
  // The whole-model rows take the first `queries` pairs; the person-scoped rows, cheaper, take `scoped_queries`
  // (at least as many), and the first `queries` of them are checked against the whole model's answers.
  scoped_queries = std::max(scoped_queries, queries);
  std::vector<Query> asked;
  for (int q = 0; q < scoped_queries; ++q) {
    Query query;
    query.known_at = 1 + random() % head;
    query.valid = first_day + static_cast<int32_t>(random() % (last_day - first_day + 1));
    query.person = persons_with_grants[random() % persons_with_grants.size()];
    asked.push_back(std::move(query));
  }
  auto answer = [](const di::ledger::Status& status, di::projections::Entitlements entitlements, uint64_t known_at) {
    if (!status.ok()) return std::string("error ") + std::to_string(static_cast<int>(status.code()));
    entitlements.known_at_position = known_at;
    return di::projections::EntitlementsToJson(entitlements).dump();
  };
  // The whole model as known at K: the nearest snapshot plus the events after it, then each report.
  std::vector<double> load_ms, entitlements_ms, funding_ms, entitlements_total_ms, funding_total_ms;
  for (int q = 0; q < queries && !scoped_only; ++q) {
    Query& query = asked[q];
    auto begin = Clock::now();
    di::projections::LedgerModel model;
    Check(di::projections::LoadModel(*store, checkpoints.get(), query.known_at, &model), "load as of");
    const double load = Seconds(begin) * 1000;
    begin = Clock::now();
    di::projections::Entitlements entitlements;
    // Not enrolled yet as known then is an answer too.
    const di::ledger::Status status = di::projections::ComputeEntitlements(model, query.person, query.valid, &entitlements);
    const double entitlement = Seconds(begin) * 1000;
    query.expected = answer(status, entitlements, query.known_at);
    begin = Clock::now();
    di::projections::FundingQuery funding_query;
    funding_query.group_by = {"month"};
    di::projections::FundingReport funding;
    Check(di::projections::ComputeFunding(model, query.valid, funding_query, &funding), "funding");
    const double funding_time = Seconds(begin) * 1000;
    load_ms.push_back(load);
    entitlements_ms.push_back(entitlement);
    funding_ms.push_back(funding_time);
    entitlements_total_ms.push_back(load + entitlement);
    funding_total_ms.push_back(load + funding_time);
  }
  // The same entitlements from the person's family streams only (projections/person_scope.h), checked equal to
  // the full model's, in a loop of their own: the whole-model loads above allocate gigabytes at 10 M events and
  // would otherwise evict the page cache the scoped reads use, which a server holding one live model does not.
  // RocksDB's perf context splits the time of the scoped load. The log is read through once first, as a server
  // that has run a while has it in the page cache (at 10.6 M events it is 2.4 GB; the machine has 24 GB).
  {
    double warm_seconds = 0;
    RawScan(path, &warm_seconds);
  }
  std::vector<double> scoped_ms, scoped_events, block_reads, index_ms, log_ms, fold_ms;
  double read_ms = 0, checksum_ms = 0, decompress_ms = 0, total_block_reads = 0, total_events = 0;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTimeExceptForMutex);
  for (size_t q = 0; q < asked.size(); ++q) {
    const Query& query = asked[q];
    rocksdb::get_perf_context()->Reset();
    di::projections::ScopedLoadStats load_stats;
    auto begin = Clock::now();
    di::projections::LedgerModel scoped;
    Check(di::projections::LoadScopedModel(*store, di::projections::ScopeStreamsOf(folded, query.person),
                                           query.known_at, &scoped, &load_stats),
          "scoped load");
    di::projections::Entitlements entitlements;
    const di::ledger::Status status = di::projections::ComputeEntitlements(scoped, query.person, query.valid, &entitlements);
    scoped_ms.push_back(Seconds(begin) * 1000);
    if (!scoped_only && q < static_cast<size_t>(queries) && answer(status, entitlements, query.known_at) != query.expected) {
      Die("scoped and full entitlements differ for " + query.person + " as known at " + std::to_string(query.known_at));
    }
    const rocksdb::PerfContext& perf = *rocksdb::get_perf_context();
    scoped_events.push_back(static_cast<double>(load_stats.events));
    block_reads.push_back(static_cast<double>(perf.block_read_count));
    total_block_reads += perf.block_read_count;
    total_events += load_stats.events;
    read_ms += perf.block_read_time / 1e6;
    checksum_ms += perf.block_checksum_time / 1e6;
    decompress_ms += perf.block_decompress_time / 1e6;
    index_ms.push_back(load_stats.index_nanoseconds / 1e6);
    log_ms.push_back(load_stats.log_nanoseconds / 1e6);
    fold_ms.push_back(load_stats.fold_nanoseconds / 1e6);
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::printf("\nas-of queries: %d random (valid date, known-at) pairs, the whole model from the nearest checkpoint; "
              "person-scoped: %d pairs (log in the page cache), the first %d checked equal to the whole model's answer\n",
              scoped_only ? 0 : queries, scoped_queries, scoped_only ? 0 : queries);
  std::printf("%-46s %10s %10s %10s\n", "milliseconds", "p50", "p99", "max");
  auto latency = [](const char* what, const std::vector<double>& values) {
    const Percentiles p = Summarise(values);
    std::printf("%-46s %10.1f %10.1f %10.1f\n", what, p.p50, p.p99, p.max);
  };
  if (!scoped_only) {
    latency("load the model as known at K", load_ms);
    latency("entitlements of one person (model loaded)", entitlements_ms);
    latency("funding by month (model loaded)", funding_ms);
    latency("entitlements, load + query", entitlements_total_ms);
    latency("funding by month, load + query", funding_total_ms);
  }
  latency("entitlements, person-scoped load + query", scoped_ms);
  latency("  of which: stream and type index walks", index_ms);
  latency("  of which: log reads (point reads by position)", log_ms);
  latency("  of which: sort and fold", fold_ms);
  std::printf("%-46s %10s %10s %10s\n", "per person-scoped load (count)", "p50", "p99", "max");
  auto count = [](const char* what, const std::vector<double>& values) {
    const Percentiles p = Summarise(values);
    std::printf("%-46s %10.0f %10.0f %10.0f\n", what, p.p50, p.p99, p.max);
  };
  count("  events folded", scoped_events);
  count("  blocks read from files (not in block cache)", block_reads);
  std::printf("all scoped loads: %.0f events, %.0f block reads; RocksDB perf context: %.1f ms reading blocks, "
              "%.1f ms verifying their checksums, %.1f ms decompressing; %.1f ms in index walks and log reads altogether\n",
              total_events, total_block_reads, read_ms, checksum_ms, decompress_ms,
              [&] { double sum = 0; for (double value : index_ms) sum += value; for (double value : log_ms) sum += value;
                    return sum; }());
  std::printf("\npeak RSS %ld MB\n", PeakRssMegabytes());
  return 0;
}
