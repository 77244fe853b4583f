// The pseudonymiser (see pseudonymiser.h).
#include "di/server/pseudonymiser.h"

#include <sodium.h>

#include <functional>
#include <map>
#include <set>

#include "di/ledger/json_codec.h"

namespace di::server {
namespace {

// Stream kinds whose ids lead to a natural person: readers see `kind/<pseudonym>` (PseudonymisedEvent).
bool IsPseudonymisedStreamKind(std::string_view kind) {
  return kind == "person" || kind == "grant" || kind == "provider";
}

}  // namespace

ledger::Status Pseudonymiser::CheckReaderStreamPrefix(std::string_view prefix) {
  const size_t slash = prefix.find('/');
  if (slash == std::string_view::npos || !IsPseudonymisedStreamKind(prefix.substr(0, slash))) {
    return ledger::Status::Ok();
  }
  const std::string_view id = prefix.substr(slash + 1);
  constexpr std::string_view kPseudonymStart = "ps-";
  bool pseudonymous = id.size() <= kPseudonymStart.size() + 32;
  for (size_t i = 0; pseudonymous && i < id.size(); ++i) {
    const char c = id[i];
    pseudonymous = i < kPseudonymStart.size() ? c == kPseudonymStart[i] : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (pseudonymous) return ledger::Status::Ok();
  return ledger::Status::InvalidArgument("readers filter pseudonymised streams: '" +
                                             std::string(prefix.substr(0, slash)) + "/' or '" +
                                             std::string(prefix.substr(0, slash)) + "/ps-<32 hex digits>'",
                                         "stream_prefix");
}

std::string Pseudonymiser::Pseudonym(std::string_view kind, std::string_view id) const {
  std::string input(kind);
  input.push_back('\0');
  input.append(id);
  unsigned char hash[16];
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     key_.size());
  char hex[33];
  sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
  return std::string("ps-") + hex;
}

nlohmann::ordered_json Pseudonymiser::Event(const ledger::StoredEvent& event) const {
  nlohmann::ordered_json json = ledger::StoredEventToJson(event);
  // Ids that lead to a person: pseudonymised with the kind of entity they name, so that the same person,
  // grant or delivery has the same pseudonym in every event (read models can still join), but the ledger's
  // ids cannot be recovered or matched without the key.
  static const std::map<std::string, std::string> kIdKinds = {
      {"person_id", "person"},         {"submitted_by_id", "person"}, {"child_ids", "person"},
      {"grant_id", "grant"},           {"application_id", "application"},
      {"assessment_id", "assessment"}, {"plan_id", "plan"},           {"delivery_id", "delivery"},
      // A provider may be a natural person (a registered carer), and only its registration says which: every
      // provider id is pseudonymised, so that no other event names one; legal persons keep their names in
      // their provider_registered event, which a read model joins on the pseudonym.
      {"provider_id", "provider"},     {"contract_id", "contract"}};
  // Free text that may describe a person or name staff; not needed by a read model.
  static const std::set<std::string> kDropped = {"assessor", "opinion_number", "reason", "note"};
  std::function<void(nlohmann::ordered_json&)> walk = [&](nlohmann::ordered_json& node) {
    if (node.is_array()) {
      for (auto& element : node) walk(element);
      return;
    }
    if (!node.is_object()) return;
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (auto& [key, value] : node.items()) {
      if (kDropped.count(key)) continue;
      if (key == "document") {  // a rules document: no personal data, kept exactly as recorded
        out[key] = value;
        continue;
      }
      auto kind = kIdKinds.find(key);
      if (kind != kIdKinds.end() && value.is_string()) {
        out[key] = Pseudonym(kind->second, value.get<std::string>());
      } else if (kind != kIdKinds.end() && value.is_array()) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto& element : value) {
          list.push_back(element.is_string() ? nlohmann::ordered_json(Pseudonym(kind->second, element.get<std::string>()))
                                             : element);
        }
        out[key] = std::move(list);
      } else if (key == "birth_date" && value.is_string()) {
        out[key] = value.get<std::string>().substr(0, 4);  // the year: enough for age groups
      } else {
        nlohmann::ordered_json copy = value;
        walk(copy);
        out[key] = std::move(copy);
      }
    }
    node = std::move(out);
  };
  nlohmann::ordered_json result = nlohmann::ordered_json::object();
  for (auto& [key, value] : json.items()) {
    if (key == "hash") continue;  // a hash of the real content would let a guess be confirmed
    if (key == "id" || key == "causation_id") {
      result[key] = Pseudonym("event", value.get<std::string>());  // event ids often embed entity ids
    } else if (key == "stream") {
      result[key] = Stream(value.get<std::string>());
    } else if (key == "data") {
      nlohmann::ordered_json data = value;
      walk(data);
      if (json["type"] == "provider_registered" && data.value("kind", "") == "natural_person") {
        // A natural person's name and register numbers are personal data (a legal person's are not).
        data.erase("name");
        if (data.contains("registers")) {
          for (auto& entry : data["registers"]) entry.erase("registration_number");
        }
      }
      result[key] = std::move(data);
    } else {
      result[key] = value;
    }
  }
  return result;
}

std::string Pseudonymiser::Stream(std::string_view stream) const {
  const std::string_view kind = ledger::StreamKind(stream);
  if (!IsPseudonymisedStreamKind(kind)) return std::string(stream);
  return std::string(kind) + "/" + Pseudonym(kind, ledger::StreamId(stream));
}

}  // namespace di::server
