// The CLI verbs, as plain functions over the ledger library (main.cc only parses arguments).
// Each returns the process exit code: 0 ok, 1 a failed check or rejected input, 2 a usage or I/O error.
#ifndef DI_CLI_COMMANDS_H_
#define DI_CLI_COMMANDS_H_

#include <cstdint>
#include <string>

#include "simulate.h"

namespace di::cli {

int RunInit(const std::string& data_dir);
struct ImportOptions {
  std::string data_dir;
  std::string input;          // a file, or "-" for standard input
  size_t batch_events = 1000; // events per atomic append
};
int RunImport(const ImportOptions& options);
int RunExport(const std::string& data_dir, uint64_t from_position, uint64_t max_events, const std::string& output);
int RunVerify(const std::string& data_dir);
int RunStats(const std::string& data_dir, bool json);
int RunSimulate(const SimulateOptions& options, const std::string& output);

}  // namespace di::cli

#endif  // DI_CLI_COMMANDS_H_
