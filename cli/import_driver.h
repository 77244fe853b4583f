// Internal to cli/: the import loop, once, over two sinks: the local store (commands.cc, `import --data`) and a
// server's binary endpoint (remote_import.cc, `import --server`). The loop reads JSON Lines, parses each event,
// cuts batches of --batch-events, and keeps one batch in flight: the next batch is parsed while the sink appends
// the current one, and a batch is submitted only after the one before it succeeded, so nothing after a refused
// batch is ever appended. Its messages, progress line and summary are the same for both sinks.
#ifndef DI_CLI_IMPORT_DRIVER_H_
#define DI_CLI_IMPORT_DRIVER_H_

#include <cstdint>
#include <fstream>
#include <istream>
#include <string>
#include <vector>

#include "commands.h"
#include "di/ledger/event.h"

namespace di::cli {

// A failed append, as the loop reports it.
struct ImportError {
  std::string status;    // the status' ToString()
  std::string event_id;  // the event it is about, if any (its line is named)
  int exit_code = 2;     // 1: the input was refused; 2: the store, the server, the network or the system failed
  std::string advice;    // a line printed after the report, or empty
};

// Where the batches go. Calls alternate: Submit, Finish, Submit, Finish...
class ImportSink {
 public:
  virtual ~ImportSink() = default;
  // Starts appending `batch`. False, with `*error`, when the batch could not even be handed over (the
  // connection failed): nothing of it was appended.
  virtual bool Submit(std::vector<ledger::NewEvent> batch, ImportError* error) = 0;
  // Waits for the batch submitted last: true with the events it appended (the others were recorded already),
  // or false with `*error` (nothing of the batch was appended).
  virtual bool Finish(uint64_t* appended, ImportError* error) = 0;
  // The last line of the summary: "head position N" and where.
  virtual std::string HeadLine() = 0;
};

// Standard input for "-", else `file` opened on `path`; nullptr (reported) if it cannot be read.
std::istream* OpenImportInput(const std::string& path, std::ifstream* file);

// Imports `input` into `sink`. Returns the process exit code (0, 1 refused input, 2 failure).
int RunImportLoop(const ImportOptions& options, std::istream& input, ImportSink& sink);

}  // namespace di::cli

#endif  // DI_CLI_IMPORT_DRIVER_H_
