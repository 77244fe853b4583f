// Principals and bearer tokens: who is asking, with which role, for which municipality.
//
//   TokenRegistry tokens;
//   ledger::Status s = TokenRegistry::LoadFile("tokens.json", &tokens);
//   Principal who;
//   s = tokens.Authenticate(bearer_token, &who);  // unauthenticated -> 401
//
// What each role may do is the access policy's (access_policy.h); this header only says who someone is.
#ifndef DI_SERVER_PRINCIPAL_H_
#define DI_SERVER_PRINCIPAL_H_

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "di/ledger/status.h"

namespace di::server {

enum class Role { kClerk, kProject, kFinance, kAuditor, kReader, kMigration };
std::string_view RoleName(Role role);
bool ParseRoleName(std::string_view name, Role* role);

struct Principal {
  std::string name;             // the token's name ("bauska-clerk-1"), for logs and metrics
  Role role = Role::kReader;
  std::string municipality_id;  // clerks only: the municipality whose residents they serve
};

// Bearer tokens from a config file, hashed at rest. File format (docs/api.md, "Tokens"):
//   [{"name": "jelgava-clerk", "role": "clerk", "municipality": "M-JELGAVA", "token_sha256": "<64 hex>"}, ...]
// token_sha256 is SHA-256 of the token text as sent after "Bearer ". `di-ledger token` makes both.
class TokenRegistry {
 public:
  static ledger::Status LoadFile(const std::string& path, TokenRegistry* out);
  static ledger::Status FromJson(const nlohmann::json& entries, TokenRegistry* out);
  // Constant-time comparison of the presented token's hash against every entry.
  ledger::Status Authenticate(std::string_view token, Principal* principal) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Principal principal;
    std::array<unsigned char, 32> token_sha256{};
  };
  std::vector<Entry> entries_;
};

// A new random token: "dil_" + 43 chars of URL-safe base64 (32 random bytes, libsodium randombytes_buf).
std::string NewRandomToken();
// Lowercase hex SHA-256 of a token: the "token_sha256" of its entry.
std::string TokenSha256Hex(std::string_view token);
// The JSON entry of a token ({"name","role",["municipality"],"token_sha256"}).
nlohmann::json TokenEntryJson(const Principal& principal, std::string_view token);

}  // namespace di::server

#endif  // DI_SERVER_PRINCIPAL_H_
