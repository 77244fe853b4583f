// The binary endpoint's blocking client (binary_client.h): POSIX sockets, frames encoded and read by the
// endpoint's own framing (binary_frame.h), so a client and the server cannot disagree on a limit.
#include "di/server/binary_client.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>

#include "di/ledger/capnp_text.h"
#include "protocol.capnp.h"

namespace di::server {
namespace {

using ledger::Status;
using ledger::StatusCode;
using ledger::Str;

// The wire error of the server as a status. The endpoint's own codes map to the nearest StatusCode; the
// wire code itself is kept by the client (last_error_code()).
Status FromWire(protocol::Error::Reader error) {
  const std::string code = Str(error.getCode());
  static const std::map<std::string, StatusCode> kCodes = {
      {"invalid_argument", StatusCode::kInvalidArgument}, {"not_found", StatusCode::kNotFound},
      {"conflict", StatusCode::kConflict},                {"duplicate_id", StatusCode::kDuplicateId},
      {"corruption", StatusCode::kCorruption},            {"io_error", StatusCode::kIOError},
      {"busy", StatusCode::kBusy},                        {"shutdown", StatusCode::kShutdown},
      {"unauthenticated", StatusCode::kUnauthenticated},  {"forbidden", StatusCode::kForbidden},
      {"slow_consumer", StatusCode::kBusy},               {"too_many_connections", StatusCode::kBusy},
      {"timeout", StatusCode::kBusy}};
  auto it = kCodes.find(code);
  const StatusCode service_code = it != kCodes.end() ? it->second : StatusCode::kInvalidArgument;
  std::string message = Str(error.getMessage());
  if (it == kCodes.end() || it->first != Status::Make(service_code, "").CodeName()) {
    message = code + ": " + message;  // keep the endpoint's own code visible in ToString()
  }
  return Status::Make(service_code, std::move(message), Str(error.getField()), Str(error.getEventId()));
}

Status IoError(std::string message) { return Status::Make(StatusCode::kIOError, std::move(message)); }

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
// to `use`. The frame is bounded by the same steps the server runs on a client's (binary_frame.h). Receive
// failures, frames beyond the limits and undecodable frames are io_error.
Status ReceiveFrame(int fd, uint64_t max_frame_bytes,
                    const std::function<Status(protocol::ServerMessage::Reader)>& use) {
  const FrameLimits limits{max_frame_bytes, kMaxFrameSegments};
  std::string problem;
  std::vector<unsigned char> table(8);
  if (!ReceiveExactly(fd, table.data(), table.size(), &problem)) return IoError("receive failed: " + problem);
  uint64_t table_bytes = 0;
  if (FrameError refused = ReadFrameHeader(table.data(), limits, &table_bytes); !refused.ok()) {
    return IoError("receive failed: " + refused.message);
  }
  table.resize(table_bytes);
  if (table_bytes > 8 && !ReceiveExactly(fd, table.data() + 8, table_bytes - 8, &problem)) {
    return IoError("receive failed: " + problem);
  }
  std::vector<uint64_t> segment_words;
  if (FrameError refused = ReadSegmentTable(table.data(), table_bytes, limits, &segment_words); !refused.ok()) {
    return IoError("receive failed: " + refused.message);
  }
  uint64_t total_words = 0;
  for (uint64_t words : segment_words) total_words += words;
  kj::Array<capnp::word> body = kj::heapArray<capnp::word>(total_words);
  if (!ReceiveExactly(fd, body.begin(), total_words * sizeof(capnp::word), &problem)) {
    return IoError("receive failed: " + problem);
  }
  const std::vector<kj::ArrayPtr<const capnp::word>> segments = FrameSegments(segment_words, body.begin());
  try {
    capnp::SegmentArrayMessageReader message(
        kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(segments.data(), segments.size()),
        FrameReaderOptions(total_words));
    return use(message.getRoot<protocol::ServerMessage>());
  } catch (const kj::Exception& exception) {
    return IoError(std::string("unreadable frame from the server: ") + exception.getDescription().cStr());
  }
}

// A connected TCP socket to host:port (the first address that answers), with the options' receive buffer and
// timeout, and no Nagle delay: a request is one frame, sent whole.
Status ConnectSocket(const std::string& host, uint16_t port, const BinaryClientOptions& options, int* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int resolved = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (resolved != 0) return IoError("cannot resolve '" + host + "': " + ::gai_strerror(resolved));
  std::string last_error = "no address";
  int connected = -1;
  for (addrinfo* address = addresses; address != nullptr && connected < 0; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (fd < 0) continue;
    if (options.receive_buffer_bytes > 0) {  // before connect, so the window is small from the start
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes, sizeof(int));
    }
    if (::connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
      connected = fd;
    } else {
      last_error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(addresses);
  if (connected < 0) return IoError("cannot connect to " + host + ":" + std::to_string(port) + ": " + last_error);
  const int one = 1;
  ::setsockopt(connected, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(options.receive_timeout.count() / 1000);
  timeout.tv_usec = static_cast<suseconds_t>(options.receive_timeout.count() % 1000 * 1000);
  ::setsockopt(connected, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  *out = connected;
  return Status::Ok();
}

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

Status BinaryClient::Fail(Status status) {
  Close();
  return status;
}

Status BinaryClient::Send(const std::string& frame) {
  if (fd_ < 0) return IoError("not connected");
  size_t sent = 0;
  while (sent < frame.size()) {
    // MSG_NOSIGNAL: a server that closed the connection is an error to report, not a SIGPIPE.
    const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(IoError(std::string("send failed: ") + std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  return Status::Ok();
}


Status BinaryClient::Connect(const std::string& host, uint16_t port, const std::string& token,
                             BinaryClientOptions options) {
  Close();
  options_ = std::move(options);
  if (Status connected = ConnectSocket(host, port, options_, &fd_); !connected.ok()) return connected;

  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<protocol::ClientMessage>().initHello();
  hello.setToken(token);
  hello.setProtocolVersion(protocol::PROTOCOL_VERSION);
  hello.setClientName(options_.client_name);
  if (Status sent = Send(EncodeFrame(message)); !sent.ok()) return sent;
  Status status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader reply) {
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
    return Status::Ok();
  });
  if (!status.ok()) return Fail(status);
  return Status::Ok();
}

Status BinaryClient::SendAppend(const std::vector<ledger::NewEvent>& batch, uint64_t request_id) {
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

Status BinaryClient::ReceiveAppendResult(uint64_t request_id, ledger::AppendResult* result) {
  if (fd_ < 0) return IoError("not connected");
  bool fatal = false;
  Status status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader reply) {
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
    return Status::Ok();
  });
  if (fatal || status.code() == StatusCode::kIOError) return Fail(status);
  return status;
}

Status BinaryClient::Append(const std::vector<ledger::NewEvent>& batch, ledger::AppendResult* result) {
  const uint64_t request_id = next_request_id_++;
  if (Status sent = SendAppend(batch, request_id); !sent.ok()) return sent;
  return ReceiveAppendResult(request_id, result);
}

Status BinaryClient::Subscribe(const SubscribeRequest& request) {
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

Status BinaryClient::Next(SubscriptionUpdate* update) {
  if (fd_ < 0) return IoError("not connected");
  Status status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader frame) {
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
        return Status::Ok();
      }
      case protocol::ServerMessage::HEARTBEAT:
        update->is_heartbeat = true;
        update->last_position = frame.getHeartbeat().getLastPosition();
        update->head = frame.getHeartbeat().getHead();
        return Status::Ok();
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

Status BinaryClient::SendRawForTesting(const std::string& bytes) { return Send(bytes); }

Status BinaryClient::ReceiveErrorForTesting() {
  if (fd_ < 0) return IoError("not connected");
  Status status = ReceiveFrame(fd_, options_.max_frame_bytes, [&](protocol::ServerMessage::Reader frame) {
    if (!frame.isError()) return Status::Ok();
    last_error_code_ = Str(frame.getError().getCode());
    return FromWire(frame.getError());
  });
  return status;
}

}  // namespace di::server
