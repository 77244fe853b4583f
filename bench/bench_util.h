// What the benchmark programs share: failing with a message, timing, nearest-rank percentiles, the command line's
// flags, the working directory of a run and main()'s frame; and which clerk may append a copy of a delivery of
// the history (the workload of http_bench and subscriber_stall_bench). Header-only.
#ifndef DI_BENCH_BENCH_UTIL_H_
#define DI_BENCH_BENCH_UTIL_H_

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "di/ledger/civil_date.h"
#include "di/ledger/status.h"
#include "di/projections/ledger_model.h"
#include "di/server/access_policy.h"

namespace di::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Every failure unwinds to main (Main below), so that destructors run: a server child is always stopped.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] inline void Fail(const std::string& what) { throw BenchError(what); }

// Fails with `what` and the status's text unless it is ok.
inline void Check(const ledger::Status& status, const std::string& what) {
  if (!status.ok()) Fail(what + ": " + status.ToString());
}

// Nearest-rank percentile of sorted values (`fraction` 0.5: the median); `if_empty` when there are none.
template <typename T>
T Percentile(const std::vector<T>& sorted, double fraction, T if_empty = T{}) {
  if (sorted.empty()) return if_empty;
  size_t rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// The flags of a command line, one at a time:
//   for (Flags flags(argc, argv); flags.Next();) {
//     if (flags.Is("--persons")) persons = flags.Int();
//     else if (flags.Is("--keep")) keep = true;
//     else flags.Unknown();
//   }
class Flags {
 public:
  Flags(int argc, char** argv) : argc_(argc), argv_(argv) {
    for (int i = 0; i < argc; ++i) command_line_ += (i ? " " : "") + std::string(argv[i]);
  }

  // Moves to the next flag; false after the last.
  bool Next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    return true;
  }
  bool Is(const char* name) const { return flag_ == name; }

  // The word after the flag (consumed).
  std::string Value() {
    if (i_ + 1 >= argc_) Fail("missing value after " + flag_);
    return argv_[++i_];
  }
  int Int() { return std::stoi(Value()); }
  double Double() { return std::stod(Value()); }
  uint64_t Uint64() { return std::stoull(Value()); }
  // "50,256": the numbers of a comma-separated list.
  std::vector<int> IntList() {
    std::vector<int> values;
    std::stringstream stream(Value());
    for (std::string item; std::getline(stream, item, ',');) {
      if (!item.empty()) values.push_back(std::stoi(item));
    }
    return values;
  }
  [[noreturn]] void Unknown() const { Fail("unknown option " + flag_ + " (--help)"); }

  // The whole command line, the program included: the first line of every bench's output says it.
  const std::string& command_line() const { return command_line_; }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
  std::string command_line_;
};

// The working directory of a run: `*dir` when given (--dir), else a new /tmp/<prefix>-XXXXXX, which Finish()
// removes after a successful run unless `keep` (kept after a failure: its logs say why).
class WorkDir {
 public:
  WorkDir(const std::string& prefix, std::string* dir) : dir_(dir) {
    if (!dir->empty()) return;
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp failed");
    *dir = pattern;
    temporary_ = true;
  }
  void Finish(bool keep) {
    if (temporary_ && !keep) std::filesystem::remove_all(*dir_);
  }

 private:
  std::string* dir_;
  bool temporary_ = false;
};

// main()'s frame: runs `body`; an exception ends the program with "<program>: <what>" on stderr and exit code 1.
inline int Main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", program, error.what());
    return 1;
  }
}

// --- workload ---------------------------------------------------------------------------------------------------

// The territory whose clerk may append a copy of `delivery` (a service_delivered event of the history) under
// fresh ids, by what `model` knows: its dates inside its grant's validity (a later amendment or end may have cut
// it), the grant's person enrolled with a known residence. None when no clerk may.
// (The server's access policy decides the same; when it is a header of its own, ask it.)
inline std::optional<std::string> ClerkTerritoryOf(const projections::LedgerModel& model,
                                                   const nlohmann::ordered_json& delivery) {
  auto grant = model.grants().find(delivery["data"]["grant_id"].get<std::string>());
  if (grant == model.grants().end()) return std::nullopt;
  int32_t date = 0, last_date = 0;
  if (!ledger::ParseDate(delivery["effective_date"].get<std::string>(), &date)) return std::nullopt;
  last_date = date;
  if (delivery["data"].contains("last_date") &&
      !ledger::ParseDate(delivery["data"]["last_date"].get<std::string>(), &last_date)) {
    return std::nullopt;
  }
  if (date < grant->second.valid_from || last_date > grant->second.LastDay()) return std::nullopt;
  const projections::PersonFacts* person = model.FindPerson(grant->second.person_id);
  if (person == nullptr || !person->enrolled || person->residence_municipality_id.empty()) return std::nullopt;
  // The candidate: a clerk of what the residence became (it covers its predecessors); the access policy decides.
  std::string territory = model.TerritoryOf(person->residence_municipality_id);
  if (!server::PersonInClerkScope(model, territory, grant->second.person_id)) return std::nullopt;
  return territory;
}

}  // namespace di::bench

#endif  // DI_BENCH_BENCH_UTIL_H_
