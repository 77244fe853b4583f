// Status: the error value that crosses every public API boundary of di-ledger (exceptions never do).
//
// Modelled on leveldb::Status, with two additions the users need: the id of the event a validation error
// is about, and the offending field (a JSON path such as "data.lines[2].amount_cents"). The server uses the
// same type (its transports map each code to an HTTP status or a binary error name, docs/api.md).
#ifndef DI_LEDGER_STATUS_H_
#define DI_LEDGER_STATUS_H_

#include <string>
#include <string_view>

namespace di::ledger {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // malformed or invalid input; nothing was appended
  kNotFound,         // unknown event id, stream, ...
  kConflict,         // expected stream version did not match; nothing was appended
  kDuplicateId,      // an event id already recorded with different content; nothing was appended
  kCorruption,       // stored data failed a check (hash chain, decoding, holes)
  kIOError,          // the storage engine failed (disk full, ...); nothing was acknowledged
  kBusy,             // too many pending requests; retry later
  kShutdown,         // the store (or the service over it) is closing
  // The two outcomes of an admission check (the append's `admit` hook, event_store.h) and of a network service:
  kUnauthenticated,  // no token, or a token no entry matches
  kForbidden,        // the caller's role or scope does not allow it; the message says why
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message, std::string field = {}, std::string event_id = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(message), std::move(field), std::move(event_id));
  }
  static Status NotFound(std::string message, std::string field = {}) {
    return Status(StatusCode::kNotFound, std::move(message), std::move(field));
  }
  static Status Conflict(std::string message, std::string event_id = {}) {
    return Status(StatusCode::kConflict, std::move(message), "expected_version", std::move(event_id));
  }
  static Status DuplicateId(std::string message, std::string event_id) {
    return Status(StatusCode::kDuplicateId, std::move(message), "id", std::move(event_id));
  }
  static Status Corruption(std::string message) { return Status(StatusCode::kCorruption, std::move(message)); }
  static Status IOError(std::string message) { return Status(StatusCode::kIOError, std::move(message)); }
  static Status Busy(std::string message) { return Status(StatusCode::kBusy, std::move(message)); }
  static Status Shutdown() { return Status(StatusCode::kShutdown, "the event store is closing"); }
  static Status Unauthenticated(std::string message) { return Status(StatusCode::kUnauthenticated, std::move(message)); }
  static Status Forbidden(std::string message, std::string field = {}, std::string event_id = {}) {
    return Status(StatusCode::kForbidden, std::move(message), std::move(field), std::move(event_id));
  }
  // Any code with any message (a transport relaying a status it received).
  static Status Make(StatusCode code, std::string message, std::string field = {}, std::string event_id = {}) {
    return Status(code, std::move(message), std::move(field), std::move(event_id));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }
  const std::string& event_id() const { return event_id_; }

  // Returns a copy naming `event_id` (when not yet set): lets lower layers report without knowing it.
  Status WithEventId(std::string_view event_id) const;
  // Returns a copy whose field is prefixed: "quantity" -> "data.quantity".
  Status WithFieldPrefix(std::string_view prefix) const;

  // Stable machine-readable name of the code: "invalid_argument", "conflict", ...
  std::string_view CodeName() const;
  // "invalid_argument: event 'E-1': field 'data.quantity': must be greater than 0"
  std::string ToString() const;

 private:
  Status(StatusCode code, std::string message, std::string field = {}, std::string event_id = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)), event_id_(std::move(event_id)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
  std::string event_id_;
};

}  // namespace di::ledger

// Returns the status of `expression` from the enclosing function unless it is ok (RocksDB's and Abseil's
// RETURN_IF_ERROR): a check that can fail reads as one line. The one definition; the local's name is unusual so
// it cannot shadow a name the expression uses.
#define DI_RETURN_IF_ERROR(expression)                                         \
  do {                                                                         \
    ::di::ledger::Status di_return_if_error_status_ = (expression);            \
    if (!di_return_if_error_status_.ok()) return di_return_if_error_status_;   \
  } while (false)

#endif  // DI_LEDGER_STATUS_H_
