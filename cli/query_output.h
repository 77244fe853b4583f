// How the query verbs print: money, machine-readable formats, failures and notes (shared by query_commands.cc and
// changes_command.cc).
#ifndef DI_CLI_QUERY_OUTPUT_H_
#define DI_CLI_QUERY_OUTPUT_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "di/ledger/status.h"

namespace di::cli {

// Cents as euros with two decimals: "-12.05".
std::string Euros(int64_t cents);
// Prints the report as JSON or CSV when that is the format asked for; returns true if it did.
bool PrintMachineReadable(const std::string& format, const std::function<nlohmann::ordered_json()>& json,
                          const std::function<std::string()>& csv);
// Prints "error: ..." and returns the exit code of a failed query (1).
int ReportFailure(const ledger::Status& status);
// Why a table is empty although the query is valid (projections::ExplainNotYetKnown).
void PrintNote(const std::string& note);

}  // namespace di::cli

#endif  // DI_CLI_QUERY_OUTPUT_H_
