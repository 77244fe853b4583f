// A full disk on a real file system (issue #12 item 3): a small tmpfs that the test mounts and fills.
//
// RocksDB 7.8 (Debian 12, assertions on) aborted the process once a line of its info log ("LOG") could not be
// written: the failed write marked the log's file writer as failed and the next line hit the assertion
// `sync_without_flush_called_` (ledger/include/di/ledger/rocksdb_info_log.h). The fault-injecting file system of
// disk_fault_test.cc never showed it (its full disk lasts less than the 5 s between RocksDB's info-log flushes);
// a real file system refuses every writer alike, RocksDB's own files included. Every program that could abort
// runs as a child process (the CLI binary, `di-ledger serve` on 127.0.0.1), so an abort fails a test instead of
// ending the test binary; the store is checked in process afterwards.
//
// Mounting needs root: otherwise (or if the mount fails) the tests are skipped, saying why.
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/beast/http.hpp>

#include "child_process.h"
#include "di/ledger/event_store.h"
#include "server_fixture.h"
#include "test_util.h"

namespace di::ledger {
namespace {

namespace http = boost::beast::http;
using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::MakeToken;
using di::testing::RunCli;
using di::testing::TempDir;
using nlohmann::json;

// A tmpfs of a few MiB mounted on `path` by the test; unmounted (lazily, so a straggling file handle cannot
// keep it) on destruction.
class SmallDisk {
 public:
  // Returns "" when mounted, else why not.
  std::string Mount(const std::string& path, size_t bytes) {
    if (::geteuid() != 0) return "mounting a tmpfs needs root (run this test as root)";
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) return "cannot create " + path + ": " + error.message();
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      return "mount -t tmpfs on " + path + " failed: " + std::strerror(errno);
    }
    path_ = path;
    return "";
  }
  ~SmallDisk() {
    if (!path_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }

  uint64_t FreeBytes() const {
    struct statvfs info {};
    if (::statvfs(path_.c_str(), &info) != 0) return 0;
    return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
  }

  // Writes a new filler file until the disk refuses (ENOSPC), leaving at most `leave` bytes free. Returns
  // the bytes written.
  uint64_t Fill(uint64_t leave = 0) {
    const std::string name = path_ + "/filler-" + std::to_string(fillers_.size());
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0) << name << ": " << std::strerror(errno);
    if (fd < 0) return 0;
    fillers_.push_back(name);
    static const std::vector<char> zeros(1 << 20, 0);
    uint64_t written = 0;
    uint64_t budget = leave == 0 ? UINT64_MAX : (FreeBytes() > leave ? FreeBytes() - leave : 0);
    size_t chunk = zeros.size();
    while (budget > 0 && chunk > 0) {
      const ssize_t n = ::write(fd, zeros.data(), std::min<uint64_t>(chunk, budget));
      if (n > 0) {
        written += static_cast<uint64_t>(n);
        budget -= static_cast<uint64_t>(n);
      } else {
        EXPECT_EQ(errno, ENOSPC) << std::strerror(errno);
        chunk /= 2;  // down to single bytes: the last partly used page too
      }
    }
    ::close(fd);
    return written;
  }

  // The operator frees space.
  void FreeFillers() {
    for (const std::string& name : fillers_) ::unlink(name.c_str());
    fillers_.clear();
  }

 private:
  std::string path_;
  std::vector<std::string> fillers_;
};

std::vector<json> Deliveries(int first, int count) {
  std::vector<json> events;
  for (int i = first; i < first + count; ++i) {
    char date[16];
    std::snprintf(date, sizeof date, "2022-%02d-%02d", 1 + (i / 28) % 12, 1 + i % 28);
    events.push_back(Delivery("fd" + std::to_string(i), "D-FD-" + std::to_string(i), date, 30, 350));
  }
  return events;
}

// Every id is recorded, in this order from position `first`, nothing else is, and the chain verifies.
void ExpectExactly(EventStore& store, const std::vector<std::string>& ids, uint64_t first = 1) {
  EXPECT_EQ(store.Head().position, first - 1 + ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    StoredEvent event;
    const Status found = store.GetByEventId(ids[i], &event);
    ASSERT_TRUE(found.ok()) << ids[i] << ": " << found.ToString();
    EXPECT_EQ(event.position, first + i) << ids[i];
  }
  VerifyReport report;
  ASSERT_TRUE(store.Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events_checked, first - 1 + ids.size());
}

// A CLI run must end by exiting, never by a signal (RunCommand reports -1 then; a shell may report 128 + 6).
void ExpectExited(const di::testing::CommandOutput& output, int code, const std::string& what) {
  EXPECT_EQ(output.exit_code, code) << what << ":\n" << output.text;
  EXPECT_EQ(output.text.find("Assertion"), std::string::npos) << what << ":\n" << output.text;
}

class RealFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = disk_.Mount(dir_.Sub("disk"), 32 << 20);
    if (!why.empty()) GTEST_SKIP() << "no small real file system to fill: " << why;
    data_ = dir_.Sub("disk") + "/data";
  }

  TempDir dir_;     // outside the small disk: import files, tokens
  SmallDisk disk_;  // declared after dir_: unmounted before dir_ is removed
  std::string data_;
};

// import, verify, stats and export as child processes: no abort, a clear reason, reads on the full disk, and a
// re-run of the same import after space is freed appends the rest exactly once.
TEST_F(RealFullDiskTest, CliCommandsFailCleanlyReadOnAFullDiskAndImportResumesWhenSpaceReturns) {
  ExpectExited(RunCli("init --data " + data_), 0, "init");
  std::vector<std::string> ids;  // of the import file, in order
  const std::string file = dir_.Sub("events.jsonl");
  {
    std::ofstream out(file);
    std::vector<json> events = BaseWorld();
    for (const json& delivery : Deliveries(0, 4000)) events.push_back(delivery);
    for (const json& event : events) {
      out << event.dump() << "\n";
      ids.push_back(event["id"].get<std::string>());
    }
  }
  // Room for the store to open and take a few batches, not the whole file.
  disk_.Fill(/*leave=*/768 << 10);
  di::testing::CommandOutput import = RunCli("import " + file + " --batch 100 --data " + data_);
  ExpectExited(import, 2, "import onto a filling disk");
  EXPECT_NE(import.text.find("No space left on device"), std::string::npos) << import.text;
  EXPECT_NE(import.text.find("run the same import again"), std::string::npos) << import.text;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(import.text, match, std::regex("(\\d+) events of earlier lines were")))
      << import.text;
  const uint64_t imported = std::stoull(match[1]);
  EXPECT_GT(imported, 0u) << "the disk filled before any batch: " << import.text;
  EXPECT_LT(imported, ids.size()) << import.text;

  // Completely full now. The reading commands open the store read-only and work; the writing one fails,
  // naming the reason.
  disk_.Fill();
  EXPECT_EQ(disk_.FreeBytes(), 0u);
  const uint64_t head = 1 + imported;  // init's rules_enacted, then the acknowledged batches
  di::testing::CommandOutput verify = RunCli("verify --data " + data_);
  ExpectExited(verify, 0, "verify on a full disk");
  EXPECT_NE(verify.text.find("OK: " + std::to_string(head) + " events"), std::string::npos) << verify.text;
  di::testing::CommandOutput stats = RunCli("stats --json --data " + data_);
  ExpectExited(stats, 0, "stats on a full disk");
  const json parsed = json::parse(stats.text.substr(std::min(stats.text.find('{'), stats.text.size())), nullptr,
                                  /*allow_exceptions=*/false);
  EXPECT_EQ(parsed.value("events", uint64_t{0}), head) << stats.text;
  di::testing::CommandOutput exported = RunCli("export --from 1 --data " + data_ + " --output " + dir_.Sub("x.jsonl"));
  ExpectExited(exported, 0, "export on a full disk");
  std::ifstream exported_file(dir_.Sub("x.jsonl"));
  uint64_t exported_lines = 0;
  for (std::string line; std::getline(exported_file, line);) ++exported_lines;
  EXPECT_EQ(exported_lines, head);
  import = RunCli("import " + file + " --batch 100 --data " + data_);
  ExpectExited(import, 2, "import onto a full disk");
  EXPECT_NE(import.text.find("No space left on device"), std::string::npos) << import.text;

  // Space returns: the same import again appends the rest, each event once.
  disk_.FreeFillers();
  import = RunCli("import " + file + " --batch 100 --data " + data_);
  ExpectExited(import, 0, "import after space returned");
  verify = RunCli("verify --data " + data_);
  ExpectExited(verify, 0, "verify after space returned");
  EXPECT_NE(verify.text.find("OK: " + std::to_string(1 + ids.size()) + " events"), std::string::npos) << verify.text;
  auto store = di::testing::OpenStore(data_);
  ASSERT_TRUE(store);
  ExpectExactly(*store, ids, /*first=*/2);
}

// ---------------------------------------------------------------------------------------------------------------
// `di-ledger serve` as a child process (tests/testing/child_process.h), and HTTP/1.1 requests over 127.0.0.1.

class ServeChild : public di::testing::ChildProcess {
 public:
  bool Start(const std::vector<std::string>& extra) {
    return ChildProcess::Start(di::testing::ServeCommand({"--port", "0"}, extra));
  }
  uint16_t Port() const { return PortAfter(di::testing::kServeListeningPrefix); }
};

// An answer, its body parsed (discarded if not JSON); status 0 on a transport failure.
struct Answer {
  unsigned status = 0;
  json body;
};

Answer Call(uint16_t port, const std::string& method, const std::string& target, const std::string& token,
            const std::string& body = {}) {
  const di::testing::Response response = di::testing::TrySend(port, http::string_to_verb(method), target, token, body);
  return {response.status, response.Json()};
}

Answer Post(uint16_t port, const std::vector<json>& events, const std::string& token) {
  return Call(port, "POST", "/v1/events", token, json{{"events", events}}.dump());
}

// The server on a disk that fills up: appends answer 503 io_error naming the reason while reads, queries and a
// live subscription go on; once space is freed appends succeed again in the same process; SIGTERM ends it
// cleanly; and the store holds exactly the acknowledged events.
TEST_F(RealFullDiskTest, ServerRefusesAppendsWhileFullServesReadsAndTakesAppendsWhenSpaceReturns) {
  std::vector<std::string> acknowledged;
  {
    auto store = di::testing::OpenStore(data_);
    ASSERT_TRUE(store);
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
    for (const json& event : BaseWorld()) acknowledged.push_back(event["id"].get<std::string>());
  }
  const auto [clerk, clerk_entry] = MakeToken("--name clerk-m1 --role clerk --municipality M-1");
  const auto [auditor, auditor_entry] = MakeToken("--name auditor --role auditor");
  const std::string tokens = dir_.Sub("tokens.json");
  std::ofstream(tokens) << json::array({clerk_entry, auditor_entry}).dump();

  ServeChild serve;
  ASSERT_TRUE(serve.Start({"--data", data_, "--tokens", tokens}));
  ASSERT_TRUE(serve.WaitFor("listening on")) << serve.output();
  const uint16_t port = serve.Port();
  ASSERT_NE(port, 0) << serve.output();

  // A live subscription from the start, kept open throughout.
  di::testing::RawClient subscriber(port);
  ASSERT_EQ(subscriber.Subscribe("/v1/subscribe?after=0", auditor), 200u);
  uint64_t seen = 0;  // the last position the subscription delivered
  auto read_subscription_to = [&](uint64_t position) {
    std::string line;
    while (seen < position && subscriber.NextLine(&line)) {
      const json event = json::parse(line, nullptr, false);
      ASSERT_TRUE(event.contains("position")) << line;
      EXPECT_EQ(event["position"].get<uint64_t>(), seen + 1) << line;
      seen = event["position"].get<uint64_t>();
    }
    EXPECT_EQ(seen, position);
  };

  int next = 0;
  std::vector<json> batch = Deliveries(next, 50);
  Answer answer = Post(port, batch, clerk);
  ASSERT_EQ(answer.status, 201u) << answer.body.dump();
  for (const json& event : batch) acknowledged.push_back(event["id"].get<std::string>());
  next += 50;
  read_subscription_to(acknowledged.size());

  // The disk fills up. Appends until one is refused (space RocksDB had already taken may still hold a few).
  disk_.Fill();
  Answer refused;
  for (int attempt = 0; attempt < 100 && refused.status == 0; ++attempt) {
    batch = Deliveries(next, 50);
    answer = Post(port, batch, clerk);
    ASSERT_TRUE(answer.status == 201u || answer.status == 503u)
        << answer.status << " " << answer.body.dump() << (serve.Running() ? "" : "\nserve died:\n" + serve.output());
    if (answer.status == 503u) {
      refused = answer;
    } else {
      for (const json& event : batch) acknowledged.push_back(event["id"].get<std::string>());
      next += 50;
    }
  }
  ASSERT_EQ(refused.status, 503u) << "the disk never filled up";
  EXPECT_EQ(refused.body["error"].value("code", ""), "io_error") << refused.body.dump();
  EXPECT_NE(refused.body["error"].value("message", "").find("No space left on device"), std::string::npos)
      << refused.body.dump();

  // The disk stays full across several of RocksDB's 5-second info-log flushes (the abort of issue #12 came at
  // the first line logged after a failed flush). Meanwhile appends are refused the same way, and reads,
  // queries, health and the subscription go on, showing exactly the acknowledged events.
  const uint64_t head = acknowledged.size();
  for (int round = 0; round < 8; ++round) {
    ASSERT_TRUE(serve.Running()) << "serve died on the full disk:\n" << serve.output();
    answer = Post(port, Deliveries(next, 50), clerk);
    EXPECT_EQ(answer.status, 503u) << answer.body.dump();
    EXPECT_EQ(answer.body["error"].value("code", ""), "io_error") << answer.body.dump();
    EXPECT_NE(answer.body["error"].value("message", "").find("No space left on device"), std::string::npos)
        << answer.body.dump();
    answer = Call(port, "GET", "/v1/audit/head", auditor);
    EXPECT_EQ(answer.status, 200u) << answer.body.dump();
    EXPECT_EQ(answer.body.value("position", uint64_t{0}), head) << answer.body.dump();
    answer = Call(port, "GET", "/v1/events?after=0&limit=1000", auditor);
    EXPECT_EQ(answer.status, 200u) << answer.body.dump();
    EXPECT_EQ(answer.body["events"].size(), head) << answer.body.dump();
    answer = Call(port, "GET", "/v1/entitlements/P-C1?valid_at=2022-06-01", clerk);
    EXPECT_EQ(answer.status, 200u) << answer.body.dump();
    answer = Call(port, "GET", "/healthz", auditor);
    EXPECT_EQ(answer.status, 200u) << answer.body.dump();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  read_subscription_to(head);
  ASSERT_TRUE(serve.Running()) << "serve died on the full disk:\n" << serve.output();

  // Space returns: the very next append succeeds, in the same process (the writer resumes RocksDB before it
  // writes; RocksDB's own recovery would wait for 64 MiB free, more than this disk has), and the subscription
  // carries it.
  disk_.FreeFillers();
  batch = Deliveries(next, 50);
  answer = Post(port, batch, clerk);
  ASSERT_EQ(answer.status, 201u) << answer.body.dump();
  for (const json& event : batch) acknowledged.push_back(event["id"].get<std::string>());
  read_subscription_to(acknowledged.size());

  serve.Terminate();
  const std::optional<int> status = serve.WaitExit();
  ASSERT_TRUE(status.has_value()) << serve.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << (WIFSIGNALED(*status) ? "killed by signal " + std::to_string(WTERMSIG(*status)) : "exit") << ":\n"
      << serve.output();
  EXPECT_EQ(serve.output().find("Assertion"), std::string::npos) << serve.output();

  auto store = di::testing::OpenStore(data_);
  ASSERT_TRUE(store);
  ExpectExactly(*store, acknowledged);
}

}  // namespace
}  // namespace di::ledger
