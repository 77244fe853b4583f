#include "keys.h"

#include "di/ledger/invariant.h"

namespace di::ledger::keys {

void AppendBigEndian64(std::string* out, uint64_t value) {
  // One append of 8 bytes, not 8 push_backs: the indexer builds four such keys per event.
  char bytes[8];
  for (int i = 7; i >= 0; --i, value >>= 8) bytes[i] = static_cast<char>(value & 0xff);
  out->append(bytes, sizeof bytes);
}

uint64_t ReadBigEndian64(std::string_view bytes) {
  DI_ASSERT(bytes.size() >= 8);
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

std::string PositionKey(uint64_t position) {
  std::string key;
  AppendBigEndian64(&key, position);
  return key;
}

std::string StreamPrefix(std::string_view stream) {
  std::string key(stream);
  key.push_back('\0');
  return key;
}

std::string StreamKey(std::string_view stream, uint64_t version) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key.push_back('\0');
  AppendBigEndian64(&key, version);
  return key;
}

std::string TypeKey(uint16_t type, uint64_t position) {
  std::string key;
  key.reserve(10);
  key.push_back(static_cast<char>(type >> 8));
  key.push_back(static_cast<char>(type & 0xff));
  AppendBigEndian64(&key, position);
  return key;
}

std::string EffectiveKey(int32_t date, uint64_t position) {
  // Flip the sign bit so negative days (dates before 1970) sort before positive ones.
  const uint32_t biased = static_cast<uint32_t>(date) ^ 0x80000000u;
  std::string key;
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>((biased >> shift) & 0xff));
  AppendBigEndian64(&key, position);
  return key;
}

int32_t EffectiveKeyDate(std::string_view key) {
  uint32_t biased = 0;
  for (int i = 0; i < 4; ++i) biased = (biased << 8) | static_cast<uint8_t>(key[i]);
  return static_cast<int32_t>(biased ^ 0x80000000u);
}

uint64_t KeyTrailingPosition(std::string_view key) { return ReadBigEndian64(key.substr(key.size() - 8)); }

std::string EntityKey(uint8_t kind, std::string_view id) {
  std::string key;
  key.push_back(static_cast<char>(kind));
  key.append(id);
  return key;
}

}  // namespace di::ledger::keys
