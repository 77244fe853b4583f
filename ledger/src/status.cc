#include "di/ledger/status.h"

namespace di::ledger {

Status Status::WithEventId(std::string_view event_id) const {
  Status copy = *this;
  if (copy.event_id_.empty()) copy.event_id_ = std::string(event_id);
  return copy;
}

Status Status::WithFieldPrefix(std::string_view prefix) const {
  Status copy = *this;
  if (copy.field_.empty()) {
    copy.field_ = std::string(prefix);
  } else if (copy.field_.front() == '[') {
    copy.field_ = std::string(prefix) + copy.field_;
  } else {
    copy.field_ = std::string(prefix) + "." + copy.field_;
  }
  return copy;
}

std::string_view Status::CodeName() const {
  switch (code_) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kConflict: return "conflict";
    case StatusCode::kDuplicateId: return "duplicate_id";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIOError: return "io_error";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kShutdown: return "shutdown";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kForbidden: return "forbidden";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string text(CodeName());
  text += ": ";
  if (!event_id_.empty()) text += "event '" + event_id_ + "': ";
  if (!field_.empty()) text += "field '" + field_ + "': ";
  text += message_;
  return text;
}

}  // namespace di::ledger
