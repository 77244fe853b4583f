// PostgreSQL baseline for append_bench (issue #6 item 2): the same batches written into a classic event
// table in PostgreSQL 15 (Debian's server), so the ledger's append throughput can be given as a ratio.
//
// PostgresServer owns a throw-away cluster: initdb in a temp directory, postmaster on 127.0.0.1 and a Unix
// socket in that directory, stopped and removed afterwards. PostgresEventTable is one libpq connection
// (one per writer thread) that writes a batch as one transaction in one round trip.
//
// Bench code, not product code: it links libpq and is built only with -DDI_BUILD_BENCH=ON.
#ifndef DI_BENCH_POSTGRES_EVENT_TABLE_H_
#define DI_BENCH_POSTGRES_EVENT_TABLE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "di/ledger/status.h"

struct pg_conn;  // libpq's PGconn, kept out of this header

namespace di::bench {

// One row of the event table, as the bench hands it over.
struct PgEvent {
  std::string stream;        // stream name, e.g. "person-P-000017"
  int64_t version = 0;       // 1-based position within the stream; unique together with `stream`
  std::string type;          // event type, e.g. "ServiceDelivered"
  std::string json_payload;  // a JSON object (UTF-8); stored as jsonb
};

// A PostgreSQL cluster in `dir`, alive from Start() until Stop() or the destructor.
//
// Server settings are initdb's defaults except: listen_addresses = '127.0.0.1', the port,
// unix_socket_directories = dir, fsync = on and synchronous_commit = on (both are the defaults; set
// explicitly so the baseline is durable like the ledger's sync=true appends), and shared_buffers = 256MB
// (initdb picks 128MB; 256MB is the usual first tuning step and holds the whole bench table, which is fair
// to PostgreSQL, never unfair to it).
//
// A watchdog process (sh, in its own session) holds the read end of a pipe whose write end only this
// process holds. When the bench exits in any way (return, std::abort, SIGKILL) the pipe closes and the
// watchdog stops the postmaster (pg_ctl stop -m fast) and removes `dir`. Stop() uses the same path, so
// there is one shutdown sequence, and no crashed bench leaves a postmaster behind.
//
// When running as root (PostgreSQL refuses to run as root) initdb, pg_ctl and the postmaster run as the
// `postgres` user via runuser, and `dir` is chowned to it; its parent must be searchable by that user.
class PostgresServer {
 public:
  // Creates `dir` (must not exist, or be empty), runs initdb there and starts the postmaster. port 0 picks
  // a free port (bind to port 0, read it, close: another process could take it before the postmaster
  // does; Start then fails with the postmaster's log in the message).
  static di::ledger::Status Start(const std::string& dir, int port, std::unique_ptr<PostgresServer>* server);

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();  // Stop(), ignoring its status

  // Stops the postmaster (fast shutdown: open connections are terminated) and removes the directory.
  // Idempotent. Close the PostgresEventTable connections first to see no "terminating connection" noise.
  di::ledger::Status Stop();

  int port() const { return port_; }
  // The directory holding the Unix socket (".s.PGSQL.<port>"): pass as host to connect without TCP.
  const std::string& socket_directory() const { return dir_; }

 private:
  PostgresServer(std::string dir, int port, int watchdog_pipe, pid_t watchdog_pid)
      : dir_(std::move(dir)), port_(port), watchdog_pipe_(watchdog_pipe), watchdog_pid_(watchdog_pid) {}

  std::string dir_;
  int port_;
  int watchdog_pipe_;  // write end; closing it tells the watchdog to stop the server; -1 once stopped
  pid_t watchdog_pid_;
};

// How AppendBatch sends the rows. Each is one transaction per batch; postgres_event_table.cc has the
// figures that chose kAuto as the one the bench uses.
enum class PgInsertMethod {
  // kUnnest below kCopyBatchEventsMin events, kCopy from there: the faster of the two at each size.
  kAuto,
  // A prepared `INSERT .. SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[])`, the
  // four columns as text-format array parameters: one round trip.
  kUnnest,
  // `COPY events(stream, version, type, data) FROM STDIN` in text format: two round trips (the COPY
  // command, then the rows with the end marker).
  kCopy,
};

// kAuto's switch-over: unnest measured faster up to 10 events per batch, COPY from 30 (see the .cc).
inline constexpr size_t kCopyBatchEventsMin = 20;

// One connection to the cluster and the `events` table. Not thread-safe: one per writer thread.
class PostgresEventTable {
 public:
  // host: "127.0.0.1" for TCP, or PostgresServer::socket_directory() for the Unix socket. Connects as
  // user postgres to database postgres (initdb's trust authentication) and sets synchronous_commit = on
  // for the session.
  static di::ledger::Status Connect(const std::string& host, int port, PgInsertMethod method,
                                    std::unique_ptr<PostgresEventTable>* table);

  PostgresEventTable(const PostgresEventTable&) = delete;
  PostgresEventTable& operator=(const PostgresEventTable&) = delete;
  ~PostgresEventTable();

  // Drops `events` if it exists and creates it empty:
  //   events(position bigserial primary key, stream text not null, version bigint not null,
  //          type text not null, recorded_at timestamptz not null default now(), data jsonb not null,
  //          unique (stream, version))
  // Call on one connection before the writers start.
  di::ledger::Status CreateSchema();

  // Appends `events` as one transaction (all rows or none), durable when it returns ok (fsync and
  // synchronous_commit on). A (stream, version) already present, or twice in the batch, is kConflict;
  // a JSON payload PostgreSQL refuses is kInvalidArgument; anything else is kIOError. An empty batch is
  // ok and sends nothing.
  di::ledger::Status AppendBatch(const std::vector<PgEvent>& events);

  // SELECT count(*) FROM events.
  di::ledger::Status CountEvents(int64_t* count);
  // Rows whose data equals `json_payload` as jsonb (a check that escaping preserved the payload).
  di::ledger::Status CountEventsWithPayload(const std::string& json_payload, int64_t* count);
  // pg_total_relation_size('events'): the table, its TOAST data and its indexes (not the WAL).
  di::ledger::Status TableBytes(int64_t* bytes);

 private:
  PostgresEventTable(pg_conn* connection, PgInsertMethod method) : connection_(connection), method_(method) {}

  di::ledger::Status AppendWithUnnest(const std::vector<PgEvent>& events);
  di::ledger::Status AppendWithCopy(const std::vector<PgEvent>& events);
  di::ledger::Status Execute(const char* sql);

  pg_conn* connection_;
  PgInsertMethod method_;
  bool insert_prepared_ = false;
  // Reused between batches so a steady-state append allocates nothing new for the parameters.
  std::string streams_array_, versions_array_, types_array_, payloads_array_, copy_rows_;
};

}  // namespace di::bench

#endif  // DI_BENCH_POSTGRES_EVENT_TABLE_H_
