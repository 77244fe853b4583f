// RFC 6962 Merkle tree hashing, proofs and their verification (see merkle.h).
//
// Proof generation follows the recursive definitions of RFC 6962 §2.1.1 and §2.1.2 literally. Every
// subtree the recursion visits covers leaves [begin, end) where begin is a multiple of the smallest power
// of two >= end - begin; such a range is either a perfect subtree (asked of the SubtreeHashSource) or the
// right edge of the tree (split again at the largest power of two below its size). So one proof costs
// O(log^2 n) source calls at worst, O(log n) in the common case.
#include "di/ledger/merkle.h"


#include <bit>
#include <cstring>

#include "di/ledger/invariant.h"
#include "di/ledger/sha256.h"
#include "keys.h"

namespace di::ledger {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// MTH(D[begin:end]) for a range the RFC recursion visits (see the file comment).
Status RangeHash(uint64_t begin, uint64_t end, const SubtreeHashSource& source, Hash* hash) {
  DI_ASSERT(end > begin);
  const uint64_t size = end - begin;
  if (IsPowerOfTwo(size) && begin % size == 0) {
    const auto level = static_cast<uint32_t>(std::countr_zero(size));
    return source(level, begin >> level, hash);
  }
  const uint64_t split = MerkleSplit(size);
  Hash left, right;
  Status status = RangeHash(begin, begin + split, source, &left);
  if (!status.ok()) return status;
  status = RangeHash(begin + split, end, source, &right);
  if (!status.ok()) return status;
  *hash = MerkleNodeHash(left, right);
  return Status::Ok();
}

// PATH(m, D[begin:end]) with m an absolute leaf index in [begin, end).
Status Path(uint64_t leaf_index, uint64_t begin, uint64_t end, const SubtreeHashSource& source,
            std::vector<Hash>* proof) {
  const uint64_t size = end - begin;
  if (size == 1) return Status::Ok();
  const uint64_t split = MerkleSplit(size);
  Hash sibling;
  Status status;
  if (leaf_index < begin + split) {
    status = Path(leaf_index, begin, begin + split, source, proof);
    if (status.ok()) status = RangeHash(begin + split, end, source, &sibling);
  } else {
    status = Path(leaf_index, begin + split, end, source, proof);
    if (status.ok()) status = RangeHash(begin, begin + split, source, &sibling);
  }
  if (!status.ok()) return status;
  proof->push_back(sibling);
  return Status::Ok();
}

// SUBPROOF(m, D[begin:end], b) with m counted from begin.
Status SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole_first_tree, const SubtreeHashSource& source,
                std::vector<Hash>* proof) {
  const uint64_t size = end - begin;
  if (m == size) {
    if (whole_first_tree) return Status::Ok();
    Hash hash;
    Status status = RangeHash(begin, end, source, &hash);
    if (!status.ok()) return status;
    proof->push_back(hash);
    return Status::Ok();
  }
  const uint64_t split = MerkleSplit(size);
  Hash other;
  Status status;
  if (m <= split) {
    status = SubProof(m, begin, begin + split, whole_first_tree, source, proof);
    if (status.ok()) status = RangeHash(begin + split, end, source, &other);
  } else {
    status = SubProof(m - split, begin + split, end, /*whole_first_tree=*/false, source, proof);
    if (status.ok()) status = RangeHash(begin, begin + split, source, &other);
  }
  if (!status.ok()) return status;
  proof->push_back(other);
  return Status::Ok();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is refused: one spelling per hash
}

}  // namespace

Hash MerkleLeafHash(std::string_view leaf_data) {
  return Sha256().Update(&kLeafPrefix, 1).Update(leaf_data).Finish();
}

Hash MerkleNodeHash(const Hash& left, const Hash& right) {
  unsigned char input[1 + 64];
  input[0] = kNodePrefix;
  std::memcpy(input + 1, left.data(), 32);
  std::memcpy(input + 33, right.data(), 32);
  return Sha256().Update(input, sizeof(input)).Finish();
}

Hash MerkleEmptyRoot() { return Sha256().Finish(); }

uint64_t MerkleSplit(uint64_t n) {
  DI_ASSERT(n >= 2);
  return std::bit_floor(n - 1);
}

void MerkleFrontier::Append(const Hash& leaf_hash, const SubtreeCompleted& completed) {
  Hash hash = leaf_hash;
  uint32_t level = 0;
  uint64_t index = size_;
  if (completed) completed(level, index, hash);
  // Each trailing 1 bit of the old size is a perfect subtree the new leaf completes one level higher.
  for (uint64_t bits = size_; bits & 1; bits >>= 1) {
    DI_ASSERT(!subtrees_.empty());
    hash = MerkleNodeHash(subtrees_.back(), hash);
    subtrees_.pop_back();
    ++level;
    index >>= 1;
    if (completed) completed(level, index, hash);
  }
  subtrees_.push_back(hash);
  ++size_;
  DI_ASSERT(subtrees_.size() == static_cast<size_t>(std::popcount(size_)));
}

Hash MerkleFrontier::Root() const {
  if (subtrees_.empty()) return MerkleEmptyRoot();
  Hash root = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) root = MerkleNodeHash(subtrees_[i], root);
  return root;
}

std::string MerkleFrontier::Encode() const {
  std::string bytes;
  keys::AppendBigEndian64(&bytes, size_);
  for (const Hash& hash : subtrees_) bytes.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return bytes;
}

bool MerkleFrontier::Decode(std::string_view bytes) {
  if (bytes.size() < 8) return false;
  const uint64_t size = keys::ReadBigEndian64(bytes);
  const auto count = static_cast<size_t>(std::popcount(size));
  if (bytes.size() != 8 + 32 * count) return false;
  std::vector<Hash> subtrees(count);
  for (size_t i = 0; i < count; ++i) std::memcpy(subtrees[i].data(), bytes.data() + 8 + 32 * i, 32);
  size_ = size;
  subtrees_ = std::move(subtrees);
  return true;
}

Status MerkleRoot(uint64_t tree_size, const SubtreeHashSource& source, Hash* root) {
  if (tree_size == 0) {
    *root = MerkleEmptyRoot();
    return Status::Ok();
  }
  return RangeHash(0, tree_size, source, root);
}

Status MerkleInclusionProof(uint64_t leaf_index, uint64_t tree_size, const SubtreeHashSource& source,
                            std::vector<Hash>* proof) {
  proof->clear();
  if (leaf_index >= tree_size) {
    return Status::InvalidArgument("leaf index " + std::to_string(leaf_index) + " is not in a tree of " +
                                   std::to_string(tree_size) + " leaves");
  }
  return Path(leaf_index, 0, tree_size, source, proof);
}

Status MerkleConsistencyProof(uint64_t first_size, uint64_t second_size, const SubtreeHashSource& source,
                              std::vector<Hash>* proof) {
  proof->clear();
  if (first_size > second_size) {
    return Status::InvalidArgument("the first tree (" + std::to_string(first_size) + " leaves) is larger than the second (" +
                                   std::to_string(second_size) + ")");
  }
  if (first_size == 0 || first_size == second_size) return Status::Ok();
  return SubProof(first_size, 0, second_size, /*whole_first_tree=*/true, source, proof);
}

bool RootFromInclusionProof(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                            const std::vector<Hash>& proof, Hash* root) {
  if (leaf_index >= tree_size) return false;
  uint64_t index = leaf_index;
  uint64_t last = tree_size - 1;
  Hash hash = leaf_hash;
  for (const Hash& sibling : proof) {
    if (last == 0) return false;  // the proof is longer than the path
    if ((index & 1) || index == last) {
      hash = MerkleNodeHash(sibling, hash);
      if (!(index & 1)) {
        while (!(index & 1) && index != 0) {
          index >>= 1;
          last >>= 1;
        }
      }
    } else {
      hash = MerkleNodeHash(hash, sibling);
    }
    index >>= 1;
    last >>= 1;
  }
  if (last != 0) return false;  // the proof is shorter than the path
  *root = hash;
  return true;
}

bool VerifyMerkleInclusion(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                           const std::vector<Hash>& proof, const Hash& root) {
  Hash computed;
  return RootFromInclusionProof(leaf_hash, leaf_index, tree_size, proof, &computed) && computed == root;
}

bool VerifyMerkleConsistency(uint64_t first_size, uint64_t second_size, const Hash& first_root,
                             const Hash& second_root, const std::vector<Hash>& proof) {
  if (first_size > second_size) return false;
  if (first_size == second_size) return proof.empty() && first_root == second_root;
  if (first_size == 0) return proof.empty() && first_root == MerkleEmptyRoot();
  if (proof.empty()) return false;
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  // A first tree that is a perfect subtree of the second is a node of it: the proof leaves it out.
  if (IsPowerOfTwo(first_size)) path.push_back(first_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t index = first_size - 1;
  uint64_t last = second_size - 1;
  while (index & 1) {
    index >>= 1;
    last >>= 1;
  }
  Hash first = path[0];
  Hash second = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    if (last == 0) return false;
    if ((index & 1) || index == last) {
      first = MerkleNodeHash(path[i], first);
      second = MerkleNodeHash(path[i], second);
      if (!(index & 1)) {
        while (!(index & 1) && index != 0) {
          index >>= 1;
          last >>= 1;
        }
      }
    } else {
      second = MerkleNodeHash(second, path[i]);
    }
    index >>= 1;
    last >>= 1;
  }
  return last == 0 && first == first_root && second == second_root;
}

bool ParseHashHex(std::string_view hex, Hash* hash) {
  if (hex.size() != 64) return false;
  Hash parsed;
  for (size_t i = 0; i < 32; ++i) {
    const int high = HexDigit(hex[2 * i]);
    const int low = HexDigit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    parsed[i] = static_cast<uint8_t>(high << 4 | low);
  }
  *hash = parsed;
  return true;
}

}  // namespace di::ledger
