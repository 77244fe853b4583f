// RocksDB layout of the event store: column families and key encodings.
//
// All integers in keys are big-endian so that RocksDB's bytewise order is numeric order.
//   log        position(8)                         -> hash(32) || canonical RecordedEvent
//   event_id   event id                            -> position(8)
//   stream     stream || 0x00 || version(8)        -> position(8)
//   type       type(2) || position(8)              -> ""
//   effective  biased effective date(4) || position(8) -> ""
//   entity     kind(1) || entity id                -> canonical EntityRecord (the reference index)
//   meta       "head"                              -> position(8) || hash(32) || recorded_at_micros(8)
//              "format"                            -> "di-ledger/1"
// The stream separator 0x00 cannot occur in a stream name (ids are [A-Za-z0-9._:-]), so one stream's
// keys never interleave with another's.
#ifndef DI_LEDGER_KEYS_H_
#define DI_LEDGER_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace di::ledger::keys {

inline constexpr char kLogFamily[] = "log";
inline constexpr char kEventIdFamily[] = "event_id";
inline constexpr char kStreamFamily[] = "stream";
inline constexpr char kTypeFamily[] = "type";
inline constexpr char kEffectiveFamily[] = "effective";
inline constexpr char kEntityFamily[] = "entity";
inline constexpr char kMetaFamily[] = "meta";

inline constexpr char kHeadKey[] = "head";
inline constexpr char kFormatKey[] = "format";
inline constexpr char kFormatValue[] = "di-ledger/1";

void AppendBigEndian64(std::string* out, uint64_t value);
uint64_t ReadBigEndian64(std::string_view bytes);  // precondition: bytes.size() >= 8

std::string PositionKey(uint64_t position);
std::string StreamKey(std::string_view stream, uint64_t version);
std::string StreamPrefix(std::string_view stream);  // stream || 0x00
std::string TypeKey(uint16_t type, uint64_t position);
std::string EffectiveKey(int32_t date, uint64_t position);
int32_t EffectiveKeyDate(std::string_view key);
uint64_t KeyTrailingPosition(std::string_view key);  // last 8 bytes
std::string EntityKey(uint8_t kind, std::string_view id);

}  // namespace di::ledger::keys

#endif  // DI_LEDGER_KEYS_H_
