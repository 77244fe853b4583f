// Fuzz target: the binary endpoint's frame decoding (server/include/di/server/binary_frame.h), the step
// that turns untrusted bytes into a ClientMessage: first word, segment table, size limits, the Cap'n Proto
// reader, and every event of an append through the JSON codec. Refusals ("malformed", "frame_too_large",
// "protocol", a refused batch) are expected; a crash, an abort or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "di/server/binary_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits, so that the limit checks are reached by inputs of a fuzzer's size.
  di::server::FrameLimits limits;
  limits.max_frame_bytes = 64 * 1024;
  limits.max_frame_segments = 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  di::server::DecodedClientMessage message;
  uint64_t frame_bytes = 0;
  (void)di::server::DecodeClientFrame(bytes, limits, /*decode_append_events=*/true, &message, &frame_bytes);
  // Before hello the endpoint recognises an append without decoding its events: that path too.
  di::server::DecodedClientMessage undecoded;
  (void)di::server::DecodeClientFrame(bytes, limits, /*decode_append_events=*/false, &undecoded);
  return 0;
}
