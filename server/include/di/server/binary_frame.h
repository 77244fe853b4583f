// The framing of the binary endpoint (server/schema/protocol.capnp, docs/protocol.md), apart from any socket:
// the limits on a frame, the steps that turn untrusted bytes into a decoded ClientMessage or a wire error, and
// the encoding of a message as one frame. The endpoint runs the decoding steps as the bytes arrive (first word,
// segment table, segments); the client (binary_client.h) runs the same steps on what the server sends;
// DecodeClientFrame runs all of them over one frame in a buffer, for the tests and the fuzz target
// (tests/fuzz/fuzz_capnp_frame.cc).
//
//   DecodedClientMessage message;
//   FrameError error = DecodeClientFrame(bytes, FrameLimits{}, /*decode_append_events=*/true, &message);
//   if (!error.ok()) ... error.code is the wire code ("malformed", "frame_too_large", "protocol")
#ifndef DI_SERVER_BINARY_FRAME_H_
#define DI_SERVER_BINARY_FRAME_H_

#include <capnp/common.h>
#include <capnp/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "di/ledger/event.h"
#include "di/server/ledger_service.h"

namespace di::server {

// Largest frame the server accepts by default, bytes (segment table + segments): a batch of the store's largest
// size (10 000 events) of ~2 KiB each.
inline constexpr uint64_t kDefaultMaxFrameBytes = 32 * 1024 * 1024;
// Largest number of segments in a frame, either way (capnp::MallocMessageBuilder makes a few; 512 is far
// beyond what a builder makes for the largest frame, and bounds the segment table to 2 KiB).
inline constexpr uint32_t kMaxFrameSegments = 512;

// The limits on one frame (BinaryEndpointOptions' for the server; the client's own for what it receives).
struct FrameLimits {
  uint64_t max_frame_bytes = kDefaultMaxFrameBytes;
  uint32_t max_frame_segments = kMaxFrameSegments;
};

// A refused frame: the wire error code and its message. Empty code: no error.
struct FrameError {
  std::string code;
  std::string message;
  bool ok() const { return code.empty(); }
};

// ClientMessage.subscribe as plain values (a client fills it; the server decodes it).
struct SubscribeRequest {
  uint64_t after = 0;
  std::vector<std::string> types;  // event type names; empty: every type
  std::string stream_prefix;
  uint32_t max_batch_events = 0;   // 0: the server's
  bool with_records = false;       // also the canonical RecordedEvent bytes and hashes (not for readers)
};

// A ClientMessage as plain values (no Cap'n Proto reader of the frame outlives the decoding).
struct DecodedClientMessage {
  enum class Kind { kHello, kAppend, kSubscribe, kGoodbye };
  Kind kind = Kind::kGoodbye;
  // hello
  std::string token, client_name;
  uint32_t protocol_version = 0;
  // append: the events checked as an HTTP append's (ledger::EventFromReader); a bad event leaves batch_status
  // not ok (the batch is then refused as a whole, the connection stays usable).
  uint64_t request_id = 0;
  std::vector<ledger::NewEvent> batch;
  ledger::Status batch_status;
  // subscribe
  SubscribeRequest subscribe;
};

// The first word of a frame (8 bytes): the segment count, checked against the limit, gives the bytes of
// the whole segment table (a multiple of 8, at least 8, the first word included).
FrameError ReadFrameHeader(const unsigned char* first_word, const FrameLimits& limits, uint64_t* table_bytes);

// The whole segment table (`table_bytes` from ReadFrameHeader): the words of each segment, checked against
// the frame size limit.
FrameError ReadSegmentTable(const unsigned char* table, uint64_t table_bytes, const FrameLimits& limits,
                            std::vector<uint64_t>* segment_words);

// The segments (`body`: the words of ReadSegmentTable, in order, word-aligned) as a ClientMessage.
// `decode_append_events` false: an append is recognised (kind, request id) but its events are not decoded
// (out of phase, or from a principal that may not append: it is refused without that work).
FrameError DecodeClientMessage(const std::vector<uint64_t>& segment_words, const capnp::word* body,
                               bool decode_append_events, DecodedClientMessage* out);

// The three steps over one whole frame at the start of `bytes` (copied to aligned memory). Fewer bytes than
// the frame's segment table announces: "malformed". Bytes after the frame are ignored; `*frame_bytes` (may
// be null) gets the frame's size.
FrameError DecodeClientFrame(std::string_view bytes, const FrameLimits& limits, bool decode_append_events,
                             DecodedClientMessage* out, uint64_t* frame_bytes = nullptr);

// The segments of a frame as a message reader reads them: `segment_words` consecutive runs of `body`.
std::vector<kj::ArrayPtr<const capnp::word>> FrameSegments(const std::vector<uint64_t>& segment_words,
                                                           const capnp::word* body);
// Reader options for a frame of `total_words` (already bounded by the frame limit): the traversal limit only
// stops a reader from following pointers in circles.
capnp::ReaderOptions FrameReaderOptions(uint64_t total_words);

// `message` as one frame in the standard stream framing (segment table, then the segments).
std::string EncodeFrame(capnp::MessageBuilder& message);

}  // namespace di::server

#endif  // DI_SERVER_BINARY_FRAME_H_
