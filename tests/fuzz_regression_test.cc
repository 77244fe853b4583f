// Replays the fuzz corpus (tests/fuzz/corpus/) through the functions the libFuzzer targets of tests/fuzz
// call, in the normal (gcc) test run: JSON event decoding + store validation, Cap'n Proto frame decoding,
// the HTTP request path without sockets. Every input a fuzzer ever crashed on is kept in the corpus and
// gets a named test below; the seeds also pin the expected answers, so a change that breaks decoding of
// valid input fails here too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <limits>

#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "di/server/binary_frame.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "fuzz_util.h"
#include "protocol.capnp.h"
#include "test_util.h"
#include "world.h"

namespace di::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// name -> bytes of every file of tests/fuzz/corpus/<target>/.
std::map<std::string, std::string> Corpus(const std::string& target) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(fs::path(DI_FUZZ_CORPUS_DIR) / target)) {
    if (entry.is_regular_file()) files[entry.path().filename().string()] = ReadFile(entry.path());
  }
  return files;
}

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// --- JSON events ------------------------------------------------------------------------------------------

// As fuzz_json_event: lines decoded, the decoded ones appended as one batch. Returns the append status, or
// the first decoding error when nothing decoded.
ledger::Status ReplayJsonEvent(ledger::EventStore& store, const std::string& bytes) {
  std::vector<ledger::NewEvent> batch;
  ledger::Status first_error;
  for (const std::string& line :
       fuzzing::SplitLines(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 8)) {
    ledger::NewEvent event;
    ledger::Status status = ledger::EventFromJsonText(line, &event);
    if (status.ok()) {
      batch.push_back(std::move(event));
    } else if (first_error.ok()) {
      first_error = status;
    }
  }
  if (batch.empty()) return first_error;
  ledger::AppendResult result;
  return store.Append(batch, &result);
}

TEST(FuzzRegressionTest, JsonEventCorpusReplaysWithTheExpectedOutcome) {
  const auto corpus = Corpus("json_event");
  ASSERT_GE(corpus.size(), 30u);
  for (const auto& [name, bytes] : corpus) {
    fuzzing::ScratchStore scratch(testing::BaseWorld());  // a fresh world per input: outcomes independent
    const ledger::Status status = ReplayJsonEvent(scratch.store(), bytes);
    if (StartsWith(name, "invalid-")) {
      EXPECT_FALSE(status.ok()) << name;
    } else if (StartsWith(name, "valid-")) {
      EXPECT_TRUE(status.ok()) << name << ": " << status.ToString();
    }
    // sample-*, batch-*: samples of the catalog that reference a world of their own; only "no crash".
  }
}

TEST(FuzzRegressionTest, SplitLinesKeepsEveryByte) {
  const std::string text = "a\nbb\n\nc";
  const auto* data = reinterpret_cast<const uint8_t*>(text.data());
  EXPECT_EQ(fuzzing::SplitLines(data, text.size(), 8), (std::vector<std::string>{"a", "bb", "", "c"}));
  EXPECT_EQ(fuzzing::SplitLines(data, text.size(), 2), (std::vector<std::string>{"a", "bb\n\nc"}));
  EXPECT_EQ(fuzzing::SplitLines(nullptr, 0, 8), (std::vector<std::string>{""}));
}

// --- Cap'n Proto frames -----------------------------------------------------------------------------------

FrameLimits FuzzLimits() {  // as fuzz_capnp_frame
  FrameLimits limits;
  limits.max_frame_bytes = 64 * 1024;
  limits.max_frame_segments = 64;
  return limits;
}

TEST(FuzzRegressionTest, CapnpFrameSeedsDecodeAndEveryTruncationIsMalformed) {
  const auto corpus = Corpus("capnp_frame");
  ASSERT_GE(corpus.size(), 30u);
  for (const auto& [name, bytes] : corpus) {
    DecodedClientMessage message;
    uint64_t frame_bytes = 0;
    const FrameError error = DecodeClientFrame(bytes, FuzzLimits(), true, &message, &frame_bytes);
    if (StartsWith(name, "crash-") || StartsWith(name, "bad-")) continue;  // only "no crash"
    // The generator's frames (tests/fuzz/fuzz_seed_frames.cc): valid, one frame each, events that decode.
    ASSERT_TRUE(error.ok()) << name << ": " << error.code << " " << error.message;
    EXPECT_EQ(frame_bytes, bytes.size()) << name;
    using Kind = DecodedClientMessage::Kind;
    if (StartsWith(name, "append-")) {
      EXPECT_EQ(message.kind, Kind::kAppend) << name;
      EXPECT_TRUE(message.batch_status.ok()) << name << ": " << message.batch_status.ToString();
      EXPECT_FALSE(message.batch.empty()) << name;
      EXPECT_EQ(message.request_id, 7u) << name;
    } else if (name == "hello") {
      EXPECT_EQ(message.kind, Kind::kHello);
      EXPECT_EQ(message.token, "tok-project");
      EXPECT_EQ(message.protocol_version, 1u);
    } else if (StartsWith(name, "subscribe")) {
      EXPECT_EQ(message.kind, Kind::kSubscribe) << name;
    } else if (name == "goodbye") {
      EXPECT_EQ(message.kind, Kind::kGoodbye);
    }
    // Every proper prefix is a frame shorter than it says: refused as malformed, never read past its end.
    for (size_t length = 0; length < bytes.size(); length += std::max<size_t>(1, bytes.size() / 64)) {
      DecodedClientMessage ignored;
      EXPECT_EQ(DecodeClientFrame(std::string_view(bytes).substr(0, length), FuzzLimits(), true, &ignored).code,
                "malformed")
          << name << " cut at " << length;
    }
  }
}

TEST(FuzzRegressionTest, CapnpFrameLimitsAreChecked) {
  // 65 segments (count - 1 = 64) against a limit of 64.
  std::string too_many(8 + 4 * 64, '\0');
  too_many[0] = 64;
  DecodedClientMessage message;
  EXPECT_EQ(DecodeClientFrame(too_many, FuzzLimits(), true, &message).code, "malformed");
  // One segment of 2^32 - 1 words: far above 64 KiB, refused before any allocation.
  const std::string huge("\0\0\0\0\xff\xff\xff\xff", 8);
  EXPECT_EQ(DecodeClientFrame(huge, FuzzLimits(), true, &message).code, "frame_too_large");
  // One empty segment: not even a root pointer.
  const std::string empty("\0\0\0\0\0\0\0\0", 8);
  EXPECT_EQ(DecodeClientFrame(empty, FuzzLimits(), true, &message).code, "malformed");
}

// Found by fuzz_capnp_frame: an event's date is an Int32 day number on the wire, and the endpoint turns the
// struct into JSON before validating it. INT32_MAX overflowed CivilFromDays (undefined behaviour), and
// kNoDate (INT32_MIN) reached FormatDate's DI_ASSERT: an abort of the server by any client with a token.
// Corpus file: capnp_frame/crash-date-overflow.
TEST(FuzzRegressionTest, OutOfRangeDatesInABinaryAppendAreRefusedNotFormatted) {
  for (const int32_t days : {std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(),
                             ledger::DaysFromCivil(1899, 12, 31), ledger::DaysFromCivil(2200, 1, 1)}) {
    ledger::NewEvent valid = testing::Event(testing::BaseWorld().front());
    capnp::MallocMessageBuilder message;
    auto append = message.initRoot<protocol::ClientMessage>().initAppend();
    append.setRequestId(1);
    auto events = append.initEvents(1);
    events[0].setEvent(valid.reader());
    events[0].getEvent().setEffectiveDate(days);
    const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
    const std::string frame(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
    DecodedClientMessage decoded;
    ASSERT_TRUE(DecodeClientFrame(frame, FrameLimits{}, true, &decoded).ok()) << days;
    EXPECT_EQ(decoded.batch_status.code(), ledger::StatusCode::kInvalidArgument) << days;
    EXPECT_EQ(decoded.batch_status.field(), "events[0].effective_date") << days << ": "
                                                                          << decoded.batch_status.ToString();
  }
  // The fuzzer's input itself.
  const std::string crash = ReadFile(fs::path(DI_FUZZ_CORPUS_DIR) / "capnp_frame" / "crash-date-overflow");
  DecodedClientMessage decoded;
  (void)DecodeClientFrame(crash, FuzzLimits(), true, &decoded);
  EXPECT_FALSE(decoded.batch_status.ok());
}

TEST(FuzzRegressionTest, CivilFromDaysCoversEveryInt32) {
  const ledger::CivilDate last = ledger::CivilFromDays(std::numeric_limits<int32_t>::max());
  EXPECT_EQ(last.year, 5881580);
  EXPECT_EQ(last.month, 7);
  EXPECT_EQ(last.day, 11);
  const ledger::CivilDate first = ledger::CivilFromDays(std::numeric_limits<int32_t>::min() + 1);
  EXPECT_EQ(first.year, -5877641);
  EXPECT_EQ(first.month, 6);
  EXPECT_EQ(first.day, 24);
}

// --- HTTP requests ----------------------------------------------------------------------------------------

class FuzzHttpRegressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<fuzzing::ScratchStore>(testing::World());  // the default rules, then BaseWorld()
    const json tokens_json = json::array({TokenEntryJson({"clerk-m1", Role::kClerk, "M-1"}, "tok-clerk-m1"),
                                          TokenEntryJson({"clerk-m2", Role::kClerk, "M-2"}, "tok-clerk-m2"),
                                          TokenEntryJson({"project", Role::kProject, ""}, "tok-project"),
                                          TokenEntryJson({"finance", Role::kFinance, ""}, "tok-finance"),
                                          TokenEntryJson({"auditor", Role::kAuditor, ""}, "tok-auditor"),
                                          TokenEntryJson({"reader", Role::kReader, ""}, "tok-reader")});
    ASSERT_TRUE(TokenRegistry::FromJson(tokens_json, &tokens_).ok());
    DeclareServerMetrics(metrics_);
    options_.body_limit_bytes = 64 * 1024;  // as fuzz_http_request
    options_.header_limit_bytes = 4 * 1024;
    ServiceOptions service_options;
    service_options.pseudonym_key = std::string(32, 'k');
    service_ = std::make_unique<LedgerService>(&scratch_->store(), service_options, &metrics_);
    ASSERT_TRUE(service_->Start().ok());
  }

  RawHttpExchange Handle(const std::string& bytes) {
    return HandleRawRequestForTesting(service_.get(), &tokens_, &metrics_, options_, bytes);
  }

  std::unique_ptr<fuzzing::ScratchStore> scratch_;
  TokenRegistry tokens_;
  Metrics metrics_;
  HttpServerOptions options_;
  std::unique_ptr<LedgerService> service_;
};

TEST_F(FuzzHttpRegressionTest, CorpusRequestsGetTheirAnswers) {
  const auto corpus = Corpus("http_request");
  ASSERT_GE(corpus.size(), 20u);
  const std::map<std::string, unsigned> expected = {
      {"healthz.http", 200},           {"whoami.http", 200},
      {"events-read.http", 200},       {"events-append.http", 201},
      {"events-append-chunked.http", 201}, {"event-by-id.http", 200},
      {"subscribe.http", 200},         {"audit-head.http", 200},
      {"unauthenticated.http", 401},   {"method-not-allowed.http", 405},
      {"malformed.http", 400},         {"events-append-bad.http", 400},
      {"crash-non-utf8-path.http", 404},
      // Issue #12: a document nested past 64 levels is 400; a reader's append is 403 before its body is parsed.
      {"events-append-deep-document.http", 400}, {"events-append-deep-reader.http", 403},
      {"events-append-wide-document.http", 201}};
  for (const auto& [name, bytes] : corpus) {
    const RawHttpExchange exchange = Handle(bytes);
    EXPECT_NE(exchange.status, 0u) << name;  // every corpus file is a whole request (or a refused one)
    EXPECT_TRUE(exchange.status < 500 || exchange.status == 503 || exchange.status == 505)
        << name << ": " << exchange.status;
    if (auto it = expected.find(name); it != expected.end()) {
      EXPECT_EQ(exchange.status, it->second) << name << ": " << exchange.body;
    }
  }
}

TEST_F(FuzzHttpRegressionTest, IncompleteAndOversizedRequests) {
  EXPECT_EQ(Handle("").status, 0u);                                    // no request: the server closes
  EXPECT_EQ(Handle("GET /healthz HTTP/1.1\r\nHost: x\r\n").status, 400);  // cut in the headers
  EXPECT_EQ(Handle("POST /v1/events HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}").status, 400);  // cut body
  EXPECT_EQ(Handle("GET /healthz HTTP/1.1\r\nX: " + std::string(8192, 'a') + "\r\n\r\n").status, 431);
  EXPECT_EQ(Handle("POST /v1/events HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n").status, 413);
  // Beast reads HTTP/1.0 and 1.1 only: another major version is 505, a garbled version 400.
  EXPECT_EQ(Handle("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n").status, 505);
  EXPECT_EQ(Handle("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status, 505);  // the HTTP/2 connection preface
  EXPECT_EQ(Handle("GET /healthz HTTP/1.1x\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(Handle("GET /healthz HTTP/1.0\r\n\r\n").status, 200);
}

// Found by fuzz_json_event: a number too large for a double ("2e3444...") made the bounded parser (ledger::ParseJson)
// throw out_of_range, not a parse_error; in the server that would have left an io thread, ending the process.
// Corpus file: json_event/crash-number-overflow.json.
TEST_F(FuzzHttpRegressionTest, NumbersTooLargeForADoubleAreRefusedNotThrown) {
  const std::string crash = ReadFile(fs::path(DI_FUZZ_CORPUS_DIR) / "json_event" / "crash-number-overflow.json");
  ledger::NewEvent event;
  const ledger::Status line = ledger::EventFromJsonText(crash.substr(0, crash.find('\n')), &event);
  EXPECT_EQ(line.code(), ledger::StatusCode::kInvalidArgument);
  EXPECT_NE(line.message().find("number overflow"), std::string::npos) << line.ToString();
  const std::string body = "{\"events\":[{\"id\":\"n\",\"quantity\":2e4444}]}";
  const RawHttpExchange exchange = Handle("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-project\r\n"
                                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(exchange.status, 400u) << exchange.body;
}

// Found by fuzz_http_request: a path with a byte that is not UTF-8 got a 404 whose message quotes the path,
// and dumping that JSON threw out of the handler (in the server: out of the io thread, ending the process).
// Corpus file: http_request/crash-non-utf8-path.http.
TEST_F(FuzzHttpRegressionTest, NonUtf8BytesInThePathAreAnsweredNotThrown) {
  const RawHttpExchange exchange =
      Handle("GET /v1/audit/he\x93" "d HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok-auditor\r\n\r\n");
  EXPECT_EQ(exchange.status, 404u);
  const json body = json::parse(exchange.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << exchange.body;
  EXPECT_NE(body["error"]["message"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos)  // U+FFFD
      << exchange.body;
  // The same byte in an event id and in a query value.
  EXPECT_EQ(Handle("GET /v1/events/x\xff HTTP/1.1\r\nAuthorization: Bearer tok-auditor\r\n\r\n").status, 404u);
  EXPECT_EQ(Handle("GET /v1/events?after=\xc3 HTTP/1.1\r\nAuthorization: Bearer tok-auditor\r\n\r\n").status, 400u);
}

}  // namespace
}  // namespace di::server
