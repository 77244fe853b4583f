// Durability, tamper evidence and concurrency of the event store, against a real RocksDB in temp dirs.
//
//   CrashSafety  an appending child process is SIGKILLed at pseudo-random moments; after every kill the
//                reopened store must hold every acknowledged batch at its acknowledged positions, a dense
//                verified chain, and no partial batch.
//   Tamper*      bytes of the `log` column family are changed behind the store's back (as anyone with
//                access to the files could); Verify() must name exactly the first bad position.
//   Concurrency  many appenders: dense unique positions, group commit, concurrent idempotent retries.
//   Restart      appends continue after a reopen; recorded time never goes backwards.
//
// Everything runs with sync=true, as in production: what is tested is what an acknowledgement promises.
#include <fcntl.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chain_oracle.h"
#include "di/ledger/audit.h"
#include "di/projections/checkpoint.h"
#include "di/projections/replay.h"
#include "test_util.h"

extern char** environ;

namespace di::testing {
namespace {

using ledger::AppendResult;
using ledger::EventStore;
using ledger::EventStoreOptions;
using ledger::EventType;
using ledger::LogHead;
using ledger::NewEvent;
using ledger::Status;
using ledger::StatusCode;
using ledger::StoredEvent;
using ledger::VerifyReport;

// ---------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------

// A date inside grant G-1 (2021-01-01..2023-08-31) derived from k: 32 months x days 1..28.
std::string DateFor(uint64_t k) {
  const int month_index = static_cast<int>(k % 32);
  const int day = 1 + static_cast<int>((k / 32) % 28);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", 2021 + month_index / 12, 1 + month_index % 12, day);
  return text;
}

// `count` deliveries under G-1 with event ids "<prefix>-<i>" and delivery ids "D-<prefix>-<i>".
std::vector<nlohmann::json> Deliveries(const std::string& prefix, int count, int64_t minutes = 120) {
  std::vector<nlohmann::json> events;
  for (int i = 0; i < count; ++i) {
    const std::string id = prefix + "-" + std::to_string(i);
    events.push_back(Delivery(id, "D-" + id, DateFor(std::hash<std::string>{}(id)), minutes));
  }
  return events;
}

std::vector<std::string> IdsOf(const std::vector<nlohmann::json>& events) {
  std::vector<std::string> ids;
  for (const auto& event : events) ids.push_back(event.at("id").get<std::string>());
  return ids;
}

// One row of the global log, as read back through the public API.
struct LogRow {
  uint64_t position = 0;
  std::string id;
  std::string stream;
  uint64_t stream_version = 0;
  int64_t recorded_at = 0;
};

std::vector<LogRow> ReadWholeLog(EventStore& store) {
  std::vector<LogRow> rows;
  const Status status = store.ReadLog(1, 0, [&](const StoredEvent& event) {
    const auto recorded = event.reader();
    rows.push_back({event.position, recorded.getEvent().getId().cStr(), recorded.getStream().cStr(),
                    recorded.getStreamVersion(), recorded.getRecordedAtMicros()});
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return rows;
}

// The whole chain verifies, up to a head that covers exactly `expected_events` events.
void ExpectChainVerifies(EventStore& store, uint64_t expected_events) {
  VerifyReport report;
  const Status status = store.Verify(&report);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.problem, "");
  EXPECT_EQ(report.events_checked, expected_events);
  EXPECT_EQ(report.head.position, expected_events);
}

// Positions 1..N, each once, in order: the log has no hole and no duplicate.
void ExpectDenseLog(const std::vector<LogRow>& rows, uint64_t head) {
  ASSERT_EQ(rows.size(), head);
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].position, i + 1) << "hole or disorder in the log at index " << i;
  }
}

void ExpectAtPosition(EventStore& store, const std::string& id, uint64_t position) {
  StoredEvent event;
  const Status status = store.GetByEventId(id, &event);
  ASSERT_TRUE(status.ok()) << id << ": " << status.ToString();
  EXPECT_EQ(event.position, position) << id;
  EXPECT_EQ(event.reader().getPosition(), position) << id;
  EXPECT_EQ(std::string(event.reader().getEvent().getId().cStr()), id);
}

std::unique_ptr<EventStore> StoreWithBaseWorld(const std::string& dir, EventStoreOptions options = {}) {
  auto store = OpenStore(dir, options);
  if (store) {
    const Status status = AppendJson(*store, BaseWorld());
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return store;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Crash safety
// ---------------------------------------------------------------------------------------------------------

#ifndef DI_DURABILITY_CHILD
#error "DI_DURABILITY_CHILD must name the durability_child executable (see tests/CMakeLists.txt)"
#endif

struct Ack {
  std::string batch_id;  // r<round>-t<thread>-b<batch>-n<size>
  uint64_t first = 0;
  uint64_t count = 0;
};

// The fields the child encodes in its event ids: r<round>-t<thread>-b<batch>-n<size>[-i<index>].
struct ChildId {
  int round = -1, thread = -1, batch = -1, size = -1, index = -1;
  std::string batch_id;       // without "-i<index>"
  std::string appender() const { return "r" + std::to_string(round) + "-t" + std::to_string(thread); }
};

bool ParseChildId(const std::string& id, bool with_index, ChildId* out) {
  int consumed = 0;
  if (with_index) {
    if (std::sscanf(id.c_str(), "r%d-t%d-b%d-n%d-i%d%n", &out->round, &out->thread, &out->batch, &out->size,
                    &out->index, &consumed) != 5) {
      return false;
    }
  } else if (std::sscanf(id.c_str(), "r%d-t%d-b%d-n%d%n", &out->round, &out->thread, &out->batch, &out->size,
                         &consumed) != 4) {
    return false;
  }
  if (static_cast<size_t>(consumed) != id.size()) return false;
  out->batch_id = id.substr(0, with_index ? id.rfind("-i") : id.size());
  return true;
}

struct ChildOutcome {
  bool spawned = false;
  bool ready = false;
  std::vector<Ack> acks;
  std::vector<std::string> unexpected_lines;  // "fail ..." or anything not in the protocol
  std::string torn;                           // bytes after the last newline: must be none
  int wait_status = 0;
  int delay_ms = 0;
  uint64_t folds = 0;                // "fold" lines: LoadModel calls of the child's folding thread that folded
  uint64_t snapshots_written = 0;    // by those calls
};

// When the kill timer starts: right at spawn (the kill may then land in Open / WAL recovery), when the
// store is open, or after the first acknowledgement (so the round is sure to have acknowledged batches
// to check, without any assumption about how fast the machine is).
enum class Anchor { kSpawn, kReady, kFirstAck };

// Spawns the child with its stdout on a pipe, lets it run `delay_ms` after `anchor`, SIGKILLs it and
// collects every line it wrote. posix_spawn, not fork: this process has RocksDB background threads.
// `extra_args` go to the child after <dir> <round> <seed> (the checkpoint options, see durability_child.cc).
ChildOutcome RunChildAndKill(const std::string& dir, int round, uint64_t seed, int delay_ms, Anchor anchor,
                             std::vector<std::string> extra_args = {}) {
  ChildOutcome outcome;
  outcome.delay_ms = delay_ms;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on fd 1
  std::string path = DI_DURABILITY_CHILD, round_arg = std::to_string(round), seed_arg = std::to_string(seed);
  std::string dir_arg = dir;
  std::vector<char*> argv = {path.data(), dir_arg.data(), round_arg.data(), seed_arg.data()};
  for (std::string& arg : extra_args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawn_error != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(spawn_error);
    return outcome;
  }
  outcome.spawned = true;

  using Clock = std::chrono::steady_clock;
  const auto delay = std::chrono::milliseconds(delay_ms);
  // Hang guard only (a child that never gets ready): not a performance expectation.
  const auto guard = Clock::now() + std::chrono::seconds(30);
  std::optional<Clock::time_point> kill_at;
  if (anchor == Anchor::kSpawn) kill_at = Clock::now() + delay;

  std::string buffer;
  auto consume_lines = [&] {
    size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      std::istringstream in(line);
      std::string word;
      in >> word;
      Ack ack;
      uint64_t snapshots = 0, folded = 0;
      if (line == "ready") {
        outcome.ready = true;
        if (anchor == Anchor::kReady && !kill_at) kill_at = Clock::now() + delay;
      } else if (word == "ack" && (in >> ack.batch_id >> ack.first >> ack.count) && in.eof()) {
        outcome.acks.push_back(ack);
        if (anchor == Anchor::kFirstAck && !kill_at) kill_at = Clock::now() + delay;
      } else if (word == "fold" && (in >> snapshots >> folded) && in.eof()) {
        ++outcome.folds;
        outcome.snapshots_written += snapshots;
      } else {
        outcome.unexpected_lines.push_back(line);
      }
    }
  };
  bool eof = false;
  char chunk[4096];
  while (!eof) {
    const auto now = Clock::now();
    const auto deadline = kill_at ? *kill_at : guard;
    if (now >= deadline) break;
    const int timeout_ms =
        static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count());
    pollfd poll_fd{fds[0], POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout: the loop re-checks the deadline
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof = true;  // the child exited by itself: the unexpected lines say why
    } else {
      buffer.append(chunk, static_cast<size_t>(got));
      consume_lines();
    }
  }
  ::kill(pid, SIGKILL);
  // Everything written before the kill is still in the pipe; read up to EOF.
  for (;;) {
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    buffer.append(chunk, static_cast<size_t>(got));
  }
  consume_lines();
  outcome.torn = buffer;
  ::close(fds[0]);
  while (::waitpid(pid, &outcome.wait_status, 0) < 0 && errno == EINTR) {
  }
  if (!kill_at && !eof) ADD_FAILURE() << "round " << round << ": the child never reached its kill anchor in 30 s";
  return outcome;
}

// One round of a crash loop: a child appending from `seed`, killed 5..80 ms (from `rng`) after an anchor that
// rotates with the round (spawn, open, first acknowledgement), and what every round must show: a whole
// protocol, killed by us, ready and acknowledging when the anchor says so. *trace names the round for the
// caller's SCOPED_TRACE.
void RunCrashRound(const std::string& dir, int round, uint64_t seed, std::mt19937_64& rng,
                   const std::vector<std::string>& extra_args, ChildOutcome* outcome, std::string* trace) {
  const int delay_ms = 5 + static_cast<int>(rng() % 76);
  const Anchor anchor = round % 5 == 4 ? Anchor::kSpawn : round % 5 == 3 ? Anchor::kReady : Anchor::kFirstAck;
  *outcome = RunChildAndKill(dir, round, seed, delay_ms, anchor, extra_args);
  ASSERT_TRUE(outcome->spawned);
  *trace = "round " + std::to_string(round) + ", killed " + std::to_string(delay_ms) + " ms after " +
           (anchor == Anchor::kSpawn ? "spawn" : anchor == Anchor::kReady ? "open" : "the first ack");
  SCOPED_TRACE(*trace);
  for (const std::string& line : outcome->unexpected_lines) ADD_FAILURE() << "child said: " << line;
  EXPECT_EQ(outcome->torn, "") << "a partial protocol line";
  EXPECT_TRUE(WIFSIGNALED(outcome->wait_status) && WTERMSIG(outcome->wait_status) == SIGKILL)
      << "the child was not killed by us (wait status " << outcome->wait_status << ")";
  if (anchor != Anchor::kSpawn) {
    EXPECT_TRUE(outcome->ready);
  }
  if (anchor == Anchor::kFirstAck) {
    EXPECT_FALSE(outcome->acks.empty());
  }
}

struct CrashTotals {
  uint64_t acked_batches = 0;
  uint64_t acked_events = 0;
  uint64_t durable_unacked_batches = 0;  // visible after the crash, killed before its ack line
  uint64_t log_events = 0;
};

// The seed of a crash loop: `fallback`, or DI_DURABILITY_SEED to replay a run.
uint64_t CrashSeed(uint64_t fallback) {
  if (const char* env = std::getenv("DI_DURABILITY_SEED")) return std::strtoull(env, nullptr, 10);
  return fallback;
}

// What the rounds of a crash loop add up to. Each round's store is checked against every acknowledgement so far.
struct CrashLoop {
  std::vector<Ack> all_acks;
  CrashTotals totals;
  int rounds_survived = 0, rounds_without_acks = 0;

  // Takes in what a round's child acknowledged.
  void Count(const ChildOutcome& outcome) {
    if (outcome.acks.empty()) ++rounds_without_acks;
    for (const Ack& ack : outcome.acks) {
      ++totals.acked_batches;
      totals.acked_events += ack.count;
      all_acks.push_back(ack);
    }
  }

  // At the end: records the rounds survived and the events acknowledged, and expects all `rounds` rounds to have
  // survived with something acknowledged.
  void ExpectEveryRoundSurvived(int rounds) const {
    ::testing::Test::RecordProperty("crash_rounds_survived", rounds_survived);
    ::testing::Test::RecordProperty("acked_events", std::to_string(totals.acked_events));
    EXPECT_EQ(rounds_survived, rounds);
    EXPECT_GT(totals.acked_events, 0u);
  }
};

// Reopens the store after a kill and checks every promise an acknowledgement made, cumulatively over
// all rounds so far (a later crash or recovery must not lose an earlier acknowledged batch either).
// With `with_checkpoints` the log also holds the store's own `checkpoint-<n>` events (checked by
// CheckAuditAndProjectionsAfterCrash); they are set aside here.
void CheckStoreAfterCrash(const std::string& dir, const std::vector<Ack>& all_acks, CrashTotals* totals,
                          bool with_checkpoints = false) {
  EventStoreOptions options;
  options.create_if_missing = false;
  std::unique_ptr<EventStore> store;
  const Status open = EventStore::Open(options, dir, &store);
  ASSERT_TRUE(open.ok()) << "the store does not reopen after SIGKILL: " << open.ToString();

  const LogHead head = store->Head();
  ExpectChainVerifies(*store, head.position);
  const std::vector<LogRow> rows = ReadWholeLog(*store);
  ExpectDenseLog(rows, head.position);

  // BaseWorld, appended by the parent before round 0, is still the prefix.
  const auto base_ids = IdsOf(BaseWorld());
  ASSERT_GE(rows.size(), base_ids.size());
  for (size_t i = 0; i < base_ids.size(); ++i) EXPECT_EQ(rows[i].id, base_ids[i]);

  // Every acknowledged event is readable by id at exactly the acknowledged position.
  for (const Ack& ack : all_acks) {
    for (uint64_t i = 0; i < ack.count; ++i) {
      ExpectAtPosition(*store, ack.batch_id + "-i" + std::to_string(i), ack.first + i);
    }
  }

  // No partial batch: every batch seen in the log is whole, in batch order, at consecutive positions.
  std::map<std::string, std::vector<std::pair<int, uint64_t>>> batches;  // batch id -> (index, position)
  std::map<std::string, int> batch_sizes;
  std::map<std::string, std::set<int>> visible_by_appender;  // "r<round>-t<thread>" -> batch numbers
  uint64_t grant_stream_events = 0, child_events = 0;
  for (size_t i = base_ids.size(); i < rows.size(); ++i) {
    if (with_checkpoints && rows[i].id.rfind("checkpoint-", 0) == 0) continue;
    ChildId id;
    ASSERT_TRUE(ParseChildId(rows[i].id, /*with_index=*/true, &id)) << "unexpected event id " << rows[i].id;
    batches[id.batch_id].emplace_back(id.index, rows[i].position);
    batch_sizes[id.batch_id] = id.size;
    visible_by_appender[id.appender()].insert(id.batch);
    ++child_events;
  }
  for (auto& [batch_id, members] : batches) {
    ASSERT_EQ(members.size(), static_cast<size_t>(batch_sizes[batch_id])) << "partial batch " << batch_id;
    std::sort(members.begin(), members.end());
    for (size_t i = 0; i < members.size(); ++i) {
      EXPECT_EQ(members[i].first, static_cast<int>(i)) << batch_id;
      EXPECT_EQ(members[i].second, members[0].second + i) << batch_id << " is not contiguous";
    }
  }

  // Each child thread appends batch b+1 only after batch b was acknowledged, so per appender the
  // visible batches are 0..m-1, the acknowledged ones 0..a-1, and m is a or a+1 (at most one batch
  // made durable but killed before its ack line was written).
  std::map<std::string, std::set<int>> acked_by_appender;
  for (const Ack& ack : all_acks) {
    ChildId id;
    ASSERT_TRUE(ParseChildId(ack.batch_id, /*with_index=*/false, &id)) << ack.batch_id;
    EXPECT_EQ(ack.count, static_cast<uint64_t>(id.size)) << ack.batch_id;
    EXPECT_TRUE(acked_by_appender[id.appender()].insert(id.batch).second) << "acknowledged twice: " << ack.batch_id;
  }
  uint64_t unacked = 0;
  std::set<std::string> appenders;
  for (const auto& [appender, set] : visible_by_appender) appenders.insert(appender);
  for (const auto& [appender, set] : acked_by_appender) appenders.insert(appender);
  for (const std::string& appender : appenders) {
    const std::set<int>& visible = visible_by_appender[appender];
    const std::set<int>& acked = acked_by_appender[appender];
    const int m = static_cast<int>(visible.size()), a = static_cast<int>(acked.size());
    EXPECT_TRUE(visible.empty() || *visible.rbegin() == m - 1) << appender << ": a visible batch after a missing one";
    EXPECT_TRUE(acked.empty() || *acked.rbegin() == a - 1) << appender << ": acknowledgements out of order";
    EXPECT_TRUE(m == a || m == a + 1) << appender << ": " << m << " batches visible, " << a << " acknowledged";
    if (m > a) unacked += static_cast<uint64_t>(m - a);
  }

  // The indexes were written in the same atomic batch as the log: the grant's stream versions are
  // 1..V in log order, and the type counters and the type index agree with the log.
  uint64_t next_version = 1;
  for (const LogRow& row : rows) {
    if (row.stream != "grant/G-1") continue;
    EXPECT_EQ(row.stream_version, next_version++) << "at position " << row.position;
    ++grant_stream_events;
  }
  uint64_t stream_version = 0;
  ASSERT_TRUE(store->GetStreamVersion("grant/G-1", &stream_version).ok());
  EXPECT_EQ(stream_version, grant_stream_events);
  uint64_t by_type_index = 0;
  ASSERT_TRUE(store->ReadByType(EventType::SERVICE_DELIVERED, 0, 0, [&](const StoredEvent&) {
                      ++by_type_index;
                      return true;
                    }).ok());
  EXPECT_EQ(by_type_index, child_events);
  ledger::StoreStats stats;
  ASSERT_TRUE(store->GetStats(&stats).ok());
  for (const auto& [type, count] : stats.events_by_type) {
    if (type == EventType::SERVICE_DELIVERED) {
      EXPECT_EQ(count, child_events) << "type counter";
    }
  }

  totals->durable_unacked_batches = unacked;
  totals->log_events = rows.size();
}

TEST(CrashSafety, AcknowledgedBatchesSurviveSigkillAndNoBatchIsEverPartial) {
  constexpr int kRounds = 25;
  const uint64_t base_seed = CrashSeed(20240611);
  std::printf("[ crash    ] seed %llu (set DI_DURABILITY_SEED to replay)\n",
              static_cast<unsigned long long>(base_seed));
  std::mt19937_64 rng(base_seed);

  TempDir temp;
  const std::string dir = temp.Sub("store");
  ASSERT_TRUE(StoreWithBaseWorld(dir));  // round 0's child needs the reference data its deliveries point at

  CrashLoop loop;
  for (int round = 0; round < kRounds; ++round) {
    ChildOutcome outcome;
    std::string trace;
    ASSERT_NO_FATAL_FAILURE(
        RunCrashRound(dir, round, base_seed + static_cast<uint64_t>(round), rng, {}, &outcome, &trace));
    SCOPED_TRACE(trace);
    loop.Count(outcome);
    CheckStoreAfterCrash(dir, loop.all_acks, &loop.totals);
    if (HasFailure()) break;  // later rounds would only repeat the first failure
    ++loop.rounds_survived;
  }
  const CrashTotals& totals = loop.totals;

  std::printf(
      "[ crash    ] %d/%d rounds survived (%d killed before any ack); %llu batches / %llu events acknowledged; "
      "%llu batches durable but killed before their ack (all rounds); %llu events in the log\n",
      loop.rounds_survived, kRounds, loop.rounds_without_acks, static_cast<unsigned long long>(totals.acked_batches),
      static_cast<unsigned long long>(totals.acked_events),
      static_cast<unsigned long long>(totals.durable_unacked_batches),
      static_cast<unsigned long long>(totals.log_events));
  RecordProperty("acked_batches", std::to_string(totals.acked_batches));
  loop.ExpectEveryRoundSurvived(kRounds);
}

// The indexer writes a group's indexes after the group is durable in the log (and perhaps acknowledged): a crash
// between the two writes loses the indexes only. Here the child kills itself at exactly that point, at its
// 1st, 4th, 7th... index write; the store as the kill left it has a log ahead of its indexes, and the next open
// must rebuild them so that every acknowledgement holds, through the indexes too.
TEST(CrashSafety, KilledBetweenTheLogWriteAndTheIndexWriteLosesNothing) {
  constexpr int kRounds = 6;
  const uint64_t base_seed = CrashSeed(20261207);
  std::printf("[ crash    ] seed %llu (set DI_DURABILITY_SEED to replay)\n",
              static_cast<unsigned long long>(base_seed));
  TempDir temp;
  const std::string dir = temp.Sub("store");
  ASSERT_TRUE(StoreWithBaseWorld(dir));

  CrashLoop loop;
  for (int round = 0; round < kRounds; ++round) {
    const std::string kill_at = "kill-before-index-write=" + std::to_string(1 + 3 * round);
    SCOPED_TRACE("round " + std::to_string(round) + ", " + kill_at);
    // The child ends itself; the 20 s are a hang guard only.
    const ChildOutcome outcome =
        RunChildAndKill(dir, round, base_seed + static_cast<uint64_t>(round), 20000, Anchor::kSpawn, {kill_at});
    ASSERT_TRUE(outcome.spawned);
    for (const std::string& line : outcome.unexpected_lines) ADD_FAILURE() << "child said: " << line;
    EXPECT_TRUE(WIFSIGNALED(outcome.wait_status) && WTERMSIG(outcome.wait_status) == SIGKILL);
    EXPECT_TRUE(outcome.ready);
    loop.Count(outcome);
    // As the kill left it: the log goes further than the indexes.
    uint64_t indexed = 0, head = 0;
    auto big_endian = [](const std::string& bytes) {
      uint64_t value = 0;
      for (size_t i = 0; i < 8 && i < bytes.size(); ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
      return value;
    };
    di::testing::WithRawStore(dir, [&](rocksdb::DB* db, const std::vector<std::string>& names,
                                       const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] != "meta") continue;
        std::string value;
        ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[i], "indexed", &value).ok());
        indexed = big_endian(value);
        ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[i], "head", &value).ok());
        head = big_endian(value);
      }
    });
    EXPECT_LT(indexed, head) << "the kill did not land between the two writes";
    // Read-only (nothing rebuilt) and then read-write (rebuilt at open): every acknowledgement holds, through the
    // event id index too.
    for (const bool read_only : {true, false}) {
      EventStoreOptions options;
      options.create_if_missing = false;
      options.read_only = read_only;
      std::unique_ptr<EventStore> store;
      ASSERT_TRUE(EventStore::Open(options, dir, &store).ok());
      for (const Ack& ack : loop.all_acks) {
        StoredEvent event;
        const Status found = store->GetByEventId(ack.batch_id + "-i0", &event);
        ASSERT_TRUE(found.ok()) << ack.batch_id << ": " << found.ToString();
        EXPECT_EQ(event.position, ack.first) << ack.batch_id << (read_only ? " (read-only)" : "");
      }
    }
    CheckStoreAfterCrash(dir, loop.all_acks, &loop.totals);
    if (HasFailure()) break;
    ++loop.rounds_survived;
  }
  loop.ExpectEveryRoundSurvived(kRounds);
}

// The same crash loop with the store writing signed Merkle checkpoints inside its groups (checkpoint_every)
// and a second thread of the child folding the projections again and again with a CheckpointStore of a
// small interval, so that the kill lands while audit events and projection snapshots are being written.

struct CheckpointCrashTotals {
  uint64_t folds = 0;                 // LoadModel calls of the children that folded something
  uint64_t snapshots_written = 0;     // by those calls (reported before the kill)
  uint64_t snapshots_found = 0;       // snapshots present when the parent reopened, summed over rounds
  uint64_t snapshots_discarded = 0;   // of those, discarded as stale or unreadable (LoadReport)
  uint64_t snapshots_resumed = 0;     // rounds whose resumed model started from a snapshot
  uint64_t audit_checkpoints = 0;     // checkpoint_signed events in the final log
};

// After a kill (and after CheckStoreAfterCrash): the audit events are where checkpoint_every puts them and the
// last one verifies against the log and our key; the projections resumed from the child's snapshots equal a
// naive replay, byte for byte, now and at a past position; and a Rebuild from scratch gives the same bytes.
void CheckAuditAndProjectionsAfterCrash(const std::string& dir, const std::string& scratch_dir,
                                        const ledger::PublicKey& public_key, uint64_t checkpoint_every,
                                        uint64_t snapshot_interval, CheckpointCrashTotals* totals) {
  EventStoreOptions options;
  options.create_if_missing = false;
  std::unique_ptr<EventStore> store;
  const Status open = EventStore::Open(options, dir, &store);
  ASSERT_TRUE(open.ok()) << open.ToString();
  const LogHead head = store->Head();

  // The writer appends checkpoint_signed after each group that crosses a multiple of checkpoint_every, in
  // the same write. So from one checkpoint (or the parent's BaseWorld) to the next a multiple is crossed,
  // and after the last one none is: a checkpoint lost or invented by the crash breaks this.
  std::vector<uint64_t> audit_positions;
  Status status = store->ReadByType(EventType::CHECKPOINT_SIGNED, 1, 0, [&](const StoredEvent& event) {
    EXPECT_EQ(std::string(event.reader().getEvent().getId().cStr()),
              "checkpoint-" + std::to_string(event.position - 1));
    audit_positions.push_back(event.position);
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  uint64_t previous = BaseWorld().size();
  for (const uint64_t position : audit_positions) {
    EXPECT_GT((position - 1) / checkpoint_every, previous / checkpoint_every)
        << "checkpoint at " << position << " without crossing a multiple of " << checkpoint_every << " since "
        << previous;
    previous = position;
  }
  EXPECT_EQ(head.position / checkpoint_every, previous / checkpoint_every)
      << "the head " << head.position << " crossed a multiple of " << checkpoint_every
      << " after the last checkpoint at " << previous;
  totals->audit_checkpoints = audit_positions.size();
  if (!audit_positions.empty()) {
    // The last checkpoint, checked on its own: decodes, signed by our key, over the log's Merkle root.
    ledger::SignedTreeHead tree_head;
    std::string problem = "not read";
    std::string signature_hex;
    status = store->ReadLog(audit_positions.back(), 1, [&](const StoredEvent& event) {
      problem = ledger::CheckAuditEvent(event.reader().getEvent(), &tree_head);
      signature_hex = event.reader().getEvent().getPayload().getCheckpointSigned().getSignature().cStr();
      return false;
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(problem, "");
    EXPECT_FALSE(tree_head.rotation);
    EXPECT_EQ(tree_head.tree_size, audit_positions.back() - 1);
    EXPECT_EQ(tree_head.key, public_key) << "signed with another key";
    ledger::Hash root{};
    ASSERT_TRUE(store->GetMerkleRoot(tree_head.tree_size, &root).ok());
    EXPECT_EQ(root, tree_head.root) << "the signed root is not the log's Merkle root at " << tree_head.tree_size;
    // And independently of CheckAuditEvent: our public key, the statement over the log's root, the signature.
    ledger::Signature signature{};
    ASSERT_TRUE(ledger::ParseHexBytes(signature_hex, signature.data(), signature.size()));
    EXPECT_TRUE(ledger::VerifySignature(public_key, ledger::CheckpointStatement(tree_head.tree_size, root), signature));
  }

  // Projections: the child's snapshots (some possibly written as the kill landed) against a naive replay.
  projections::CheckpointOptions checkpoint_options;
  checkpoint_options.interval_events = snapshot_interval;
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  const Status opened =
      projections::CheckpointStore::Open(projections::CheckpointStore::PathFor(dir), checkpoint_options, &checkpoints);
  ASSERT_TRUE(opened.ok()) << "the checkpoint database does not reopen after SIGKILL: " << opened.ToString();
  std::vector<projections::CheckpointInfo> listed;
  ASSERT_TRUE(checkpoints->List(&listed).ok());
  totals->snapshots_found += listed.size();

  projections::LedgerModel naive;
  ASSERT_TRUE(projections::ReplayInto(*store, projections::kKnownNow, &naive).ok());
  const std::string naive_bytes = naive.EncodeSnapshot();
  projections::LedgerModel resumed;
  projections::LoadReport report;
  status = projections::LoadModel(*store, checkpoints.get(), projections::kKnownNow, &resumed, &report);
  ASSERT_TRUE(status.ok()) << status.ToString();
  totals->snapshots_discarded += report.snapshots_discarded;
  if (report.snapshot_position != 0) ++totals->snapshots_resumed;
  EXPECT_EQ(resumed.last_position(), head.position);
  EXPECT_TRUE(resumed.EncodeSnapshot() == naive_bytes)
      << "the model resumed from snapshot " << report.snapshot_position << " differs from a replay";

  // A past known-at position: resumed from an older snapshot, same bytes as a replay up to there.
  const uint64_t past = head.position / 2 + 1;
  projections::LedgerModel naive_past, resumed_past;
  ASSERT_TRUE(projections::ReplayInto(*store, past, &naive_past).ok());
  projections::LoadReport past_report;
  status = projections::LoadModel(*store, checkpoints.get(), past, &resumed_past, &past_report);
  ASSERT_TRUE(status.ok()) << status.ToString();
  totals->snapshots_discarded += past_report.snapshots_discarded;
  EXPECT_TRUE(resumed_past.EncodeSnapshot() == naive_past.EncodeSnapshot()) << "at known-at position " << past;

  // Rebuild from scratch (into a scratch database, so the child's snapshots stay for the next round). Every
  // snapshot encodes the whole model, so a Rebuild at interval 50 costs O(head^2 / 50): a coarser interval
  // keeps the long variant linear enough.
  projections::CheckpointOptions rebuild_options;
  rebuild_options.interval_events = 1000;
  std::unique_ptr<projections::CheckpointStore> rebuilt;
  ASSERT_TRUE(projections::CheckpointStore::Open(scratch_dir, rebuild_options, &rebuilt).ok());
  projections::CheckpointInfo head_info;
  status = projections::Rebuild(*store, *rebuilt, &head_info);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(head_info.position, head.position);
  EXPECT_EQ(head_info.event_hash, head.hash);
  EXPECT_EQ(head_info.snapshot_digest, projections::SnapshotDigest(naive_bytes)) << "Rebuild differs from a replay";
}

TEST(CrashSafety, SigkillDuringCheckpointsAndProjectionSnapshots) {
  // ~20 rounds keep this under a minute on 2 cores; DI_CRASH_CHECKPOINT_ROUNDS runs a longer variant.
  int rounds = 20;
  if (const char* env = std::getenv("DI_CRASH_CHECKPOINT_ROUNDS")) rounds = std::max(1, std::atoi(env));
  constexpr uint64_t kCheckpointEvery = 50;
  constexpr uint64_t kSnapshotInterval = 50;
  const uint64_t base_seed = CrashSeed(20261125);
  std::printf("[ crash-cp ] seed %llu, %d rounds (DI_DURABILITY_SEED, DI_CRASH_CHECKPOINT_ROUNDS)\n",
              static_cast<unsigned long long>(base_seed), rounds);
  std::mt19937_64 rng(base_seed);

  ASSERT_GE(sodium_init(), 0);
  TempDir temp;
  const std::string dir = temp.Sub("store");
  const std::string key_file = temp.Sub("ledger.key");
  ledger::SigningKey key;
  ASSERT_TRUE(ledger::SigningKey::Generate(&key).ok());
  ASSERT_TRUE(key.SaveNew(key_file).ok());
  ASSERT_TRUE(StoreWithBaseWorld(dir));
  const std::vector<std::string> extra_args = {key_file, std::to_string(kCheckpointEvery),
                                               std::to_string(kSnapshotInterval)};

  CrashLoop loop;
  CheckpointCrashTotals checkpoint_totals;
  for (int round = 0; round < rounds; ++round) {
    ChildOutcome outcome;
    std::string trace;
    ASSERT_NO_FATAL_FAILURE(
        RunCrashRound(dir, round, base_seed + static_cast<uint64_t>(round), rng, extra_args, &outcome, &trace));
    SCOPED_TRACE(trace);
    loop.Count(outcome);
    checkpoint_totals.folds += outcome.folds;
    checkpoint_totals.snapshots_written += outcome.snapshots_written;
    CheckStoreAfterCrash(dir, loop.all_acks, &loop.totals, /*with_checkpoints=*/true);
    if (HasFailure()) break;
    CheckAuditAndProjectionsAfterCrash(dir, temp.Sub("rebuild"), key.public_key(),
                                       kCheckpointEvery, kSnapshotInterval, &checkpoint_totals);
    if (HasFailure()) break;  // later rounds would only repeat the first failure
    ++loop.rounds_survived;
  }
  const CrashTotals& totals = loop.totals;

  std::printf(
      "[ crash-cp ] %d/%d rounds survived (%d killed before any ack); %llu batches / %llu events acknowledged; "
      "%llu events in the log, %llu checkpoint_signed; child folds %llu, snapshots written %llu; snapshots found "
      "after kills %llu, discarded %llu; %llu rounds resumed from a snapshot\n",
      loop.rounds_survived, rounds, loop.rounds_without_acks, static_cast<unsigned long long>(totals.acked_batches),
      static_cast<unsigned long long>(totals.acked_events), static_cast<unsigned long long>(totals.log_events),
      static_cast<unsigned long long>(checkpoint_totals.audit_checkpoints),
      static_cast<unsigned long long>(checkpoint_totals.folds),
      static_cast<unsigned long long>(checkpoint_totals.snapshots_written),
      static_cast<unsigned long long>(checkpoint_totals.snapshots_found),
      static_cast<unsigned long long>(checkpoint_totals.snapshots_discarded),
      static_cast<unsigned long long>(checkpoint_totals.snapshots_resumed));
  RecordProperty("snapshots_discarded", std::to_string(checkpoint_totals.snapshots_discarded));
  loop.ExpectEveryRoundSurvived(rounds);
  EXPECT_GT(checkpoint_totals.audit_checkpoints, 0u) << "no checkpoint was ever written: the test tested nothing";
  EXPECT_GT(checkpoint_totals.snapshots_written, 0u) << "no snapshot was ever written: the test tested nothing";
}

// ---------------------------------------------------------------------------------------------------------
// 2. Tamper detection
// ---------------------------------------------------------------------------------------------------------

constexpr int kTamperDeliveries = 5;

// BaseWorld (12 events) + 5 single-delivery batches, store closed afterwards. Returns the head.
uint64_t BuildClosedStore(const std::string& dir) {
  auto store = StoreWithBaseWorld(dir);
  if (!store) return 0;
  for (int i = 0; i < kTamperDeliveries; ++i) {
    const Status status = AppendJson(*store, Deliveries("tamper-" + std::to_string(i), 1));
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  ExpectChainVerifies(*store, BaseWorld().size() + kTamperDeliveries);
  return store->Head().position;
}

std::string LogKey(uint64_t position) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, position >>= 8) key[static_cast<size_t>(i)] = static_cast<char>(position & 0xff);
  return key;
}

// Opens the store's RocksDB directly, bypassing EventStore, and hands the `log` family to `edit`.
// The descriptors are listed in another order than the store uses: RocksDB matches families by name.
void EditRawLog(const std::string& dir, const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  const std::vector<std::string> names = {"meta",   "entity",   "effective", "type",
                                          "stream", "event_id", "log",       rocksdb::kDefaultColumnFamilyName};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DBOptions options;  // create_if_missing = false: the store must exist
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir, descriptors, &handles, &db);
  ASSERT_TRUE(status.ok()) << status.ToString();
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (auto* handle : handles) {
    if (handle->GetName() == "log") log = handle;
  }
  EXPECT_NE(log, nullptr);
  if (log != nullptr) edit(db, log);
  for (auto* handle : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

std::string GetRaw(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, uint64_t position) {
  std::string value;
  const rocksdb::Status status = db->Get(rocksdb::ReadOptions(), log, LogKey(position), &value);
  EXPECT_TRUE(status.ok()) << "position " << position << ": " << status.ToString();
  return value;
}

void PutRaw(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, uint64_t position, const std::string& value) {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const rocksdb::Status status = db->Put(write_options, log, LogKey(position), value);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

VerifyReport VerifyReopened(const std::string& dir) {
  VerifyReport report;
  auto store = OpenStore(dir);
  if (!store) return report;
  const Status status = store->Verify(&report);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return report;
}

// One byte of a stored value is flipped (in the canonical body, or in the stored hash): Verify must
// report exactly that position, the first one that no longer chains, and blame the hash.
void CheckFlippedByteIsReported(uint64_t position, bool in_hash) {
  SCOPED_TRACE("position " + std::to_string(position) + (in_hash ? ", stored hash" : ", body"));
  TempDir temp;
  const std::string dir = temp.Sub("store");
  const uint64_t head = BuildClosedStore(dir);
  ASSERT_GE(head, position);
  EditRawLog(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) {
    std::string value = GetRaw(db, log, position);
    ASSERT_GT(value.size(), 40u);
    // Inside the hash: byte 5 of 32. Inside the body: its middle byte (beyond the 32-byte hash).
    const size_t offset = in_hash ? 5 : 32 + (value.size() - 32) / 2;
    value[offset] = static_cast<char>(value[offset] ^ 0x5a);
    PutRaw(db, log, position, value);
  });
  const VerifyReport report = VerifyReopened(dir);
  EXPECT_EQ(report.first_bad_position, position) << report.problem;
  EXPECT_NE(report.problem.find("hash"), std::string::npos) << report.problem;
  EXPECT_EQ(report.events_checked, position - 1) << "everything before the tampered position still verifies";
}

TEST(TamperDetection, FlippedBodyByteIsReportedAtExactlyThatPosition) {
  const uint64_t first_delivery = BaseWorld().size() + 1;
  const uint64_t head = BaseWorld().size() + kTamperDeliveries;
  // The first event (chained to the zero hash), one in the middle, and the head.
  for (uint64_t position : {uint64_t{1}, first_delivery + 1, head}) CheckFlippedByteIsReported(position, false);
}

TEST(TamperDetection, FlippedStoredHashByteIsReportedAtExactlyThatPosition) {
  const uint64_t first_delivery = BaseWorld().size() + 1;
  const uint64_t head = BaseWorld().size() + kTamperDeliveries;
  for (uint64_t position : {uint64_t{1}, first_delivery + 1, head}) CheckFlippedByteIsReported(position, true);
}

// A forger who edits an event AND recomputes its own hash passes that position, but the chain breaks
// at the next one (or, at the head, against the head hash recorded in meta).
TEST(TamperDetection, RehashedForgeryIsCaughtByTheNextLinkOfTheChain) {
  ASSERT_NE(sodium_init(), -1);
  const uint64_t head = BaseWorld().size() + kTamperDeliveries;
  for (uint64_t position : {head - 2, head}) {
    SCOPED_TRACE("forged position " + std::to_string(position));
    TempDir temp;
    const std::string dir = temp.Sub("store");
    ASSERT_EQ(BuildClosedStore(dir), head);
    EditRawLog(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) {
      const std::string previous = GetRaw(db, log, position - 1);
      std::string value = GetRaw(db, log, position);
      // Change the actor "test" to "Test": still a well-formed event, just a different one.
      const size_t actor = value.find("test", 32);
      ASSERT_NE(actor, std::string::npos);
      value[actor] = 'T';
      const ledger::Hash hash = di::testing::ChainHashOracle(previous, std::string_view(value).substr(32));
      value.replace(0, 32, di::testing::HashBytes(hash));
      PutRaw(db, log, position, value);
    });
    const VerifyReport report = VerifyReopened(dir);
    const uint64_t expected = position == head ? head : position + 1;
    EXPECT_EQ(report.first_bad_position, expected) << report.problem;
    EXPECT_NE(report.problem.find("hash"), std::string::npos) << report.problem;
  }
}

TEST(TamperDetection, DeletedLogKeyIsReportedAsAHoleAtThatPosition) {
  TempDir temp;
  const std::string dir = temp.Sub("store");
  const uint64_t hole = BaseWorld().size() + 2;
  ASSERT_GT(BuildClosedStore(dir), hole);
  EditRawLog(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) {
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    ASSERT_TRUE(db->Delete(write_options, log, LogKey(hole)).ok());
  });
  auto store = OpenStore(dir);
  ASSERT_TRUE(store);
  VerifyReport report;
  ASSERT_TRUE(store->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, hole) << report.problem;
  EXPECT_NE(report.problem.find("missing"), std::string::npos) << report.problem;
  EXPECT_EQ(report.events_checked, hole - 1);
  // The index still points there: reading the event by id is a corruption, not a silent "not found".
  StoredEvent event;
  EXPECT_EQ(store->GetByEventId("tamper-1-0", &event).code(), StatusCode::kCorruption);
}

// Deleting the head's log key leaves no successor to notice the hole; the head record in meta does.
TEST(TamperDetection, DeletedHeadEventMakesTheStoreRefuseToOpen) {
  TempDir temp;
  const std::string dir = temp.Sub("store");
  const uint64_t head = BuildClosedStore(dir);
  ASSERT_GT(head, 0u);
  EditRawLog(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) {
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    ASSERT_TRUE(db->Delete(write_options, log, LogKey(head)).ok());
  });
  std::unique_ptr<EventStore> store;
  const Status status = EventStore::Open(EventStoreOptions{}, dir, &store);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find(std::to_string(head)), std::string::npos) << status.ToString();
}

// ---------------------------------------------------------------------------------------------------------
// 3. Concurrency
// ---------------------------------------------------------------------------------------------------------

// StoreWithBaseWorld in `dir`, counting in *durable_writes the writer's group writes as they become durable.
std::unique_ptr<EventStore> StoreCountingWrites(const std::string& dir, std::atomic<uint64_t>* durable_writes) {
  EventStoreOptions options;
  options.after_durable_write_for_testing = [durable_writes] { durable_writes->fetch_add(1); };
  return StoreWithBaseWorld(dir, options);
}

TEST(Concurrency, ConcurrentAppendersGetDenseUniquePositionsAndAVerifiedChain) {
  constexpr int kThreads = 8;
  constexpr int kBatchesPerThread = 40;
  TempDir temp;
  std::atomic<uint64_t> durable_writes{0};
  auto store = StoreCountingWrites(temp.path(), &durable_writes);
  ASSERT_TRUE(store);
  const uint64_t base = store->Head().position;
  const uint64_t writes_before = durable_writes.load();

  // Batches are built up front so that the threads, once released together, spend their time in
  // Append and overlap there.
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::vector<nlohmann::json>>> jsons(kThreads);
  std::vector<std::vector<std::vector<NewEvent>>> batches(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int b = 0; b < kBatchesPerThread; ++b) {
      const int size = 1 + static_cast<int>(rng() % 20);
      jsons[t].push_back(Deliveries("c-t" + std::to_string(t) + "-b" + std::to_string(b), size));
      batches[t].push_back(Events(jsons[t].back()));
    }
  }

  std::latch start(kThreads);
  std::vector<std::vector<AppendResult>> results(kThreads, std::vector<AppendResult>(kBatchesPerThread));
  std::vector<std::vector<Status>> statuses(kThreads, std::vector<Status>(kBatchesPerThread));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int b = 0; b < kBatchesPerThread; ++b) statuses[t][b] = store->Append(batches[t][b], &results[t][b]);
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<uint64_t> all_positions;
  uint64_t events = 0;
  for (int t = 0; t < kThreads; ++t) {
    uint64_t last = 0;
    for (int b = 0; b < kBatchesPerThread; ++b) {
      ASSERT_TRUE(statuses[t][b].ok()) << "thread " << t << " batch " << b << ": " << statuses[t][b].ToString();
      const AppendResult& result = results[t][b];
      ASSERT_EQ(result.positions.size(), batches[t][b].size());
      EXPECT_EQ(result.appended, batches[t][b].size());
      EXPECT_GE(result.last_position, result.positions.back());
      for (uint64_t position : result.positions) {
        EXPECT_GT(position, last) << "thread " << t << ": positions must increase with its own appends";
        last = position;
        all_positions.push_back(position);
      }
      EXPECT_EQ(result.positions.back() - result.positions.front() + 1, result.positions.size())
          << "a batch occupies consecutive positions";
      events += batches[t][b].size();
    }
  }
  std::sort(all_positions.begin(), all_positions.end());
  ASSERT_EQ(all_positions.size(), events);
  for (size_t i = 0; i < all_positions.size(); ++i) {
    ASSERT_EQ(all_positions[i], base + 1 + i) << "positions are not exactly " << base + 1 << ".." << base + events;
  }
  const uint64_t head = store->Head().position;
  EXPECT_EQ(head, base + events);
  ExpectChainVerifies(*store, head);
  ExpectDenseLog(ReadWholeLog(*store), head);
  for (int t = 0; t < kThreads; ++t) {
    for (int b = 0; b < kBatchesPerThread; ++b) {
      const auto ids = IdsOf(jsons[t][b]);
      for (size_t i = 0; i < ids.size(); ++i) ExpectAtPosition(*store, ids[i], results[t][b].positions[i]);
    }
  }

  // Group commit: overlapping appends share a write + fsync. Whether they overlap is up to the
  // scheduler, so only "never more writes than appends" is a guarantee; the deterministic version of
  // this check is AppendsQueuedBehindAWriteShareTheNextDurableWrite below.
  const uint64_t writes = durable_writes.load() - writes_before;
  const uint64_t appends = kThreads * kBatchesPerThread;
  EXPECT_GE(writes, 1u);
  EXPECT_LE(writes, appends);
  std::printf("[ group    ] %llu appends of %llu events -> %llu durable writes (%.2f appends per write)\n",
              static_cast<unsigned long long>(appends), static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(writes), static_cast<double>(appends) / static_cast<double>(writes));
  RecordProperty("appends", std::to_string(appends));
  RecordProperty("durable_writes", std::to_string(writes));
}

// Deterministic group commit: the writer is parked in the after-durable-write hook of one append while
// others queue up. With max_pending_appends = 2 a kBusy answer proves two appends are queued (the parked
// writer cannot take them), so the next group must hold both: 4 appends, 3 durable writes.
TEST(Concurrency, AppendsQueuedBehindAWriteShareTheNextDurableWrite) {
  TempDir temp;
  std::mutex mutex;
  std::condition_variable changed;
  bool armed = false, parked = false, release = false, busy_seen = false;
  int writes = 0;
  EventStoreOptions options;
  options.max_pending_appends = 2;
  options.after_durable_write_for_testing = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    if (!armed) return;
    ++writes;
    if (writes == 1) {
      parked = true;
      changed.notify_all();
      // Hang guard only: a broken store must fail the test, not block it forever.
      changed.wait_for(lock, std::chrono::seconds(30), [&] { return release; });
    }
  };
  auto store = StoreWithBaseWorld(temp.path(), options);
  ASSERT_TRUE(store);
  {
    std::lock_guard<std::mutex> lock(mutex);
    armed = true;
  }

  std::vector<std::vector<NewEvent>> batches;
  for (int i = 0; i < 4; ++i) batches.push_back(Events(Deliveries("g-" + std::to_string(i), 3)));
  std::vector<AppendResult> results(4);
  std::vector<Status> statuses(4);
  std::vector<int> busy_answers(4, 0);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { statuses[0] = store->Append(batches[0], &results[0]); });
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return parked; }));
  }
  for (int i = 1; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (;;) {
        statuses[i] = store->Append(batches[i], &results[i]);
        if (statuses[i].code() != StatusCode::kBusy) return;
        ++busy_answers[i];
        {
          std::lock_guard<std::mutex> lock(mutex);
          busy_seen = true;
        }
        changed.notify_all();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // back off, as kBusy asks
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    const bool queue_full = changed.wait_for(lock, std::chrono::seconds(30), [&] { return busy_seen; });
    release = true;
    changed.notify_all();
    lock.unlock();
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(queue_full) << "no append was ever refused with kBusy";
  }

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].ToString();
  EXPECT_EQ(writes, 3) << "4 appends: the first alone, the two queued together, the refused one alone";
  // The two grouped appends were acknowledged with the same head: the one after their common write.
  std::map<uint64_t, int> by_last_position;
  for (int i = 1; i < 4; ++i) ++by_last_position[results[i].last_position];
  EXPECT_EQ(by_last_position.size(), 2u);
  const uint64_t head = store->Head().position;
  EXPECT_EQ(head, BaseWorld().size() + 12);
  ExpectChainVerifies(*store, head);
  ExpectDenseLog(ReadWholeLog(*store), head);
}

// ---------------------------------------------------------------------------------------------------------
// 4. Concurrent idempotent retries
// ---------------------------------------------------------------------------------------------------------

// Two threads released together append `first` and `second` to the same store.
void RaceTwoAppends(EventStore& store, const std::vector<NewEvent>& first, const std::vector<NewEvent>& second,
                    Status* status_a, AppendResult* result_a, Status* status_b, AppendResult* result_b) {
  std::latch start(2);
  std::thread a([&] {
    start.arrive_and_wait();
    *status_a = store.Append(first, result_a);
  });
  std::thread b([&] {
    start.arrive_and_wait();
    *status_b = store.Append(second, result_b);
  });
  a.join();
  b.join();
}

// Two clients submit the same batch at the same moment (a retry racing the original). Depending on the
// scheduler both land in one group (the second sees the first's ids in the group) or in two (the second
// sees them in RocksDB); either way both succeed with the same positions and the events exist once.
TEST(IdempotentRetries, SameBatchFromTwoThreadsAtOnceIsAppendedOnce) {
  constexpr int kIterations = 30;
  TempDir temp;
  std::atomic<uint64_t> durable_writes{0};
  auto store = StoreCountingWrites(temp.path(), &durable_writes);
  ASSERT_TRUE(store);
  const uint64_t writes_before = durable_writes.load();
  uint64_t expected_head = store->Head().position;
  std::vector<std::string> all_ids;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    const auto jsons = Deliveries("same-" + std::to_string(iteration), 1 + iteration % 7);
    // Each thread parses its own copy: identical content means identical canonical bytes.
    std::vector<NewEvent> first = Events(jsons), second = Events(jsons);
    AppendResult result_a, result_b;
    Status status_a, status_b;
    RaceTwoAppends(*store, first, second, &status_a, &result_a, &status_b, &result_b);
    ASSERT_TRUE(status_a.ok()) << status_a.ToString();
    ASSERT_TRUE(status_b.ok()) << status_b.ToString();
    EXPECT_EQ(result_a.positions, result_b.positions);
    EXPECT_EQ(result_a.appended + result_b.appended, jsons.size()) << "one appended, the other was a retry";
    EXPECT_TRUE(result_a.appended == 0 || result_b.appended == 0);
    expected_head += jsons.size();
    ASSERT_EQ(result_a.positions.size(), jsons.size());
    EXPECT_EQ(result_a.positions.front(), expected_head - jsons.size() + 1);
    EXPECT_EQ(result_a.last_position, expected_head);
    EXPECT_EQ(result_b.last_position, expected_head);
    const auto ids = IdsOf(jsons);
    for (size_t i = 0; i < ids.size(); ++i) ExpectAtPosition(*store, ids[i], result_a.positions[i]);
    all_ids.insert(all_ids.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(store->Head().position, expected_head);
  // A pure retry writes nothing: exactly one durable write per iteration.
  EXPECT_EQ(durable_writes.load() - writes_before, static_cast<uint64_t>(kIterations));
  const auto rows = ReadWholeLog(*store);
  ExpectDenseLog(rows, expected_head);
  std::map<std::string, int> occurrences;
  for (const LogRow& row : rows) ++occurrences[row.id];
  for (const std::string& id : all_ids) EXPECT_EQ(occurrences[id], 1) << id;
  ExpectChainVerifies(*store, expected_head);
}

// The racing counterpart: same id, different content. Exactly one wins; the other is kDuplicateId and
// leaves no trace.
TEST(IdempotentRetries, SameIdWithDifferentContentFromTwoThreadsHasExactlyOneWinner) {
  TempDir temp;
  auto store = StoreWithBaseWorld(temp.path());
  ASSERT_TRUE(store);
  for (int iteration = 0; iteration < 20; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    const uint64_t head_before = store->Head().position;
    const std::string prefix = "clash-" + std::to_string(iteration);
    std::vector<NewEvent> first = Events(Deliveries(prefix, 3, 60)), second = Events(Deliveries(prefix, 3, 90));
    AppendResult result_a, result_b;
    Status status_a, status_b;
    RaceTwoAppends(*store, first, second, &status_a, &result_a, &status_b, &result_b);
    ASSERT_NE(status_a.ok(), status_b.ok()) << status_a.ToString() << " / " << status_b.ToString();
    const Status& loser = status_a.ok() ? status_b : status_a;
    EXPECT_EQ(loser.code(), StatusCode::kDuplicateId) << loser.ToString();
    EXPECT_EQ(store->Head().position, head_before + 3);
    StoredEvent event;
    ASSERT_TRUE(store->GetByEventId(prefix + "-0", &event).ok());
    const int64_t winner_minutes = status_a.ok() ? 60 : 90;
    EXPECT_EQ(event.reader().getEvent().getPayload().getServiceDelivered().getQuantity(), winner_minutes);
  }
  ExpectChainVerifies(*store, store->Head().position);
  ExpectDenseLog(ReadWholeLog(*store), store->Head().position);
}

// ---------------------------------------------------------------------------------------------------------
// 5. Restart
// ---------------------------------------------------------------------------------------------------------

TEST(Restart, AppendsContinueAtHeadPlusOneAndRecordedTimeNeverGoesBackwards) {
  TempDir temp;
  const std::string dir = temp.Sub("store");
  constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14, in microseconds
  std::atomic<int64_t> now{kT0};
  EventStoreOptions options;
  options.clock_micros = [&] { return now.load(); };

  LogHead head_before;
  uint64_t stream_version_before = 0;
  std::vector<uint64_t> first_positions;
  const auto first_batch = Deliveries("restart-a", 4);
  {
    auto store = StoreWithBaseWorld(dir, options);
    ASSERT_TRUE(store);
    now += 1000;
    AppendResult result;
    ASSERT_TRUE(AppendJson(*store, first_batch, &result).ok());
    first_positions = result.positions;
    now += 1000;
    ASSERT_TRUE(AppendJson(*store, Deliveries("restart-b", 3)).ok());
    head_before = store->Head();
    EXPECT_EQ(head_before.recorded_at_micros, kT0 + 2000);
    ASSERT_TRUE(store->GetStreamVersion("grant/G-1", &stream_version_before).ok());
  }

  // The clock jumps back an hour across the restart (an NTP correction, a restored VM...).
  now = kT0 - 3'600'000'000;
  auto store = OpenStore(dir, options);
  ASSERT_TRUE(store);
  const LogHead reopened = store->Head();
  EXPECT_EQ(reopened.position, head_before.position);
  EXPECT_EQ(reopened.hash, head_before.hash);
  EXPECT_EQ(reopened.recorded_at_micros, head_before.recorded_at_micros);
  uint64_t stream_version = 0;
  ASSERT_TRUE(store->GetStreamVersion("grant/G-1", &stream_version).ok());
  EXPECT_EQ(stream_version, stream_version_before);

  // A retry of a batch from before the restart still returns its original positions (no cache needed).
  AppendResult retry;
  ASSERT_TRUE(AppendJson(*store, first_batch, &retry).ok());
  EXPECT_EQ(retry.positions, first_positions);
  EXPECT_EQ(retry.appended, 0u);
  EXPECT_EQ(store->Head().position, head_before.position);

  AppendResult after;
  ASSERT_TRUE(AppendJson(*store, Deliveries("restart-c", 5), &after).ok());
  ASSERT_EQ(after.positions.size(), 5u);
  for (size_t i = 0; i < after.positions.size(); ++i) EXPECT_EQ(after.positions[i], head_before.position + 1 + i);
  EXPECT_EQ(store->Head().recorded_at_micros, head_before.recorded_at_micros) << "clamped, not the clock's past";

  now = kT0 + 10'000'000;  // the clock moves forward again: time resumes from it
  ASSERT_TRUE(AppendJson(*store, Deliveries("restart-d", 2)).ok());
  EXPECT_EQ(store->Head().recorded_at_micros, kT0 + 10'000'000);

  const uint64_t head = store->Head().position;
  EXPECT_EQ(head, head_before.position + 7);
  ExpectChainVerifies(*store, head);
  const auto rows = ReadWholeLog(*store);
  ExpectDenseLog(rows, head);
  int64_t previous_time = 0;
  uint64_t grant_version = 0;
  for (const LogRow& row : rows) {
    EXPECT_GE(row.recorded_at, previous_time) << "recorded time went backwards at position " << row.position;
    previous_time = row.recorded_at;
    if (row.stream == "grant/G-1") {
      EXPECT_EQ(row.stream_version, ++grant_version) << "at " << row.position;
    }
  }
  EXPECT_EQ(grant_version, stream_version_before + 7) << "the grant's stream continues across the restart";

  // And once more: a second restart sees the chain that spans both sessions.
  store.reset();
  store = OpenStore(dir, options);
  ASSERT_TRUE(store);
  ExpectChainVerifies(*store, head);
}

}  // namespace
}  // namespace di::testing
