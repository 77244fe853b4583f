// RFC 6962 Merkle trees: the published Certificate Transparency test vectors, and every inclusion proof
// (sizes 1..33, every leaf) and every consistency proof (every pair 0 <= m <= n <= 33) checked against a
// literal transcription of the RFC's recursive definitions over an in-memory list of leaves.
#include <gtest/gtest.h>

#include <sodium.h>

#include "di/ledger/merkle.h"
#include "di/ledger/sha256.h"

namespace di::ledger {
namespace {

Hash H(std::string_view hex) {
  Hash hash;
  EXPECT_TRUE(ParseHashHex(hex, &hash)) << hex;
  return hash;
}

std::string Bytes(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return bytes;
}

// ---- Reference: RFC 6962 §2.1 transcribed over a vector of leaf hashes (no cleverness). ----------------
using Leaves = std::vector<Hash>;

Leaves Slice(const Leaves& leaves, size_t begin, size_t end) { return Leaves(leaves.begin() + begin, leaves.begin() + end); }

size_t ReferenceSplit(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash ReferenceRoot(const Leaves& d) {
  if (d.empty()) return MerkleEmptyRoot();
  if (d.size() == 1) return d[0];
  const size_t k = ReferenceSplit(d.size());
  return MerkleNodeHash(ReferenceRoot(Slice(d, 0, k)), ReferenceRoot(Slice(d, k, d.size())));
}

// PATH(m, D[n])
Leaves ReferencePath(size_t m, const Leaves& d) {
  if (d.size() == 1) return {};
  const size_t k = ReferenceSplit(d.size());
  Leaves path;
  if (m < k) {
    path = ReferencePath(m, Slice(d, 0, k));
    path.push_back(ReferenceRoot(Slice(d, k, d.size())));
  } else {
    path = ReferencePath(m - k, Slice(d, k, d.size()));
    path.push_back(ReferenceRoot(Slice(d, 0, k)));
  }
  return path;
}

// SUBPROOF(m, D[n], b)
Leaves ReferenceSubProof(size_t m, const Leaves& d, bool b) {
  if (m == d.size()) return b ? Leaves{} : Leaves{ReferenceRoot(d)};
  const size_t k = ReferenceSplit(d.size());
  Leaves proof;
  if (m <= k) {
    proof = ReferenceSubProof(m, Slice(d, 0, k), b);
    proof.push_back(ReferenceRoot(Slice(d, k, d.size())));
  } else {
    proof = ReferenceSubProof(m - k, Slice(d, k, d.size()), false);
    proof.push_back(ReferenceRoot(Slice(d, 0, k)));
  }
  return proof;
}

// A SubtreeHashSource over in-memory leaves, counting its calls.
SubtreeHashSource SourceOver(const Leaves& leaves, int* calls = nullptr) {
  return [&leaves, calls](uint32_t level, uint64_t index, Hash* hash) {
    if (calls != nullptr) ++*calls;
    const size_t begin = static_cast<size_t>(index) << level;
    const size_t end = begin + (size_t{1} << level);
    if (end > leaves.size()) return Status::NotFound("subtree beyond the leaves");
    *hash = ReferenceRoot(Slice(leaves, begin, end));
    return Status::Ok();
  };
}

Leaves TestLeaves(size_t count) {
  Leaves leaves;
  for (size_t i = 0; i < count; ++i) leaves.push_back(MerkleLeafHash("event " + std::to_string(i)));
  return leaves;
}

constexpr size_t kMaxSize = 33;

class MerkleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
};

// ---- Published vectors (Certificate Transparency's merkle_tree_test, also in transparency-dev/merkle) ----
const char* const kVectorLeaves[] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"};
const char* const kVectorRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

Leaves VectorLeaves() {
  Leaves leaves;
  for (const char* hex : kVectorLeaves) leaves.push_back(MerkleLeafHash(Bytes(hex)));
  return leaves;
}

TEST_F(MerkleTest, EmptyTreeIsTheHashOfNothing) {
  EXPECT_EQ(HashToHex(MerkleEmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  MerkleFrontier frontier;
  EXPECT_EQ(frontier.Root(), MerkleEmptyRoot());
  Hash root;
  ASSERT_TRUE(MerkleRoot(0, SourceOver({}), &root).ok());
  EXPECT_EQ(root, MerkleEmptyRoot());
}

TEST_F(MerkleTest, RootsMatchThePublishedVectors) {
  const Leaves leaves = VectorLeaves();
  MerkleFrontier frontier;
  for (size_t n = 1; n <= leaves.size(); ++n) {
    frontier.Append(leaves[n - 1]);
    EXPECT_EQ(HashToHex(frontier.Root()), kVectorRoots[n - 1]) << "frontier, size " << n;
    Hash root;
    ASSERT_TRUE(MerkleRoot(n, SourceOver(leaves), &root).ok());
    EXPECT_EQ(HashToHex(root), kVectorRoots[n - 1]) << "from subtrees, size " << n;
  }
}

TEST_F(MerkleTest, ProofsMatchThePublishedVectors) {
  const Leaves leaves = VectorLeaves();
  std::vector<Hash> proof;
  ASSERT_TRUE(MerkleInclusionProof(0, 8, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                                      H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                                      H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}));
  ASSERT_TRUE(MerkleInclusionProof(5, 8, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                                      H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                                      H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}));
  EXPECT_TRUE(VerifyMerkleInclusion(leaves[5], 5, 8, proof, H(kVectorRoots[7])));

  ASSERT_TRUE(MerkleConsistencyProof(2, 8, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                                      H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}));
  EXPECT_TRUE(VerifyMerkleConsistency(2, 8, H(kVectorRoots[1]), H(kVectorRoots[7]), proof));
  ASSERT_TRUE(MerkleConsistencyProof(6, 8, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                                      H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                                      H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}));
  EXPECT_TRUE(VerifyMerkleConsistency(6, 8, H(kVectorRoots[5]), H(kVectorRoots[7]), proof));
}

// Hand-computed: a tree of 3 leaves is node(node(a, b), c), and a's path is [b, c].
TEST_F(MerkleTest, ThreeLeavesByHand) {
  const Hash a = MerkleLeafHash("a"), b = MerkleLeafHash("b"), c = MerkleLeafHash("c");
  const Leaves leaves = {a, b, c};
  Hash root;
  ASSERT_TRUE(MerkleRoot(3, SourceOver(leaves), &root).ok());
  EXPECT_EQ(root, MerkleNodeHash(MerkleNodeHash(a, b), c));
  std::vector<Hash> proof;
  ASSERT_TRUE(MerkleInclusionProof(0, 3, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{b, c}));
  ASSERT_TRUE(MerkleInclusionProof(2, 3, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{MerkleNodeHash(a, b)}));
  // Consistency 1 -> 3: the first tree is a, so the proof is [b, c].
  ASSERT_TRUE(MerkleConsistencyProof(1, 3, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{b, c}));
  ASSERT_TRUE(MerkleConsistencyProof(2, 3, SourceOver(leaves), &proof).ok());
  EXPECT_EQ(proof, (std::vector<Hash>{c}));
  EXPECT_TRUE(VerifyMerkleConsistency(2, 3, MerkleNodeHash(a, b), root, proof));
}

TEST_F(MerkleTest, LeafAndNodeHashesAreDomainSeparated) {
  const Hash left = MerkleLeafHash("l"), right = MerkleLeafHash("r");
  std::string concatenated(reinterpret_cast<const char*>(left.data()), 32);
  concatenated.append(reinterpret_cast<const char*>(right.data()), 32);
  // The same 64 bytes as a leaf and as an interior node hash differently.
  EXPECT_NE(MerkleLeafHash(concatenated), MerkleNodeHash(left, right));
  EXPECT_NE(MerkleNodeHash(left, right), MerkleNodeHash(right, left));
}

TEST_F(MerkleTest, FrontierRootEqualsTheDefinitionAtEverySize) {
  const Leaves leaves = TestLeaves(kMaxSize);
  MerkleFrontier frontier;
  std::vector<std::tuple<uint32_t, uint64_t, Hash>> completed;
  for (size_t n = 1; n <= kMaxSize; ++n) {
    frontier.Append(leaves[n - 1], [&](uint32_t level, uint64_t index, const Hash& hash) {
      completed.emplace_back(level, index, hash);
    });
    EXPECT_EQ(frontier.size(), n);
    EXPECT_EQ(frontier.Root(), ReferenceRoot(Slice(leaves, 0, n))) << "size " << n;
    MerkleFrontier decoded;
    ASSERT_TRUE(decoded.Decode(frontier.Encode()));
    EXPECT_TRUE(decoded == frontier);
  }
  // Every perfect subtree was reported exactly once, with its correct hash: 33 leaves, 16 pairs, 8, 4, 2, 1.
  EXPECT_EQ(completed.size(), 33u + 16 + 8 + 4 + 2 + 1);
  for (const auto& [level, index, hash] : completed) {
    const size_t begin = static_cast<size_t>(index) << level;
    EXPECT_EQ(hash, ReferenceRoot(Slice(leaves, begin, begin + (size_t{1} << level)))) << level << "/" << index;
  }
}

TEST_F(MerkleTest, FrontierDecodeRefusesMalformedBytes) {
  MerkleFrontier frontier;
  frontier.Append(MerkleLeafHash("a"));
  frontier.Append(MerkleLeafHash("b"));
  frontier.Append(MerkleLeafHash("c"));
  const std::string bytes = frontier.Encode();
  ASSERT_EQ(bytes.size(), 8u + 2 * 32);
  MerkleFrontier decoded;
  EXPECT_FALSE(decoded.Decode(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decoded.Decode(bytes + std::string(32, '\0')));
  EXPECT_FALSE(decoded.Decode("short"));
  EXPECT_EQ(decoded.size(), 0u);  // unchanged by the failures
}

TEST_F(MerkleTest, EveryInclusionProofUpTo33LeavesMatchesTheRfcAndVerifies) {
  const Leaves leaves = TestLeaves(kMaxSize);
  size_t checked = 0;
  for (size_t n = 1; n <= kMaxSize; ++n) {
    const Leaves tree = Slice(leaves, 0, n);
    const Hash root = ReferenceRoot(tree);
    for (size_t m = 0; m < n; ++m) {
      std::vector<Hash> proof;
      ASSERT_TRUE(MerkleInclusionProof(m, n, SourceOver(leaves), &proof).ok());
      ASSERT_EQ(proof, ReferencePath(m, tree)) << "leaf " << m << " of " << n;
      ASSERT_TRUE(VerifyMerkleInclusion(leaves[m], m, n, proof, root)) << "leaf " << m << " of " << n;
      // Crossing from valid to invalid: every change must be refused.
      if (n > 1) {
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[(m + 1) % n], m, n, proof, root)) << "another leaf";
      }
      if (m + 1 < n) {
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], m + 1, n, proof, root)) << m << "/" << n;
      }
      if (n < kMaxSize) {
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], m, n + 1, proof, ReferenceRoot(Slice(leaves, 0, n + 1))));
      }
      EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], n, n, proof, root));
      for (size_t i = 0; i < proof.size(); ++i) {
        std::vector<Hash> damaged = proof;
        damaged[i][i % 32] ^= 0x01;
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], m, n, damaged, root)) << "element " << i;
      }
      if (!proof.empty()) {
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], m, n, Leaves(proof.begin(), proof.end() - 1), root));
      }
      std::vector<Hash> extended = proof;
      extended.push_back(root);
      EXPECT_FALSE(VerifyMerkleInclusion(leaves[m], m, n, extended, root));
      ++checked;
    }
  }
  EXPECT_EQ(checked, kMaxSize * (kMaxSize + 1) / 2);
}

TEST_F(MerkleTest, EveryConsistencyProofUpTo33LeavesMatchesTheRfcAndVerifies) {
  const Leaves leaves = TestLeaves(kMaxSize);
  size_t checked = 0;
  for (size_t n = 0; n <= kMaxSize; ++n) {
    const Hash second_root = ReferenceRoot(Slice(leaves, 0, n));
    for (size_t m = 0; m <= n; ++m) {
      const Hash first_root = ReferenceRoot(Slice(leaves, 0, m));
      std::vector<Hash> proof;
      ASSERT_TRUE(MerkleConsistencyProof(m, n, SourceOver(leaves), &proof).ok());
      const Leaves expected = (m == 0 || m == n) ? Leaves{} : ReferenceSubProof(m, Slice(leaves, 0, n), true);
      ASSERT_EQ(proof, expected) << m << " -> " << n;
      ASSERT_TRUE(VerifyMerkleConsistency(m, n, first_root, second_root, proof)) << m << " -> " << n;
      ++checked;
      if (m == 0) continue;
      // A different first root, a different second root, a damaged or shortened proof: all refused.
      const Hash other_first = ReferenceRoot(Slice(leaves, 1, m + 1));
      EXPECT_FALSE(VerifyMerkleConsistency(m, n, other_first, second_root, proof)) << m << " -> " << n;
      if (m < n) {
        Hash other_second = second_root;
        other_second[0] ^= 0x80;
        EXPECT_FALSE(VerifyMerkleConsistency(m, n, first_root, other_second, proof));
        for (size_t i = 0; i < proof.size(); ++i) {
          std::vector<Hash> damaged = proof;
          damaged[i][31 - i % 32] ^= 0x10;
          EXPECT_FALSE(VerifyMerkleConsistency(m, n, first_root, second_root, damaged)) << m << " -> " << n << " @" << i;
        }
        EXPECT_FALSE(VerifyMerkleConsistency(m, n, first_root, second_root, Leaves(proof.begin(), proof.end() - 1)));
        std::vector<Hash> extended = proof;
        extended.push_back(first_root);
        EXPECT_FALSE(VerifyMerkleConsistency(m, n, first_root, second_root, extended));
        if (m + 1 < n) {
          EXPECT_FALSE(VerifyMerkleConsistency(m + 1, n, first_root, second_root, proof));
        }
      }
    }
  }
  EXPECT_EQ(checked, (kMaxSize + 1) * (kMaxSize + 2) / 2);
}

TEST_F(MerkleTest, ProofsOfImpossibleTreesAreRefused) {
  const Leaves leaves = TestLeaves(4);
  std::vector<Hash> proof;
  EXPECT_FALSE(MerkleInclusionProof(4, 4, SourceOver(leaves), &proof).ok());
  EXPECT_FALSE(MerkleConsistencyProof(3, 2, SourceOver(leaves), &proof).ok());
  EXPECT_FALSE(VerifyMerkleConsistency(3, 2, leaves[0], leaves[0], {}));
  // The source's failure is passed on.
  EXPECT_EQ(MerkleInclusionProof(0, 8, SourceOver(leaves), &proof).code(), StatusCode::kNotFound);
}

// The proofs ask for O(log n) subtrees, not for every leaf: what makes proofs cheap on a big log.
TEST_F(MerkleTest, ProofsAskForFewSubtrees) {
  const size_t n = 1000;
  const Leaves leaves = TestLeaves(n);
  int calls = 0;
  std::vector<Hash> proof;
  ASSERT_TRUE(MerkleInclusionProof(617, n, SourceOver(leaves, &calls), &proof).ok());
  EXPECT_EQ(proof.size(), 10u);
  EXPECT_LE(calls, 20);
  calls = 0;
  ASSERT_TRUE(MerkleConsistencyProof(333, n, SourceOver(leaves, &calls), &proof).ok());
  EXPECT_LE(calls, 30);
  EXPECT_TRUE(VerifyMerkleConsistency(333, n, ReferenceRoot(Slice(leaves, 0, 333)), ReferenceRoot(leaves), proof));
}

TEST_F(MerkleTest, HashHexIsStrict) {
  Hash hash;
  EXPECT_TRUE(ParseHashHex(std::string(64, 'a'), &hash));
  EXPECT_FALSE(ParseHashHex(std::string(64, 'A'), &hash));
  EXPECT_FALSE(ParseHashHex(std::string(63, 'a'), &hash));
  EXPECT_FALSE(ParseHashHex(std::string(64, 'g'), &hash));
}

// The ledger's SHA-256 (OpenSSL's, di/ledger/sha256.h) against the FIPS 180-2 vectors, and against libsodium's
// implementation (which wrote every hash of stores made before the switch) over inputs of every size up to
// three blocks, fed in pieces.
TEST(Sha256Test, MatchesTheStandardVectorsAndLibsodium) {
  EXPECT_EQ(HashToHex(Sha256Of("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashToHex(Sha256Of("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToHex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  ASSERT_GE(sodium_init(), 0);
  std::string input;
  for (size_t size = 0; size <= 3 * 64 + 1; ++size) {
    Hash expected{};
    crypto_hash_sha256(expected.data(), reinterpret_cast<const unsigned char*>(input.data()), input.size());
    Sha256 pieces;
    for (size_t at = 0; at < size; at += 7) pieces.Update(std::string_view(input).substr(at, 7));
    EXPECT_EQ(pieces.Finish(), expected) << "size " << size;
    EXPECT_EQ(Sha256Of(input), expected) << "size " << size;
    input.push_back(static_cast<char>(size * 31 + 7));
  }
  const Hash previous = Sha256Of("previous");
  EXPECT_EQ(ChainHash(previous, "body"),
            Sha256Of(std::string(reinterpret_cast<const char*>(previous.data()), previous.size()) + "body"));
}

}  // namespace
}  // namespace di::ledger
