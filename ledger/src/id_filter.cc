#include "id_filter.h"

#include <functional>

#include "di/ledger/invariant.h"

namespace di::ledger {
namespace {

// Two independent-enough 64-bit hashes of a key: the standard library's (murmur-style) and a multiplicative
// remix of it (splitmix64's finaliser).
uint64_t Remix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

IdFilter::IdFilter(uint64_t capacity)
    : blocks_(std::max<uint64_t>(1, capacity * kBitsPerKey / (kBlockWords * 64) + 1)),
      words_(new std::atomic<uint64_t>[blocks_ * kBlockWords]) {
  for (uint64_t i = 0; i < blocks_ * kBlockWords; ++i) words_[i].store(0, std::memory_order_relaxed);
}

void IdFilter::Add(std::string_view key) {
  const uint64_t h1 = std::hash<std::string_view>{}(key);
  uint64_t h2 = Remix(h1);
  std::atomic<uint64_t>* block = &words_[(h1 % blocks_) * kBlockWords];
  for (int probe = 0; probe < kProbes; ++probe, h2 >>= 9) {
    const uint64_t bit = h2 & 511;
    block[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
  }
}

bool IdFilter::MayContain(std::string_view key) const {
  const uint64_t h1 = std::hash<std::string_view>{}(key);
  uint64_t h2 = Remix(h1);
  const std::atomic<uint64_t>* block = &words_[(h1 % blocks_) * kBlockWords];
  for (int probe = 0; probe < kProbes; ++probe, h2 >>= 9) {
    const uint64_t bit = h2 & 511;
    if ((block[bit / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

}  // namespace di::ledger
