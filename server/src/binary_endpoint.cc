// The Cap'n Proto binary endpoint: framing, the connection state machine, subscriptions; and the blocking
// client. The protocol is server/schema/protocol.capnp, described for other implementations in
// docs/protocol.md.
//
// A connection lives on its own strand and goes through three phases: hello (the first frame must
// authenticate), requests (append batches, answered one by one; the next frame is read only once the reply
// has been written, so a client that sends without reading holds one reply, never a queue), and subscribed
// (the server streams EventBatch frames; the client only closes). Every fatal problem ends the connection
// the same way: the error frame is queued after whatever frame is in flight, the send side is shut down,
// what the client still sends is drained (so the kernel does not answer it with a reset that would destroy
// the error frame), and a grace timer closes the socket regardless.
//
// Subscriptions read the log page by page through LedgerService::ReadLog (visibility, clerk scope and
// pseudonymisation are the service's) and hold at most one encoded batch per subscriber: the next page is
// read only after the previous frame was taken by the socket, and read and encoded by the page workers
// (page_workers.h), never on the io threads, so a subscriber's catch-up never delays an append. Writers never
// wait for a subscriber: they only post a wake-up to its strand. A socket that takes no byte for
// subscription_stall_timeout is a stalled consumer and is dropped with error(slow_consumer); every event up to
// the last EventBatch.lastPosition it received was in the frames before, so it resumes from there and loses
// nothing, repeats nothing.
#include "di/server/binary_endpoint.h"
#include "di/server/binary_frame.h"
#include "page_workers.h"

#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"
#include "di/ledger/json_codec.h"
#include "protocol.capnp.h"

namespace di::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr size_t kWordBytes = sizeof(capnp::word);

std::string Str(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

std::string EncodeFrame(capnp::MessageBuilder& message) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * kWordBytes);
}

void FillError(protocol::Error::Builder error, std::string_view code, const std::string& message,
               const std::string& field = {}, const std::string& event_id = {}) {
  error.setCode(capnp::Text::Reader(code.data(), code.size()));
  error.setMessage(message);
  error.setField(field);
  error.setEventId(event_id);
}

std::string ErrorFrame(std::string_view code, const std::string& message, const std::string& field = {},
                       const std::string& event_id = {}) {
  capnp::MallocMessageBuilder message_builder;
  FillError(message_builder.initRoot<protocol::ServerMessage>().initError(), code, message, field, event_id);
  return EncodeFrame(message_builder);
}

uint32_t LittleEndian32(const unsigned char* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
}

// Bytes of the segment table of a frame with `segments` segments: 4 + 4 * segments, padded to a word.
uint64_t SegmentTableBytes(uint64_t segments) { return (4 + 4 * segments + 7) / 8 * 8; }

// Event struct -> NewEvent through ledger::EventFromReader: exactly the checks (ids, dates, enums, required
// fields, text limits, UTF-8, document depth) and the normalisation of an HTTP append, so both transports store
// the same bytes.
ServiceStatus DecodeEvent(protocol::BatchEvent::Reader entry, size_t index, ledger::NewEvent* out) {
  const std::string prefix = "events[" + std::to_string(index) + "]";
  ledger::Status status = ledger::EventFromReader(entry.getEvent(), out);
  if (!status.ok()) return ServiceStatus(status.WithFieldPrefix(prefix));
  if (entry.getExpectedVersion().isVersion()) out->expected_version = entry.getExpectedVersion().getVersion();
  // A migration's recorded time; LedgerService::Append forbids it to every role but migration.
  if (entry.getRecordedAt().isAsserted()) out->asserted_recorded_at_micros = entry.getRecordedAt().getAsserted();
  return ServiceStatus::Ok();
}

FrameError MakeFrameError(std::string code, std::string message) { return {std::move(code), std::move(message)}; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Frame decoding (binary_frame.h)
// ---------------------------------------------------------------------------------------------------------

FrameError ReadFrameHeader(const unsigned char* first_word, const FrameLimits& limits, uint64_t* table_bytes) {
  const uint64_t segments = uint64_t{LittleEndian32(first_word)} + 1;
  if (segments > limits.max_frame_segments) {
    return MakeFrameError("malformed", "a frame of " + std::to_string(segments) + " segments (at most " +
                                           std::to_string(limits.max_frame_segments) + ")");
  }
  *table_bytes = SegmentTableBytes(segments);
  return {};
}

FrameError ReadSegmentTable(const unsigned char* table, uint64_t table_bytes, const FrameLimits& limits,
                            std::vector<uint64_t>* segment_words) {
  const uint64_t segments = uint64_t{LittleEndian32(table)} + 1;
  DI_ASSERT(SegmentTableBytes(segments) == table_bytes);
  segment_words->clear();
  uint64_t total_words = 0;
  for (uint64_t i = 0; i < segments; ++i) {
    const uint64_t words = LittleEndian32(table + 4 + 4 * i);
    segment_words->push_back(words);
    total_words += words;
  }
  const uint64_t frame_bytes = table_bytes + total_words * kWordBytes;
  if (frame_bytes > limits.max_frame_bytes) {
    return MakeFrameError("frame_too_large", "a frame of " + std::to_string(frame_bytes) + " bytes (at most " +
                                                 std::to_string(limits.max_frame_bytes) + ")");
  }
  return {};
}

FrameError DecodeClientMessage(const std::vector<uint64_t>& segment_words, const capnp::word* body,
                               bool decode_append_events, DecodedClientMessage* out) {
  std::vector<kj::ArrayPtr<const capnp::word>> segments;
  uint64_t total_words = 0;
  const capnp::word* cursor = body;
  for (uint64_t words : segment_words) {
    segments.emplace_back(cursor, words);
    cursor += words;
    total_words += words;
  }
  capnp::ReaderOptions reader_options;
  // The frame is bounded already; this only stops a reader from following pointers in circles.
  reader_options.traversalLimitInWords = std::max<uint64_t>(total_words * 4, 1024);
  reader_options.nestingLimit = 64;
  capnp::SegmentArrayMessageReader message(
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(segments.data(), segments.size()), reader_options);
  using Kind = DecodedClientMessage::Kind;
  try {
    auto root = message.getRoot<protocol::ClientMessage>();
    switch (root.which()) {
      case protocol::ClientMessage::HELLO: {
        out->kind = Kind::kHello;
        auto hello = root.getHello();
        out->token = Str(hello.getToken());
        out->protocol_version = hello.getProtocolVersion();
        out->client_name = Str(hello.getClientName());
        break;
      }
      case protocol::ClientMessage::APPEND: {
        out->kind = Kind::kAppend;
        auto request = root.getAppend();
        out->request_id = request.getRequestId();  // the answer names it, decoded or not
        if (!decode_append_events) break;
        auto events = request.getEvents();
        // Only a hint: a list of empty structs is nearly free on the wire (the traversal limit allows four
        // per word of the frame), so the count alone must not size an allocation.
        out->batch.reserve(std::min<size_t>(events.size(), 10000));
        for (unsigned i = 0; i < events.size() && out->batch_status.ok(); ++i) {
          ledger::NewEvent event;
          out->batch_status = DecodeEvent(events[i], i, &event);
          out->batch.push_back(std::move(event));
        }
        break;
      }
      case protocol::ClientMessage::SUBSCRIBE: {
        out->kind = Kind::kSubscribe;
        auto request = root.getSubscribe();
        out->subscribe.after = request.getAfter();
        for (auto type : request.getTypes()) out->subscribe.types.push_back(Str(type));
        out->subscribe.stream_prefix = Str(request.getStreamPrefix());
        out->subscribe.max_batch_events = request.getMaxBatchEvents();
        out->subscribe.with_records = request.getWithRecords();
        break;
      }
      case protocol::ClientMessage::GOODBYE:
        out->kind = Kind::kGoodbye;
        break;
      default:
        return MakeFrameError("protocol", "unknown client message (a newer protocol version?)");
    }
  } catch (const kj::Exception& exception) {
    return MakeFrameError("malformed",
                          std::string("not a readable ClientMessage: ") + exception.getDescription().cStr());
  }
  return {};
}

FrameError DecodeClientFrame(std::string_view bytes, const FrameLimits& limits, bool decode_append_events,
                             DecodedClientMessage* out, uint64_t* frame_bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 8) return MakeFrameError("malformed", "a frame shorter than its first word");
  uint64_t table_bytes = 0;
  if (FrameError error = ReadFrameHeader(data, limits, &table_bytes); !error.ok()) return error;
  if (bytes.size() < table_bytes) return MakeFrameError("malformed", "a frame shorter than its segment table");
  std::vector<uint64_t> segment_words;
  if (FrameError error = ReadSegmentTable(data, table_bytes, limits, &segment_words); !error.ok()) return error;
  uint64_t total_words = 0;
  for (uint64_t words : segment_words) total_words += words;
  if (bytes.size() - table_bytes < total_words * kWordBytes) {
    return MakeFrameError("malformed", "a frame shorter than its segments");
  }
  if (frame_bytes != nullptr) *frame_bytes = table_bytes + total_words * kWordBytes;
  // Cap'n Proto reads words in place: copy the segments to word-aligned memory, as the endpoint reads them.
  kj::Array<capnp::word> body = kj::heapArray<capnp::word>(total_words);
  if (total_words > 0) std::memcpy(body.begin(), data + table_bytes, total_words * kWordBytes);
  return DecodeClientMessage(segment_words, body.begin(), decode_append_events, out);
}

// ---------------------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------------------

struct BinaryEndpoint::Impl {
  LedgerService* service = nullptr;
  const TokenRegistry* tokens = nullptr;
  Metrics* metrics = nullptr;
  BinaryEndpointOptions options;

  std::atomic<bool> stopping{false};
  bool running = false;

  // Open connections and how to ask each to stop (posts to its strand).
  std::mutex connections_mutex;
  std::condition_variable connections_closed;
  std::map<uint64_t, std::function<void()>> stoppers;
  uint64_t next_connection_id = 1;

  std::atomic<uint64_t> connections_open{0}, connections_total{0}, connections_refused{0};
  std::atomic<uint64_t> subscribers_open{0}, subscribers_dropped{0}, frames_refused{0}, events_sent{0};
  std::atomic<uint64_t> buffered_bytes_now{0}, buffered_bytes_max{0}, buffered_events_max{0};

  // Subscribers' batches are made here, never on the io threads (page_workers.h says why). Started by the
  // first subscription; stopped by Stop() once the io threads are joined.
  internal::PageWorkers pages;

  // Declared last: destroyed first, so that handlers it still holds (and the connections they keep alive)
  // are destroyed while everything above is intact.
  net::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  explicit Impl(int thread_count) : io(std::max(thread_count, 1)) {}

  uint64_t Register(std::function<void()> stopper) {
    std::lock_guard lock(connections_mutex);
    const uint64_t id = next_connection_id++;
    stoppers[id] = std::move(stopper);
    return id;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(connections_mutex);
    stoppers.erase(id);
    connections_closed.notify_all();
  }

  static void RaiseTo(std::atomic<uint64_t>& maximum, uint64_t value) {
    uint64_t current = maximum.load();
    while (value > current && !maximum.compare_exchange_weak(current, value)) {
    }
  }

  void SetGauges() {
    if (metrics == nullptr) return;
    metrics->Set("di_binary_connections", {}, static_cast<double>(connections_open.load()));
    metrics->Set("di_binary_subscribers", {}, static_cast<double>(subscribers_open.load()));
    metrics->Set("di_binary_subscriber_buffered_bytes", {}, static_cast<double>(buffered_bytes_now.load()));
  }

  void Accept();
};

// ---------------------------------------------------------------------------------------------------------
// One connection
// ---------------------------------------------------------------------------------------------------------

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BinaryEndpoint::Impl& impl, tcp::socket socket)
      : impl_(impl),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        watchdog_(socket_.get_executor()),
        heartbeat_(socket_.get_executor()),
        grace_(socket_.get_executor()) {}

  ~Connection() {
    if (listener_id_ != 0) impl_.service->RemoveHeadListener(listener_id_);
    if (subscribed_) --impl_.subscribers_open;
    impl_.buffered_bytes_now -= buffered_bytes_;
    --impl_.connections_open;
    impl_.SetGauges();
    impl_.Unregister(connection_id_);
  }

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  // `refuse_code` non-empty: the connection is refused at once with that error (too many connections).
  void Start(const std::string& refuse_code, const std::string& refuse_message) {
    ++impl_.connections_open;
    ++impl_.connections_total;
    impl_.SetGauges();
    std::weak_ptr<Connection> weak = weak_from_this();
    auto executor = socket_.get_executor();
    connection_id_ = impl_.Register([weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->End("shutdown", "the server is shutting down");
      });
    });
    if (!refuse_code.empty()) return End(refuse_code, refuse_message);
    ReadFrame();
  }

 private:
  enum class Phase { kHello, kRequests, kSubscribed };

  // Reading frames ------------------------------------------------------------------------------------------

  void ReadFrame() {
    if (ending_ || closed_) return;
    ArmDeadline();
    header_.resize(8);
    reading_ = true;
    net::async_read(socket_, net::buffer(header_), [self = shared_from_this()](error_code error, size_t) {
      self->OnHeader(error);
    });
  }

  void OnHeader(error_code error) {
    reading_ = false;
    if (error || ending_) return OnReadEnded(error);
    uint64_t table_bytes = 0;
    if (FrameError refused = ReadFrameHeader(header_.data(), Limits(), &table_bytes); !refused.ok()) {
      return Refuse(refused.code, refused.message);
    }
    header_.resize(table_bytes);
    if (table_bytes == 8) return OnTable(error_code());
    reading_ = true;
    net::async_read(socket_, net::buffer(header_.data() + 8, table_bytes - 8),
                    [self = shared_from_this()](error_code error, size_t) { self->OnTable(error); });
  }

  void OnTable(error_code error) {
    reading_ = false;
    if (error || ending_) return OnReadEnded(error);
    if (FrameError refused = ReadSegmentTable(header_.data(), header_.size(), Limits(), &segment_words_);
        !refused.ok()) {
      return Refuse(refused.code, refused.message);
    }
    uint64_t total_words = 0;
    for (uint64_t words : segment_words_) total_words += words;
    body_ = kj::heapArray<capnp::word>(total_words);
    if (total_words == 0) return OnBody(error_code());
    reading_ = true;
    net::async_read(socket_, net::buffer(body_.begin(), total_words * kWordBytes),
                    [self = shared_from_this()](error_code error, size_t) { self->OnBody(error); });
  }

  FrameLimits Limits() const { return {impl_.options.max_frame_bytes, impl_.options.max_frame_segments}; }

  void OnBody(error_code error) {
    reading_ = false;
    if (error || ending_) return OnReadEnded(error);
    deadline_.cancel();
    if (impl_.metrics != nullptr) impl_.metrics->Add("di_binary_frames_total");
    // Decode to plain values first; act (append, subscribe) on them, with no reader of the frame alive.
    using Kind = DecodedClientMessage::Kind;
    DecodedClientMessage decoded;
    // A batch is decoded (its documents parsed, its texts checked) only for a principal that may append: a
    // reader's frame costs no more than its read. OnAppend answers the others.
    const bool decode_append_events =
        phase_ == Phase::kRequests && impl_.service->AuthorizeAppend(principal_).ok();
    if (FrameError refused = DecodeClientMessage(segment_words_, body_.begin(), decode_append_events, &decoded);
        !refused.ok()) {
      return Refuse(refused.code, refused.message);
    }
    const Kind kind = decoded.kind;
    body_ = nullptr;

    if (phase_ == Phase::kHello) {
      if (kind != Kind::kHello) return End("unauthenticated", "the first message must be hello (with a token)");
      return OnHello(decoded.token, decoded.protocol_version, decoded.client_name);
    }
    switch (kind) {
      case Kind::kHello: return Refuse("protocol", "hello was already sent on this connection");
      case Kind::kAppend: return OnAppend(std::move(decoded));
      case Kind::kSubscribe: return OnSubscribe(decoded.subscribe);
      case Kind::kGoodbye: return End("", "");
    }
  }

  // The client closed, the read failed or timed out, or we are ending and drained what it sent.
  void OnReadEnded(error_code error) {
    if (ending_) {
      if (error) return Close();
      return Drain();
    }
    Close();
  }

  // Requests --------------------------------------------------------------------------------------------------

  void OnHello(const std::string& token, uint32_t version, const std::string& client_name) {
    ServiceStatus status = impl_.tokens->Authenticate(token, &principal_);
    if (!status.ok()) return End(status.CodeName(), status.message());
    if (version != protocol::PROTOCOL_VERSION) {
      return End("protocol", "protocol version " + std::to_string(version) + " is not spoken here (version " +
                                 std::to_string(protocol::PROTOCOL_VERSION) + " is)");
    }
    phase_ = Phase::kRequests;
    capnp::MallocMessageBuilder message;
    auto welcome = message.initRoot<protocol::ServerMessage>().initWelcome();
    welcome.setProtocolVersion(protocol::PROTOCOL_VERSION);
    welcome.setPrincipal(principal_.name);
    const std::string_view role = RoleName(principal_.role);
    welcome.setRole(capnp::Text::Reader(role.data(), role.size()));
    welcome.setMunicipality(principal_.municipality_id);
    welcome.setHead(impl_.service->VisiblePosition());
    welcome.setMaxFrameBytes(impl_.options.max_frame_bytes);
    welcome.setMaxBatchEvents(10000);  // ledger::EventStoreOptions::max_batch_events' default
    WriteReply(EncodeFrame(message));
  }

  void OnAppend(DecodedClientMessage request) {
    capnp::MallocMessageBuilder message;
    auto reply = message.initRoot<protocol::ServerMessage>().initAppendResult();
    reply.setRequestId(request.request_id);
    if (ServiceStatus status = impl_.service->AuthorizeAppend(principal_); !status.ok()) {
      FillError(reply.initError(), status.CodeName(), status.message(), status.field(), status.event_id());
      return WriteReply(EncodeFrame(message));
    }
    if (!request.batch_status.ok()) {
      const ServiceStatus& status = request.batch_status;
      FillError(reply.initError(), status.CodeName(), status.message(), status.field(), status.event_id());
      return WriteReply(EncodeFrame(message));
    }
    std::vector<std::string> ids;
    ids.reserve(request.batch.size());
    for (const auto& event : request.batch) ids.push_back(event.id());
    ledger::AppendResult result;
    // Blocks this thread (and only this connection's strand) until the group commit is durable.
    ServiceStatus status = impl_.service->Append(principal_, std::move(request.batch), &result);
    if (!status.ok()) {
      // As the HTTP API: name the batch index of the event the error is about.
      std::string field = status.field();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (!status.event_id().empty() && ids[i] == status.event_id()) {
          const std::string prefix = "events[" + std::to_string(i) + "]";
          field = field.empty() ? prefix : prefix + "." + field;
          break;
        }
      }
      FillError(reply.initError(), status.CodeName(), status.message(), field, status.event_id());
      return WriteReply(EncodeFrame(message));
    }
    auto ok = reply.initOk();
    auto positions = ok.initPositions(static_cast<unsigned>(result.positions.size()));
    for (unsigned i = 0; i < result.positions.size(); ++i) positions.set(i, result.positions[i]);
    ok.setAppended(result.appended);
    ok.setLastPosition(result.last_position);
    WriteReply(EncodeFrame(message));
  }

  // Replies of the request phase: one at a time; the next frame is read when it has been written.
  void WriteReply(std::string frame) {
    DI_ASSERT(pending_.empty() && !writing_);
    pending_ = std::move(frame);
    ArmDeadline();
    Pump();
  }

  // Subscriptions ---------------------------------------------------------------------------------------------

  void OnSubscribe(const SubscribeRequest& request) {
    std::string types;
    for (const auto& type : request.types) types += (types.empty() ? "" : ",") + type;
    if (ServiceStatus status = EventFilter::Parse(types, request.stream_prefix, &filter_); !status.ok()) {
      return End(status.CodeName(), status.message(), status.field());
    }
    if (ServiceStatus status = impl_.service->AuthorizeSubscribe(principal_, filter_); !status.ok()) {
      return End(status.CodeName(), status.message(), status.field());
    }
    phase_ = Phase::kSubscribed;
    subscribed_ = true;
    ++impl_.subscribers_open;
    impl_.SetGauges();
    deadline_.cancel();
    cursor_ = request.after;
    batch_events_ = request.max_batch_events == 0
                        ? impl_.options.subscription_batch_events
                        : std::min(request.max_batch_events, impl_.options.subscription_batch_events);
    with_records_ = request.with_records;
    if (impl_.options.socket_send_buffer_bytes == 0 && impl_.options.subscription_send_buffer_bytes > 0) {
      error_code ignored;  // the kernel's default buffer is a larger one, not a failure
      socket_.set_option(net::socket_base::send_buffer_size(impl_.options.subscription_send_buffer_bytes), ignored);
    }
    std::weak_ptr<Connection> weak = weak_from_this();
    auto executor = socket_.get_executor();
    listener_id_ = impl_.service->AddHeadListener([weak, executor](uint64_t) {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->OnHeadChanged();
      });
    });
    last_progress_ = Clock::now();
    WatchClient();
    ArmWatchdog();
    Pump();
  }

  // A subscriber sends nothing more; reading only tells us when it leaves (EOF or reset). Bytes it sends
  // anyway (a goodbye) are ignored: closing the socket is what ends a subscription.
  void WatchClient() {
    reading_ = true;
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](error_code error, size_t) {
      self->reading_ = false;
      if (error) return self->Close();
      if (self->ending_) return self->Drain();
      self->WatchClient();
    });
  }

  void ArmWatchdog() {
    const auto period = std::max(impl_.options.subscription_stall_timeout / 4, std::chrono::milliseconds(10));
    watchdog_.expires_after(period);
    watchdog_.async_wait([self = shared_from_this()](error_code error) {
      if (error || self->closed_ || self->ending_) return;
      if (self->writing_ && Clock::now() - self->last_progress_ > self->impl_.options.subscription_stall_timeout) {
        ++self->impl_.subscribers_dropped;
        if (self->impl_.metrics != nullptr) {
          self->impl_.metrics->Add("di_binary_subscriptions_dropped_total", {{"reason", "slow_consumer"}});
        }
        return self->End("slow_consumer",
                         "the subscriber took no data for " +
                             std::to_string(self->impl_.options.subscription_stall_timeout.count()) +
                             " ms; resume from the last EventBatch.lastPosition received");
      }
      self->ArmWatchdog();
    });
  }

  void ArmHeartbeat() {
    heartbeat_.expires_after(impl_.options.heartbeat_interval);
    heartbeat_.async_wait([self = shared_from_this()](error_code error) {
      if (error || self->closed_ || self->ending_ || !self->idle_) return;
      // Not while a batch is being made: it goes into pending_ when it arrives.
      if (!self->writing_ && self->pending_.empty() && !self->batch_in_flight_) {
        self->SetPending(self->HeartbeatFrame(), 0);
        self->Pump();
      }
      self->ArmHeartbeat();
    });
  }

  std::string HeartbeatFrame() {
    capnp::MallocMessageBuilder message;
    auto heartbeat = message.initRoot<protocol::ServerMessage>().initHeartbeat();
    heartbeat.setLastPosition(cursor_);
    heartbeat.setHead(impl_.service->VisiblePosition());
    framed_any_ = true;
    reported_position_ = cursor_;
    return EncodeFrame(message);
  }

  void OnHeadChanged() {
    if (idle_ && !ending_) Pump();
  }

  // A batch as a page worker made it.
  struct Batch {
    ServiceStatus status;
    uint64_t next_after = 0;     // the read's next_after: the position asked from when caught up
    uint64_t head = 0;           // the visible position when the read began
    uint64_t last_position = 0;  // the batch's lastPosition: the cursor once the batch is taken
    size_t events = 0;
    std::string frame;           // the EventBatch frame; empty: every scanned event was filtered out
  };

  // Queues the making of the batch after cursor_ behind the other subscribers' (page_workers.h: never on the
  // io threads, one at a time per subscriber).
  void AskForBatch() {
    batch_in_flight_ = true;
    // Weak: a subscriber that leaves while it waits is destroyed at once, and its batch is never made.
    std::weak_ptr<Connection> weak = weak_from_this();
    impl_.pages.Submit(impl_.options.subscription_threads, [weak, after = cursor_] {
      std::shared_ptr<Connection> self = weak.lock();
      if (self == nullptr || self->gone_.load()) return;
      Batch batch = self->MakeBatch(after);
      auto executor = self->executor_;
      net::post(executor,
                [self = std::move(self), batch = std::move(batch)]() mutable { self->OnBatch(std::move(batch)); });
    });
  }

  // The next page after `after` as one EventBatch frame. On a page worker: reads only what OnSubscribe set before
  // the first batch was asked for, which never changes after.
  Batch MakeBatch(uint64_t after) const {
    Batch made;
    ReadPage page;
    made.status = impl_.service->ReadLog(principal_, after, batch_events_, filter_, &page);
    if (!made.status.ok()) return made;
    made.next_after = page.next_after;
    made.head = page.head;
    if (page.next_after == after) return made;  // caught up
    // Records: only for events the service rendered unaltered. A pseudonymised event never carries its
    // chain hash (LedgerService::PseudonymisedEvent drops it), so "has a hash" is "may see the bytes".
    std::map<uint64_t, std::pair<std::string, std::string>> records;
    if (with_records_) {
      std::vector<uint64_t> wanted;
      for (const auto& event : page.events) {
        if (event.contains("hash")) wanted.push_back(event["position"].get<uint64_t>());
      }
      if (!wanted.empty()) {
        size_t next = 0;
        ledger::Status read = impl_.service->store().ReadLog(
            wanted.front(), wanted.back() - wanted.front() + 1, [&](const ledger::StoredEvent& event) {
              if (event.position == wanted[next]) {
                records[event.position] = {std::string(event.body.bytes()),
                                           std::string(reinterpret_cast<const char*>(event.hash.data()),
                                                       event.hash.size())};
                ++next;
              }
              return next < wanted.size();
            });
        if (!read.ok()) {
          made.status = read;
          return made;
        }
      }
    }
    // Close the batch once it holds subscription_batch_bytes (the first event always goes); the rest of the
    // page is read again for the next batch.
    std::vector<std::pair<uint64_t, std::string>> texts;
    uint64_t bytes = 0;
    bool truncated = false;
    for (const auto& event : page.events) {
      if (!texts.empty() && bytes >= impl_.options.subscription_batch_bytes) {
        truncated = true;
        break;
      }
      texts.emplace_back(event["position"].get<uint64_t>(), event.dump());
      bytes += texts.back().second.size();
      auto record = records.find(texts.back().first);
      if (record != records.end()) bytes += record->second.first.size() + record->second.second.size();
    }
    made.last_position = truncated ? texts.back().first : page.next_after;
    if (texts.empty()) return made;  // every scanned event was filtered out
    capnp::MallocMessageBuilder message;
    auto batch = message.initRoot<protocol::ServerMessage>().initEventBatch();
    batch.setLastPosition(made.last_position);
    batch.setHead(page.head);
    auto events = batch.initEvents(static_cast<unsigned>(texts.size()));
    for (unsigned i = 0; i < texts.size(); ++i) {
      events[i].setPosition(texts[i].first);
      events[i].setJson(texts[i].second);
      auto record = records.find(texts[i].first);
      if (record != records.end()) {
        const auto& [body, hash] = record->second;
        events[i].setRecord(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(body.data()), body.size()));
        events[i].setHash(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(hash.data()), hash.size()));
      }
    }
    made.events = texts.size();
    made.frame = EncodeFrame(message);
    return made;
  }

  // Back on the strand: sends the batch, or idles when caught up, or asks for the next one.
  void OnBatch(Batch batch) {
    batch_in_flight_ = false;
    if (closed_) return;
    if (ending_) return Pump();  // unsent: the client resumes from the last batch it did get
    if (!batch.status.ok()) return End(batch.status.CodeName(), batch.status.message(), batch.status.field());
    if (batch.next_after == cursor_) {  // caught up
      // An append made more visible while the batch was being made: its wake-up found a batch in flight.
      if (impl_.service->VisiblePosition() > batch.head) return AskForBatch();
      if (idle_) return;
      idle_ = true;
      ArmHeartbeat();
      // Say so at once when the client cannot tell from the last batch (none yet, or a filter skipped the
      // events after it): a client waiting to be caught up then need not wait for the heartbeat interval.
      if (framed_any_ && reported_position_ == cursor_) return;
      SetPending(HeartbeatFrame(), 0);
      return WriteSome();
    }
    idle_ = false;
    heartbeat_.cancel();
    cursor_ = batch.last_position;
    // Every scanned event was filtered out: scan on, behind the other subscribers.
    if (batch.frame.empty()) return AskForBatch();
    framed_any_ = true;
    reported_position_ = batch.last_position;
    SetPending(std::move(batch.frame), batch.events);
    WriteSome();
  }

  // Writing ---------------------------------------------------------------------------------------------------

  void SetPending(std::string frame, size_t events) {
    DI_ASSERT(pending_.empty() && !writing_);
    pending_ = std::move(frame);
    events_in_pending_ = events;
    NoteBuffered();
  }

  // What this connection holds in memory for the client: the frame in flight and the final error frame.
  void NoteBuffered() {
    const uint64_t bytes = pending_.size() + tail_.size();
    impl_.buffered_bytes_now += bytes;
    impl_.buffered_bytes_now -= buffered_bytes_;
    buffered_bytes_ = bytes;
    if (phase_ == Phase::kSubscribed) {
      BinaryEndpoint::Impl::RaiseTo(impl_.buffered_bytes_max, bytes);
      BinaryEndpoint::Impl::RaiseTo(impl_.buffered_events_max, events_in_pending_);
    }
  }

  // Writes what is pending; else, ending: the final frame, then the lingering close; else, subscribed: the
  // next batch (idles when caught up); else, requests: the next frame.
  void Pump() {
    if (closed_ || writing_) return;
    if (!pending_.empty()) return WriteSome();
    if (ending_) {
      if (tail_.empty()) return Linger();
      pending_ = std::move(tail_);
      tail_.clear();
      NoteBuffered();
      return WriteSome();
    }
    if (phase_ == Phase::kSubscribed) {
      if (!batch_in_flight_) AskForBatch();
      return;
    }
    ReadFrame();
  }

  void WriteSome() {
    writing_ = true;
    socket_.async_write_some(net::buffer(pending_.data() + offset_, pending_.size() - offset_),
                             [self = shared_from_this()](error_code error, size_t written) {
                               self->OnWritten(error, written);
                             });
  }

  void OnWritten(error_code error, size_t written) {
    writing_ = false;
    if (error) return Close();
    offset_ += written;
    if (written > 0) last_progress_ = Clock::now();
    if (offset_ < pending_.size()) return WriteSome();
    pending_.clear();
    offset_ = 0;
    if (events_in_pending_ > 0) {
      impl_.events_sent += events_in_pending_;
      if (impl_.metrics != nullptr) {
        impl_.metrics->Add("di_binary_subscription_events_total", {}, static_cast<double>(events_in_pending_));
      }
    }
    events_in_pending_ = 0;
    NoteBuffered();
    if (phase_ == Phase::kRequests && !ending_) deadline_.cancel();
    Pump();
  }

  // Ending ------------------------------------------------------------------------------------------------------

  void Refuse(std::string_view code, const std::string& message) {
    ++impl_.frames_refused;
    End(code, message);
  }

  // Queues the final error frame (none for an empty code: a goodbye) after whatever is in flight, then closes;
  // the grace timer closes regardless.
  void End(std::string_view code, const std::string& message, const std::string& field = {}) {
    if (ending_ || closed_) return;
    ending_ = true;
    heartbeat_.cancel();
    deadline_.cancel();
    if (!code.empty()) {
      tail_ = ErrorFrame(code, message, field);
      NoteBuffered();
    }
    grace_.expires_after(impl_.options.close_grace);
    grace_.async_wait([self = shared_from_this()](error_code error) {
      if (!error) self->Close();
    });
    Pump();
  }

  // Everything was written: stop sending, and read (and drop) what the client still sends until it closes,
  // so the error frame is not destroyed by a reset. The grace timer bounds the wait.
  void Linger() {
    if (lingering_) return;
    lingering_ = true;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    if (!reading_) Drain();
  }

  void Drain() {
    if (closed_) return;
    reading_ = true;
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](error_code error, size_t) {
      self->reading_ = false;
      if (error) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    gone_ = true;
    deadline_.cancel();
    watchdog_.cancel();
    heartbeat_.cancel();
    grace_.cancel();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // The request phase's deadline: a frame must arrive (or a reply be taken) within read_timeout.
  void ArmDeadline() {
    deadline_.expires_after(impl_.options.read_timeout);
    deadline_.async_wait([self = shared_from_this()](error_code error) {
      if (error || self->closed_ || self->ending_) return;
      if (self->writing_) return self->Close();  // the client takes no reply: no way to tell it anything
      self->Refuse("timeout", "no complete frame within " + std::to_string(self->impl_.options.read_timeout.count()) +
                                  " ms");
    });
  }

  BinaryEndpoint::Impl& impl_;
  tcp::socket socket_;
  Phase phase_ = Phase::kHello;
  Principal principal_;
  uint64_t connection_id_ = 0;

  // Reading.
  std::vector<unsigned char> header_;  // the first word, then the whole segment table
  std::vector<uint64_t> segment_words_;
  kj::Array<capnp::word> body_;
  char discard_[4096];
  bool reading_ = false;

  // Writing.
  std::string pending_;  // the frame being written (a reply, a batch, a heartbeat, or the final error)
  std::string tail_;     // the final error frame, queued by End()
  size_t offset_ = 0;
  size_t events_in_pending_ = 0;
  uint64_t buffered_bytes_ = 0;  // pending_ + tail_, as counted in impl_.buffered_bytes_now
  bool writing_ = false, ending_ = false, lingering_ = false, closed_ = false;

  // Subscription.
  bool subscribed_ = false, idle_ = false, with_records_ = false;
  EventFilter filter_;
  uint64_t cursor_ = 0;  // every visible event <= cursor_ that matches is in pending_ or already written
  uint32_t batch_events_ = 0;
  bool framed_any_ = false;       // a batch or heartbeat was framed for this subscriber
  uint64_t reported_position_ = 0;  // the lastPosition of the last batch or heartbeat framed
  uint64_t listener_id_ = 0;
  Clock::time_point last_progress_;
  bool batch_in_flight_ = false;  // a batch is queued or being made for this subscriber
  std::atomic<bool> gone_{false};  // closed_, for the page workers: a batch for a closed socket is not made
  net::any_io_executor executor_ = socket_.get_executor();  // the strand (copied once: the page workers post to it)

  net::steady_timer deadline_, watchdog_, heartbeat_, grace_;
};

}  // namespace

void BinaryEndpoint::Impl::Accept() {
  acceptor->async_accept(net::make_strand(io), [this](error_code error, tcp::socket socket) {
    if (error) {
      if (error == net::error::operation_aborted || !acceptor->is_open()) return;
      return Accept();  // e.g. out of file descriptors: keep serving the connections we have
    }
    if (options.socket_send_buffer_bytes > 0) {
      error_code ignored;
      socket.set_option(net::socket_base::send_buffer_size(options.socket_send_buffer_bytes), ignored);
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string refuse_code, refuse_message;
    if (stopping) {
      refuse_code = "shutdown";
      refuse_message = "the server is shutting down";
    } else if (connections_open.load() >= options.max_connections) {
      ++connections_refused;
      refuse_code = "too_many_connections";
      refuse_message = "the server has " + std::to_string(options.max_connections) + " connections open; retry later";
    }
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    // Start on the connection's strand: its handlers must never run concurrently.
    net::post(connection->executor(), [connection, refuse_code, refuse_message] {
      connection->Start(refuse_code, refuse_message);
    });
    if (!stopping) Accept();
  });
}

}  // namespace di::server

// ---------------------------------------------------------------------------------------------------------
// BinaryEndpoint
// ---------------------------------------------------------------------------------------------------------

namespace di::server {

BinaryEndpoint::BinaryEndpoint(LedgerService* service, const TokenRegistry* tokens, Metrics* metrics,
                               BinaryEndpointOptions options)
    : impl_(std::make_unique<Impl>(options.threads)) {
  DI_ASSERT(service != nullptr && tokens != nullptr);
  impl_->service = service;
  impl_->tokens = tokens;
  impl_->metrics = metrics;
  impl_->options = std::move(options);
  if (metrics != nullptr) {
    using T = Metrics::Type;
    metrics->Declare("di_binary_connections", T::kGauge, "Open connections of the binary endpoint.");
    metrics->Declare("di_binary_subscribers", T::kGauge, "Open subscriptions of the binary endpoint.");
    metrics->Declare("di_binary_subscriber_buffered_bytes", T::kGauge,
                     "Bytes the binary endpoint holds for its subscribers (at most one batch each).");
    metrics->Declare("di_binary_frames_total", T::kCounter, "Frames received by the binary endpoint.");
    metrics->Declare("di_binary_subscription_events_total", T::kCounter,
                     "Events sent to subscribers of the binary endpoint.");
    metrics->Declare("di_binary_subscriptions_dropped_total", T::kCounter,
                     "Subscriptions of the binary endpoint dropped by the server, by reason.");
  }
}

BinaryEndpoint::~BinaryEndpoint() { Stop(); }

ServiceStatus BinaryEndpoint::Start(const std::string& address, uint16_t port, uint16_t* bound_port) {
  Impl& impl = *impl_;
  if (impl.running || impl.stopping) return ServiceStatus::InvalidArgument("the endpoint was started already");
  error_code error;
  const net::ip::address ip = net::ip::make_address(address, error);
  if (error) return ServiceStatus::InvalidArgument("'" + address + "' is not an IP address", "address");
  const tcp::endpoint endpoint(ip, port);
  impl.acceptor.emplace(impl.io);
  auto fail = [&](const char* what) {
    impl.acceptor.reset();
    return ServiceStatus::Make(ServiceCode::kIOError, std::string("binary endpoint: cannot ") + what + " " +
                                                          address + ":" + std::to_string(port) + ": " +
                                                          error.message());
  };
  impl.acceptor->open(endpoint.protocol(), error);
  if (error) return fail("open");
  impl.acceptor->set_option(net::socket_base::reuse_address(true), error);
  impl.acceptor->bind(endpoint, error);
  if (error) return fail("bind");
  impl.acceptor->listen(net::socket_base::max_listen_connections, error);
  if (error) return fail("listen on");
  *bound_port = impl.acceptor->local_endpoint().port();
  impl.work.emplace(net::make_work_guard(impl.io));
  impl.Accept();
  for (int i = 0; i < std::max(impl.options.threads, 1); ++i) impl.threads.emplace_back([&impl] { impl.io.run(); });
  impl.running = true;
  return ServiceStatus::Ok();
}

void BinaryEndpoint::Stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  impl.stopping = true;
  net::post(impl.io, [&impl] {
    error_code ignored;
    impl.acceptor->close(ignored);
  });
  {
    std::unique_lock lock(impl.connections_mutex);
    for (auto& [id, stopper] : impl.stoppers) stopper();
    impl.connections_closed.wait_until(lock, Clock::now() + impl.options.stop_timeout,
                                       [&] { return impl.stoppers.empty(); });
  }
  impl.work.reset();
  impl.io.stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  // After the io threads: until they stopped, a subscription ending could still be waiting for its batch.
  impl.pages.Stop();
}

BinaryEndpoint::Stats BinaryEndpoint::GetStats() const {
  const Impl& impl = *impl_;
  Stats stats;
  stats.connections_open = impl.connections_open.load();
  stats.connections_total = impl.connections_total.load();
  stats.connections_refused = impl.connections_refused.load();
  stats.subscribers_open = impl.subscribers_open.load();
  stats.subscribers_dropped = impl.subscribers_dropped.load();
  stats.frames_refused = impl.frames_refused.load();
  stats.subscription_events_sent = impl.events_sent.load();
  stats.subscriber_buffered_bytes_now = impl.buffered_bytes_now.load();
  stats.subscriber_buffered_bytes_max = impl.buffered_bytes_max.load();
  stats.subscriber_buffered_events_max = impl.buffered_events_max.load();
  return stats;
}

// ---------------------------------------------------------------------------------------------------------
// BinaryClient
// ---------------------------------------------------------------------------------------------------------

namespace {

// The wire error of the server as a status. The endpoint's own codes map to the nearest ServiceCode; the
// wire code itself is kept by the client (last_error_code()).
ServiceStatus FromWire(protocol::Error::Reader error) {
  const std::string code = Str(error.getCode());
  static const std::map<std::string, ServiceCode> kCodes = {
      {"invalid_argument", ServiceCode::kInvalidArgument}, {"not_found", ServiceCode::kNotFound},
      {"conflict", ServiceCode::kConflict},                 {"duplicate_id", ServiceCode::kDuplicateId},
      {"corruption", ServiceCode::kCorruption},             {"io_error", ServiceCode::kIOError},
      {"busy", ServiceCode::kBusy},                         {"shutdown", ServiceCode::kShutdown},
      {"unauthenticated", ServiceCode::kUnauthenticated},   {"forbidden", ServiceCode::kForbidden},
      {"slow_consumer", ServiceCode::kBusy},                {"too_many_connections", ServiceCode::kBusy},
      {"timeout", ServiceCode::kBusy}};
  auto it = kCodes.find(code);
  const ServiceCode service_code = it != kCodes.end() ? it->second : ServiceCode::kInvalidArgument;
  std::string message = Str(error.getMessage());
  if (it == kCodes.end() || it->first != ServiceStatus::Make(service_code, "").CodeName()) {
    message = code + ": " + message;  // keep the endpoint's own code visible in ToString()
  }
  return ServiceStatus::Make(service_code, std::move(message), Str(error.getField()), Str(error.getEventId()));
}

ServiceStatus IoError(std::string message) { return ServiceStatus::Make(ServiceCode::kIOError, std::move(message)); }

}  // namespace

bool ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string name = text.substr(0, colon);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  const std::string digits = text.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long number = std::stoul(digits);
  if (number == 0 || number > 65535) return false;
  *host = name;
  *port = static_cast<uint16_t>(number);
  return true;
}

BinaryClient::BinaryClient() = default;
BinaryClient::~BinaryClient() { Close(); }

void BinaryClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

ServiceStatus BinaryClient::Fail(ServiceStatus status) {
  Close();
  return status;
}

ServiceStatus BinaryClient::Send(const std::string& frame) {
  if (fd_ < 0) return IoError("not connected");
  size_t sent = 0;
  while (sent < frame.size()) {
    // MSG_NOSIGNAL: a server that closed the connection is an error to report, not a SIGPIPE.
    const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(IoError(std::string("send failed: ") + std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  return ServiceStatus::Ok();
}

namespace {

// Reads exactly `size` bytes; false on EOF, error or SO_RCVTIMEO.
bool ReceiveExactly(int fd, void* buffer, size_t size, std::string* problem) {
  size_t received = 0;
  while (received < size) {
    const ssize_t n = ::recv(fd, static_cast<char*>(buffer) + received, size - received, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      *problem = "the server closed the connection";
      return false;
    }
    if (n < 0) {
      *problem = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
      return false;
    }
    received += static_cast<size_t>(n);
  }
  return true;
}

// Reads one ServerMessage in the standard framing (what capnp::readMessage reads; done by hand so that a
// truncated frame is an error value, not a logged exception from a reader's destructor) and hands its root
// to `use`. Receive failures and undecodable frames are io_error.
ServiceStatus ReceiveFrame(int fd, uint64_t max_frame_bytes,
                           const std::function<ServiceStatus(protocol::ServerMessage::Reader)>& use) {
  std::string problem;
  unsigned char first[8];
  if (!ReceiveExactly(fd, first, sizeof(first), &problem)) return IoError("receive failed: " + problem);
  const uint64_t segments = uint64_t{LittleEndian32(first)} + 1;
  if (segments > 512) return IoError("receive failed: a frame of " + std::to_string(segments) + " segments");
  std::vector<unsigned char> table(SegmentTableBytes(segments));
  std::memcpy(table.data(), first, sizeof(first));
  if (table.size() > 8 && !ReceiveExactly(fd, table.data() + 8, table.size() - 8, &problem)) {
    return IoError("receive failed: " + problem);
  }
  uint64_t total_words = 0;
  std::vector<uint64_t> sizes;
  for (uint64_t i = 0; i < segments; ++i) {
    sizes.push_back(LittleEndian32(table.data() + 4 + 4 * i));
    total_words += sizes.back();
  }
  if (total_words * kWordBytes > max_frame_bytes) {
    return IoError("receive failed: a frame of " + std::to_string(total_words * kWordBytes) + " bytes");
  }
  kj::Array<capnp::word> body = kj::heapArray<capnp::word>(total_words);
  if (!ReceiveExactly(fd, body.begin(), total_words * kWordBytes, &problem)) {
    return IoError("receive failed: " + problem);
  }
  std::vector<kj::ArrayPtr<const capnp::word>> pieces;
  const capnp::word* cursor = body.begin();
  for (uint64_t words : sizes) {
    pieces.emplace_back(cursor, words);
    cursor += words;
  }
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = std::max<uint64_t>(total_words * 4, 1024);
    capnp::SegmentArrayMessageReader message(
        kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(pieces.data(), pieces.size()), options);
    return use(message.getRoot<protocol::ServerMessage>());
  } catch (const kj::Exception& exception) {
    return IoError(std::string("unreadable frame from the server: ") + exception.getDescription().cStr());
  }
}

}  // namespace

ServiceStatus BinaryClient::Connect(const std::string& host, uint16_t port, const std::string& token,
                                    BinaryClientOptions options) {
  Close();
  options_ = std::move(options);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int resolved = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (resolved != 0) return IoError("cannot resolve '" + host + "': " + ::gai_strerror(resolved));
  std::string last_error = "no address";
  for (addrinfo* address = addresses; address != nullptr && fd_ < 0; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (fd < 0) continue;
    if (options_.receive_buffer_bytes > 0) {  // before connect, so the window is small from the start
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options_.receive_buffer_bytes, sizeof(int));
    }
    if (::connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      last_error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(addresses);
  if (fd_ < 0) return IoError("cannot connect to " + host + ":" + std::to_string(port) + ": " + last_error);
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(options_.receive_timeout.count() / 1000);
  timeout.tv_usec = static_cast<suseconds_t>(options_.receive_timeout.count() % 1000 * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<protocol::ClientMessage>().initHello();
  hello.setToken(token);
  hello.setProtocolVersion(protocol::PROTOCOL_VERSION);
  hello.setClientName(options_.client_name);
  if (ServiceStatus sent = Send(EncodeFrame(message)); !sent.ok()) return sent;
  ServiceStatus status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader reply) {
    if (reply.isError()) {
      last_error_code_ = Str(reply.getError().getCode());
      return FromWire(reply.getError());
    }
    if (!reply.isWelcome()) return IoError("the server answered hello with something other than welcome");
    auto welcome = reply.getWelcome();
    welcome_.principal = Str(welcome.getPrincipal());
    welcome_.role = Str(welcome.getRole());
    welcome_.municipality = Str(welcome.getMunicipality());
    welcome_.head = welcome.getHead();
    welcome_.max_frame_bytes = welcome.getMaxFrameBytes();
    welcome_.max_batch_events = welcome.getMaxBatchEvents();
    return ServiceStatus::Ok();
  });
  if (!status.ok()) return Fail(status);
  return ServiceStatus::Ok();
}

ServiceStatus BinaryClient::SendAppend(const std::vector<ledger::NewEvent>& batch, uint64_t request_id) {
  capnp::MallocMessageBuilder message;
  auto append = message.initRoot<protocol::ClientMessage>().initAppend();
  append.setRequestId(request_id);
  auto events = append.initEvents(static_cast<unsigned>(batch.size()));
  for (unsigned i = 0; i < batch.size(); ++i) {
    events[i].setEvent(batch[i].reader());
    if (batch[i].expected_version) {
      events[i].getExpectedVersion().setVersion(*batch[i].expected_version);
    } else {
      events[i].getExpectedVersion().setAny();
    }
    if (batch[i].asserted_recorded_at_micros) events[i].getRecordedAt().setAsserted(*batch[i].asserted_recorded_at_micros);
  }
  return Send(EncodeFrame(message));
}

ServiceStatus BinaryClient::ReceiveAppendResult(uint64_t request_id, ledger::AppendResult* result) {
  if (fd_ < 0) return IoError("not connected");
  bool fatal = false;
  ServiceStatus status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader reply) {
    if (reply.isError()) {
      fatal = true;
      last_error_code_ = Str(reply.getError().getCode());
      return FromWire(reply.getError());
    }
    if (!reply.isAppendResult()) {
      fatal = true;
      return IoError("expected an append result");
    }
    auto append = reply.getAppendResult();
    if (append.getRequestId() != request_id) {
      fatal = true;
      return IoError("append result for request " + std::to_string(append.getRequestId()) + ", expected " +
                     std::to_string(request_id));
    }
    if (append.isError()) {
      last_error_code_ = Str(append.getError().getCode());
      return FromWire(append.getError());
    }
    auto ok = append.getOk();
    result->positions.clear();
    for (uint64_t position : ok.getPositions()) result->positions.push_back(position);
    result->appended = ok.getAppended();
    result->last_position = ok.getLastPosition();
    return ServiceStatus::Ok();
  });
  if (fatal || status.code() == ServiceCode::kIOError) return Fail(status);
  return status;
}

ServiceStatus BinaryClient::Append(const std::vector<ledger::NewEvent>& batch, ledger::AppendResult* result) {
  const uint64_t request_id = next_request_id_++;
  if (ServiceStatus sent = SendAppend(batch, request_id); !sent.ok()) return sent;
  return ReceiveAppendResult(request_id, result);
}

ServiceStatus BinaryClient::Subscribe(const SubscribeRequest& request) {
  capnp::MallocMessageBuilder message;
  auto subscribe = message.initRoot<protocol::ClientMessage>().initSubscribe();
  subscribe.setAfter(request.after);
  auto types = subscribe.initTypes(static_cast<unsigned>(request.types.size()));
  for (unsigned i = 0; i < request.types.size(); ++i) types.set(i, request.types[i]);
  subscribe.setStreamPrefix(request.stream_prefix);
  subscribe.setMaxBatchEvents(request.max_batch_events);
  subscribe.setWithRecords(request.with_records);
  return Send(EncodeFrame(message));
}

ServiceStatus BinaryClient::Next(SubscriptionUpdate* update) {
  if (fd_ < 0) return IoError("not connected");
  ServiceStatus status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader frame) {
    update->events.clear();
    update->is_heartbeat = false;
    switch (frame.which()) {
      case protocol::ServerMessage::EVENT_BATCH: {
        auto batch = frame.getEventBatch();
        update->last_position = batch.getLastPosition();
        update->head = batch.getHead();
        update->events.reserve(batch.getEvents().size());
        for (auto event : batch.getEvents()) {
          ReceivedEvent received;
          received.position = event.getPosition();
          received.json = Str(event.getJson());
          received.record.assign(reinterpret_cast<const char*>(event.getRecord().begin()), event.getRecord().size());
          received.hash.assign(reinterpret_cast<const char*>(event.getHash().begin()), event.getHash().size());
          update->events.push_back(std::move(received));
        }
        return ServiceStatus::Ok();
      }
      case protocol::ServerMessage::HEARTBEAT:
        update->is_heartbeat = true;
        update->last_position = frame.getHeartbeat().getLastPosition();
        update->head = frame.getHeartbeat().getHead();
        return ServiceStatus::Ok();
      case protocol::ServerMessage::ERROR:
        last_error_code_ = Str(frame.getError().getCode());
        return FromWire(frame.getError());
      default:
        return IoError("unexpected frame in a subscription");
    }
  });
  if (!status.ok()) return Fail(status);
  return status;
}

ServiceStatus BinaryClient::SendRawForTesting(const std::string& bytes) { return Send(bytes); }

ServiceStatus BinaryClient::ReceiveErrorForTesting() {
  if (fd_ < 0) return IoError("not connected");
  ServiceStatus status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader frame) {
    if (!frame.isError()) return ServiceStatus::Ok();
    last_error_code_ = Str(frame.getError().getCode());
    return FromWire(frame.getError());
  });
  return status;
}

}  // namespace di::server
