// An event a client built in Cap'n Proto (the binary endpoint's BatchEvent.event), checked by the rules every
// submitted event obeys, whatever its encoding: the rules the JSON codec (json_codec.h) applies to JSON are the
// same functions (ledger/src/event_rules.h), run here on the struct itself, with no JSON text in between.
//
//   NewEvent event;
//   Status s = EventFromReader(frame_event_reader, &event);  // InvalidArgument naming the field, or canonical bytes
//
// Semantic validation (references, date order, sums) is the validator's, at append, for both encodings alike.
#ifndef DI_LEDGER_EVENT_CHECKS_H_
#define DI_LEDGER_EVENT_CHECKS_H_

#include "di/ledger/event.h"
#include "di/ledger/status.h"

namespace di::ledger {

// Checks `event` and copies it into `out` as the JSON codec would have stored it: the same refusals (code,
// field, message, event id; the first problem in the same order), the same normalisation ($jsonDocument texts
// in their RFC 8785 form; fields a newer schema added are dropped, as JSON of this schema cannot name them),
// the same canonical bytes. Texts must be UTF-8, enumerants known, dates within the years a date may have.
// A struct whose pointers lead outside its message throws kj::Exception, as any reader of it does.
Status EventFromReader(schema::Event::Reader event, NewEvent* out);

}  // namespace di::ledger

#endif  // DI_LEDGER_EVENT_CHECKS_H_
