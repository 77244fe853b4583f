// The event catalog's vocabulary: event type names, service units, identifier rules.
//
// Event types are the members of the `payload` union in ledger/schema/events.capnp; their JSON names are
// the member names in snake_case ("serviceDelivered" -> "service_delivered"). Everything here is derived
// from the schema by reflection, so the schema stays the single source of truth.
#ifndef DI_LEDGER_CATALOG_H_
#define DI_LEDGER_CATALOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/schema.h>

#include "events.capnp.h"

namespace di::ledger {

using EventType = schema::Event::Payload::Which;

// Maximum length of an event id or an entity id.
inline constexpr size_t kMaxIdLength = 64;

// The most successor steps any walk along municipality mergers (`merged_into`) takes. Real chains are one step
// (the 2021 reform); the bound stops a walk on a cycle or a pathological chain. The validator, the projections'
// territory and the server's clerk scope all walk with it, so they agree on where a chain ends.
inline constexpr int kMaxMergerSteps = 16;

// snake_case JSON name of an event type ("service_delivered").
std::string_view EventTypeName(EventType type);
// Parses a JSON type name; false if it names no event type.
bool ParseEventTypeName(std::string_view name, EventType* type);
// Every event type, in schema order.
const std::vector<EventType>& AllEventTypes();

// The unit in which quantities of `service` are expressed.
schema::Unit ServiceUnit(schema::Service service);
std::string_view ServiceName(schema::Service service);
std::string_view UnitName(schema::Unit unit);

// True if `id` is 1..64 chars of [A-Za-z0-9._:-].
bool IsValidId(std::string_view id);

// camelCase <-> snake_case, as used for every JSON name.
std::string CamelToSnake(std::string_view camel);

// JSON names of the values of any schema enum (TargetGroup, Service, ...), as in the canonical JSON.
template <typename Enum>
bool ParseEnumValue(std::string_view name, Enum* value) {
  for (auto enumerant : capnp::Schema::from<Enum>().getEnumerants()) {
    if (CamelToSnake(enumerant.getProto().getName().cStr()) == name) {
      *value = static_cast<Enum>(enumerant.getOrdinal());
      return true;
    }
  }
  return false;
}
template <typename Enum>
std::string EnumValueName(Enum value) {
  auto enumerants = capnp::Schema::from<Enum>().getEnumerants();
  const auto index = static_cast<unsigned>(value);
  return index < enumerants.size() ? CamelToSnake(enumerants[index].getProto().getName().cStr()) : "unknown";
}
// "a, b, c": every JSON name of an enum, for error messages.
template <typename Enum>
std::string EnumValueList() {
  std::string list;
  for (auto enumerant : capnp::Schema::from<Enum>().getEnumerants()) {
    if (!list.empty()) list += ", ";
    list += CamelToSnake(enumerant.getProto().getName().cStr());
  }
  return list;
}

}  // namespace di::ledger

#endif  // DI_LEDGER_CATALOG_H_
