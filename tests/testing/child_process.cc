#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>

extern char** environ;

namespace di::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MillisecondsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

}  // namespace

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& output_path) {
  if (argv.empty() || pid_ > 0) return false;
  int read_fd = -1;
  int write_fd = -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output_path.empty()) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      posix_spawn_file_actions_destroy(&actions);
      return false;
    }
    read_fd = fds[0];
    write_fd = fds[1];
    posix_spawn_file_actions_adddup2(&actions, write_fd, STDOUT_FILENO);
  } else {
    // Created here, so that it can be read from the start; the child appends.
    read_fd = ::open(output_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (read_fd < 0) {
      posix_spawn_file_actions_destroy(&actions);
      return false;
    }
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
  }
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // A server blocks its own signals: it must start from the default mask, whatever this process blocks.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<std::string> arguments = argv;
  std::vector<char*> pointers;
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  const int error = ::posix_spawn(&pid_, pointers[0], &actions, &attributes, pointers.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (write_fd >= 0) ::close(write_fd);
  if (error != 0) {
    pid_ = 0;
    ::close(read_fd);
    return false;
  }
  fd_ = read_fd;
  to_file_ = !output_path.empty();
  exited_ = false;
  output_.clear();
  return true;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (fd_ >= 0) ::close(fd_);
}

bool ChildProcess::WaitFor(const std::string& text, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (output_.find(text) == std::string::npos) {
    const int left = MillisecondsLeft(deadline);
    if (left <= 0 || !ReadSome(left)) return false;
  }
  return true;
}

uint16_t ChildProcess::WaitForPortAfter(const std::string& prefix, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (true) {
    const size_t at = output_.find(prefix);
    if (at != std::string::npos && output_.find('\n', at) != std::string::npos) return PortAfter(prefix);
    const int left = MillisecondsLeft(deadline);
    if (left <= 0 || !ReadSome(left)) return 0;
  }
}

uint16_t ChildProcess::PortAfter(const std::string& prefix) const {
  const size_t at = output_.find(prefix);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::atoi(output_.c_str() + at + prefix.size()));
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  Reap();
  while (!exited_ && Clock::now() < deadline) {
    ReadSome(10);
    Reap();
  }
  if (!exited_) return std::nullopt;
  while (ReadSome(0)) {
  }
  return exit_status_;
}

int ChildProcess::Wait() {
  while (true) {
    if (const std::optional<int> status = WaitExit(std::chrono::hours(1))) return *status;
  }
}

bool ChildProcess::Running() {
  Reap();
  return pid_ > 0 && !exited_;
}

void ChildProcess::Signal(int signal_number) {
  if (pid_ > 0 && !exited_) ::kill(pid_, signal_number);
}

void ChildProcess::Terminate() { Signal(SIGTERM); }

std::optional<int> ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return std::nullopt;
  Terminate();
  if (const std::optional<int> status = WaitExit(grace)) return status;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exited_ = true;
  exit_status_ = status;
  while (ReadSome(0)) {
  }
  return status;
}

const std::string& ChildProcess::output() {
  while (ReadSome(0)) {
  }
  return output_;
}

void ChildProcess::Reap() {
  int status = 0;
  if (pid_ > 0 && !exited_ && ::waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    exit_status_ = status;
  }
}

bool ChildProcess::ReadSome(int timeout_ms) {
  if (fd_ < 0) return false;
  char chunk[4096];
  if (to_file_) {
    // A file never blocks a reader: at its end, wait a little for more unless the child is gone.
    const ssize_t got = ::read(fd_, chunk, sizeof chunk);
    if (got > 0) {
      output_.append(chunk, static_cast<size_t>(got));
      return true;
    }
    if (timeout_ms <= 0) return false;
    Reap();
    if (exited_) return ReadSome(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 10)));
    return true;
  }
  pollfd poll_fd{fd_, POLLIN, 0};
  if (::poll(&poll_fd, 1, timeout_ms) <= 0) return timeout_ms > 0 && !exited_;
  const ssize_t got = ::read(fd_, chunk, sizeof chunk);
  if (got <= 0) return false;
  output_.append(chunk, static_cast<size_t>(got));
  return true;
}

MadeToken ParseMadeToken(const std::string& output) {
  MadeToken made;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("token ", 0) == 0 && line.find(": ") != std::string::npos) {
      made.token = line.substr(line.rfind(": ") + 2);
    } else if (!line.empty() && line[0] == '{') {
      made.entry = nlohmann::json::parse(line, nullptr, false);
    }
  }
  return made;
}

}  // namespace di::testing
