// Signing keys, signed statements, the audit events and the key chain (see audit.h, docs/audit.md).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capnp/message.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "di/ledger/audit.h"
#include "di/ledger/capnp_text.h"
#include "di/ledger/invariant.h"
#include "di/ledger/merkle.h"

namespace di::ledger {
namespace {

constexpr char kKeyFileFormat[] = "di-ledger-signing-key/1";
constexpr char kLedgerActor[] = "di-ledger";
constexpr size_t kKeyIdBytes = 8;
// A key file is a few hundred bytes; anything much larger is not one.
constexpr std::streamsize kMaxKeyFileBytes = 4096;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Trim(std::string text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}


bool ParseKeyHex(capnp::Text::Reader text, PublicKey* key) { return ParseHexBytes(Str(text), key->data(), key->size()); }
bool ParseSignatureHex(capnp::Text::Reader text, Signature* signature) {
  return ParseHexBytes(Str(text), signature->data(), signature->size());
}

int32_t UtcDay(int64_t micros) {
  constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;
  int64_t days = micros / kMicrosPerDay;
  if (micros % kMicrosPerDay < 0) --days;
  return static_cast<int32_t>(days);
}

// The envelope of an event the ledger records itself: the ledger is its actor, and its effective date is the
// UTC day it is recorded on.
schema::Event::Builder InitLedgerEvent(capnp::MessageBuilder& message, const std::string& id,
                                       int64_t recorded_at_micros) {
  auto event = message.initRoot<schema::Event>();
  event.setId(id);
  event.setEffectiveDate(UtcDay(recorded_at_micros));
  event.setActor(kLedgerActor);
  return event;
}

}  // namespace

// ---- Hex ------------------------------------------------------------------------------------------------

std::string BytesToHex(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex += kDigits[bytes[i] >> 4];
    hex += kDigits[bytes[i] & 0xf];
  }
  return hex;
}

bool ParseHexBytes(std::string_view hex, uint8_t* out, size_t size) {
  if (hex.size() != 2 * size) return false;
  for (size_t i = 0; i < size; ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

std::string KeyIdOf(const PublicKey& key) {
  Hash digest;
  crypto_hash_sha256(digest.data(), key.data(), key.size());
  return BytesToHex(digest.data(), kKeyIdBytes);
}

// ---- SigningKey ---------------------------------------------------------------------------------------

SigningKey::~SigningKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_key_.data(), secret_key_.size());
}

Status SigningKey::Generate(SigningKey* key) {
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
  std::array<uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  Status status = FromSeed(seed, key);
  sodium_memzero(seed.data(), seed.size());
  return status;
}

Status SigningKey::FromSeed(const std::array<uint8_t, 32>& seed, SigningKey* key) {
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
  SigningKey result;
  result.seed_ = seed;
  if (crypto_sign_ed25519_seed_keypair(result.public_key_.data(), result.secret_key_.data(), seed.data()) != 0) {
    return Status::InvalidArgument("cannot derive an Ed25519 key pair from the seed");
  }
  result.loaded_ = true;
  *key = result;
  return Status::Ok();
}

Status SigningKey::Load(const std::string& path, SigningKey* key) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return Status::NotFound("cannot read the signing key file '" + path + "'");
  if ((info.st_mode & 077) != 0) {
    return Status::InvalidArgument("the signing key file '" + path +
                                   "' is readable by group or others (chmod 600 it): a secret key must stay private");
  }
  std::ifstream file(path);
  std::string text(kMaxKeyFileBytes + 1, '\0');
  file.read(text.data(), kMaxKeyFileBytes + 1);
  if (file.gcount() > kMaxKeyFileBytes) return Status::InvalidArgument("'" + path + "' is too large to be a key file");
  text.resize(static_cast<size_t>(file.gcount()));
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  sodium_memzero(text.data(), text.size());
  if (!json.is_object() || json.value("format", "") != kKeyFileFormat || !json.contains("seed") ||
      !json["seed"].is_string() || !json.contains("public_key") || !json["public_key"].is_string()) {
    return Status::InvalidArgument("'" + path + "' is not a " + kKeyFileFormat + " key file");
  }
  std::array<uint8_t, 32> seed;
  PublicKey stated;
  if (!ParseHexBytes(json["seed"].get<std::string>(), seed.data(), seed.size()) ||
      !ParseHexBytes(json["public_key"].get<std::string>(), stated.data(), stated.size())) {
    return Status::InvalidArgument("'" + path + "': seed and public_key must be 64 lowercase hex chars");
  }
  SigningKey loaded;
  Status status = FromSeed(seed, &loaded);
  sodium_memzero(seed.data(), seed.size());
  if (!status.ok()) return status;
  if (loaded.public_key() != stated) {
    return Status::InvalidArgument("'" + path + "': the public key does not belong to the seed (damaged key file?)");
  }
  *key = loaded;
  return Status::Ok();
}

Status SigningKey::SaveNew(const std::string& path) const {
  DI_ASSERT(loaded_);
  nlohmann::ordered_json json;
  json["format"] = kKeyFileFormat;
  json["key_id"] = KeyId();
  json["public_key"] = ToHex(public_key_);
  json["seed"] = ToHex(seed_);
  std::string text = json.dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    sodium_memzero(text.data(), text.size());
    if (error == EEXIST) return Status::InvalidArgument("'" + path + "' exists: a signing key is never overwritten");
    return Status::IOError("cannot create '" + path + "': " + std::strerror(error));
  }
  const ssize_t written = ::write(fd, text.data(), text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size()) || !synced) {
    ::unlink(path.c_str());
    return Status::IOError("cannot write '" + path + "'");
  }
  return Status::Ok();
}

std::string SigningKey::KeyId() const { return KeyIdOf(public_key_); }

Signature SigningKey::Sign(std::string_view message) const {
  DI_ASSERT(loaded_);
  Signature signature;
  crypto_sign_ed25519_detached(signature.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                               message.size(), secret_key_.data());
  return signature;
}

Status LoadPublicKey(const std::string& file_or_hex, PublicKey* key) {
  if (ParseHexBytes(file_or_hex, key->data(), key->size())) return Status::Ok();
  std::ifstream file(file_or_hex);
  if (!file) return Status::NotFound("'" + file_or_hex + "' is neither 64 hex chars nor a readable public key file");
  std::string text(200, '\0');
  file.read(text.data(), 200);
  text.resize(static_cast<size_t>(file.gcount()));
  if (!ParseHexBytes(Trim(text), key->data(), key->size())) {
    return Status::InvalidArgument("'" + file_or_hex + "' does not hold a public key (64 lowercase hex chars)");
  }
  return Status::Ok();
}

bool VerifySignature(const PublicKey& key, std::string_view message, const Signature& signature) {
  if (sodium_init() < 0) return false;
  return crypto_sign_ed25519_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                             message.size(), key.data()) == 0;
}

// ---- Statements and audit events -------------------------------------------------------------------------

std::string CheckpointStatement(uint64_t tree_size, const Hash& root) {
  return "di-ledger checkpoint v1\n" + std::to_string(tree_size) + "\n" + HashToHex(root) + "\n";
}

std::string KeyRotationStatement(uint64_t tree_size, const Hash& root, const PublicKey& old_key,
                                 const PublicKey& new_key) {
  return "di-ledger key rotation v1\n" + std::to_string(tree_size) + "\n" + HashToHex(root) + "\n" + ToHex(old_key) +
         "\n" + ToHex(new_key) + "\n";
}

NewEvent BuildCheckpointEvent(const SigningKey& key, uint64_t tree_size, const Hash& root, int64_t recorded_at_micros) {
  capnp::MallocMessageBuilder message;
  auto event = InitLedgerEvent(message, "checkpoint-" + std::to_string(tree_size), recorded_at_micros);
  auto data = event.getPayload().initCheckpointSigned();
  data.setTreeSize(tree_size);
  data.setRootHash(HashToHex(root));
  data.setKeyId(key.KeyId());
  data.setPublicKey(ToHex(key.public_key()));
  data.setSignature(ToHex(key.Sign(CheckpointStatement(tree_size, root))));
  return NewEvent::FromReader(event.asReader());
}

NewEvent BuildKeyRotationEvent(const SigningKey& old_key, const SigningKey& new_key, uint64_t tree_size,
                               const Hash& root, int64_t recorded_at_micros) {
  const std::string statement = KeyRotationStatement(tree_size, root, old_key.public_key(), new_key.public_key());
  capnp::MallocMessageBuilder message;
  auto event = InitLedgerEvent(message, "key-rotation-" + std::to_string(tree_size), recorded_at_micros);
  auto data = event.getPayload().initSigningKeyRotated();
  data.setTreeSize(tree_size);
  data.setRootHash(HashToHex(root));
  data.setOldKeyId(old_key.KeyId());
  data.setOldPublicKey(ToHex(old_key.public_key()));
  data.setNewKeyId(new_key.KeyId());
  data.setNewPublicKey(ToHex(new_key.public_key()));
  data.setOldKeySignature(ToHex(old_key.Sign(statement)));
  data.setNewKeySignature(ToHex(new_key.Sign(statement)));
  return NewEvent::FromReader(event.asReader());
}

bool IsLedgerRecordedType(schema::Event::Payload::Which type) {
  return type == schema::Event::Payload::CHECKPOINT_SIGNED || type == schema::Event::Payload::SIGNING_KEY_ROTATED;
}

std::string CheckAuditEvent(schema::Event::Reader event, SignedTreeHead* head) {
  *head = SignedTreeHead{};
  const auto payload = event.getPayload();
  if (payload.which() == schema::Event::Payload::CHECKPOINT_SIGNED) {
    const auto data = payload.getCheckpointSigned();
    Signature signature;
    if (!ParseHashHex(Str(data.getRootHash()), &head->root)) return "root_hash is not 64 lowercase hex chars";
    if (!ParseKeyHex(data.getPublicKey(), &head->key)) return "public_key is not 64 lowercase hex chars";
    if (!ParseSignatureHex(data.getSignature(), &signature)) return "signature is not 128 lowercase hex chars";
    if (Str(data.getKeyId()) != KeyIdOf(head->key)) return "key_id is not the id of public_key";
    head->tree_size = data.getTreeSize();
    if (!VerifySignature(head->key, CheckpointStatement(head->tree_size, head->root), signature)) {
      return "the signature of key " + KeyIdOf(head->key) + " does not verify";
    }
    return "";
  }
  if (payload.which() == schema::Event::Payload::SIGNING_KEY_ROTATED) {
    const auto data = payload.getSigningKeyRotated();
    Signature old_signature, new_signature;
    head->rotation = true;
    if (!ParseHashHex(Str(data.getRootHash()), &head->root)) return "root_hash is not 64 lowercase hex chars";
    if (!ParseKeyHex(data.getOldPublicKey(), &head->previous_key)) return "old_public_key is not 64 lowercase hex chars";
    if (!ParseKeyHex(data.getNewPublicKey(), &head->key)) return "new_public_key is not 64 lowercase hex chars";
    if (!ParseSignatureHex(data.getOldKeySignature(), &old_signature) ||
        !ParseSignatureHex(data.getNewKeySignature(), &new_signature)) {
      return "a signature is not 128 lowercase hex chars";
    }
    if (Str(data.getOldKeyId()) != KeyIdOf(head->previous_key)) return "old_key_id is not the id of old_public_key";
    if (Str(data.getNewKeyId()) != KeyIdOf(head->key)) return "new_key_id is not the id of new_public_key";
    if (head->key == head->previous_key) return "the new key is the old key";
    head->tree_size = data.getTreeSize();
    const std::string statement = KeyRotationStatement(head->tree_size, head->root, head->previous_key, head->key);
    if (!VerifySignature(head->previous_key, statement, old_signature)) {
      return "the signature of the old key " + KeyIdOf(head->previous_key) + " does not verify";
    }
    if (!VerifySignature(head->key, statement, new_signature)) {
      return "the signature of the new key " + KeyIdOf(head->key) + " does not verify";
    }
    return "";
  }
  return "not an audit event";
}

std::string SigningKeyChain::Add(const SignedTreeHead& head) {
  if (!head.rotation) {
    if (keys_.empty()) {
      keys_.push_back(head.key);
      return "";
    }
    if (head.key != keys_.back()) {
      return "signed by key " + KeyIdOf(head.key) + " but the current signing key is " + KeyIdOf(keys_.back()) +
             " (a new key must be introduced by a signing_key_rotated event)";
    }
    return "";
  }
  if (keys_.empty()) keys_.push_back(head.previous_key);
  if (head.previous_key != keys_.back()) {
    return "rotates away from key " + KeyIdOf(head.previous_key) + " but the current signing key is " +
           KeyIdOf(keys_.back());
  }
  if (Contains(head.key)) return "rotates to key " + KeyIdOf(head.key) + ", which this log has used before";
  keys_.push_back(head.key);
  return "";
}

bool SigningKeyChain::Contains(const PublicKey& key) const {
  for (const PublicKey& known : keys_) {
    if (known == key) return true;
  }
  return false;
}

}  // namespace di::ledger
