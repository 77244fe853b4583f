# di-ledger binary protocol: bulk append and subscriptions over one TCP connection.
#
# FRAMING. Each message is one Cap'n Proto message in the standard stream framing (what
# capnp::writeMessage / capnp::readMessage produce: a segment table, then the segments; not packed).
# The client sends ClientMessage frames, the server answers with ServerMessage frames. No RPC layer: any
# Cap'n Proto implementation that can serialise a message to a byte stream can talk to the endpoint.
#
# CONVERSATION (docs/protocol.md has the full description, limits and error codes):
#   client: hello(token)               server: welcome | error(unauthenticated) and close
#   client: append(batch) ...          server: appendResult per batch, in the order the batches were sent
#   client: subscribe(after, filter)   server: eventBatch ... heartbeat ... (the connection is now a
#                                      subscription until either side closes it; the client sends nothing
#                                      more except `goodbye`)
#   Any fatal problem (malformed frame, frame too large, slow consumer, shutdown): the server sends
#   error(...) and closes the connection.
#
# EVOLUTION: the same rules as ledger/schema/events.capnp: never renumber, retype or remove a field or a
# union member; add with the next ordinal only.

@0xf79234bf01766deb;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("di::protocol");

using Events = import "/events.capnp";

# Version of this protocol. A server refuses a hello whose version it does not speak.
const protocolVersion :UInt32 = 1;

# ---------------------------------------------------------------------------------------------------------
# Client -> server
# ---------------------------------------------------------------------------------------------------------

struct ClientMessage {
  union {
    hello @0 :Hello;
    append @1 :AppendBatch;
    subscribe @2 :Subscribe;
    goodbye @3 :Void;             # the client is done; the server closes after the replies already due
  }
}

# The first message of every connection. Anything else first: error(unauthenticated) and close.
struct Hello {
  token @0 :Text;                 # the bearer token, exactly as sent after "Bearer " to the HTTP API
  protocolVersion @1 :UInt32;     # the client's version (1)
  clientName @2 :Text;            # free text for the server's log ("di-ledger import 0.1.0")
}

# One atomic batch: every event is appended, or none (exactly like POST /v1/events).
struct AppendBatch {
  requestId @0 :UInt64;           # echoed in the AppendResult, so a pipelining client can match replies
  events @1 :List(BatchEvent);
}

struct BatchEvent {
  event @0 :Events.Event;         # the event as the client writes it (id, type, dates, actor, payload)
  expectedVersion :union {        # optimistic concurrency on the event's stream
    any @1 :Void;                 # no precondition (the default)
    version @2 :UInt64;           # the stream's version just before this event (0: must not exist yet)
  }
  recordedAt :union {             # when the event was recorded (as POST /v1/events?keep_recorded_at=true)
    observed @3 :Void;            # by the ledger, at append (the default)
    asserted @4 :Int64;           # by the importer of a migration, UTC microseconds since the epoch: only a
                                  # migration token may (forbidden otherwise), kept and flagged as asserted
  }
}

# Start a subscription: every visible event with position > `after`, in order, exactly once, then live
# events as they are appended. Resume after a disconnect with `after` = the last `lastPosition` seen.
struct Subscribe {
  after @0 :UInt64;               # 0: from the beginning of the log
  types @1 :List(Text);           # event type names as in JSON ("service_delivered"); empty: every type
  streamPrefix @2 :Text;          # "" : every stream; "grant/" : grant streams only
  maxBatchEvents @3 :UInt32;      # events per EventBatch; 0 or above the server's limit: the server's limit
  withRecords @4 :Bool;           # also send each event's canonical RecordedEvent bytes and chain hash
                                  # (never for readers, whose events are pseudonymised)
}

# ---------------------------------------------------------------------------------------------------------
# Server -> client
# ---------------------------------------------------------------------------------------------------------

struct ServerMessage {
  union {
    welcome @0 :Welcome;
    appendResult @1 :AppendResult;
    eventBatch @2 :EventBatch;
    heartbeat @3 :Heartbeat;
    error @4 :Error;              # fatal for the connection: the server closes it after this frame
  }
}

struct Welcome {
  protocolVersion @0 :UInt32;
  principal @1 :Text;             # the token's name
  role @2 :Text;                  # clerk, project, finance, auditor, reader, migration
  municipality @3 :Text;          # clerks: the municipality they serve
  head @4 :UInt64;                # the visible position (what reads and subscriptions are served up to)
  maxFrameBytes @5 :UInt64;       # the largest frame the server accepts
  maxBatchEvents @6 :UInt32;      # the largest AppendBatch the store accepts
}

# Error of a request, or of the connection. `code` is one of the stable codes of the HTTP API
# (invalid_argument, not_found, conflict, duplicate_id, corruption, io_error, busy, shutdown,
# unauthenticated, forbidden) or one of the binary endpoint's own (malformed, frame_too_large,
# protocol, slow_consumer, timeout, too_many_connections).
struct Error {
  code @0 :Text;
  message @1 :Text;
  field @2 :Text;                 # the offending field ("data.quantity", "events[3].event"), if any
  eventId @3 :Text;               # the id of the offending event, if any
}

struct AppendResult {
  requestId @0 :UInt64;
  union {
    ok @1 :AppendOk;
    error @2 :Error;              # the batch appended nothing; the connection stays open
  }
}

struct AppendOk {
  positions @0 :List(UInt64);     # global position of each event, in batch order (the original position
                                  # for an idempotent retry)
  appended @1 :UInt64;            # events appended by this batch (0 for a pure retry)
  lastPosition @2 :UInt64;        # head of the log after the append
}

struct EventBatch {
  events @0 :List(SubscribedEvent);
  # Everything up to and including this position has been sent or filtered out: resume with
  # after = lastPosition. Can be beyond the last event's position when a filter skipped events.
  lastPosition @1 :UInt64;
  head @2 :UInt64;                # the visible position when the batch was read
}

struct SubscribedEvent {
  position @0 :UInt64;
  # The event as JSON text: the same object GET /v1/log and the HTTP subscription return for the same
  # token (pseudonymised for readers: person-linked ids replaced by keyed hashes, no chain hash).
  json @1 :Text;
  # With Subscribe.withRecords, for every role except reader (whose events are pseudonymised): the canonical
  # RecordedEvent bytes (one segment, no segment table) and the chain hash, SHA-256(previous hash || record).
  # Empty otherwise.
  record @2 :Data;
  hash @3 :Data;
}

# Sent to an idle (caught-up) subscriber every heartbeat interval, and at once when it catches up without
# the last EventBatch showing it (no batch yet, or a filter skipped the events after the last batch).
struct Heartbeat {
  lastPosition @0 :UInt64;        # as in EventBatch: resume with after = lastPosition
  head @1 :UInt64;
}
