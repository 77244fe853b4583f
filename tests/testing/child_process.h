// A program as a child process (posix_spawn): `di-ledger serve` and the other CLI verbs, as the tests and the
// benches run them. Its standard output and standard error together go to a pipe that this object reads, or
// are appended to a file (for a long run whose output nobody reads meanwhile: a pipe would fill and block it).
// Every wait is bounded. Without GoogleTest: the benches link it too.
#ifndef DI_TESTS_TESTING_CHILD_PROCESS_H_
#define DI_TESTS_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace di::testing {

// A hang guard, not a performance bound.
inline constexpr std::chrono::milliseconds kChildHangGuard = std::chrono::seconds(60);

// What `di-ledger serve` prints once it listens, followed by the port.
inline constexpr const char* kServeListeningPrefix = "listening on http://127.0.0.1:";
inline constexpr const char* kServeBinaryPrefix = "binary endpoint on 127.0.0.1:";

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child still running is killed (SIGKILL) and reaped.
  ~ChildProcess();

  // Starts argv[0] with `argv` (the default signal mask, this process's environment). Output to a pipe when
  // `output_path` is empty, else appended to that file (created, mode 0600). False if it could not start.
  bool Start(const std::vector<std::string>& argv, const std::string& output_path = {});

  // Reads the output until `text` appears (true), or the child can write no more (it exited or closed its
  // output) or `limit` passes (false).
  bool WaitFor(const std::string& text, std::chrono::milliseconds limit = kChildHangGuard);
  // The number printed right after `prefix` ("listening on http://127.0.0.1:"), once the line it is on is
  // complete; 0 if that does not come within `limit`.
  uint16_t WaitForPortAfter(const std::string& prefix, std::chrono::milliseconds limit = kChildHangGuard);
  // The number right after `prefix` in the output read so far; 0 if it is not there.
  uint16_t PortAfter(const std::string& prefix) const;

  // The child's wait status once it exited, or nullopt if it has not within `limit`. The output it wrote is
  // read to the end.
  std::optional<int> WaitExit(std::chrono::milliseconds limit = kChildHangGuard);
  // The same without a bound (a CLI verb that runs to completion).
  int Wait();
  bool Running();

  void Signal(int signal_number);
  void Terminate();  // SIGTERM
  // SIGTERM, then waits up to `grace` for the child to exit; SIGKILL after that. The wait status (none if the
  // child was not running).
  std::optional<int> Stop(std::chrono::milliseconds grace);

  // Everything the child wrote so far.
  const std::string& output();
  pid_t pid() const { return pid_; }

 private:
  void Reap();
  // Reads what the child wrote within `timeout_ms`; false once nothing more can come (or, with 0, nothing is
  // there now).
  bool ReadSome(int timeout_ms);

  pid_t pid_ = 0;
  int fd_ = -1;             // the pipe's read end, or the output file opened for reading
  bool to_file_ = false;
  bool exited_ = false;
  int exit_status_ = 0;
  std::string output_;
};

// What `di-ledger token` prints: the plain token (shown once) and the entry for the tokens file. Empty token
// and a non-object entry when the text is not that.
struct MadeToken {
  std::string token;
  nlohmann::json entry;
};
MadeToken ParseMadeToken(const std::string& output);

}  // namespace di::testing

#endif  // DI_TESTS_TESTING_CHILD_PROCESS_H_
