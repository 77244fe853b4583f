// The region history's random numbers: one xoshiro256** stream per purpose, seeded through SplitMix64.
#ifndef DI_WORKLOAD_SRC_REGION_RANDOM_H_
#define DI_WORKLOAD_SRC_REGION_RANDOM_H_

#include <array>
#include <bit>
#include <cstdint>
#include <iterator>

namespace di::workload::region {

// ---------------------------------------------------------------------------------------------------------
// Deterministic random numbers
// ---------------------------------------------------------------------------------------------------------

inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Purposes of the independent random streams. A stream is identified by the seed, its purpose and up to
// two numbers (e.g. grant number and month), so changing how much randomness one part of the simulation
// consumes does not shift every other part.
enum class Stream : uint64_t {
  kHouseholds = 1,
  kHousehold,
  kDeliveries,
  kClaims,
  kSetup,
  kExpenses,
  kRecordedTimes,
  kTransitions,  // a stream of its own: adding it changed no other draw, so no earlier history
};

// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
class Rng {
 public:
  Rng(uint64_t seed, Stream stream, uint64_t a = 0, uint64_t b = 0) {
    uint64_t mix = seed;
    uint64_t key = SplitMix64(&mix) ^ (static_cast<uint64_t>(stream) * 0xD6E8FEB86659FD93ULL);
    key = SplitMix64(&key) ^ a;
    key = SplitMix64(&key) ^ (b * 0xA0761D6478BD642FULL);
    for (uint64_t& word : state_) word = SplitMix64(&key);
  }

  uint64_t Next() {
    const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = std::rotl(state_[3], 45);
    return result;
  }

  // Uniform integer in [lo, hi] (hi < lo yields lo). Rejection sampling keeps it unbiased.
  int64_t Between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t reject_below = (0 - range) % range;  // 2^64 mod range
    uint64_t r = Next();
    while (r < reject_below) r = Next();
    return lo + static_cast<int64_t>(r % range);
  }

  bool Chance(int per_mille) { return Between(0, 999) < per_mille; }

  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Between(0, static_cast<int64_t>(N) - 1))];
  }

  // Index drawn with the given integer weights.
  template <typename Weights>
  size_t Weighted(const Weights& weights) {
    int64_t total = 0;
    for (const auto w : weights) total += w;
    int64_t r = Between(0, total - 1);
    for (size_t i = 0; i < std::size(weights); ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return std::size(weights) - 1;
  }

 private:
  std::array<uint64_t, 4> state_;
};

}  // namespace di::workload::region

#endif  // DI_WORKLOAD_SRC_REGION_RANDOM_H_
