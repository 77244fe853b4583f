#include "di/ledger/catalog.h"

#include <capnp/schema.h>

#include "di/ledger/invariant.h"
#include <map>
#include <mutex>

namespace di::ledger {
namespace {

struct TypeTables {
  std::vector<EventType> types;
  std::vector<std::string> names;  // indexed by the union discriminant
  std::map<std::string, EventType, std::less<>> by_name;
};

const TypeTables& Tables() {
  static const TypeTables tables = [] {
    TypeTables result;
    const capnp::StructSchema event_schema = capnp::Schema::from<schema::Event>();
    const capnp::StructSchema payload =
        event_schema.getFieldByName("payload").getType().asStruct();
    for (capnp::StructSchema::Field field : payload.getUnionFields()) {
      const auto discriminant = field.getProto().getDiscriminantValue();
      const auto type = static_cast<EventType>(discriminant);
      if (result.names.size() <= discriminant) result.names.resize(discriminant + 1);
      result.names[discriminant] = CamelToSnake(field.getProto().getName().cStr());
      result.by_name.emplace(result.names[discriminant], type);
      result.types.push_back(type);
    }
    return result;
  }();
  return tables;
}

}  // namespace

std::string CamelToSnake(std::string_view camel) {
  std::string snake;
  snake.reserve(camel.size() + 4);
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      snake += '_';
      snake += static_cast<char>(c - 'A' + 'a');
    } else {
      snake += c;
    }
  }
  return snake;
}

std::string_view EventTypeName(EventType type) {
  const auto& names = Tables().names;
  const auto index = static_cast<size_t>(type);
  DI_ASSERT(index < names.size());
  return names[index];
}

bool ParseEventTypeName(std::string_view name, EventType* type) {
  const auto& by_name = Tables().by_name;
  auto it = by_name.find(name);
  if (it == by_name.end()) return false;
  *type = it->second;
  return true;
}

const std::vector<EventType>& AllEventTypes() { return Tables().types; }

schema::Unit ServiceUnit(schema::Service service) {
  using S = schema::Service;
  switch (service) {
    case S::CHILD_CARE:
    case S::ADULT_HOME_CARE:
    case S::SOCIAL_MENTOR:
    case S::FAMILY_ASSISTANT:
    case S::SUPPORT_PERSON_FOR_DECISIONS:
      return schema::Unit::MINUTES;
    case S::RESPITE:
    case S::CHILD_DAY_CENTRE:
    case S::ADULT_DAY_CENTRE:
    case S::ADULT_SPECIALISED_WORKSHOP:
    case S::ADULT_GROUP_HOME:
    case S::ADULT_RESPITE:
    case S::FAMILY_LIKE_CARE:
      return schema::Unit::DAYS;
    case S::CHILD_REHABILITATION:
    case S::PARENT_REHABILITATION:
    case S::ADULT_SPECIALIST_CONSULTATION:
    case S::ADULT_PSYCHOLOGIST_CONSULTATION:
    case S::ADULT_SUPPORT_GROUP:
    case S::PARENT_SUPPORT_GROUP:
      return schema::Unit::SESSIONS;
  }
  // A value outside the enum can only come from a newer schema; sessions is the neutral unit.
  return schema::Unit::SESSIONS;
}

namespace {
template <typename Enum>
std::string_view EnumName(Enum value) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (auto enumerant : capnp::Schema::from<Enum>().getEnumerants()) {
      result.push_back(CamelToSnake(enumerant.getProto().getName().cStr()));
    }
    return result;
  }();
  const auto index = static_cast<size_t>(value);
  return index < names.size() ? std::string_view(names[index]) : std::string_view("unknown");
}
}  // namespace

std::string_view ServiceName(schema::Service service) { return EnumName(service); }
std::string_view UnitName(schema::Unit unit) { return EnumName(unit); }

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '.' || c == '_' || c == ':' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

}  // namespace di::ledger
