// Signed checkpoints, key handling, proofs and offline verification, on real stores in temp dirs; and the
// CLI end to end (keygen -> checkpoint -> export -> verify-export, then a tampered export).
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "chain_oracle.h"
#include "di/ledger/audit.h"
#include "di/ledger/json_codec.h"
#include "di/ledger/merkle.h"
#include "test_util.h"
#include "world.h"

namespace di::ledger {
namespace {

using di::testing::AppendJson;
using di::testing::BaseWorld;
using di::testing::NumberedDeliveries;
using di::testing::OpenStore;
using di::testing::TempDir;
using nlohmann::json;
using nlohmann::ordered_json;

SigningKey KeyFromByte(uint8_t byte) {
  std::array<uint8_t, 32> seed;
  seed.fill(byte);
  SigningKey key;
  EXPECT_TRUE(SigningKey::FromSeed(seed, &key).ok());
  return key;
}

// The whole log as `di-ledger export` writes it.
std::string Export(EventStore& store) {
  std::string text;
  EXPECT_TRUE(store.ReadLog(1, 0, [&](const StoredEvent& event) {
                     text += StoredEventToJson(event).dump() + "\n";
                     return true;
                   }).ok());
  return text;
}

std::vector<Hash> Leaves(EventStore& store) {
  std::vector<Hash> leaves;
  EXPECT_TRUE(store.ReadLog(1, 0, [&](const StoredEvent& event) {
                     leaves.push_back(MerkleLeafHash(event.body.bytes()));
                     return true;
                   }).ok());
  return leaves;
}

Hash RootOf(const std::vector<Hash>& leaves, size_t size) {
  MerkleFrontier frontier;
  for (size_t i = 0; i < size; ++i) frontier.Append(leaves[i]);
  return frontier.Root();
}

ExportVerifyReport VerifyText(const std::string& text, const PublicKey& key) {
  std::istringstream input(text);
  ExportVerifyReport report;
  EXPECT_TRUE(VerifyExport(input, key, &report).ok());
  return report;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) lines.push_back(line);
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

class AuditTest : public di::testing::BaseWorldStoreTest {
 protected:
  AuditTest() : BaseWorldStoreTest("store") {}
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  SigningKey key_ = KeyFromByte(1);
};

// ---- Keys ------------------------------------------------------------------------------------------------

TEST_F(AuditTest, KeyFileIsPrivateNeverOverwrittenAndLoadsBack) {
  SigningKey key;
  ASSERT_TRUE(SigningKey::Generate(&key).ok());
  const std::string path = dir_.Sub("ledger.key");
  ASSERT_TRUE(key.SaveNew(path).ok());
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const Status again = key_.SaveNew(path);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.message().find("never overwritten"), std::string::npos);
  SigningKey loaded;
  ASSERT_TRUE(SigningKey::Load(path, &loaded).ok());
  EXPECT_EQ(loaded.public_key(), key.public_key());
  EXPECT_EQ(loaded.KeyId(), KeyIdOf(key.public_key()));
  EXPECT_EQ(loaded.KeyId().size(), 16u);
  ::chmod(path.c_str(), 0644);
  EXPECT_NE(SigningKey::Load(path, &loaded).message().find("readable by group or others"), std::string::npos);
}

TEST_F(AuditTest, KeyFileWithAForeignPublicKeyIsRefused) {
  const std::string path = dir_.Sub("bad.key");
  json file = {{"format", "di-ledger-signing-key/1"},
               {"public_key", ToHex(KeyFromByte(2).public_key())},
               {"seed", std::string(64, '1')}};
  std::ofstream(path) << file.dump();
  ::chmod(path.c_str(), 0600);
  SigningKey loaded;
  EXPECT_NE(SigningKey::Load(path, &loaded).message().find("does not belong to the seed"), std::string::npos);
}

TEST_F(AuditTest, StatementsAreTheDocumentedText) {
  Hash root;
  root.fill(0xab);
  std::string root_hex;
  for (int i = 0; i < 32; ++i) root_hex += "ab";
  EXPECT_EQ(CheckpointStatement(42, root), "di-ledger checkpoint v1\n42\n" + root_hex + "\n");
  const SigningKey other = KeyFromByte(2);
  EXPECT_EQ(KeyRotationStatement(7, root, key_.public_key(), other.public_key()),
            "di-ledger key rotation v1\n7\n" + HashToHex(root) + "\n" + ToHex(key_.public_key()) + "\n" +
                ToHex(other.public_key()) + "\n");
  const Signature signature = key_.Sign(CheckpointStatement(42, root));
  EXPECT_TRUE(VerifySignature(key_.public_key(), CheckpointStatement(42, root), signature));
  EXPECT_FALSE(VerifySignature(key_.public_key(), CheckpointStatement(43, root), signature));
  EXPECT_FALSE(VerifySignature(other.public_key(), CheckpointStatement(42, root), signature));
}

TEST_F(AuditTest, PublicKeyFromHexOrFile) {
  PublicKey key;
  ASSERT_TRUE(LoadPublicKey(ToHex(key_.public_key()), &key).ok());
  EXPECT_EQ(key, key_.public_key());
  const std::string path = dir_.Sub("k.pub");
  std::ofstream(path) << ToHex(key_.public_key()) << "\n";
  ASSERT_TRUE(LoadPublicKey(path, &key).ok());
  EXPECT_EQ(key, key_.public_key());
  EXPECT_FALSE(LoadPublicKey(std::string(63, 'a'), &key).ok());
}

// ---- Checkpoints on the store ------------------------------------------------------------------------------

TEST_F(AuditTest, CheckpointSignsTheRootOfEveryEventBeforeIt) {
  const uint64_t head = store_->Head().position;
  CheckpointResult checkpoint;
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &checkpoint).ok());
  EXPECT_EQ(checkpoint.position, head + 1);
  EXPECT_EQ(checkpoint.tree_size, head);
  const std::vector<Hash> leaves = Leaves(*store_);
  EXPECT_EQ(checkpoint.root, RootOf(leaves, head));

  StoredEvent stored;
  ASSERT_TRUE(store_->GetByEventId("checkpoint-" + std::to_string(head), &stored).ok());
  EXPECT_EQ(std::string(stored.reader().getStream().cStr()), "audit/checkpoints");
  SignedTreeHead signed_head;
  ASSERT_EQ(CheckAuditEvent(stored.reader().getEvent(), &signed_head), "");
  EXPECT_EQ(signed_head.tree_size, head);
  EXPECT_EQ(signed_head.root, checkpoint.root);
  EXPECT_EQ(signed_head.key, key_.public_key());

  // The store's own root at every size agrees with the definition.
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, head / 2, head, head + 1}) {
    Hash root;
    ASSERT_TRUE(store_->GetMerkleRoot(size, &root).ok());
    EXPECT_EQ(root, size == 0 ? MerkleEmptyRoot() : RootOf(leaves, size)) << size;
  }
  Hash root;
  EXPECT_EQ(store_->GetMerkleRoot(head + 2, &root).code(), StatusCode::kInvalidArgument);
  VerifyReport report;
  ASSERT_TRUE(store_->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
}

TEST_F(AuditTest, ClientsCannotAppendAuditEvents) {
  const LogHead before = store_->Head();
  Hash root = RootOf(Leaves(*store_), before.position);
  // A perfectly signed checkpoint, submitted as an ordinary event: refused all the same.
  const NewEvent forged = BuildCheckpointEvent(key_, before.position, root, 1'700'000'000'000'000);
  AppendResult result;
  std::vector<NewEvent> batch;
  batch.push_back(NewEvent::FromReader(forged.reader()));
  const Status status = store_->Append(batch, &result);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field(), "type");
  EXPECT_NE(status.message().find("recorded by the ledger itself"), std::string::npos);
  EXPECT_EQ(store_->Head().position, before.position);
}

TEST_F(AuditTest, OnlyTheLedgersKeySignsUntilItIsRotated) {
  const SigningKey second = KeyFromByte(2), stranger = KeyFromByte(3);
  CheckpointResult result;
  Status status = store_->RotateSigningKey(key_, second, &result);
  EXPECT_NE(status.message().find("no signing key yet"), std::string::npos) << status.ToString();
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &result).ok());
  status = store_->AppendCheckpoint(second, &result);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("is not the ledger's signing key"), std::string::npos);
  EXPECT_FALSE(store_->RotateSigningKey(stranger, second, &result).ok());

  ASSERT_TRUE(store_->RotateSigningKey(key_, second, &result).ok());
  StoredEvent rotation;
  ASSERT_TRUE(store_->GetByEventId("key-rotation-" + std::to_string(result.tree_size), &rotation).ok());
  EXPECT_EQ(std::string(rotation.reader().getStream().cStr()), "audit/signing_keys");
  EXPECT_FALSE(store_->AppendCheckpoint(key_, &result).ok());  // the old key is retired
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(0, 3)).ok());
  ASSERT_TRUE(store_->AppendCheckpoint(second, &result).ok());

  // The key survives a restart.
  store_.reset();
  store_ = OpenStore(dir_.Sub("store"));
  EXPECT_FALSE(store_->AppendCheckpoint(key_, &result).ok());
  ASSERT_TRUE(store_->AppendCheckpoint(second, &result).ok());

  // Any key of the chain anchors the whole export; a stranger's key anchors nothing.
  const std::string text = Export(*store_);
  for (const SigningKey* anchor : std::vector<const SigningKey*>{&key_, &second}) {
    const ExportVerifyReport report = VerifyText(text, anchor->public_key());
    EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
    EXPECT_EQ(report.checkpoints, 3u);
    EXPECT_EQ(report.rotations, 1u);
    EXPECT_EQ(report.key_ids, (std::vector<std::string>{key_.KeyId(), second.KeyId()}));
  }
  const ExportVerifyReport report = VerifyText(text, stranger.public_key());
  EXPECT_NE(report.first_bad_position, 0u);
  EXPECT_NE(report.problem.find("not by the given key " + stranger.KeyId()), std::string::npos) << report.problem;
}

TEST_F(AuditTest, AutomaticCheckpointEveryNEvents) {
  store_.reset();
  EventStoreOptions options;
  options.checkpoint_every = 10;
  options.checkpoint_key = std::make_shared<SigningKey>(key_);
  store_ = OpenStore(dir_.Sub("store"), options);
  const uint64_t start = store_->Head().position;
  for (int batch = 0; batch < 10; ++batch) ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(batch * 4, 4)).ok());
  std::vector<uint64_t> positions;
  ASSERT_TRUE(store_->ReadByType(schema::Event::Payload::CHECKPOINT_SIGNED, 1, 0, [&](const StoredEvent& event) {
                        positions.push_back(event.position);
                        SignedTreeHead head;
                        EXPECT_EQ(CheckAuditEvent(event.reader().getEvent(), &head), "");
                        EXPECT_EQ(head.tree_size, event.position - 1);
                        return true;
                      }).ok());
  // 40 deliveries after `start` events, plus the checkpoints themselves: one per multiple of 10 crossed.
  const uint64_t head = store_->Head().position;
  EXPECT_EQ(positions.size(), head / 10 - start / 10);
  for (size_t i = 1; i < positions.size(); ++i) EXPECT_EQ(positions[i] / 10, positions[i - 1] / 10 + 1);
  EXPECT_EQ(VerifyText(Export(*store_), key_.public_key()).first_bad_position, 0u);

  // Open refuses an automatic checkpoint without a key, and with a key that is not the ledger's.
  store_.reset();
  std::unique_ptr<EventStore> store;
  options.checkpoint_key.reset();
  EXPECT_EQ(EventStore::Open(options, dir_.Sub("store"), &store).code(), StatusCode::kInvalidArgument);
  options.checkpoint_key = std::make_shared<SigningKey>(KeyFromByte(9));
  EXPECT_EQ(EventStore::Open(options, dir_.Sub("store"), &store).code(), StatusCode::kInvalidArgument);
}

// ---- Proofs --------------------------------------------------------------------------------------------

// Enough events that proofs use the stored subtree hashes (2^8 leaves and up) as well as rehashed ones.
TEST_F(AuditTest, ProofsFromTheStoreMatchTheDefinitionAndCheckOffline) {
  for (int batch = 0; batch < 6; ++batch) ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(batch * 100, 100)).ok());
  CheckpointResult first, second;
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &first).ok());
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(600, 123)).ok());
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &second).ok());
  ASSERT_GT(second.tree_size, 700u);
  const std::vector<Hash> leaves = Leaves(*store_);

  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{511}, first.tree_size - 1,
                         second.tree_size - 1}) {
    std::vector<Hash> path;
    ASSERT_TRUE(store_->GetInclusionProof(index, second.tree_size, &path).ok());
    EXPECT_TRUE(VerifyMerkleInclusion(leaves[index], index, second.tree_size, path, second.root)) << index;
  }
  for (uint64_t m : {uint64_t{1}, uint64_t{256}, uint64_t{300}, first.tree_size}) {
    std::vector<Hash> path;
    ASSERT_TRUE(store_->GetConsistencyProof(m, second.tree_size, &path).ok());
    EXPECT_TRUE(VerifyMerkleConsistency(m, second.tree_size, RootOf(leaves, m), second.root, path)) << m;
  }

  json proof;
  ordered_json built;
  ASSERT_TRUE(BuildInclusionProof(*store_, "e-300", 0, &built).ok());
  proof = json::parse(built.dump());
  EXPECT_EQ(proof["checkpoint"]["position"], second.position);
  ProofCheckReport report;
  ASSERT_TRUE(CheckProof(proof, key_.public_key(), &report).ok());
  EXPECT_EQ(report.problem, "");
  EXPECT_NE(report.summary.find("event 'e-300'"), std::string::npos) << report.summary;

  // Against the first checkpoint too; an event newer than a checkpoint has no proof in it.
  ASSERT_TRUE(BuildInclusionProof(*store_, "e-300", first.position, &built).ok());
  ASSERT_TRUE(CheckProof(json::parse(built.dump()), key_.public_key(), &report).ok());
  EXPECT_EQ(report.problem, "");
  EXPECT_EQ(BuildInclusionProof(*store_, "e-650", first.position, &built).code(), StatusCode::kNotFound);

  // Crossing from valid to invalid: a changed event, a changed path, a changed checkpoint, another key.
  json changed = proof;
  changed["event"]["data"]["quantity"] = 31;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("leaf_hash is not the hash of the event"), std::string::npos) << report.problem;
  changed.erase("leaf_hash");  // informative only: without it the root gives the change away
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("is not the one recorded"), std::string::npos) << report.problem;
  changed = proof;
  std::string element = changed["audit_path"][3].get<std::string>();
  element[0] = element[0] == '0' ? '1' : '0';
  changed["audit_path"][3] = element;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem, "");
  changed = proof;
  changed["audit_path"].erase(changed["audit_path"].size() - 1);
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("needs another number"), std::string::npos) << report.problem;
  // The sizes the file states for its reader must be the proven ones.
  changed = proof;
  const uint64_t position = proof["event"]["position"].get<uint64_t>();  // leaf position - 1
  changed["leaf_index"] = position;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_EQ(report.problem, "leaf_index says " + std::to_string(position) + ", but the embedded events give " +
                                std::to_string(position - 1));
  changed = proof;
  changed["tree_size"] = second.tree_size + 1;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("tree_size says"), std::string::npos) << report.problem;
  changed = proof;
  changed["checkpoint"]["data"]["tree_size"] = second.tree_size - 1;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("signature"), std::string::npos) << report.problem;
  ASSERT_TRUE(CheckProof(proof, KeyFromByte(7).public_key(), &report).ok());
  EXPECT_NE(report.problem.find("not the given key"), std::string::npos) << report.problem;
  EXPECT_EQ(CheckProof(json{{"format", "nonsense"}}, key_.public_key(), &report).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(BuildConsistencyProof(*store_, first.position, 0, &built).ok());
  proof = json::parse(built.dump());
  ASSERT_TRUE(CheckProof(proof, key_.public_key(), &report).ok());
  EXPECT_EQ(report.problem, "");
  EXPECT_EQ(report.kind, "consistency");
  changed = proof;
  changed["first_tree_size"] = first.tree_size + 1;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("first_tree_size says"), std::string::npos) << report.problem;
  changed = proof;
  element = changed["consistency_path"][0].get<std::string>();
  element[5] = element[5] == 'a' ? 'b' : 'a';
  changed["consistency_path"][0] = element;
  ASSERT_TRUE(CheckProof(changed, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem.find("is not a prefix"), std::string::npos) << report.problem;
}

TEST_F(AuditTest, ProofAcrossAKeyRotationChecksWithEitherKey) {
  const SigningKey second = KeyFromByte(2);
  CheckpointResult result;
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &result).ok());
  ASSERT_TRUE(store_->RotateSigningKey(key_, second, &result).ok());
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(0, 5)).ok());
  ASSERT_TRUE(store_->AppendCheckpoint(second, &result).ok());
  ordered_json built;
  ASSERT_TRUE(BuildInclusionProof(*store_, "e-2", 0, &built).ok());
  const json proof = json::parse(built.dump());
  ProofCheckReport report;
  for (const SigningKey* anchor : std::vector<const SigningKey*>{&key_, &second}) {
    ASSERT_TRUE(CheckProof(proof, anchor->public_key(), &report).ok());
    EXPECT_EQ(report.problem, "") << anchor->KeyId();
  }
  json without_rotation = proof;
  without_rotation["key_rotations"] = json::array();
  ASSERT_TRUE(CheckProof(without_rotation, key_.public_key(), &report).ok());
  EXPECT_NE(report.problem, "");
}

// ---- Offline verification of an export -----------------------------------------------------------------

TEST_F(AuditTest, VerifyExportNamesTheFirstAlteredPosition) {
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(0, 20)).ok());
  CheckpointResult checkpoint;
  ASSERT_TRUE(store_->AppendCheckpoint(key_, &checkpoint).ok());
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(20, 5)).ok());
  const std::string text = Export(*store_);
  ExportVerifyReport report = VerifyText(text, key_.public_key());
  ASSERT_EQ(report.first_bad_position, 0u) << report.problem;
  EXPECT_EQ(report.events, store_->Head().position);
  EXPECT_EQ(report.head_hash, store_->Head().hash);
  EXPECT_EQ(report.last_signed_tree_size, checkpoint.tree_size);
  Hash root;
  ASSERT_TRUE(store_->GetMerkleRoot(report.events, &root).ok());
  EXPECT_EQ(report.root, root);

  std::vector<std::string> lines = Lines(text);
  const size_t altered = 15;  // position 16: a delivery
  json line = json::parse(lines[altered]);
  line["data"]["quantity"] = 45;
  std::vector<std::string> tampered = lines;
  tampered[altered] = line.dump();
  report = VerifyText(JoinLines(tampered), key_.public_key());
  EXPECT_EQ(report.first_bad_position, altered + 1);
  EXPECT_NE(report.problem.find("hash mismatch"), std::string::npos) << report.problem;

  // The same change with every later hash recomputed: the chain holds, the signed root does not.
  Hash previous;
  ASSERT_TRUE(ParseHashHex(json::parse(lines[altered - 1])["hash"].get<std::string>(), &previous));
  for (size_t i = altered; i < tampered.size(); ++i) {
    json rehashed = json::parse(tampered[i]);
    std::string bytes;
    uint64_t position;
    Hash stated;
    ASSERT_TRUE(RecordedEventFromJson(rehashed, &bytes, &position, &stated).ok());
    previous = di::testing::ChainHashOracle(previous, bytes);
    rehashed["hash"] = HashToHex(previous);
    tampered[i] = rehashed.dump();
  }
  report = VerifyText(JoinLines(tampered), key_.public_key());
  EXPECT_EQ(report.first_bad_position, checkpoint.position);
  EXPECT_NE(report.problem.find("is not the root of events"), std::string::npos) << report.problem;

  // A missing line, a reordered export, an export without any checkpoint.
  tampered = lines;
  tampered.erase(tampered.begin() + 3);
  report = VerifyText(JoinLines(tampered), key_.public_key());
  EXPECT_EQ(report.first_bad_position, 4u);
  EXPECT_NE(report.problem.find("holds position 5; expected 4"), std::string::npos) << report.problem;
  report = VerifyText(JoinLines(std::vector<std::string>(lines.begin(), lines.begin() + 5)), key_.public_key());
  EXPECT_NE(report.problem.find("nothing in the export is signed"), std::string::npos) << report.problem;
  report = VerifyText("not json\n", key_.public_key());
  EXPECT_EQ(report.first_bad_position, 1u);
}

// A store written before the Merkle tree existed gets its tree built on open, identical to a live one.
TEST_F(AuditTest, MerkleStateIsRebuiltForAnOlderStore) {
  ASSERT_TRUE(AppendJson(*store_, NumberedDeliveries(0, 300)).ok());
  Hash live_root;
  const uint64_t size = store_->Head().position;
  ASSERT_TRUE(store_->GetMerkleRoot(size, &live_root).ok());
  std::vector<Hash> live_path;
  ASSERT_TRUE(store_->GetInclusionProof(7, size, &live_path).ok());
  store_.reset();
  {
    // Remove the frontier and the subtree hashes, as a store of the first format lacks them.
    rocksdb::DB* raw;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "log", "event_id", "stream", "type", "effective", "entity", "meta"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Sub("store"), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[7], "merkle").ok());
    ASSERT_TRUE(db->DeleteRange(rocksdb::WriteOptions(), handles[7], "merkle-node/", "merkle-node0").ok());
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  store_ = OpenStore(dir_.Sub("store"));
  Hash root;
  ASSERT_TRUE(store_->GetMerkleRoot(size, &root).ok());
  EXPECT_EQ(root, live_root);
  std::vector<Hash> path;
  ASSERT_TRUE(store_->GetInclusionProof(7, size, &path).ok());
  EXPECT_EQ(path, live_path);
  VerifyReport report;
  ASSERT_TRUE(store_->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u) << report.problem;
}

// ---- CLI end to end ------------------------------------------------------------------------------------

using Output = di::testing::CommandOutput;
using di::testing::RunCli;

TEST(AuditCliTest, KeygenCheckpointExportVerifyThenTamper) {
  TempDir dir;
  const std::string data = dir.Sub("data"), key = dir.Sub("ledger.key");
  {
    auto store = OpenStore(data);
    ASSERT_TRUE(AppendJson(*store, BaseWorld()).ok());
    ASSERT_TRUE(AppendJson(*store, NumberedDeliveries(0, 30)).ok());
  }
  Output out = RunCli("audit keygen --out " + key);
  ASSERT_EQ(out.exit_code, 0) << out.text;
  EXPECT_NE(out.text.find("key id"), std::string::npos);
  out = RunCli("audit keygen --out " + key);
  EXPECT_EQ(out.exit_code, 1) << out.text;
  EXPECT_NE(out.text.find("never overwritten"), std::string::npos) << out.text;

  out = RunCli("audit checkpoint --data " + data + " --key " + key);
  ASSERT_EQ(out.exit_code, 0) << out.text;
  EXPECT_NE(out.text.find("checkpoint at position"), std::string::npos) << out.text;
  const std::string exported = dir.Sub("export.jsonl");
  ASSERT_EQ(RunCli("export --data " + data + " -o " + exported).exit_code, 0);

  out = RunCli("audit verify-export " + exported + " --pubkey " + key + ".pub");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  EXPECT_NE(out.text.find("OK: "), std::string::npos) << out.text;

  // Proofs through the CLI.
  const std::string proof = dir.Sub("proof.json");
  ASSERT_EQ(RunCli("audit prove --data " + data + " --event e-7 -o " + proof).exit_code, 0);
  out = RunCli("audit check-proof " + proof + " --pubkey " + key + ".pub");
  EXPECT_EQ(out.exit_code, 0) << out.text;
  EXPECT_NE(out.text.find("OK: event 'e-7'"), std::string::npos) << out.text;

  // One digit of one delivery changed: verify-export fails with exit 1 and names the position.
  std::ifstream in(exported);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  json changed = json::parse(lines[20]);
  const uint64_t position = changed["position"].get<uint64_t>();
  changed["data"]["cost_cents"] = changed["data"]["cost_cents"].get<int64_t>() + 100;
  lines[20] = changed.dump();
  const std::string tampered = dir.Sub("tampered.jsonl");
  std::ofstream(tampered) << JoinLines(lines);
  out = RunCli("audit verify-export " + tampered + " --pubkey " + key + ".pub");
  EXPECT_EQ(out.exit_code, 1) << out.text;
  EXPECT_NE(out.text.find("FAILED at position " + std::to_string(position) + ": hash mismatch"), std::string::npos)
      << out.text;

  // Usage errors exit 2.
  EXPECT_EQ(RunCli("audit prove --data " + data).exit_code, 2);
  EXPECT_EQ(RunCli("audit verify-export " + exported).exit_code, 2);
}

}  // namespace
}  // namespace di::ledger
