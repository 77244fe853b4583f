// One connection of the binary endpoint (binary_connection.h says how it goes): reading and decoding frames,
// hello, appends, subscriptions, writing, and ending.
#include "binary_connection.h"

#include <capnp/message.h>

#include <algorithm>
#include <map>
#include <utility>

#include "di/ledger/event_store.h"
#include "di/ledger/invariant.h"
#include "di/server/binary_frame.h"
#include "protocol.capnp.h"

namespace di::server::binary_internal {
namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);

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

// Canonical RecordedEvent bytes and hash by position.
using Records = std::map<uint64_t, std::pair<std::string, std::string>>;

// The records of `page`'s events, for a subscriber that asked for them: only for events the service rendered
// unaltered. A pseudonymised event never carries its chain hash (LedgerService::PseudonymisedEvent drops it),
// so "has a hash" is "may see the bytes".
ledger::Status ReadRecords(LedgerService& service, const ReadPage& page, Records* records) {
  std::vector<uint64_t> wanted;
  for (const auto& event : page.events) {
    if (event.contains("hash")) wanted.push_back(event["position"].get<uint64_t>());
  }
  if (wanted.empty()) return ledger::Status::Ok();
  size_t next = 0;
  return service.store().ReadLog(wanted.front(), wanted.back() - wanted.front() + 1,
                                 [&](const ledger::StoredEvent& event) {
                                   if (event.position == wanted[next]) {
                                     (*records)[event.position] = {
                                         std::string(event.body.bytes()),
                                         std::string(reinterpret_cast<const char*>(event.hash.data()),
                                                     event.hash.size())};
                                     ++next;
                                   }
                                   return next < wanted.size();
                                 });
}

}  // namespace

Connection::Connection(BinaryEndpoint::Impl& impl, tcp::socket socket)
    : impl_(impl),
      socket_(std::move(socket)),
      writer_(socket_),
      pump_(socket_.get_executor(), *impl_.service, impl_.pages),
      deadline_(socket_.get_executor()),
      grace_(socket_.get_executor()) {}

Connection::~Connection() {
  pump_.RemoveHeadListener();
  if (subscribed_) --impl_.subscribers_open;
  impl_.buffered_bytes_now -= buffered_bytes_;
  --impl_.connections_open;
  impl_.SetGauges();
  impl_.Unregister(connection_id_);
}

void Connection::Start(const std::string& refuse_code, const std::string& refuse_message) {
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

// Reading frames -------------------------------------------------------------------------------------------

void Connection::ReadFrame() {
  if (ending_ || closed_) return;
  ArmDeadline();
  header_.resize(8);
  reading_ = true;
  net::async_read(socket_, net::buffer(header_), [self = shared_from_this()](error_code error, size_t) {
    self->OnHeader(error);
  });
}

void Connection::OnHeader(error_code error) {
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

void Connection::OnTable(error_code error) {
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

void Connection::OnBody(error_code error) {
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

void Connection::OnReadEnded(error_code error) {
  if (ending_) {
    if (error) return Close();
    return Drain();
  }
  Close();
}

// Requests ---------------------------------------------------------------------------------------------------

void Connection::OnHello(const std::string& token, uint32_t version, const std::string& client_name) {
  ledger::Status status = impl_.tokens->Authenticate(token, &principal_);
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
  welcome.setMaxBatchEvents(static_cast<uint32_t>(ledger::EventStoreOptions{}.max_batch_events));  // the store's default batch limit
  WriteReply(EncodeFrame(message));
}

void Connection::OnAppend(DecodedClientMessage request) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<protocol::ServerMessage>().initAppendResult();
  reply.setRequestId(request.request_id);
  if (ledger::Status status = impl_.service->AuthorizeAppend(principal_); !status.ok()) {
    FillError(reply.initError(), status.CodeName(), status.message(), status.field(), status.event_id());
    return WriteReply(EncodeFrame(message));
  }
  if (!request.batch_status.ok()) {
    const ledger::Status& status = request.batch_status;
    FillError(reply.initError(), status.CodeName(), status.message(), status.field(), status.event_id());
    return WriteReply(EncodeFrame(message));
  }
  std::vector<std::string> ids;
  ids.reserve(request.batch.size());
  for (const auto& event : request.batch) ids.push_back(event.id());
  ledger::AppendResult result;
  // Blocks this thread (and only this connection's strand) until the group commit is durable.
  ledger::Status status = impl_.service->Append(principal_, std::move(request.batch), &result);
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

void Connection::WriteReply(std::string frame) {
  DI_ASSERT(!writer_.has_pending() && !writer_.writing());
  writer_.SetPending(std::move(frame));
  ArmDeadline();
  Pump();
}

// Subscriptions ----------------------------------------------------------------------------------------------

void Connection::OnSubscribe(const SubscribeRequest& request) {
  std::string types;
  for (const auto& type : request.types) types += (types.empty() ? "" : ",") + type;
  internal::SubscriptionPumpOptions pump;
  if (ledger::Status status = EventFilter::Parse(types, request.stream_prefix, &pump.filter); !status.ok()) {
    return End(status.CodeName(), status.message(), status.field());
  }
  if (ledger::Status status = impl_.service->AuthorizeSubscribe(principal_, pump.filter); !status.ok()) {
    return End(status.CodeName(), status.message(), status.field());
  }
  phase_ = Phase::kSubscribed;
  subscribed_ = true;
  ++impl_.subscribers_open;
  impl_.SetGauges();
  deadline_.cancel();
  with_records_ = request.with_records;
  if (impl_.options.socket_send_buffer_bytes == 0 && impl_.options.subscription_send_buffer_bytes > 0) {
    error_code ignored;  // the kernel's default buffer is a larger one, not a failure
    socket_.set_option(net::socket_base::send_buffer_size(impl_.options.subscription_send_buffer_bytes), ignored);
  }
  pump.principal = principal_;
  pump.after = request.after;
  pump.page_events = request.max_batch_events == 0
                         ? impl_.options.subscription_batch_events
                         : std::min(request.max_batch_events, impl_.options.subscription_batch_events);
  pump.page_threads = impl_.options.subscription_threads;
  pump.stall_timeout = impl_.options.subscription_stall_timeout;
  pump.watchdog_period_min = std::chrono::milliseconds(10);
  pump.heartbeat_interval = impl_.options.heartbeat_interval;
  pump.announce_catch_up = true;
  pump.resume_hint = "resume from the last EventBatch.lastPosition received";
  pump_.Start(shared_from_this(), std::move(pump));
  WatchClient();
  Pump();
}

void Connection::WatchClient() {
  reading_ = true;
  socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](error_code error, size_t) {
    self->reading_ = false;
    if (error) return self->Close();
    if (self->ending_) return self->Drain();
    self->WatchClient();
  });
}

std::string Connection::EncodeHeartbeat(uint64_t cursor) {
  capnp::MallocMessageBuilder message;
  auto heartbeat = message.initRoot<protocol::ServerMessage>().initHeartbeat();
  heartbeat.setLastPosition(cursor);
  heartbeat.setHead(impl_.service->VisiblePosition());
  return EncodeFrame(message);
}

void Connection::EncodePage(const ReadPage& read, internal::SubscriptionPage* page) const {
  Records records;
  if (with_records_) {
    if (ledger::Status status = ReadRecords(*impl_.service, read, &records); !status.ok()) {
      page->status = status;
      return;
    }
  }
  // Close the batch once it holds subscription_batch_bytes (the first event always goes); the rest of the
  // read is read again for the next batch.
  std::vector<std::pair<uint64_t, std::string>> texts;
  uint64_t bytes = 0;
  bool truncated = false;
  for (const auto& event : read.events) {
    if (!texts.empty() && bytes >= impl_.options.subscription_batch_bytes) {
      truncated = true;
      break;
    }
    texts.emplace_back(event["position"].get<uint64_t>(), event.dump());
    bytes += texts.back().second.size();
    auto record = records.find(texts.back().first);
    if (record != records.end()) bytes += record->second.first.size() + record->second.second.size();
  }
  page->cursor = truncated ? texts.back().first : read.next_after;  // the batch's lastPosition
  if (texts.empty()) return;  // every scanned event was filtered out
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<protocol::ServerMessage>().initEventBatch();
  batch.setLastPosition(page->cursor);
  batch.setHead(read.head);
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
  page->events = texts.size();
  page->bytes = EncodeFrame(message);
}

void Connection::Send(std::string frame, size_t events) {
  SetPending(std::move(frame), events);
  WriteSome();
}

void Connection::EndStream(std::string_view code, const std::string& message, const std::string& field) {
  if (code == "slow_consumer" && !ending_ && !closed_) {
    ++impl_.subscribers_dropped;
    if (impl_.metrics != nullptr) {
      impl_.metrics->Add("di_binary_subscriptions_dropped_total", {{"reason", "slow_consumer"}});
    }
  }
  End(code, message, field);
}

// Writing ----------------------------------------------------------------------------------------------------

void Connection::SetPending(std::string frame, size_t events) {
  DI_ASSERT(!writer_.has_pending() && !writer_.writing());
  writer_.SetPending(std::move(frame), events);
  NoteBuffered();
}

void Connection::NoteBuffered() {
  const uint64_t bytes = writer_.held_bytes();
  impl_.buffered_bytes_now += bytes;
  impl_.buffered_bytes_now -= buffered_bytes_;
  buffered_bytes_ = bytes;
  if (phase_ == Phase::kSubscribed) {
    BinaryEndpoint::Impl::RaiseTo(impl_.buffered_bytes_max, bytes);
    BinaryEndpoint::Impl::RaiseTo(impl_.buffered_events_max, writer_.pending_events());
  }
}

void Connection::Pump() {
  if (closed_ || writer_.writing()) return;
  if (writer_.has_pending()) return WriteSome();
  if (ending_) {
    if (!writer_.TakeFinal()) return Linger();
    NoteBuffered();
    return WriteSome();
  }
  if (phase_ == Phase::kSubscribed) return pump_.Next();
  ReadFrame();
}

void Connection::WriteSome() {
  writer_.WriteSome([self = shared_from_this()](error_code error, size_t written) { self->OnWritten(error, written); });
}

void Connection::OnWritten(error_code error, size_t written) {
  if (error) return Close();
  if (written > 0) pump_.NoteProgress();
  size_t events = 0;
  if (!writer_.Wrote(written, &events)) return WriteSome();
  if (events > 0) {
    impl_.events_sent += events;
    if (impl_.metrics != nullptr) {
      impl_.metrics->Add("di_binary_subscription_events_total", {}, static_cast<double>(events));
    }
  }
  NoteBuffered();
  if (phase_ == Phase::kRequests && !ending_) deadline_.cancel();
  Pump();
}

// Ending -------------------------------------------------------------------------------------------------------

void Connection::Refuse(std::string_view code, const std::string& message) {
  ++impl_.frames_refused;
  End(code, message);
}

void Connection::End(std::string_view code, const std::string& message, const std::string& field) {
  if (ending_ || closed_) return;
  ending_ = true;
  pump_.End();
  deadline_.cancel();
  if (!code.empty()) {
    writer_.SetFinal(ErrorFrame(code, message, field));
    NoteBuffered();
  }
  grace_.expires_after(impl_.options.close_grace);
  grace_.async_wait([self = shared_from_this()](error_code error) {
    if (!error) self->Close();
  });
  Pump();
}

void Connection::Linger() {
  if (lingering_) return;
  lingering_ = true;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  if (!reading_) Drain();
}

void Connection::Drain() {
  if (closed_) return;
  reading_ = true;
  socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](error_code error, size_t) {
    self->reading_ = false;
    if (error) return self->Close();
    self->Drain();
  });
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  pump_.Close();
  deadline_.cancel();
  grace_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void Connection::ArmDeadline() {
  deadline_.expires_after(impl_.options.read_timeout);
  deadline_.async_wait([self = shared_from_this()](error_code error) {
    if (error || self->closed_ || self->ending_) return;
    if (self->writer_.writing()) return self->Close();  // the client takes no reply: no way to tell it anything
    self->Refuse("timeout", "no complete frame within " + std::to_string(self->impl_.options.read_timeout.count()) +
                                " ms");
  });
}
}  // namespace di::server::binary_internal
