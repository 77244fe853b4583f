// Generic JSON <-> Cap'n Proto conversion driven by the event schema.
//
// Why reflection instead of 28 hand-written converters: the schema is the single source of truth for
// field names, types and optionality, so adding a field to events.capnp is all it takes to accept and
// emit it in JSON, and the round trip cannot drift between the two directions. Per-type *semantic*
// validation (references, date order, sums) lives in the validator (validator.h; each event type's checks in
// validate_*.cc).
#include "di/ledger/json_codec.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "event_rules.h"

namespace di::ledger {
namespace {

// Longest JSON key an error path quotes; a longer one is cut.
constexpr size_t kMaxKeyInPath = 64;

using capnp::DynamicStruct;
using capnp::DynamicValue;
using capnp::StructSchema;
using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
using TypeWhich = capnp::schema::Type::Which;
using internal::HasAnnotation;
using internal::JoinPath;
using internal::JsonName;
using internal::kDateAnnotation;
using internal::YearRange;
using internal::kEntityIdAnnotation;
using internal::kJsonDocumentAnnotation;
using internal::kOptionalAnnotation;
using internal::PayloadMemberField;

std::string_view JsonTypeName(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_float()) return "a fractional number";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

Status TypeError(const std::string& path, std::string_view expected, const Json& value) {
  return Status::InvalidArgument("must be " + std::string(expected) + ", got " + std::string(JsonTypeName(value)),
                                 path);
}

// Whether arrays and objects in `text` nest deeper than `limit`: one pass over the bytes, no recursion, strings
// skipped (brackets in them are not structure). Exact for JSON; text that is not JSON is the parser's to refuse.
bool NestsDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character never ends the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// The path of the first array or object nested deeper than kMaxJsonDepth, for the error only: a SAX pass that
// keeps one small frame per open level (never more than the limit) and stops there.
class DeepValueFinder : public nlohmann::json_sax<Json> {
 public:
  explicit DeepValueFinder(std::string_view field) : path_(field) {}
  const std::string& path() const { return path_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(false); }
  bool key(string_t& key) override {
    // Keys are client text: a long one is cut, so the error stays readable and bounded.
    levels_.back().key = key.size() <= kMaxKeyInPath ? key : key.substr(0, kMaxKeyInPath) + "...";
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(true); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Level {
    bool array = false;
    size_t next_index = 0;
    std::string key;        // objects: the key of the value being read
    std::string component;  // how this level is reached from its parent: ".key" or "[3]"
  };

  std::string ChildComponent() const {
    if (levels_.empty()) return "";
    const Level& parent = levels_.back();
    if (parent.array) return "[" + std::to_string(parent.next_index) + "]";
    return (levels_.size() == 1 && path_.empty() ? "" : ".") + parent.key;
  }
  bool Value() {
    if (!levels_.empty() && levels_.back().array) ++levels_.back().next_index;
    return true;
  }
  bool Open(bool array) {
    std::string component = ChildComponent();
    Value();
    if (levels_.size() >= static_cast<size_t>(kMaxJsonDepth)) {
      // Name the first levels and the depth: 64 components of a path would be unreadable.
      constexpr size_t kNamedLevels = 6;
      for (size_t i = 0; i < levels_.size() && i < kNamedLevels; ++i) path_ += levels_[i].component;
      path_ += levels_.size() <= kNamedLevels ? component : "... (level " + std::to_string(levels_.size() + 1) + ")";
      return false;
    }
    levels_.push_back(Level{array, 0, "", std::move(component)});
    return true;
  }
  bool Close() {
    levels_.pop_back();
    return true;
  }

  std::string path_;
  std::vector<Level> levels_;
};

template <typename JsonType>
Status ParseBoundedJson(std::string_view text, std::string_view field, JsonType* out) {
  if (NestsDeeperThan(text, kMaxJsonDepth)) {
    DeepValueFinder finder(field);
    Json::sax_parse(text.begin(), text.end(), &finder);
    return Status::InvalidArgument("arrays and objects nest deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                                   finder.path());
  }
  try {
    *out = JsonType::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& error) {
    // Every refusal of the parser, not only parse_error: a number beyond the range of any binary floating-point
    // type ("2e4444") is an out_of_range (406), which escaped an io thread and ended the process (found by
    // fuzz_json_event).
    // "[json.exception.parse_error.101] parse error at line 1, column 7: ..." -> "parse error at line 1, ..."
    std::string_view what = error.what();
    if (const size_t bracket = what.find("] "); bracket != std::string_view::npos) what.remove_prefix(bracket + 2);
    return Status::InvalidArgument("not valid JSON: " + std::string(what), std::string(field));
  }
  return Status::Ok();
}

// Range of each integer type, and the schema default (the "absent" value of optional scalars).
struct IntegerRange {
  int64_t min;
  uint64_t max;
};

IntegerRange RangeOf(TypeWhich which) {
  switch (which) {
    case TypeWhich::INT8: return {INT8_MIN, INT8_MAX};
    case TypeWhich::INT16: return {INT16_MIN, INT16_MAX};
    case TypeWhich::INT32: return {INT32_MIN, INT32_MAX};
    case TypeWhich::INT64: return {INT64_MIN, INT64_MAX};
    case TypeWhich::UINT8: return {0, UINT8_MAX};
    case TypeWhich::UINT16: return {0, UINT16_MAX};
    case TypeWhich::UINT32: return {0, UINT32_MAX};
    case TypeWhich::UINT64: return {0, UINT64_MAX};
    default: return {0, 0};
  }
}

bool IsInteger(TypeWhich which) {
  return which == TypeWhich::INT8 || which == TypeWhich::INT16 || which == TypeWhich::INT32 ||
         which == TypeWhich::INT64 || which == TypeWhich::UINT8 || which == TypeWhich::UINT16 ||
         which == TypeWhich::UINT32 || which == TypeWhich::UINT64;
}

// ---- RFC 8785 (JSON Canonicalization Scheme) for $jsonDocument texts --------------------------------------
// A stored document's bytes are hashed into the chain, so an auditor must be able to rebuild them from the
// exported object with any JSON library (docs/audit.md §1.3): RFC 8785 fixes every byte. Numbers are limited to
// the integers within ±(2^53−1), which RFC 8785 (ECMAScript number formatting) writes as their plain decimal
// digits: money is integer cents, and the rules format (docs/rules.md) holds no other kind of number.

constexpr int64_t kMaxExactInteger = (int64_t{1} << 53) - 1;

// RFC 8785 §3.2.2.2: the two-character escapes, a six-character escape (lowercase hex) for the other controls,
// every other character as its UTF-8 bytes.
void AppendJcsString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned int>(c));
          *out += escape;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

Status AppendJcs(const Json& value, const std::string& path, int depth, std::string* out);

Status AppendJcsObject(const Json& value, const std::string& path, int depth, std::string* out) {
  std::vector<std::pair<std::u16string, Json::const_iterator>> members;
  for (auto it = value.begin(); it != value.end(); ++it) {
    std::u16string units;
    if (!internal::Utf8ToUtf16(it.key(), &units)) return Status::InvalidArgument("a key is not valid UTF-8", path);
    members.emplace_back(std::move(units), it);
  }
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  out->push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJcsString(members[i].second.key(), out);
    out->push_back(':');
    Status status = AppendJcs(members[i].second.value(), JoinPath(path, members[i].second.key()), depth + 1, out);
    if (!status.ok()) return status;
  }
  out->push_back('}');
  return Status::Ok();
}

Status AppendJcsArray(const Json& value, const std::string& path, int depth, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < value.size(); ++i) {
    if (i > 0) out->push_back(',');
    Status status = AppendJcs(value[i], path + "[" + std::to_string(i) + "]", depth + 1, out);
    if (!status.ok()) return status;
  }
  out->push_back(']');
  return Status::Ok();
}

Status AppendJcs(const Json& value, const std::string& path, int depth, std::string* out) {
  if (depth >= kMaxJsonDepth) {
    return Status::InvalidArgument("arrays and objects nest deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                                   path);
  }
  std::u16string ignored;
  switch (value.type()) {
    case Json::value_t::null: *out += "null"; return Status::Ok();
    case Json::value_t::boolean: *out += value.get<bool>() ? "true" : "false"; return Status::Ok();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      if (value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(kMaxExactInteger)
                                     : value.get<int64_t>() < -kMaxExactInteger || value.get<int64_t>() > kMaxExactInteger) {
        return Status::InvalidArgument("integers in a JSON document must be within -(2^53-1)..2^53-1 (RFC 8785)", path);
      }
      *out += value.dump();
      return Status::Ok();
    case Json::value_t::string:
      if (!internal::Utf8ToUtf16(value.get_ref<const std::string&>(), &ignored)) return Status::InvalidArgument("not valid UTF-8", path);
      AppendJcsString(value.get_ref<const std::string&>(), out);
      return Status::Ok();
    case Json::value_t::array: return AppendJcsArray(value, path, depth, out);
    case Json::value_t::object: return AppendJcsObject(value, path, depth, out);
    default:
      return Status::InvalidArgument("numbers in a JSON document must be integers (it is stored in RFC 8785 form, "
                                     "docs/audit.md §1.3), got " + std::string(JsonTypeName(value)),
                                     path);
  }
}

Status TextFromJson(const Json& value, const std::string& path, bool entity_id, bool document,
                    std::string* out) {
  if (document) {
    if (!value.is_object()) return TypeError(path, "a JSON object", value);
    out->clear();
    if (Status status = AppendJcs(value, path, 0, out); !status.ok()) return status;
    return internal::CheckDocumentLength(out->size(), path);
  }
  if (!value.is_string()) return TypeError(path, "a string", value);
  *out = value.get<std::string>();
  return internal::CheckText(*out, path, entity_id);
}

Status EnumFromJson(const Json& value, capnp::EnumSchema schema, const std::string& path, uint16_t* out) {
  if (!value.is_string()) return TypeError(path, "a string", value);
  const std::string name = value.get<std::string>();
  std::string allowed;
  for (auto enumerant : schema.getEnumerants()) {
    const std::string json_name = CamelToSnake(enumerant.getProto().getName().cStr());
    if (json_name == name) {
      *out = enumerant.getOrdinal();
      return Status::Ok();
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += json_name;
  }
  return Status::InvalidArgument("unknown value '" + name + "' (one of: " + allowed + ")", path);
}

Status StructFromJson(const Json& object, DynamicStruct::Builder builder, const std::string& path);

// Sets one field of `builder` from `value`.
Status FieldFromJson(const Json& value, StructSchema::Field field, DynamicStruct::Builder builder,
                     const std::string& path) {
  const capnp::Type type = field.getType();
  const bool optional = HasAnnotation(field, kOptionalAnnotation);
  const TypeWhich which = type.which();
  if (HasAnnotation(field, kDateAnnotation)) {
    if (!value.is_string()) return TypeError(path, "a date string YYYY-MM-DD", value);
    int32_t days;
    if (!ParseDate(value.get<std::string>(), &days)) {
      return Status::InvalidArgument("'" + value.get<std::string>() +
                                         "' is not a valid date YYYY-MM-DD in " + YearRange(),
                                     path);
    }
    builder.set(field, days);
    return Status::Ok();
  }
  if (IsInteger(which)) {
    if (!value.is_number_integer()) return TypeError(path, "an integer", value);
    const IntegerRange range = RangeOf(which);
    if (value.is_number_unsigned()) {
      const uint64_t number = value.get<uint64_t>();
      if (number > range.max) return Status::InvalidArgument("out of range", path);
      builder.set(field, number);
    } else {
      const int64_t number = value.get<int64_t>();
      if (number < range.min || (number > 0 && static_cast<uint64_t>(number) > range.max)) {
        return Status::InvalidArgument("out of range", path);
      }
      builder.set(field, number);
    }
  } else if (which == TypeWhich::BOOL) {
    if (!value.is_boolean()) return TypeError(path, "a boolean", value);
    builder.set(field, value.get<bool>());
  } else if (which == TypeWhich::TEXT) {
    std::string text;
    Status status = TextFromJson(value, path, HasAnnotation(field, kEntityIdAnnotation),
                                 HasAnnotation(field, kJsonDocumentAnnotation), &text);
    if (!status.ok()) return status;
    builder.set(field, capnp::Text::Reader(text.c_str(), text.size()));
  } else if (which == TypeWhich::ENUM) {
    uint16_t ordinal;
    Status status = EnumFromJson(value, type.asEnum(), path, &ordinal);
    if (!status.ok()) return status;
    builder.set(field, capnp::DynamicEnum(type.asEnum(), ordinal));
  } else if (which == TypeWhich::STRUCT) {
    if (!value.is_object()) return TypeError(path, "an object", value);
    return StructFromJson(value, builder.init(field).as<DynamicStruct>(), path);
  } else if (which == TypeWhich::LIST) {
    if (!value.is_array()) return TypeError(path, "an array", value);
    if (Status status = internal::CheckListLength(value.size(), path); !status.ok()) return status;
    const capnp::Type element_type = type.asList().getElementType();
    auto list = builder.init(field, static_cast<unsigned>(value.size())).as<capnp::DynamicList>();
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      const Json& element = value[i];
      if (element_type.which() == TypeWhich::TEXT) {
        std::string text;
        Status status = TextFromJson(element, element_path, /*entity_id=*/true, false, &text);
        if (!status.ok()) return status;
        list.set(static_cast<unsigned>(i), capnp::Text::Reader(text.c_str(), text.size()));
      } else if (element_type.which() == TypeWhich::ENUM) {
        uint16_t ordinal;
        Status status = EnumFromJson(element, element_type.asEnum(), element_path, &ordinal);
        if (!status.ok()) return status;
        list.set(static_cast<unsigned>(i), capnp::DynamicEnum(element_type.asEnum(), ordinal));
      } else if (element_type.which() == TypeWhich::STRUCT) {
        if (!element.is_object()) return TypeError(element_path, "an object", element);
        Status status =
            StructFromJson(element, list[static_cast<unsigned>(i)].as<DynamicStruct>(), element_path);
        if (!status.ok()) return status;
      } else {
        return Status::InvalidArgument("unsupported list element type in schema", element_path);
      }
    }
    return Status::Ok();
  } else {
    return Status::InvalidArgument("unsupported field type in schema", path);
  }
  // An optional scalar spelled out with its "absent" value would not survive the round trip.
  if (optional && !builder.has(field, capnp::HasMode::NON_DEFAULT)) {
    return Status::InvalidArgument("this value means 'absent' for an optional field: omit the field", path);
  }
  return Status::Ok();
}

Status StructFromJson(const Json& object, DynamicStruct::Builder builder, const std::string& path) {
  const StructSchema schema = builder.getSchema();
  // Unknown keys are errors: a misspelt optional field must not silently vanish.
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    for (StructSchema::Field field : schema.getNonUnionFields()) {
      if (JsonName(field) == it.key()) {
        known = true;
        break;
      }
    }
    if (!known) return Status::InvalidArgument("unknown field", JoinPath(path, it.key()));
  }
  for (StructSchema::Field field : schema.getNonUnionFields()) {
    const std::string name = JsonName(field);
    const std::string field_path = JoinPath(path, name);
    auto it = object.find(name);
    if (it == object.end()) {
      if (HasAnnotation(field, kOptionalAnnotation)) continue;
      return Status::InvalidArgument("is required", field_path);
    }
    Status status = FieldFromJson(*it, field, builder, field_path);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

OrderedJson StructToJson(DynamicStruct::Reader reader);

// Recorded events hold possible dates only; a day number outside them (kNoDate included, which FormatDate must
// not get) stays a number, never a wrong date.
OrderedJson DateToJson(int32_t days) {
  if (!internal::IsPossibleDate(days)) return days;
  return FormatDate(days);
}

OrderedJson FieldToJson(DynamicStruct::Reader reader, StructSchema::Field field) {
  const capnp::Type type = field.getType();
  const DynamicValue::Reader value = reader.get(field);
  if (HasAnnotation(field, kDateAnnotation)) return DateToJson(value.as<int32_t>());
  switch (type.which()) {
    case TypeWhich::BOOL: return value.as<bool>();
    case TypeWhich::INT8:
    case TypeWhich::INT16:
    case TypeWhich::INT32:
    case TypeWhich::INT64: return value.as<int64_t>();
    case TypeWhich::UINT8:
    case TypeWhich::UINT16:
    case TypeWhich::UINT32:
    case TypeWhich::UINT64: return value.as<uint64_t>();
    case TypeWhich::TEXT: {
      const capnp::Text::Reader text = value.as<capnp::Text>();
      if (HasAnnotation(field, kJsonDocumentAnnotation)) {
        // Recorded documents passed ParseJson's bounds when appended; a client's frame is checked first
        // (EventFromReader). Should one still not parse, its text is shown as a string, never dropped.
        OrderedJson document;
        if (!ParseJson(std::string_view(text.begin(), text.size()), "", &document).ok()) {
          return std::string(text.cStr(), text.size());
        }
        return document;
      }
      return std::string(text.cStr(), text.size());
    }
    case TypeWhich::ENUM: {
      const capnp::DynamicEnum enum_value = value.as<capnp::DynamicEnum>();
      KJ_IF_MAYBE(enumerant, enum_value.getEnumerant()) {
        return CamelToSnake(enumerant->getProto().getName().cStr());
      }
      return enum_value.getRaw();  // written by a newer schema: keep the number
    }
    case TypeWhich::STRUCT: return StructToJson(value.as<DynamicStruct>());
    case TypeWhich::LIST: {
      OrderedJson array = OrderedJson::array();
      const capnp::DynamicList::Reader list = value.as<capnp::DynamicList>();
      const capnp::Type element_type = type.asList().getElementType();
      for (unsigned i = 0; i < list.size(); ++i) {
        const DynamicValue::Reader element = list[i];
        if (element_type.which() == TypeWhich::TEXT) {
          const capnp::Text::Reader text = element.as<capnp::Text>();
          array.push_back(std::string(text.cStr(), text.size()));
        } else if (element_type.which() == TypeWhich::ENUM) {
          const capnp::DynamicEnum enum_value = element.as<capnp::DynamicEnum>();
          KJ_IF_MAYBE(enumerant, enum_value.getEnumerant()) {
            array.push_back(CamelToSnake(enumerant->getProto().getName().cStr()));
          } else {
            array.push_back(enum_value.getRaw());
          }
        } else if (element_type.which() == TypeWhich::STRUCT) {
          array.push_back(StructToJson(element.as<DynamicStruct>()));
        }
      }
      return array;
    }
    default: return nullptr;
  }
}

OrderedJson StructToJson(DynamicStruct::Reader reader) {
  OrderedJson object = OrderedJson::object();
  for (StructSchema::Field field : reader.getSchema().getNonUnionFields()) {
    if (HasAnnotation(field, kOptionalAnnotation)) {
      const bool pointer = field.getType().isText() || field.getType().isList() || field.getType().isStruct();
      if (!reader.has(field, pointer ? capnp::HasMode::NON_NULL : capnp::HasMode::NON_DEFAULT)) continue;
    }
    object[JsonName(field)] = FieldToJson(reader, field);
  }
  return object;
}

bool IsLedgerAssignedKey(std::string_view key) {
  return key == "position" || key == "recorded_at" || key == "recorded_at_asserted" || key == "stream" ||
         key == "stream_version" || key == "hash";
}

// Migration mode: the importer asserts when the event was recorded (in the system the history comes from).
Status ParseAssertedRecordedAt(const Json& json, const std::string& id, NewEvent* out) {
  auto it = json.find("recorded_at");
  if (it == json.end()) {
    return Status::InvalidArgument(
        "is required when recorded times are kept (a migration asserts the recorded time of every event)",
        "recorded_at", id);
  }
  int64_t micros = 0;
  if (!it->is_string() || !ParseUtcMicros(it->get<std::string>(), &micros)) {
    return Status::InvalidArgument("must be a UTC time YYYY-MM-DDTHH:MM:SS[.ffffff]Z", "recorded_at", id);
  }
  out->asserted_recorded_at_micros = micros;
  return Status::Ok();
}

Status ParseEnvelopeAndPayload(const Json& json, NewEvent* out, const EventJsonOptions& options) {
  if (!json.is_object()) return Status::InvalidArgument("an event must be a JSON object, got " +
                                                        std::string(JsonTypeName(json)));
  auto id_it = json.find("id");
  if (id_it == json.end()) return Status::InvalidArgument("is required", "id");
  if (!id_it->is_string()) return TypeError("id", "a string", *id_it);
  const std::string id = id_it->get<std::string>();
  if (Status status = internal::CheckEventId(id); !status.ok()) return status;
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& key = it.key();
    if (key != "id" && key != "type" && key != "effective_date" && key != "actor" && key != "causation_id" &&
        key != "expected_version" && key != "data" && !IsLedgerAssignedKey(key)) {
      return Status::InvalidArgument("unknown field", key, id);
    }
  }
  // Most events fit 128 words; the default first segment is 8 KiB, zeroed by calloc for every event decoded.
  capnp::MallocMessageBuilder message(128);
  schema::Event::Builder event = message.initRoot<schema::Event>();
  event.setId(id);

  auto type_it = json.find("type");
  if (type_it == json.end()) return Status::InvalidArgument("is required", "type", id);
  if (!type_it->is_string()) return TypeError("type", "a string", *type_it).WithEventId(id);
  EventType type;
  if (!ParseEventTypeName(type_it->get<std::string>(), &type)) {
    return Status::InvalidArgument("unknown event type '" + type_it->get<std::string>() + "'", "type", id);
  }

  auto date_it = json.find("effective_date");
  if (date_it == json.end()) return Status::InvalidArgument("is required", "effective_date", id);
  int32_t effective_date;
  if (!date_it->is_string() || !ParseDate(date_it->get<std::string>(), &effective_date)) {
    return Status::InvalidArgument("must be a valid date YYYY-MM-DD in " + YearRange(), "effective_date", id);
  }
  event.setEffectiveDate(effective_date);

  auto actor_it = json.find("actor");
  if (actor_it == json.end()) return Status::InvalidArgument("is required", "actor", id);
  if (!actor_it->is_string()) return TypeError("actor", "a string", *actor_it).WithEventId(id);
  const std::string actor = actor_it->get<std::string>();
  if (Status status = internal::CheckActor(actor, id); !status.ok()) return status;
  event.setActor(actor);

  if (auto it = json.find("causation_id"); it != json.end()) {
    if (!it->is_string()) return Status::InvalidArgument("must be a valid event id", "causation_id", id);
    if (Status status = internal::CheckCausationId(it->get<std::string>(), id); !status.ok()) return status;
    event.setCausationId(it->get<std::string>());
  }

  out->asserted_recorded_at_micros.reset();
  if (options.keep_recorded_at) {
    if (Status status = ParseAssertedRecordedAt(json, id, out); !status.ok()) return status;
  }

  out->expected_version.reset();
  if (auto it = json.find("expected_version"); it != json.end()) {
    if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
      return Status::InvalidArgument("must be a non-negative integer", "expected_version", id);
    }
    out->expected_version = it->get<uint64_t>();
  }

  auto data_it = json.find("data");
  if (data_it == json.end()) return Status::InvalidArgument("is required", "data", id);
  if (!data_it->is_object()) return TypeError("data", "an object", *data_it).WithEventId(id);
  DynamicStruct::Builder payload = capnp::toDynamic(event).get("payload").as<DynamicStruct>();
  DynamicStruct::Builder data = payload.init(PayloadMemberField(type)).as<DynamicStruct>();
  Status status = StructFromJson(*data_it, data, "data");
  if (!status.ok()) return status.WithEventId(id);

  out->event = NewEvent::FromReader(event.asReader()).event;
  return Status::Ok();
}

}  // namespace

Status ParseJson(std::string_view text, std::string_view field, nlohmann::json* out) {
  return ParseBoundedJson(text, field, out);
}

Status ParseJson(std::string_view text, std::string_view field, nlohmann::ordered_json* out) {
  return ParseBoundedJson(text, field, out);
}

Status CanonicalJsonDocument(const nlohmann::json& document, const std::string& field, std::string* out) {
  out->clear();
  return AppendJcs(document, field, 0, out);
}

namespace internal {

bool JsonNestsDeeperThan(std::string_view text, int limit) { return NestsDeeperThan(text, limit); }

Status CheckDocumentText(std::string_view text, const std::string& path) {
  Json document;
  if (Status status = ParseJson(text, path, &document); !status.ok()) return status;
  if (!document.is_object()) return TypeError(path, "a JSON object", document);
  return Status::Ok();
}

Status CanonicalDocumentText(std::string_view text, const std::string& path, std::string* out) {
  Json document;
  if (Status status = ParseJson(text, path, &document); !status.ok()) return status;
  return TextFromJson(document, path, /*entity_id=*/false, /*document=*/true, out);
}

}  // namespace internal

Status EventFromJson(const nlohmann::json& json, NewEvent* out, const EventJsonOptions& options) {
  try {
    return ParseEnvelopeAndPayload(json, out, options);
  } catch (const kj::Exception& exception) {
    return Status::InvalidArgument(std::string("could not encode event: ") + exception.getDescription().cStr());
  } catch (const std::exception& exception) {
    return Status::InvalidArgument(std::string("could not encode event: ") + exception.what());
  }
}

Status EventFromJsonText(std::string_view text, NewEvent* out, const EventJsonOptions& options) {
  Json json;
  if (Status status = ParseJson(text, "", &json); !status.ok()) return status;
  return EventFromJson(json, out, options);
}

nlohmann::ordered_json EventToJson(schema::Event::Reader event) {
  OrderedJson json = OrderedJson::object();
  // Sized copies throughout: a text with a NUL in it (a client's Cap'n Proto) must reach the checks whole.
  json["id"] = std::string(event.getId().cStr(), event.getId().size());
  const EventType type = event.getPayload().which();
  json["type"] = std::string(EventTypeName(type));
  json["effective_date"] = DateToJson(event.getEffectiveDate());
  json["actor"] = std::string(event.getActor().cStr(), event.getActor().size());
  if (event.hasCausationId()) {
    json["causation_id"] = std::string(event.getCausationId().cStr(), event.getCausationId().size());
  }
  const DynamicStruct::Reader payload = capnp::toDynamic(event).get("payload").as<DynamicStruct>();
  json["data"] = StructToJson(payload.get(PayloadMemberField(type)).as<DynamicStruct>());
  return json;
}

nlohmann::ordered_json StoredEventToJson(const StoredEvent& stored) {
  const schema::RecordedEvent::Reader recorded = stored.reader();
  OrderedJson json = OrderedJson::object();
  json["position"] = recorded.getPosition();
  json["recorded_at"] = FormatUtcMicros(recorded.getRecordedAtMicros());
  // Only on migrated events: the recorded time was asserted by the importer, not observed by the ledger.
  if (recorded.getRecordedAtAsserted()) json["recorded_at_asserted"] = true;
  json["stream"] = std::string(recorded.getStream().cStr());
  json["stream_version"] = recorded.getStreamVersion();
  OrderedJson event = EventToJson(recorded.getEvent());  // named: items() must not outlive its object
  for (auto& [key, value] : event.items()) json[key] = std::move(value);
  json["hash"] = HashToHex(stored.hash);
  return json;
}

}  // namespace di::ledger
