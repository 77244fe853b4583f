// Roles and the bearer-token registry.
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "di/ledger/json_codec.h"
#include "di/server/principal.h"

namespace di::server {

using ledger::Status;
using ledger::StatusCode;

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kClerk: return "clerk";
    case Role::kProject: return "project";
    case Role::kFinance: return "finance";
    case Role::kAuditor: return "auditor";
    case Role::kReader: return "reader";
    case Role::kMigration: return "migration";
  }
  return "unknown";
}

bool ParseRoleName(std::string_view name, Role* role) {
  for (Role candidate : {Role::kClerk, Role::kProject, Role::kFinance, Role::kAuditor, Role::kReader, Role::kMigration}) {
    if (RoleName(candidate) == name) {
      *role = candidate;
      return true;
    }
  }
  return false;
}

namespace {

bool InitSodium() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> hash{};
  crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return hash;
}

}  // namespace

std::string TokenSha256Hex(std::string_view token) {
  const auto hash = Sha256(token);
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), hash.data(), hash.size());
  return hex;
}

std::string NewRandomToken() {
  if (!InitSodium()) std::abort();  // no entropy source: refuse to make guessable tokens
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof(encoded), bytes, sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return std::string("dil_") + encoded;
}

nlohmann::json TokenEntryJson(const Principal& principal, std::string_view token) {
  nlohmann::json entry = {{"name", principal.name}, {"role", std::string(RoleName(principal.role))}};
  if (principal.role == Role::kClerk) entry["municipality"] = principal.municipality_id;
  entry["token_sha256"] = TokenSha256Hex(token);
  return entry;
}

Status TokenRegistry::FromJson(const nlohmann::json& entries, TokenRegistry* out) {
  if (!InitSodium()) return Status::Make(StatusCode::kIOError, "libsodium failed to initialise");
  if (!entries.is_array()) return Status::InvalidArgument("the tokens file must hold a JSON array", "tokens");
  TokenRegistry registry;
  for (size_t i = 0; i < entries.size(); ++i) {
    const nlohmann::json& entry = entries[i];
    const std::string at = "tokens[" + std::to_string(i) + "]";
    if (!entry.is_object()) return Status::InvalidArgument("must be an object", at);
    for (const auto& [key, value] : entry.items()) {
      if (key != "name" && key != "role" && key != "municipality" && key != "token_sha256") {
        return Status::InvalidArgument("unknown field", at + "." + key);
      }
      if (!value.is_string()) return Status::InvalidArgument("must be a string", at + "." + key);
    }
    Entry parsed;
    if (!entry.contains("name") || entry["name"].get<std::string>().empty()) {
      return Status::InvalidArgument("is required", at + ".name");
    }
    parsed.principal.name = entry["name"].get<std::string>();
    if (!entry.contains("role") || !ParseRoleName(entry["role"].get<std::string>(), &parsed.principal.role)) {
      return Status::InvalidArgument("must be one of clerk, project, finance, auditor, reader, migration",
                                     at + ".role");
    }
    if (parsed.principal.role == Role::kClerk) {
      if (!entry.contains("municipality") || entry["municipality"].get<std::string>().empty()) {
        return Status::InvalidArgument("a clerk needs its municipality", at + ".municipality");
      }
      parsed.principal.municipality_id = entry["municipality"].get<std::string>();
    } else if (entry.contains("municipality")) {
      return Status::InvalidArgument("only a clerk has a municipality", at + ".municipality");
    }
    const std::string hex = entry.value("token_sha256", "");
    size_t decoded = 0;
    if (hex.size() != 64 || sodium_hex2bin(parsed.token_sha256.data(), parsed.token_sha256.size(), hex.data(),
                                           hex.size(), nullptr, &decoded, nullptr) != 0 ||
        decoded != 32) {
      return Status::InvalidArgument("must be 64 hex characters (SHA-256 of the token)", at + ".token_sha256");
    }
    for (const Entry& other : registry.entries_) {
      if (other.principal.name == parsed.principal.name) {
        return Status::InvalidArgument("name '" + parsed.principal.name + "' is used twice", at + ".name");
      }
    }
    registry.entries_.push_back(std::move(parsed));
  }
  *out = std::move(registry);
  return Status::Ok();
}

Status TokenRegistry::LoadFile(const std::string& path, TokenRegistry* out) {
  std::ifstream file(path);
  if (!file) return Status::Make(StatusCode::kIOError, "cannot read the tokens file '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  nlohmann::json entries;
  if (Status parsed = ledger::ParseJson(text.str(), "tokens", &entries); !parsed.ok()) {
    return Status::InvalidArgument("'" + path + "': " + parsed.message(), parsed.field());
  }
  return FromJson(entries, out);
}

Status TokenRegistry::Authenticate(std::string_view token, Principal* principal) const {
  if (token.empty()) return Status::Unauthenticated("an Authorization: Bearer <token> header is required");
  const auto presented = Sha256(token);
  // Compare with every entry in constant time and without stopping early: the time taken says nothing
  // about which entry (if any) matched.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    if (sodium_memcmp(entry.token_sha256.data(), presented.data(), presented.size()) == 0) match = &entry;
  }
  if (match == nullptr) return Status::Unauthenticated("the bearer token is not valid");
  *principal = match->principal;
  return Status::Ok();
}

}  // namespace di::server
