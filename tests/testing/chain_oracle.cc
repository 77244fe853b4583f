#include "chain_oracle.h"

#include <sodium.h>

#include <cstdlib>

namespace di::testing {

ledger::Hash ChainHashOracle(std::string_view previous_value, std::string_view record) {
  if (previous_value.size() < 32 || sodium_init() < 0) std::abort();
  ledger::Hash hash{};
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(previous_value.data()), 32);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(record.data()), record.size());
  crypto_hash_sha256_final(&state, hash.data());
  return hash;
}

ledger::Hash ChainHashOracle(const ledger::Hash& previous, std::string_view record) {
  return ChainHashOracle(std::string_view(reinterpret_cast<const char*>(previous.data()), previous.size()), record);
}

std::string HashBytes(const ledger::Hash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

}  // namespace di::testing
