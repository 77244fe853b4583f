// Merkle tree over the global log, as in Certificate Transparency (RFC 6962 §2.1; verification as in
// RFC 9162 §2.1.3.2 and §2.1.4.2), so that any RFC 6962 implementation can check our roots and proofs.
//
//   leaf hash  = SHA-256(0x00 || leaf data)          leaf data of position p: the canonical bytes of its
//   node hash  = SHA-256(0x01 || left || right)      RecordedEvent (the same bytes the hash chain covers)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//
// The distinct 0x00 / 0x01 prefixes keep a leaf from ever being taken for an interior node (second
// preimage). Leaf index i is global position i + 1.
//
// MerkleFrontier holds what is needed to extend the tree and compute its root: one hash per set bit of the
// size (at most 64), so the event store keeps it current on every append instead of rehashing the log.
// Proofs need hashes of older subtrees: the algorithms below take them from a SubtreeHashSource (the store
// keeps the hashes of all perfect subtrees of 2^8 leaves and more, and hashes smaller ones from the log).
#ifndef DI_LEDGER_MERKLE_H_
#define DI_LEDGER_MERKLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "di/ledger/event.h"
#include "di/ledger/status.h"

namespace di::ledger {

Hash MerkleLeafHash(std::string_view leaf_data);
Hash MerkleNodeHash(const Hash& left, const Hash& right);
// Root of the empty tree: SHA-256 of nothing.
Hash MerkleEmptyRoot();

// Largest power of two strictly smaller than `n` (n >= 2): RFC 6962's split point.
uint64_t MerkleSplit(uint64_t n);

// Hash of the perfect subtree of leaves [index * 2^level, (index + 1) * 2^level).
using SubtreeHashSource = std::function<Status(uint32_t level, uint64_t index, Hash* hash)>;
// Told of every perfect subtree an append completes (level 0 is the leaf itself).
using SubtreeCompleted = std::function<void(uint32_t level, uint64_t index, const Hash& hash)>;

// The right edge of the tree: the roots of its perfect subtrees, largest (leftmost) first.
class MerkleFrontier {
 public:
  uint64_t size() const { return size_; }
  void Append(const Hash& leaf_hash, const SubtreeCompleted& completed = nullptr);
  Hash Root() const;
  const std::vector<Hash>& subtrees() const { return subtrees_; }

  // size (8 bytes, big-endian) || subtree hashes (32 bytes each, one per set bit of size).
  std::string Encode() const;
  // False (and the frontier unchanged) if `bytes` is not an encoding of a frontier.
  bool Decode(std::string_view bytes);

  bool operator==(const MerkleFrontier& other) const {
    return size_ == other.size_ && subtrees_ == other.subtrees_;
  }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> subtrees_;
};

// MTH of the first `tree_size` leaves.
Status MerkleRoot(uint64_t tree_size, const SubtreeHashSource& source, Hash* root);
// RFC 6962 PATH(leaf_index, D[tree_size]): the audit path, from the leaf's sibling up to the root's child.
Status MerkleInclusionProof(uint64_t leaf_index, uint64_t tree_size, const SubtreeHashSource& source,
                            std::vector<Hash>* proof);
// RFC 6962 PROOF(first_size, D[second_size]). Empty when first_size is 0 or equals second_size.
Status MerkleConsistencyProof(uint64_t first_size, uint64_t second_size, const SubtreeHashSource& source,
                              std::vector<Hash>* proof);

// RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or false if the proof has the wrong length for
// (leaf_index, tree_size).
bool RootFromInclusionProof(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                            const std::vector<Hash>& proof, Hash* root);
bool VerifyMerkleInclusion(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                           const std::vector<Hash>& proof, const Hash& root);
// RFC 9162 §2.1.4.2, extended to first_size == 0 (every tree extends the empty one; the proof is empty)
// and first_size == second_size (empty proof, equal roots).
bool VerifyMerkleConsistency(uint64_t first_size, uint64_t second_size, const Hash& first_root,
                             const Hash& second_root, const std::vector<Hash>& proof);

// 64 lowercase hex chars -> hash; false if malformed.
bool ParseHashHex(std::string_view hex, Hash* hash);

}  // namespace di::ledger

#endif  // DI_LEDGER_MERKLE_H_
