// Keys of a position-ordered RocksDB of projections/ (checkpoints, the journal store): a prefix and the position,
// big-endian, so that keys sort by position.
#ifndef DI_PROJECTIONS_SRC_POSITION_KEY_H_
#define DI_PROJECTIONS_SRC_POSITION_KEY_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace di::projections::internal {

inline std::string PositionKey(std::string_view prefix, uint64_t position) {
  std::string key(prefix);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((position >> shift) & 0xff));
  return key;
}

// False when `key` is not `prefix` and 8 bytes.
inline bool ParsePositionKey(std::string_view prefix, std::string_view key, uint64_t* position) {
  if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) return false;
  *position = 0;
  for (size_t i = prefix.size(); i < key.size(); ++i) *position = (*position << 8) | static_cast<uint8_t>(key[i]);
  return true;
}

}  // namespace di::projections::internal

#endif  // DI_PROJECTIONS_SRC_POSITION_KEY_H_
