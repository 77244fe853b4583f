// The rules on a submitted event's fields (event_rules.h), shared by the JSON codec and the Cap'n Proto path.
#include "event_rules.h"

#include <cstdio>
#include <string>
#include <vector>

#include "di/ledger/civil_date.h"

namespace di::ledger::internal {
namespace {

// The first control character (U+0000..U+001F, U+007F) in `text` that a field may not hold, or -1. Free text
// (names, notes, reasons) may hold tabs and line breaks; single-line fields (the actor) none.
int ForbiddenControlCharacter(std::string_view text, bool single_line) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) continue;
    if (!single_line && (c == '\t' || c == '\n' || c == '\r')) continue;
    return byte;
  }
  return -1;
}

Status ControlCharacterError(int byte, const std::string& path) {
  char code[8];
  std::snprintf(code, sizeof(code), "%04X", byte);
  return Status::InvalidArgument(std::string("must not contain the control character U+") + code, path);
}

// The id rule and the date range as errors state them; the bounds are catalog.h's and civil_date.h's.
std::string IdRule() { return "(1.." + std::to_string(kMaxIdLength) + " chars of A-Z a-z 0-9 . _ : -)"; }

}  // namespace

std::string YearRange() { return "years " + std::to_string(kMinYear) + ".." + std::to_string(kMaxYear); }

bool HasAnnotation(capnp::StructSchema::Field field, uint64_t id) {
  for (auto annotation : field.getProto().getAnnotations()) {
    if (annotation.getId() == id) return true;
  }
  return false;
}

std::string JsonName(capnp::StructSchema::Field field) { return CamelToSnake(field.getProto().getName().cStr()); }

std::string JoinPath(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

capnp::StructSchema::Field PayloadMemberField(EventType type) {
  static const std::vector<capnp::StructSchema::Field> fields = [] {
    std::vector<capnp::StructSchema::Field> result;
    const capnp::StructSchema payload =
        capnp::Schema::from<schema::Event>().getFieldByName("payload").getType().asStruct();
    for (capnp::StructSchema::Field field : payload.getUnionFields()) {
      const auto discriminant = field.getProto().getDiscriminantValue();
      if (result.size() <= discriminant) result.resize(discriminant + 1);
      result[discriminant] = field;
    }
    return result;
  }();
  return fields.at(static_cast<size_t>(type));
}

bool Utf8ToUtf16(std::string_view text, std::u16string* out) {
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // below it: an overlong form
  if (out != nullptr) out->clear();
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? lead : lead & (0x7fu >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    if (out == nullptr) {
      // only validating
    } else if (code >= 0x10000) {
      out->push_back(static_cast<char16_t>(0xd800 + ((code - 0x10000) >> 10)));
      out->push_back(static_cast<char16_t>(0xdc00 + ((code - 0x10000) & 0x3ff)));
    } else {
      out->push_back(static_cast<char16_t>(code));
    }
    i += length;
  }
  return true;
}

Status CheckEventId(std::string_view id) {
  if (IsValidId(id)) return Status::Ok();
  return Status::InvalidArgument("'" + std::string(id) + "' is not a valid event id " + IdRule(),
                                 "id");
}

Status CheckActor(std::string_view actor, const std::string& id) {
  if (actor.empty() || actor.size() > kMaxActorLength) {
    return Status::InvalidArgument("must be 1.." + std::to_string(kMaxActorLength) + " bytes of UTF-8", "actor", id);
  }
  if (int byte = ForbiddenControlCharacter(actor, /*single_line=*/true); byte >= 0) {
    return ControlCharacterError(byte, "actor").WithEventId(id);
  }
  return Status::Ok();
}

Status CheckCausationId(std::string_view causation_id, const std::string& id) {
  if (IsValidId(causation_id)) return Status::Ok();
  return Status::InvalidArgument("must be a valid event id", "causation_id", id);
}

bool IsPossibleDate(int32_t days) {
  return days >= DaysFromCivil(kMinYear, 1, 1) && days <= DaysFromCivil(kMaxYear, 12, 31);
}

Status CheckEffectiveDate(int32_t days, const std::string& id) {
  if (IsPossibleDate(days)) return Status::Ok();
  return Status::InvalidArgument("must be a valid date YYYY-MM-DD in " + YearRange(), "effective_date", id);
}

Status CheckText(std::string_view text, const std::string& path, bool entity_id) {
  if (text.empty()) return Status::InvalidArgument("must not be empty", path);
  if (entity_id && !IsValidId(text)) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a valid id " + IdRule(),
                                   path);
  }
  if (text.size() > kMaxTextLength) return Status::InvalidArgument("longer than " + std::to_string(kMaxTextLength) + " bytes", path);
  if (int byte = ForbiddenControlCharacter(text, /*single_line=*/false); byte >= 0) {
    return ControlCharacterError(byte, path);
  }
  return Status::Ok();
}

Status CheckListLength(size_t size, const std::string& path) {
  if (size <= kMaxListLength) return Status::Ok();
  return Status::InvalidArgument("more than " + std::to_string(kMaxListLength) + " elements", path);
}

Status CheckDocumentLength(size_t bytes, const std::string& path) {
  if (bytes <= kMaxDocumentLength) return Status::Ok();
  return Status::InvalidArgument("document is larger than " + std::to_string(kMaxDocumentLength >> 20) + " MiB", path);
}

}  // namespace di::ledger::internal
