// Str: a Cap'n Proto text as a std::string, for every reader of events (ledger, projections, server, client).
//
// Why a header of its own rather than event.h: the callers need only this one conversion, and event.h brings
// the event schema and the message classes with it; this header needs only capnp's blob types. Why a copy and
// not a view: the ids read from an event outlive its message (map keys of the model, entity records, replies).
#ifndef DI_LEDGER_CAPNP_TEXT_H_
#define DI_LEDGER_CAPNP_TEXT_H_

#include <capnp/blob.h>

#include <string>

namespace di::ledger {

// The `text.size()` bytes of `text`, copied.
inline std::string Str(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

}  // namespace di::ledger

#endif  // DI_LEDGER_CAPNP_TEXT_H_
