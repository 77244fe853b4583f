// Subscribers never hold up anyone else (issue #12 item 4): their pages are read and encoded off the threads
// that serve requests, without the model lock, in pages of bounded size.
//
// The store is wrapped so that a subscription's page read stops at a gate, before each event it visits, for as
// long as the test wants: a catch-up that cannot finish, as a subscriber from position 0 on a big store is for
// seconds. The servers run one io thread: a server that made pages on its io threads holds its only request
// thread at the gate, and /healthz and appends would not be answered until the gate opens. The test also learns
// which thread folds appends (the one that tells the head listeners: the projector thread) and checks that no page
// is made on it and that it still folds appends while a page is held. No timing threshold: every wait is bounded by
// a generous deadline and fails the test only when something never happens.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>  // before Asio (Boost 1.74 + C++20)
#include <vector>

#include <boost/beast/http.hpp>

#include "di/server/binary_client.h"
#include "di/server/binary_endpoint.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "server_fixture.h"
#include "test_util.h"

namespace di::server {
namespace {

namespace http = boost::beast::http;
using di::testing::Deliveries;
using di::testing::kAuditor;
using di::testing::kClerk1;
using di::testing::kReader;
using di::testing::TryPost;
using di::testing::TrySend;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(30);  // every wait of this file

// A store whose bounded log reads (limit > 1: the pages of reads and subscriptions) stop before each event
// while the gate is closed. Unbounded and single-event reads (the live model's fold after an append, a
// snapshot's hash) pass: an append must be able to complete. Everything else is forwarded as is.
class GatedStore : public ledger::EventStore {
 public:
  explicit GatedStore(ledger::EventStore* inner) : inner_(inner) {}

  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  void Open() {
    {
      std::lock_guard lock(mutex_);
      closed_ = false;
    }
    changed_.notify_all();
  }
  // The thread of the first read held at the gate; a default id if none was within the deadline.
  std::thread::id WaitForHeldRead() {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, Clock::now() + kDeadline, [&] { return !held_.empty(); });
    return held_.empty() ? std::thread::id() : held_.front();
  }

  ledger::Status ReadLog(uint64_t from, uint64_t max_events, const ledger::EventVisitor& visit) override {
    if (max_events <= 1) return inner_->ReadLog(from, max_events, visit);
    return inner_->ReadLog(from, max_events, [&](const ledger::StoredEvent& event) {
      Pass();
      return visit(event);
    });
  }

  using ledger::EventStore::Append;
  ledger::Status Append(const std::vector<ledger::NewEvent>& batch, const ledger::AppendOptions& options,
                        ledger::AppendResult* result) override {
    return inner_->Append(batch, options, result);
  }
  ledger::Status ReadStream(const std::string& stream, uint64_t from_version, uint64_t max_events,
                            const ledger::EventVisitor& visit) override {
    return inner_->ReadStream(stream, from_version, max_events, visit);
  }
  ledger::Status ReadByType(ledger::EventType type, uint64_t from_position, uint64_t max_events,
                            const ledger::EventVisitor& visit) override {
    return inner_->ReadByType(type, from_position, max_events, visit);
  }
  ledger::Status ReadByEffectiveDate(int32_t from_date, int32_t to_date, uint64_t max_events,
                                     const ledger::EventVisitor& visit) override {
    return inner_->ReadByEffectiveDate(from_date, to_date, max_events, visit);
  }
  ledger::Status GetByEventId(const std::string& event_id, ledger::StoredEvent* event) override {
    return inner_->GetByEventId(event_id, event);
  }
  ledger::Status ReadStreamPositions(const std::string& stream, uint64_t from_version,
                                     const ledger::PositionVisitor& visit) override {
    return inner_->ReadStreamPositions(stream, from_version, visit);
  }
  ledger::Status ReadTypePositions(ledger::EventType type, uint64_t from_position,
                                   const ledger::PositionVisitor& visit) override {
    return inner_->ReadTypePositions(type, from_position, visit);
  }
  ledger::Status ReadPositions(std::span<const uint64_t> positions, std::vector<ledger::StoredEvent>* events) override {
    return inner_->ReadPositions(positions, events);
  }
  ledger::Status GetStreamVersion(const std::string& stream, uint64_t* version) override {
    return inner_->GetStreamVersion(stream, version);
  }
  ledger::LogHead Head() const override { return inner_->Head(); }
  ledger::Status Verify(ledger::VerifyReport* report) override { return inner_->Verify(report); }
  ledger::Status GetStats(ledger::StoreStats* stats) override { return inner_->GetStats(stats); }
  ledger::Status AppendCheckpoint(const ledger::SigningKey& key, ledger::CheckpointResult* result) override {
    return inner_->AppendCheckpoint(key, result);
  }
  ledger::Status RotateSigningKey(const ledger::SigningKey& current_key, const ledger::SigningKey& new_key,
                                  ledger::CheckpointResult* result) override {
    return inner_->RotateSigningKey(current_key, new_key, result);
  }
  ledger::Status GetMerkleRoot(uint64_t tree_size, ledger::Hash* root) override {
    return inner_->GetMerkleRoot(tree_size, root);
  }
  ledger::Status GetInclusionProof(uint64_t leaf_index, uint64_t tree_size, std::vector<ledger::Hash>* proof) override {
    return inner_->GetInclusionProof(leaf_index, tree_size, proof);
  }
  ledger::Status GetConsistencyProof(uint64_t first_size, uint64_t second_size,
                                     std::vector<ledger::Hash>* proof) override {
    return inner_->GetConsistencyProof(first_size, second_size, proof);
  }
  ledger::Status CreateBackup(const std::string& backup_dir, ledger::BackupResult* result) override {
    return inner_->CreateBackup(backup_dir, result);
  }

 private:
  // Held while closed; bounded, so that a test that fails before it opens the gate still ends.
  void Pass() {
    std::unique_lock lock(mutex_);
    if (!closed_) return;
    held_.push_back(std::this_thread::get_id());
    changed_.notify_all();
    changed_.wait_until(lock, Clock::now() + 2 * kDeadline, [&] { return !closed_; });
  }

  ledger::EventStore* inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;
  std::vector<std::thread::id> held_;
};

// The thread that tells the head listeners of an append: the one that folded it (the projector thread, or a read
// that folded first).
class FoldingThread {
 public:
  explicit FoldingThread(LedgerService& service) : service_(service) {
    id_ = service_.AddHeadListener([this](uint64_t) {
      std::lock_guard lock(mutex_);
      thread_ = std::this_thread::get_id();
      changed_.notify_all();
    });
  }
  ~FoldingThread() { service_.RemoveHeadListener(id_); }
  // The last thread that told the listeners, waiting for one (bounded by kDeadline; none: an empty id).
  std::thread::id last() {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, Clock::now() + kDeadline, [&] { return thread_ != std::thread::id(); });
    return thread_;
  }

 private:
  LedgerService& service_;
  uint64_t id_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread::id thread_;
};

// HTTP: one request on a fresh connection, bounded by kDeadline (di::testing::kRequestDeadline). Status 0: no
// answer in time.
unsigned PostDeliveries(uint16_t port, const std::string& prefix, int count) {
  return TryPost(port, Deliveries(prefix, count), kClerk1).status;
}

// A streaming HTTP subscriber on a raw socket: the response header, then chunked NDJSON.
class Subscriber {
 public:
  Subscriber(uint16_t port, const std::string& target, const char* token) : client_(port, 0, kDeadline) {
    if (!client_.Subscribe(target, token, &status_)) status_ = 0;
  }
  unsigned status() const { return status_; }
  size_t chunks() const { return client_.chunks(); }

  // The positions of the events of the stream until one >= `until` (or the stream ends, or a recv times out).
  std::vector<uint64_t> PositionsUntil(uint64_t until) {
    std::vector<uint64_t> positions;
    std::string line;
    while ((positions.empty() || positions.back() < until) && client_.NextLine(&line)) {
      json event = json::parse(line, nullptr, false);
      if (event.is_discarded() || !event.contains("position")) break;  // a final error line
      positions.push_back(event["position"].get<uint64_t>());
    }
    return positions;
  }

 private:
  di::testing::RawClient client_;
  unsigned status_ = 0;
};

class SubscriptionIsolationTest : public di::testing::ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(di::testing::AppendJson(*store_, Deliveries("history", 20)).ok());
    gated_ = std::make_unique<GatedStore>(store_.get());
    StartService({}, gated_.get());
    if (HasFatalFailure()) return;
    folding_ = std::make_unique<FoldingThread>(*service_);
  }
  void TearDown() override {
    if (gated_) gated_->Open();  // a failed test may leave a read held: let it finish before the servers stop
    http_.reset();
    binary_.reset();
    folding_.reset();
    ServerFixture::TearDown();
  }

  void StartHttp(HttpServerOptions options) {
    options.port = 0;
    http_ = std::make_unique<HttpServer>(service_.get(), &tokens_, &metrics_, options);
    ASSERT_TRUE(http_->Start().ok());
  }

  uint64_t Head() const { return store_->Head().position; }

  std::unique_ptr<GatedStore> gated_;
  std::unique_ptr<FoldingThread> folding_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<BinaryEndpoint> binary_;
};

TEST_F(SubscriptionIsolationTest, HttpSubscribersCatchUpOffTheRequestThreadWithoutTheModelLock) {
  HttpServerOptions options;
  options.threads = 1;  // the one request thread: a page made on it would hold every request
  StartHttp(options);
  const uint16_t port = http_->port();
  ASSERT_EQ(PostDeliveries(port, "before", 1), 201u);
  const std::thread::id folding_thread = folding_->last();
  ASSERT_NE(folding_thread, std::thread::id());

  gated_->Close();
  // The first subscriber is a clerk, whose page checks its scope against the live model (under the model's
  // shared lock): its read is the one held, so the append below also shows the held page holds no lock.
  constexpr int kSubscribers = 8;
  const char* roles[] = {kClerk1, kReader, kAuditor};
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  subscribers.push_back(std::make_unique<Subscriber>(port, "/v1/subscribe?after=0", roles[0]));
  ASSERT_EQ(subscribers.back()->status(), 200u);
  const std::thread::id held = gated_->WaitForHeldRead();
  ASSERT_NE(held, std::thread::id()) << "no subscription read reached the store";
  ASSERT_NE(held, folding_thread) << "a subscriber's page is made on the thread that folds appends";
  for (int i = 1; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<Subscriber>(port, "/v1/subscribe?after=0", roles[i % 3]));
    ASSERT_EQ(subscribers.back()->status(), 200u);
  }

  // Every subscriber's catch-up is stuck (one held, the others queued behind it); the one request thread answers
  // requests (a page made on it would hold them), and the projector folds the append (its fold takes the model's
  // exclusive lock, which the held page does not hold).
  EXPECT_EQ(TrySend(port, http::verb::get, "/healthz").status, 200u);
  EXPECT_EQ(PostDeliveries(port, "during", 2), 201u);
  EXPECT_EQ(TrySend(port, http::verb::get, "/metrics").status, 200u);
  const auto deadline = Clock::now() + kDeadline;
  while (service_->VisiblePosition() < Head() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(service_->VisiblePosition(), Head()) << "the projector is held by a subscriber's page";

  gated_->Open();
  const uint64_t head = Head();
  for (int i = 0; i < kSubscribers; ++i) {
    const std::vector<uint64_t> positions = subscribers[i]->PositionsUntil(head);
    ASSERT_FALSE(positions.empty()) << "subscriber " << i;
    EXPECT_EQ(positions.back(), head) << "subscriber " << i;
    for (size_t k = 1; k < positions.size(); ++k) ASSERT_LT(positions[k - 1], positions[k]) << "subscriber " << i;
    if (roles[i % 3] != kClerk1) {
      EXPECT_EQ(positions.size(), head) << "subscriber " << i;  // every event, once
    }
  }
}

TEST_F(SubscriptionIsolationTest, HttpPagesAreBoundedInEventsAndBytes) {
  HttpServerOptions options;
  options.subscription_page_events = 3;
  StartHttp(options);
  const uint64_t head = Head();
  Subscriber by_events(http_->port(), "/v1/subscribe?after=0", kAuditor);
  ASSERT_EQ(by_events.status(), 200u);
  const std::vector<uint64_t> positions = by_events.PositionsUntil(head);
  ASSERT_EQ(positions.size(), head);
  for (size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
  EXPECT_EQ(by_events.chunks(), (head + 2) / 3);  // pages of 3 events, the last one what is left
  http_.reset();

  // A page is closed once it holds subscription_page_bytes: with 1 byte, every event is a page of its own, and
  // the events read beyond it are read again for the next page (none is lost or repeated).
  options.subscription_page_events = 5;
  options.subscription_page_bytes = 1;
  StartHttp(options);
  Subscriber by_bytes(http_->port(), "/v1/subscribe?after=0", kReader);
  ASSERT_EQ(by_bytes.status(), 200u);
  const std::vector<uint64_t> reader_positions = by_bytes.PositionsUntil(head);
  ASSERT_EQ(reader_positions.size(), head);
  for (size_t i = 0; i < reader_positions.size(); ++i) ASSERT_EQ(reader_positions[i], i + 1);
  EXPECT_EQ(by_bytes.chunks(), head);
}

TEST_F(SubscriptionIsolationTest, BinarySubscribersCatchUpOffTheAppendThread) {
  BinaryEndpointOptions options;
  options.threads = 1;  // the one thread that runs appends: a batch made on it would hold every append
  binary_ = std::make_unique<BinaryEndpoint>(service_.get(), &tokens_, &metrics_, options);
  uint16_t port = 0;
  ASSERT_TRUE(binary_->Start("127.0.0.1", 0, &port).ok());
  BinaryClientOptions client_options;
  client_options.receive_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kDeadline);
  BinaryClient writer;
  ASSERT_TRUE(writer.Connect("127.0.0.1", port, kClerk1, client_options).ok());
  ledger::AppendResult result;
  ASSERT_TRUE(writer.Append(di::testing::Events(Deliveries("before", 1)), &result).ok());
  const std::thread::id folding_thread = folding_->last();
  ASSERT_NE(folding_thread, std::thread::id());

  gated_->Close();
  constexpr int kSubscribers = 4;
  std::vector<std::unique_ptr<BinaryClient>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<BinaryClient>());
    ASSERT_TRUE(subscribers.back()->Connect("127.0.0.1", port, i % 2 == 0 ? kClerk1 : kReader, client_options).ok());
    ASSERT_TRUE(subscribers.back()->Subscribe(SubscribeRequest{}).ok());
    if (i == 0) {  // its read is the one held
      const std::thread::id held = gated_->WaitForHeldRead();
      ASSERT_NE(held, std::thread::id()) << "no subscription read reached the store";
      ASSERT_NE(held, folding_thread) << "a subscriber's batch is made on the thread that folds appends";
    }
  }
  // The one thread that runs appends answers (a batch made on it would hold it), and the projector folds it.
  EXPECT_TRUE(writer.Append(di::testing::Events(Deliveries("during", 2)), &result).ok());
  const auto deadline = Clock::now() + kDeadline;
  while (service_->VisiblePosition() < Head() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(service_->VisiblePosition(), Head()) << "the projector is held by a subscriber's batch";

  gated_->Open();
  const uint64_t head = Head();
  for (int i = 0; i < kSubscribers; ++i) {
    uint64_t last = 0;
    for (int frame = 0; frame < 1000 && last < head; ++frame) {
      SubscriptionUpdate update;
      ASSERT_TRUE(subscribers[i]->Next(&update).ok()) << "subscriber " << i;
      for (const ReceivedEvent& event : update.events) {
        ASSERT_GT(event.position, last) << "subscriber " << i;
        last = event.position;
      }
      last = std::max(last, update.last_position);
    }
    EXPECT_EQ(last, head) << "subscriber " << i;
  }
}

}  // namespace
}  // namespace di::server
