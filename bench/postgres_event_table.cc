// PostgreSQL baseline: a throw-away cluster and a classic event table (see postgres_event_table.h).
//
// Insert method (PgInsertMethod). Both candidates are what a competent user of an event table writes:
// unnest of four array parameters (one round trip: Bind/Execute/Sync of a prepared INSERT .. SELECT) and
// COPY FROM STDIN (two round trips, but PostgreSQL's bulk insert path, which skips the array parsing and
// the per-row executor work of INSERT .. SELECT). Measured with pg_smoke on the shared 2-core VM (load
// 3-5 from other builds), ~270-byte payloads, events/s, 1 writer, TCP 127.0.0.1 / Unix socket:
//   with fsync=off (pg_smoke --fsync-off-diagnostic: CPU and round trips only)
//     batch      1: unnest  8451 / 29321   copy  8588 / 16190
//     batch      3: unnest 48630 / 55894   copy 39106 / 44405
//     batch     10: unnest 60649 / 72363   copy 36650 / 54028
//     batch     30: unnest 66561 / 76554   copy 79318 / 100290
//     batch    100: unnest 47405 / 63085   copy 85572 / 75297
//     batch   1000: unnest 84494 / 80918   copy 94877 / 102303
//   with fsync=on, TCP, two runs: batch 100: unnest 43826, 63378  copy 61863, 96159;
//     batch 1000: unnest 85864, 93737  copy 100441, 113056; batch 1: unnest 5460, 4268  copy 4311, 3635.
// With 4 writers (fsync=off) the same order held in 9 of the 12 cells (not at socket batch 1 and 10 and
// TCP batch 1000, by 4-27%). So the bench uses kAuto: unnest below kCopyBatchEventsMin (20) events, COPY
// from there. The disk's flush latency on this VM drifts between ~0.2 and ~4 ms within minutes
// (pg_test_fsync, one run: fdatasync 294/s in one test, 5743/s in the next), which moves fsync-on
// figures by up to 10x: compare PostgreSQL and the ledger back to back, row by row, never across runs.
#include "postgres_event_table.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "di/ledger/invariant.h"

namespace di::bench {
namespace {

using di::ledger::Status;

constexpr const char* kPostgresBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kRunuser = "/usr/sbin/runuser";
// Bounds every wait on the server: pg_ctl -w gives up after this many seconds.
constexpr const char* kPgCtlTimeoutSeconds = "60";
// Bounds the output kept from a failed command (initdb and pg_ctl print a few lines; a log tail more).
constexpr size_t kCommandOutputBytesMax = 8192;

bool RunningAsRoot() { return geteuid() == 0; }

// argv for a PostgreSQL program: run as `postgres` through runuser when we are root (the postmaster
// refuses root), directly otherwise.
std::vector<std::string> PostgresCommand(std::vector<std::string> arguments) {
  std::vector<std::string> argv;
  if (RunningAsRoot()) argv = {kRunuser, "-u", "postgres", "--"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

// fork + execv with stdin from /dev/null and stdout+stderr captured (the last kCommandOutputBytesMax
// bytes). Only async-signal-safe calls between fork and exec: the bench may already have threads.
Status RunCommand(const std::vector<std::string>& argv, const std::string& working_directory, std::string* output) {
  DI_ASSERT(!argv.empty());
  std::vector<char*> pointers;
  for (const std::string& argument : argv) pointers.push_back(const_cast<char*>(argument.c_str()));
  pointers.push_back(nullptr);
  int output_pipe[2];
  if (pipe2(output_pipe, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe2: ") + std::strerror(errno));
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    close(output_pipe[0]);
    close(output_pipe[1]);
    return Status::IOError(std::string("open /dev/null: ") + std::strerror(errno));
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(null_fd, 0);
    dup2(output_pipe[1], 1);
    dup2(output_pipe[1], 2);
    // initdb and pg_ctl, run as `postgres`, would warn about a working directory they cannot enter.
    if (chdir(working_directory.c_str()) != 0) _exit(126);
    execv(pointers[0], pointers.data());
    _exit(127);
  }
  close(null_fd);
  close(output_pipe[1]);
  if (pid < 0) {
    close(output_pipe[0]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  output->clear();
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(output_pipe[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output->append(buffer, static_cast<size_t>(n));
    if (output->size() > kCommandOutputBytesMax) output->erase(0, output->size() - kCommandOutputBytesMax);
  }
  close(output_pipe[0]);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) return Status::IOError(std::string("waitpid: ") + std::strerror(errno));
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return Status::Ok();
  // Name the PostgreSQL program, not runuser in front of it.
  const std::string& program = argv[0] == kRunuser && argv.size() > 4 ? argv[4] : argv[0];
  return Status::IOError(program + " failed (wait status " + std::to_string(wait_status) + "): " + *output);
}

// A port nobody listens on now: bind 127.0.0.1:0 and read what the kernel chose.
Status PickFreePort(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return Status::IOError(std::string("bind 127.0.0.1:0: ") + std::strerror(error));
  }
  close(fd);
  *port = ntohs(address.sin_port);
  return Status::Ok();
}

std::string ReadTail(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kCommandOutputBytesMax) text.erase(0, text.size() - kCommandOutputBytesMax);
  return text;
}

// The watchdog: `sh` in its own session (Ctrl-C on the bench does not reach it) whose stdin is the read
// end of a pipe. `read` returns when the write end closes: Stop() closing it, or the bench exiting in any
// way (the kernel closes it). Then it stops the postmaster, if one runs, and removes the directory.
// $1 = data directory, $2 = the whole directory; runuser is inserted when we are root.
Status StartWatchdog(const std::string& data_directory, const std::string& directory, int* write_end, pid_t* pid) {
  const std::string pg_ctl = std::string(kPostgresBin) + "/pg_ctl";
  const std::string script = std::string("read -r ignored; ") + "if [ -f \"$1/postmaster.pid\" ]; then " +
                             (RunningAsRoot() ? std::string(kRunuser) + " -u postgres -- " : std::string()) +
                             pg_ctl + " -D \"$1\" -m fast -w -t " + kPgCtlTimeoutSeconds +
                             " stop >/dev/null 2>&1; fi; rm -rf -- \"$2\"";
  // O_CLOEXEC on both ends: no other child (initdb, pg_ctl, the postmaster) may hold the write end, or the
  // watchdog would never see it close.
  int watchdog_pipe[2];
  if (pipe2(watchdog_pipe, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe2: ") + std::strerror(errno));
  const pid_t child = fork();
  if (child == 0) {
    setsid();
    dup2(watchdog_pipe[0], 0);  // dup2 clears O_CLOEXEC on the copy
    execl("/bin/sh", "sh", "-c", script.c_str(), "di-bench-postgres-watchdog", data_directory.c_str(),
          directory.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(watchdog_pipe[0]);
  if (child < 0) {
    close(watchdog_pipe[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  *write_end = watchdog_pipe[1];
  *pid = child;
  return Status::Ok();
}

// SQLSTATE classes mapped onto the ledger's codes, so the bench reports a refused duplicate the same way.
Status StatusFromResult(const PGresult* result, const PGconn* connection, const char* what) {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = std::string(what) + ": " +
                        (result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection));
  // PostgreSQL's messages are multi-line (ERROR, DETAIL, CONTEXT): one line reads better in a bench table.
  while (!message.empty() && message.back() == '\n') message.pop_back();
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  if (sqlstate != nullptr && std::strcmp(sqlstate, "23505") == 0) return Status::Conflict(message);  // unique_violation
  if (sqlstate != nullptr && std::strncmp(sqlstate, "22", 2) == 0) return Status::InvalidArgument(message);  // data exception
  return Status::IOError(message);
}

// Appends `value` as a double-quoted element of a PostgreSQL array literal: inside quotes only `"` and
// `\` need a backslash (JSON payloads contain both). A NUL byte cannot be sent in a text parameter.
bool AppendArrayElement(const std::string& value, std::string* array) {
  array->push_back('"');
  for (char c : value) {
    if (c == '\0') return false;
    if (c == '"' || c == '\\') array->push_back('\\');
    array->push_back(c);
  }
  array->push_back('"');
  return true;
}

// Appends `value` as a field of COPY's text format: backslash, tab, newline and carriage return escaped.
bool AppendCopyField(const std::string& value, std::string* rows) {
  for (char c : value) {
    switch (c) {
      case '\0': return false;
      case '\\': rows->append("\\\\"); break;
      case '\t': rows->append("\\t"); break;
      case '\n': rows->append("\\n"); break;
      case '\r': rows->append("\\r"); break;
      default: rows->push_back(c);
    }
  }
  return true;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

// ---- PostgresServer ------------------------------------------------------------------------------------

Status PostgresServer::Start(const std::string& dir, int port, std::unique_ptr<PostgresServer>* server) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return Status::InvalidArgument("postgres directory exists and is not empty: " + dir);
  }
  fs::create_directories(dir, error);
  if (error) return Status::IOError("create " + dir + ": " + error.message());
  const std::string directory = fs::absolute(dir).lexically_normal().string();
  if (RunningAsRoot()) {
    const passwd* postgres_user = getpwnam("postgres");
    if (postgres_user == nullptr) return Status::IOError("running as root and there is no `postgres` user");
    if (chown(directory.c_str(), postgres_user->pw_uid, postgres_user->pw_gid) != 0) {
      return Status::IOError("chown " + directory + ": " + std::strerror(errno));
    }
  }
  const std::string data_directory = directory + "/data";

  int watchdog_pipe = -1;
  pid_t watchdog_pid = -1;
  Status status = StartWatchdog(data_directory, directory, &watchdog_pipe, &watchdog_pid);
  if (!status.ok()) return status;
  // From here on the object owns the directory: any failure below returns, and its destructor removes
  // what was made.
  std::unique_ptr<PostgresServer> owned(new PostgresServer(directory, port, watchdog_pipe, watchdog_pid));

  std::string output;
  // UTF8 because payloads hold Latvian names; the C locale because no collation is needed and it exists
  // on every machine. Trust authentication: only this user can reach the socket directory, and TCP
  // listens on 127.0.0.1 for the bench's lifetime.
  status = RunCommand(PostgresCommand({std::string(kPostgresBin) + "/initdb", "-D", data_directory, "-U", "postgres",
                                       "-A", "trust", "-E", "UTF8", "--locale=C"}),
                      directory, &output);
  if (!status.ok()) return status;

  // port 0: a few attempts, since the port we found free can be taken before the postmaster binds it.
  const int attempts = port == 0 ? 3 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    int chosen_port = port;
    if (chosen_port == 0) {
      status = PickFreePort(&chosen_port);
      if (!status.ok()) return status;
    }
    {
      // Appended lines win over initdb's (the last setting in the file counts); the file stays owned by
      // postgres because it exists already.
      std::ofstream conf(data_directory + "/postgresql.conf", std::ios::app);
      conf << "\n# di-ledger append_bench baseline\n"
           << "listen_addresses = '127.0.0.1'\n"
           << "port = " << chosen_port << "\n"
           << "unix_socket_directories = '" << directory << "'\n"
           << "fsync = on\n"
           << "synchronous_commit = on\n"
           << "shared_buffers = 256MB\n";
      if (!conf) return Status::IOError("cannot write " + data_directory + "/postgresql.conf");
    }
    status = RunCommand(PostgresCommand({std::string(kPostgresBin) + "/pg_ctl", "-D", data_directory, "-l",
                                         directory + "/postgres.log", "-w", "-t", kPgCtlTimeoutSeconds, "start"}),
                        directory, &output);
    if (status.ok()) {
      owned->port_ = chosen_port;
      *server = std::move(owned);
      return Status::Ok();
    }
  }
  return Status::IOError(status.message() + "\npostgres.log:\n" + ReadTail(directory + "/postgres.log"));
}

Status PostgresServer::Stop() {
  if (watchdog_pipe_ < 0) return Status::Ok();
  close(watchdog_pipe_);
  watchdog_pipe_ = -1;
  int wait_status = 0;
  while (waitpid(watchdog_pid_, &wait_status, 0) < 0) {
    if (errno != EINTR) return Status::IOError(std::string("waitpid (watchdog): ") + std::strerror(errno));
  }
  std::error_code error;
  if (std::filesystem::exists(dir_, error)) return Status::IOError("postgres directory not removed: " + dir_);
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return Status::IOError("postgres watchdog failed (wait status " + std::to_string(wait_status) + ")");
  }
  return Status::Ok();
}

PostgresServer::~PostgresServer() { Stop(); }

// ---- PostgresEventTable --------------------------------------------------------------------------------

Status PostgresEventTable::Connect(const std::string& host, int port, PgInsertMethod method,
                                   std::unique_ptr<PostgresEventTable>* table) {
  const std::string port_text = std::to_string(port);
  const char* keywords[] = {"host", "port", "user", "dbname", "connect_timeout", nullptr};
  const char* values[] = {host.c_str(), port_text.c_str(), "postgres", "postgres", "10", nullptr};
  PGconn* connection = PQconnectdbParams(keywords, values, /*expand_dbname=*/0);
  if (connection == nullptr) return Status::IOError("PQconnectdbParams: out of memory");
  if (PQstatus(connection) != CONNECTION_OK) {
    Status status = Status::IOError(std::string("connect to postgres: ") + PQerrorMessage(connection));
    PQfinish(connection);
    return status;
  }
  std::unique_ptr<PostgresEventTable> owned(new PostgresEventTable(connection, method));
  // synchronous_commit: the server default already; set per session so no configuration elsewhere can
  // weaken the baseline. client_min_messages: keeps "table does not exist, skipping" off the bench output.
  Status status = owned->Execute("SET synchronous_commit = on; SET client_min_messages = warning");
  if (!status.ok()) return status;
  *table = std::move(owned);
  return Status::Ok();
}

PostgresEventTable::~PostgresEventTable() { PQfinish(connection_); }

Status PostgresEventTable::Execute(const char* sql) {
  DI_ASSERT(connection_ != nullptr);
  Result result(PQexec(connection_, sql));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return StatusFromResult(result.get(), connection_, sql);
  }
  return Status::Ok();
}

Status PostgresEventTable::CreateSchema() {
  return Execute(
      "DROP TABLE IF EXISTS events;"
      "CREATE TABLE events ("
      "  position bigserial PRIMARY KEY,"
      "  stream text NOT NULL,"
      "  version bigint NOT NULL,"
      "  type text NOT NULL,"
      "  recorded_at timestamptz NOT NULL DEFAULT now(),"
      "  data jsonb NOT NULL,"
      "  UNIQUE (stream, version))");
}

Status PostgresEventTable::AppendBatch(const std::vector<PgEvent>& events) {
  if (events.empty()) return Status::Ok();
  switch (method_) {
    case PgInsertMethod::kUnnest: return AppendWithUnnest(events);
    case PgInsertMethod::kCopy: return AppendWithCopy(events);
    case PgInsertMethod::kAuto: break;
  }
  return events.size() < kCopyBatchEventsMin ? AppendWithUnnest(events) : AppendWithCopy(events);
}

// One statement in the extended protocol (Parse once, then Bind/Execute/Sync per batch) runs in its own
// implicit transaction that commits at Sync: the same atomicity and the same WAL flush as
// BEGIN; INSERT; COMMIT, without the two extra round trips. positions are assigned in array order.
Status PostgresEventTable::AppendWithUnnest(const std::vector<PgEvent>& events) {
  static constexpr const char* kStatementName = "append_events";
  if (!insert_prepared_) {
    Result prepared(PQprepare(connection_, kStatementName,
                              "INSERT INTO events (stream, version, type, data) "
                              "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[])",
                              4, nullptr));
    if (prepared == nullptr || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return StatusFromResult(prepared.get(), connection_, "prepare append_events");
    }
    insert_prepared_ = true;
  }
  // clear + push_back rather than assign("{"): GCC 12 warns falsely (-Wrestrict) on the inlined assign.
  for (std::string* array : {&streams_array_, &versions_array_, &types_array_, &payloads_array_}) {
    array->clear();
    array->push_back('{');
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const PgEvent& event = events[i];
    if (i > 0) {
      streams_array_.push_back(',');
      versions_array_.push_back(',');
      types_array_.push_back(',');
      payloads_array_.push_back(',');
    }
    if (!AppendArrayElement(event.stream, &streams_array_) || !AppendArrayElement(event.type, &types_array_) ||
        !AppendArrayElement(event.json_payload, &payloads_array_)) {
      return Status::InvalidArgument("a NUL byte cannot be stored in PostgreSQL text",
                                     "events[" + std::to_string(i) + "]");
    }
    versions_array_.append(std::to_string(event.version));
  }
  streams_array_.push_back('}');
  versions_array_.push_back('}');
  types_array_.push_back('}');
  payloads_array_.push_back('}');
  const char* values[4] = {streams_array_.c_str(), versions_array_.c_str(), types_array_.c_str(),
                           payloads_array_.c_str()};
  Result result(PQexecPrepared(connection_, kStatementName, 4, values, nullptr, nullptr, /*resultFormat=*/0));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return StatusFromResult(result.get(), connection_, "append_events");
  }
  // Postcondition: the server inserted exactly the rows we sent.
  DI_ASSERT(std::strtoull(PQcmdTuples(result.get()), nullptr, 10) == events.size());
  return Status::Ok();
}

// COPY on its own is one implicit transaction too: all rows or none, committed (and flushed) at the end.
Status PostgresEventTable::AppendWithCopy(const std::vector<PgEvent>& events) {
  copy_rows_.clear();
  for (size_t i = 0; i < events.size(); ++i) {
    const PgEvent& event = events[i];
    bool ok = AppendCopyField(event.stream, &copy_rows_);
    copy_rows_.push_back('\t');
    copy_rows_.append(std::to_string(event.version));
    copy_rows_.push_back('\t');
    ok = ok && AppendCopyField(event.type, &copy_rows_);
    copy_rows_.push_back('\t');
    ok = ok && AppendCopyField(event.json_payload, &copy_rows_);
    copy_rows_.push_back('\n');
    if (!ok) {
      return Status::InvalidArgument("a NUL byte cannot be stored in PostgreSQL text",
                                     "events[" + std::to_string(i) + "]");
    }
  }
  {
    Result start(PQexec(connection_, "COPY events (stream, version, type, data) FROM STDIN"));
    if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN) {
      return StatusFromResult(start.get(), connection_, "COPY events");
    }
  }
  if (PQputCopyData(connection_, copy_rows_.data(), static_cast<int>(copy_rows_.size())) != 1 ||
      PQputCopyEnd(connection_, nullptr) != 1) {
    return Status::IOError(std::string("COPY data: ") + PQerrorMessage(connection_));
  }
  Status status;
  bool command_ok_seen = false;
  // Drain every result (libpq requires it before the next command); at most a couple arrive.
  for (int results = 0; results < 16; ++results) {
    Result result(PQgetResult(connection_));
    if (result == nullptr) break;
    if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) {
      command_ok_seen = true;
      DI_ASSERT(std::strtoull(PQcmdTuples(result.get()), nullptr, 10) == events.size());
    } else if (status.ok()) {
      status = StatusFromResult(result.get(), connection_, "COPY events");
    }
  }
  if (status.ok() && !command_ok_seen) return Status::IOError("COPY events: no completion from the server");
  return status;
}

Status PostgresEventTable::CountEvents(int64_t* count) {
  Result result(PQexec(connection_, "SELECT count(*) FROM events"));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return StatusFromResult(result.get(), connection_, "count events");
  }
  *count = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  return Status::Ok();
}

Status PostgresEventTable::CountEventsWithPayload(const std::string& json_payload, int64_t* count) {
  const char* values[1] = {json_payload.c_str()};
  Result result(PQexecParams(connection_, "SELECT count(*) FROM events WHERE data = $1::jsonb", 1, nullptr, values,
                             nullptr, nullptr, 0));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return StatusFromResult(result.get(), connection_, "count events with payload");
  }
  *count = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  return Status::Ok();
}

Status PostgresEventTable::TableBytes(int64_t* bytes) {
  Result result(PQexec(connection_, "SELECT pg_total_relation_size('events')"));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return StatusFromResult(result.get(), connection_, "table size");
  }
  *bytes = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  return Status::Ok();
}

}  // namespace di::bench
