#include "di/ledger/sha256.h"

#include <openssl/evp.h>

#include "di/ledger/invariant.h"

namespace di::ledger {
namespace {

// Fetched once: an implicit fetch per digest (EVP_sha256() in EVP_DigestInit_ex) costs a lock and a
// lookup, which is a third of the hash of a small event.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  DI_ASSERT(algorithm != nullptr);
  return algorithm;
}

}  // namespace

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  DI_ASSERT(context_ != nullptr);
  const int initialised = EVP_DigestInit_ex(context_, Sha256Algorithm(), nullptr);
  DI_ASSERT(initialised == 1);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(context_);
}

Sha256& Sha256::Update(const void* data, size_t size) {
  DI_ASSERT(!finished_);
  if (size > 0) {
    const int updated = EVP_DigestUpdate(context_, data, size);
    DI_ASSERT(updated == 1);
  }
  return *this;
}

Hash Sha256::Finish() {
  DI_ASSERT(!finished_);
  finished_ = true;
  Hash hash{};
  unsigned int length = 0;
  const int done = EVP_DigestFinal_ex(context_, hash.data(), &length);
  DI_ASSERT(done == 1 && length == hash.size());
  return hash;
}

Hash Sha256Of(std::string_view bytes) { return Sha256().Update(bytes).Finish(); }

Hash ChainHash(const Hash& previous, std::string_view body) {
  return Sha256().Update(previous.data(), previous.size()).Update(body).Finish();
}

}  // namespace di::ledger
