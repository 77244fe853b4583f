// IdFilter: an in-memory Bloom filter over the keys the writer probes and mostly does not find — a new event's
// id (idempotency) and a new entity's key (a delivery id must be unused). "Absent" is certain, so the writer
// skips the RocksDB read; "maybe" costs the read, as before. Each miss it answers saves a `DB::Get` that walks
// every level's file filters (~1-2 µs, docs/performance.md §1).
//
// Blocked: the bits of one key lie in one 512-bit block (a cache line), so a probe touches one line. Add is
// thread-safe (an atomic OR), so the writer adds while a builder thread loads what the store already holds.
#ifndef DI_LEDGER_ID_FILTER_H_
#define DI_LEDGER_ID_FILTER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace di::ledger {

class IdFilter {
 public:
  // Bits per key the filter is sized with: ~1 % false positives up to `capacity` keys. Past it the rate grows
  // (answers stay right, more reads are spent) until the next open sizes it again.
  static constexpr uint64_t kBitsPerKey = 10;

  explicit IdFilter(uint64_t capacity);

  void Add(std::string_view key);
  bool MayContain(std::string_view key) const;
  uint64_t bytes() const { return blocks_ * kBlockWords * sizeof(uint64_t); }

 private:
  static constexpr uint64_t kBlockWords = 8;  // 512 bits
  static constexpr int kProbes = 7;

  uint64_t blocks_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace di::ledger

#endif  // DI_LEDGER_ID_FILTER_H_
