// Framing of the binary endpoint (binary_frame.h): the limits on a frame, checked as its bytes arrive, and the
// decoding of a ClientMessage into plain values. Shared by the endpoint (binary_connection.cc), the client
// (binary_client.cc), the tests and the fuzz target, so the three read frames by the same rules.
#include "di/server/binary_frame.h"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>

#include "di/ledger/capnp_text.h"
#include "di/ledger/event_checks.h"
#include "di/ledger/event_store.h"
#include "di/ledger/invariant.h"
#include "protocol.capnp.h"

namespace di::server {
namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);
// How many pointers deep a reader follows a frame; Cap'n Proto's default, named so both sides use it.
constexpr int kFrameNestingLimit = 64;

using ledger::Str;

uint32_t LittleEndian32(const unsigned char* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
}

// Bytes of the segment table of a frame with `segments` segments: 4 + 4 * segments, padded to a word.
uint64_t SegmentTableBytes(uint64_t segments) { return (4 + 4 * segments + 7) / 8 * 8; }

FrameError MakeFrameError(std::string code, std::string message) { return {std::move(code), std::move(message)}; }

// BatchEvent -> NewEvent: the event's checks and normalisation are the ledger's (ledger::EventFromReader, the
// same rules as an HTTP append's JSON), so both transports accept the same events and store the same bytes.
ledger::Status DecodeEvent(protocol::BatchEvent::Reader entry, size_t index, ledger::NewEvent* out) {
  ledger::Status status = ledger::EventFromReader(entry.getEvent(), out);
  if (!status.ok()) return status.WithFieldPrefix("events[" + std::to_string(index) + "]");
  if (entry.getExpectedVersion().isVersion()) out->expected_version = entry.getExpectedVersion().getVersion();
  // A migration's recorded time; LedgerService::Append forbids it to every role but migration.
  if (entry.getRecordedAt().isAsserted()) out->asserted_recorded_at_micros = entry.getRecordedAt().getAsserted();
  return ledger::Status::Ok();
}

void DecodeAppend(protocol::AppendBatch::Reader request, bool decode_events, DecodedClientMessage* out) {
  out->request_id = request.getRequestId();  // the answer names it, decoded or not
  if (!decode_events) return;
  auto events = request.getEvents();
  // Only a hint: a list of empty structs is nearly free on the wire (the traversal limit allows four per word
  // of the frame), so the count alone must not size an allocation.
  out->batch.reserve(std::min<size_t>(events.size(), ledger::EventStoreOptions{}.max_batch_events));
  for (unsigned i = 0; i < events.size() && out->batch_status.ok(); ++i) {
    ledger::NewEvent event;
    out->batch_status = DecodeEvent(events[i], i, &event);
    out->batch.push_back(std::move(event));
  }
}

void DecodeSubscribe(protocol::Subscribe::Reader request, SubscribeRequest* out) {
  out->after = request.getAfter();
  for (auto type : request.getTypes()) out->types.push_back(Str(type));
  out->stream_prefix = Str(request.getStreamPrefix());
  out->max_batch_events = request.getMaxBatchEvents();
  out->with_records = request.getWithRecords();
}

}  // namespace

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

std::vector<kj::ArrayPtr<const capnp::word>> FrameSegments(const std::vector<uint64_t>& segment_words,
                                                           const capnp::word* body) {
  std::vector<kj::ArrayPtr<const capnp::word>> segments;
  segments.reserve(segment_words.size());
  for (uint64_t words : segment_words) {
    segments.emplace_back(body, words);
    body += words;
  }
  return segments;
}

capnp::ReaderOptions FrameReaderOptions(uint64_t total_words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::max<uint64_t>(total_words * 4, 1024);
  options.nestingLimit = kFrameNestingLimit;
  return options;
}

std::string EncodeFrame(capnp::MessageBuilder& message) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * kWordBytes);
}

FrameError DecodeClientMessage(const std::vector<uint64_t>& segment_words, const capnp::word* body,
                               bool decode_append_events, DecodedClientMessage* out) {
  uint64_t total_words = 0;
  for (uint64_t words : segment_words) total_words += words;
  const std::vector<kj::ArrayPtr<const capnp::word>> segments = FrameSegments(segment_words, body);
  capnp::SegmentArrayMessageReader message(
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(segments.data(), segments.size()),
      FrameReaderOptions(total_words));
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
      case protocol::ClientMessage::APPEND:
        out->kind = Kind::kAppend;
        DecodeAppend(root.getAppend(), decode_append_events, out);
        break;
      case protocol::ClientMessage::SUBSCRIBE:
        out->kind = Kind::kSubscribe;
        DecodeSubscribe(root.getSubscribe(), &out->subscribe);
        break;
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

}  // namespace di::server
