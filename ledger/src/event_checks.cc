// EventFromReader (event_checks.h): a client's Cap'n Proto event, checked and copied by reflection over the
// schema, with the rules the JSON codec applies (event_rules.h).
//
// Why not through JSON: the binary endpoint used to render each event as JSON text and parse it back, only to
// reach the codec's checks; that cost more than the rest of its append path together. Walking the struct once
// per phase costs a fraction of it (docs/performance.md has the figure).
//
// The phases keep the order in which the JSON round trip found problems, so a refusal names the same field:
// (1) the type; (2) every $jsonDocument parses as a JSON object; (3) every text is UTF-8; (4) the envelope
// (id, effective date, actor, causation id) and the payload, field by field in schema order, while copying.
// Fields are present as the JSON form has them: an optional scalar when not its default, an optional pointer
// when set; a required one always (absent reads as its default, so a missing required text is "must not be
// empty", as a JSON "" would be).
#include "di/ledger/event_checks.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"
#include "di/ledger/json_codec.h"
#include "event_rules.h"

namespace di::ledger {
namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using capnp::StructSchema;
using TypeWhich = capnp::schema::Type::Which;
using namespace internal;  // NOLINT: the rules and the schema reflection of event_rules.h

// JSON levels around a payload field in an event's JSON form: the event object, then `data`.
constexpr int kDataJsonLevel = 2;

std::string_view View(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

bool IsPresent(DynamicStruct::Reader reader, StructSchema::Field field) {
  if (!HasAnnotation(field, kOptionalAnnotation)) return true;
  const capnp::Type type = field.getType();
  const bool pointer = type.isText() || type.isList() || type.isStruct();
  return reader.has(field, pointer ? capnp::HasMode::NON_NULL : capnp::HasMode::NON_DEFAULT);
}

bool IsValidUtf8(std::string_view text) { return Utf8ToUtf16(text, nullptr); }

// What the JSON form's text of an unknown enumerant or an impossible date is: a number where a string belongs.
Status NumberWhereStringBelongs(const std::string& path, std::string_view expected) {
  return Status::InvalidArgument("must be " + std::string(expected) + ", got a number", path);
}

// Phase 2: every $jsonDocument text parses as a JSON object within ParseJson's bounds. `json_level` counts the
// JSON containers around the struct, so `*over_depth` tells whether a document, embedded in the event's JSON
// form, would nest deeper than kMaxJsonDepth there.
Status CheckDocuments(DynamicStruct::Reader reader, const std::string& path, int json_level, bool* over_depth) {
  DI_ASSERT(json_level < 16);
  for (StructSchema::Field field : reader.getSchema().getNonUnionFields()) {
    const capnp::Type type = field.getType();
    const std::string field_path = JoinPath(path, JsonName(field));
    if (type.isText() && HasAnnotation(field, kJsonDocumentAnnotation) && reader.has(field)) {
      const std::string_view text = View(reader.get(field).as<capnp::Text>());
      if (Status status = CheckDocumentText(text, field_path); !status.ok()) return status;
      *over_depth = *over_depth || JsonNestsDeeperThan(text, kMaxJsonDepth - json_level);
    } else if (type.isStruct() && reader.has(field)) {
      Status status = CheckDocuments(reader.get(field).as<DynamicStruct>(), field_path, json_level + 1, over_depth);
      if (!status.ok()) return status;
    } else if (type.isList() && type.asList().getElementType().isStruct() && reader.has(field)) {
      const DynamicList::Reader list = reader.get(field).as<DynamicList>();
      for (unsigned i = 0; i < list.size(); ++i) {
        Status status = CheckDocuments(list[i].as<DynamicStruct>(), field_path + "[" + std::to_string(i) + "]",
                                       json_level + 2, over_depth);
        if (!status.ok()) return status;
      }
    }
  }
  return Status::Ok();
}

// Phase 3: every text the JSON form holds is UTF-8 (a client's bytes; JSON text is UTF-8 by its parser).
// Reads every pointer the copy reads, in the same order, so a pointer outside the message throws here first.
bool TextsAreUtf8(DynamicStruct::Reader reader) {
  for (StructSchema::Field field : reader.getSchema().getNonUnionFields()) {
    if (!IsPresent(reader, field)) continue;
    const capnp::Type type = field.getType();
    if (type.isText()) {
      if (!HasAnnotation(field, kJsonDocumentAnnotation) && !IsValidUtf8(View(reader.get(field).as<capnp::Text>()))) {
        return false;
      }
    } else if (type.isStruct()) {
      if (!TextsAreUtf8(reader.get(field).as<DynamicStruct>())) return false;
    } else if (type.isList()) {
      const DynamicList::Reader list = reader.get(field).as<DynamicList>();
      const capnp::Type element_type = type.asList().getElementType();
      for (unsigned i = 0; i < list.size(); ++i) {
        if (element_type.isText() && !IsValidUtf8(View(list[i].as<capnp::Text>()))) return false;
        if (element_type.isStruct() && !TextsAreUtf8(list[i].as<DynamicStruct>())) return false;
      }
    }
  }
  return true;
}

Status CopyStruct(DynamicStruct::Reader from, DynamicStruct::Builder to, const std::string& path);

Status CopyText(capnp::Text::Reader text, StructSchema::Field field, const std::string& path,
                DynamicStruct::Builder to) {
  if (HasAnnotation(field, kJsonDocumentAnnotation)) {
    // Empty here is absent (phase 2 refused a present empty text): the JSON form has "" for it.
    if (text.size() == 0) return Status::InvalidArgument("must be a JSON object, got a string", path);
    std::string canonical;
    if (Status status = CanonicalDocumentText(View(text), path, &canonical); !status.ok()) return status;
    to.set(field, capnp::Text::Reader(canonical.c_str(), canonical.size()));
    return Status::Ok();
  }
  if (Status status = CheckText(View(text), path, HasAnnotation(field, kEntityIdAnnotation)); !status.ok()) {
    return status;
  }
  to.set(field, text);
  return Status::Ok();
}

Status CopyList(DynamicList::Reader from, StructSchema::Field field, const std::string& path,
                DynamicStruct::Builder to) {
  if (Status status = CheckListLength(from.size(), path); !status.ok()) return status;
  const capnp::Type element_type = field.getType().asList().getElementType();
  DynamicList::Builder list = to.init(field, from.size()).as<DynamicList>();
  for (unsigned i = 0; i < from.size(); ++i) {
    const std::string element_path = path + "[" + std::to_string(i) + "]";
    if (element_type.isText()) {
      const capnp::Text::Reader text = from[i].as<capnp::Text>();
      if (Status status = CheckText(View(text), element_path, /*entity_id=*/true); !status.ok()) return status;
      list.set(i, text);
    } else if (element_type.isEnum()) {
      const capnp::DynamicEnum value = from[i].as<capnp::DynamicEnum>();
      if (value.getEnumerant() == nullptr) return NumberWhereStringBelongs(element_path, "a string");
      list.set(i, value);
    } else if (element_type.isStruct()) {
      Status status = CopyStruct(from[i].as<DynamicStruct>(), list[i].as<DynamicStruct>(), element_path);
      if (!status.ok()) return status;
    } else {
      return Status::InvalidArgument("unsupported list element type in schema", element_path);
    }
  }
  return Status::Ok();
}

// One field (present in the JSON form) of `from`, checked, into `to`.
Status CopyField(DynamicStruct::Reader from, StructSchema::Field field, const std::string& path,
                 DynamicStruct::Builder to) {
  const capnp::Type type = field.getType();
  const capnp::DynamicValue::Reader value = from.get(field);
  if (HasAnnotation(field, kDateAnnotation)) {
    if (!IsPossibleDate(value.as<int32_t>())) return NumberWhereStringBelongs(path, "a date string YYYY-MM-DD");
    to.set(field, value);
    return Status::Ok();
  }
  switch (type.which()) {
    case TypeWhich::BOOL:
    case TypeWhich::INT8:
    case TypeWhich::INT16:
    case TypeWhich::INT32:
    case TypeWhich::INT64:
    case TypeWhich::UINT8:
    case TypeWhich::UINT16:
    case TypeWhich::UINT32:
    case TypeWhich::UINT64: to.set(field, value); return Status::Ok();
    case TypeWhich::TEXT: return CopyText(value.as<capnp::Text>(), field, path, to);
    case TypeWhich::ENUM:
      if (value.as<capnp::DynamicEnum>().getEnumerant() == nullptr) return NumberWhereStringBelongs(path, "a string");
      to.set(field, value);
      return Status::Ok();
    case TypeWhich::STRUCT: return CopyStruct(value.as<DynamicStruct>(), to.init(field).as<DynamicStruct>(), path);
    case TypeWhich::LIST: return CopyList(value.as<DynamicList>(), field, path, to);
    default: return Status::InvalidArgument("unsupported field type in schema", path);
  }
}

// Phase 4, within the payload: the fields of `from` the JSON form holds, in schema order, into `to`.
Status CopyStruct(DynamicStruct::Reader from, DynamicStruct::Builder to, const std::string& path) {
  for (StructSchema::Field field : from.getSchema().getNonUnionFields()) {
    if (!IsPresent(from, field)) continue;
    const std::string field_path = JoinPath(path, JsonName(field));
    if (Status status = CopyField(from, field, field_path, to); !status.ok()) return status;
    // As the codec: an optional value equal to "absent" would not survive the round trip.
    if (HasAnnotation(field, kOptionalAnnotation) && !to.has(field, capnp::HasMode::NON_DEFAULT)) {
      return Status::InvalidArgument("this value means 'absent' for an optional field: omit the field", field_path);
    }
  }
  return Status::Ok();
}

// Phase 4: the envelope, then the payload, into a new message.
Status CopyEvent(schema::Event::Reader event, const std::string& id, EventType type, NewEvent* out) {
  if (Status status = CheckEventId(id); !status.ok()) return status;
  if (Status status = CheckEffectiveDate(event.getEffectiveDate(), id); !status.ok()) return status;
  if (Status status = CheckActor(View(event.getActor()), id); !status.ok()) return status;
  if (event.hasCausationId()) {
    if (Status status = CheckCausationId(View(event.getCausationId()), id); !status.ok()) return status;
  }
  // Most events fit 128 words; the default first segment is 8 KiB, zeroed by calloc for every event copied.
  capnp::MallocMessageBuilder message(128);
  schema::Event::Builder copy = message.initRoot<schema::Event>();
  copy.setId(event.getId());
  copy.setEffectiveDate(event.getEffectiveDate());
  copy.setActor(event.getActor());
  if (event.hasCausationId()) copy.setCausationId(event.getCausationId());
  const StructSchema::Field member = PayloadMemberField(type);
  const DynamicStruct::Reader data =
      capnp::toDynamic(event).get("payload").as<DynamicStruct>().get(member).as<DynamicStruct>();
  DynamicStruct::Builder payload = capnp::toDynamic(copy).get("payload").as<DynamicStruct>();
  if (Status status = CopyStruct(data, payload.init(member).as<DynamicStruct>(), "data"); !status.ok()) {
    return status.WithEventId(id);
  }
  out->event = NewEvent::FromReader(copy.asReader()).event;
  out->expected_version.reset();
  out->asserted_recorded_at_micros.reset();
  return Status::Ok();
}

}  // namespace

Status EventFromReader(schema::Event::Reader event, NewEvent* out) {
  const std::string id(event.getId().begin(), event.getId().size());
  const EventType type = event.getPayload().which();
  if (static_cast<size_t>(type) >= AllEventTypes().size()) {  // phase 1
    return Status::InvalidArgument("unknown event type (written by a newer schema?)", "type", id);
  }
  const DynamicStruct::Reader data = capnp::toDynamic(event).get("payload").as<DynamicStruct>().get(
      PayloadMemberField(type)).as<DynamicStruct>();
  bool document_over_depth = false;
  if (Status status = CheckDocuments(data, "data", kDataJsonLevel, &document_over_depth); !status.ok()) {
    return status.WithEventId(id);  // phase 2
  }
  const bool causation_utf8 = !event.hasCausationId() || IsValidUtf8(View(event.getCausationId()));
  if (!IsValidUtf8(id) || !IsValidUtf8(View(event.getActor())) || !causation_utf8 || !TextsAreUtf8(data)) {
    return Status::InvalidArgument("a text field is not valid UTF-8", "", id);  // phase 3
  }
  if (document_over_depth) {
    // Rare, and only ever a refusal: a document within its own bounds that nests too deep inside the event's
    // JSON form. Its error (the path of the level too deep) is the JSON parser's, so it is asked for it.
    nlohmann::json ignored;
    return ParseJson(EventToJson(event).dump(), "", &ignored);
  }
  return CopyEvent(event, id, type, out);
}

}  // namespace di::ledger
