// The pseudonymiser: events as a reader sees them (docs/api.md "Readers").
//
//   Pseudonymiser pseudonyms(key);                     // key: 32 bytes (crypto_generichash), kept 0600 by the CLI
//   nlohmann::ordered_json json = pseudonyms.Event(stored_event);
//
// Person-linked ids are replaced by keyed hashes ("ps-" + 32 hex digits), the same id of the same kind always by
// the same pseudonym (read models can join), birth dates cut to the year, free-text fields and chain hashes dropped,
// a natural-person provider's name and register numbers removed. Without the key the ids cannot be recovered or
// matched.
#ifndef DI_SERVER_PSEUDONYMISER_H_
#define DI_SERVER_PSEUDONYMISER_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "di/ledger/event.h"
#include "di/server/principal.h"

namespace di::server {

class Pseudonymiser {
 public:
  explicit Pseudonymiser(std::string key) : key_(std::move(key)) {}

  // The keyed pseudonym of an id of a kind ("person", "grant", ...): "ps-" + 32 hex chars.
  std::string Pseudonym(std::string_view kind, std::string_view id) const;
  // The JSON of one event as a reader sees it.
  nlohmann::ordered_json Event(const ledger::StoredEvent& event) const;
  // A stream's name as a reader sees it: `person/`, `grant/` and `provider/` streams with the pseudonym of the id.
  std::string Stream(std::string_view stream) const;

  // A reader's stream prefix lies in pseudonym space: "person/", "person/ps-3f…", never "person/P-000007". A prefix
  // that names a real id is refused by its shape alone (the answer must not depend on whether the id exists).
  static ledger::Status CheckReaderStreamPrefix(std::string_view prefix);

 private:
  std::string key_;
};

}  // namespace di::server

#endif  // DI_SERVER_PSEUDONYMISER_H_
