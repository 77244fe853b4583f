// `di-ledger serve` verifies the chain before it serves (issue #5): on a tampered store it exits 1 naming the
// first bad position, unless started with --read-only, in which case it serves reads and refuses every append,
// over HTTP (403 forbidden) and over the binary endpoint alike, saying why. The server runs as a child process
// (posix_spawn) on 127.0.0.1 with ephemeral ports; its tokens come from `di-ledger token`.
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/beast/http.hpp>

#include "child_process.h"
#include "di/server/binary_client.h"
#include "di/server/ledger_service.h"
#include "server_fixture.h"
#include "test_util.h"

namespace di::server {
namespace {

namespace http = boost::beast::http;
using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::MadeToken;
using di::testing::MakeToken;
using di::testing::Post;
using di::testing::Response;
using di::testing::Send;
using di::testing::TempDir;
using nlohmann::json;

constexpr uint64_t kTamperedPosition = 7;

using di::testing::RewriteLogValue;

// `di-ledger serve` as a child on ephemeral ports (HTTP and binary); stdout and stderr on one pipe, read with a
// bounded wait.
class ServeProcess : public di::testing::ChildProcess {
 public:
  bool Start(const std::vector<std::string>& extra) {
    return ChildProcess::Start(di::testing::ServeCommand({"--port", "0", "--binary-port", "0"}, extra));
  }
};

// A store, tokens from `di-ledger token` and (optionally) one event tampered with.
class ServeVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    auto store = di::testing::OpenStore(data_);
    ASSERT_TRUE(store);
    ASSERT_TRUE(di::testing::AppendJson(*store, BaseWorld()).ok());
    head_ = store->Head().position;
    ASSERT_GT(head_, kTamperedPosition);
    store.reset();
    clerk_ = MakeToken("--name clerk-m1 --role clerk --municipality M-1");
    auditor_ = MakeToken("--name auditor --role auditor");
    tokens_path_ = dir_.Sub("tokens.json");
    std::ofstream(tokens_path_) << json::array({clerk_.entry, auditor_.entry}).dump();
  }

  // One byte of the body (beyond the 32-byte stored hash), as cli_test's VerifyReportsTheTamperedPosition.
  // Here it lands in a text's terminator: the event no longer decodes.
  void TamperBody() {
    RewriteLogValue(data_, kTamperedPosition, [](std::string* value) { (*value)[value->size() - 20] ^= 0x01; });
  }
  // One byte of the stored chain hash (the first 32 bytes): the chain breaks there, the event still decodes.
  void TamperStoredHash() {
    RewriteLogValue(data_, kTamperedPosition, [](std::string* value) { (*value)[5] ^= 0x5a; });
  }

  // Starts `serve` on the tampered store: it must exit 1 naming the tampered position, never listening.
  void ExpectServeRefusesToStart(ServeProcess* serve) {
    ASSERT_TRUE(serve->Start({"--data", data_, "--tokens", tokens_path_}));
    const std::optional<int> status = serve->WaitExit();
    ASSERT_TRUE(status.has_value()) << "serve did not exit on a tampered store:\n" << serve->output();
    ASSERT_TRUE(WIFEXITED(*status)) << serve->output();
    EXPECT_EQ(WEXITSTATUS(*status), 1) << serve->output();
    EXPECT_NE(serve->output().find("the chain does not verify at position " + std::to_string(kTamperedPosition) +
                                   ": hash mismatch"),
              std::string::npos)
        << serve->output();
    EXPECT_EQ(serve->output().find("listening on"), std::string::npos) << serve->output();
  }

  TempDir dir_;
  std::string data_;
  std::string tokens_path_;
  uint64_t head_ = 0;
  MadeToken clerk_, auditor_;
};

std::vector<json> OneDelivery(const std::string& id) { return {Delivery(id, "D-" + id, "2021-03-04", 60)}; }

uint64_t HeadOf(const std::string& data) {
  auto store = di::testing::OpenStore(data);
  return store ? store->Head().position : 0;
}

TEST_F(ServeVerifyTest, RefusesToStartOnATamperedChainNamingThePosition) {
  TamperBody();
  ServeProcess serve;
  ASSERT_NO_FATAL_FAILURE(ExpectServeRefusesToStart(&serve));
  EXPECT_NE(serve.output().find("--read-only"), std::string::npos) << "the way out is named:\n" << serve.output();
  EXPECT_EQ(HeadOf(data_), head_);
}

TEST_F(ServeVerifyTest, RefusesToStartOnATamperedStoredHash) {
  TamperStoredHash();
  ServeProcess serve;
  ExpectServeRefusesToStart(&serve);
}

// An event that does not even decode cannot be folded into the live model: --read-only then exits 1 with the
// reason instead of aborting.
TEST_F(ServeVerifyTest, ReadOnlyOnAnUndecodableEventExitsWithTheReason) {
  TamperBody();
  ServeProcess serve;
  ASSERT_TRUE(serve.Start({"--data", data_, "--tokens", tokens_path_, "--read-only"}));
  const std::optional<int> status = serve.WaitExit();
  ASSERT_TRUE(status.has_value()) << serve.output();
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by a signal (abort?):\n" << serve.output();
  EXPECT_EQ(WEXITSTATUS(*status), 1) << serve.output();
  EXPECT_NE(serve.output().find("serving read-only"), std::string::npos) << serve.output();
  EXPECT_NE(serve.output().find("cannot fold the live model"), std::string::npos) << serve.output();
}

TEST_F(ServeVerifyTest, ReadOnlyServesReadsAndRefusesAppendsOverHttpAndBinary) {
  TamperStoredHash();
  ServeProcess serve;
  ASSERT_TRUE(serve.Start({"--data", data_, "--tokens", tokens_path_, "--read-only"}));
  ASSERT_TRUE(serve.WaitFor("threads, read-only)")) << serve.output();
  const uint16_t port = serve.PortAfter("listening on http://127.0.0.1:");
  const uint16_t binary_port = serve.PortAfter("binary endpoint on 127.0.0.1:");
  ASSERT_NE(port, 0) << serve.output();
  ASSERT_NE(binary_port, 0) << serve.output();
  const std::string reason =
      "the store is read-only because the chain does not verify at position " + std::to_string(kTamperedPosition);

  // Reads and queries are served.
  Response head = Send(port, http::verb::get, "/v1/audit/head", auditor_.token);
  EXPECT_EQ(head.status, 200u) << head.body;
  EXPECT_EQ(head.Json().value("position", uint64_t{0}), head_) << head.body;
  Response events = Send(port, http::verb::get, "/v1/events?after=0&limit=100", auditor_.token);
  EXPECT_EQ(events.status, 200u) << events.body;
  EXPECT_EQ(events.Json()["events"].size(), head_) << events.body;
  Response entitlements = Send(port, http::verb::get, "/v1/entitlements/P-C1?valid_at=2021-06-01", clerk_.token);
  EXPECT_EQ(entitlements.status, 200u) << entitlements.body;
  // The audit route re-walks the chain and reports the same position.
  Response verify = Send(port, http::verb::get, "/v1/audit/verify?from=1&to=" + std::to_string(head_), auditor_.token);
  EXPECT_EQ(verify.status, 200u) << verify.body;
  EXPECT_EQ(verify.Json().value("first_bad_position", uint64_t{0}), kTamperedPosition) << verify.body;

  // Every append is refused, with the reason.
  Response appended = Post(port, OneDelivery("ro-http-1"), clerk_.token);
  EXPECT_EQ(appended.status, 403u) << appended.body;
  const json error = appended.Json()["error"];
  EXPECT_EQ(error.value("code", ""), "forbidden") << appended.body;
  EXPECT_NE(error.value("message", "").find(reason), std::string::npos) << appended.body;

  // The binary endpoint is a shell over the same service: refused the same way.
  BinaryClient client;
  ledger::Status connected = client.Connect("127.0.0.1", binary_port, clerk_.token);
  ASSERT_TRUE(connected.ok()) << connected.ToString();
  ledger::AppendResult result;
  ledger::Status binary = client.Append(di::testing::Events(OneDelivery("ro-binary-1")), &result);
  EXPECT_EQ(binary.code(), ledger::StatusCode::kForbidden) << binary.ToString();
  EXPECT_NE(binary.message().find(reason), std::string::npos) << binary.ToString();

  serve.Terminate();
  const std::optional<int> status = serve.WaitExit();
  ASSERT_TRUE(status.has_value()) << serve.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << serve.output();
  EXPECT_EQ(HeadOf(data_), head_) << "nothing was appended";
}

// The same store untampered: serve verifies, starts and appends (the refusals above are the read-only
// mode's, not the test's); with --read-only it refuses appends, naming the flag as the reason.
TEST_F(ServeVerifyTest, VerifiedStoreStartsAndReadOnlyFlagAloneRefusesAppends) {
  {
    ServeProcess serve;
    ASSERT_TRUE(serve.Start({"--data", data_, "--tokens", tokens_path_}));
    ASSERT_TRUE(serve.WaitFor("threads)")) << serve.output();
    EXPECT_NE(serve.output().find("verified " + std::to_string(head_) + " events in "), std::string::npos)
        << serve.output();
    const uint16_t port = serve.PortAfter("listening on http://127.0.0.1:");
    ASSERT_NE(port, 0) << serve.output();
    Response appended = Post(port, OneDelivery("rw-http-1"), clerk_.token);
    EXPECT_EQ(appended.status, 201u) << appended.body;
    serve.Terminate();
    ASSERT_TRUE(serve.WaitExit().has_value()) << serve.output();
  }
  const uint64_t head = HeadOf(data_);
  EXPECT_EQ(head, head_ + 1);
  {
    ServeProcess serve;
    ASSERT_TRUE(serve.Start({"--data", data_, "--tokens", tokens_path_, "--read-only"}));
    ASSERT_TRUE(serve.WaitFor("threads, read-only)")) << serve.output();
    const uint16_t port = serve.PortAfter("listening on http://127.0.0.1:");
    ASSERT_NE(port, 0) << serve.output();
    Response appended = Post(port, OneDelivery("ro-http-2"), clerk_.token);
    EXPECT_EQ(appended.status, 403u) << appended.body;
    EXPECT_EQ(appended.Json()["error"].value("message", ""), "the store is read-only (started with --read-only)")
        << appended.body;
    serve.Terminate();
    ASSERT_TRUE(serve.WaitExit().has_value()) << serve.output();
  }
  EXPECT_EQ(HeadOf(data_), head);
}

}  // namespace
}  // namespace di::server
