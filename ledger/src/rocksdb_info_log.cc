#include "di/ledger/rocksdb_info_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <rocksdb/env.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

namespace di::ledger {
namespace {

class DiskFullTolerantInfoLog final : public rocksdb::Logger {
 public:
  explicit DiskFullTolerantInfoLog(std::string path) : path_(std::move(path)) {
    // As RocksDB does at every open: the previous run's log is kept as LOG.old.<microseconds>, a name RocksDB
    // recognises as an old info log, so keep_log_file_num prunes them.
    if (::access(path_.c_str(), F_OK) == 0) {
      struct timeval now {};
      ::gettimeofday(&now, nullptr);
      const std::string old_path =
          path_ + ".old." + std::to_string(static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_usec);
      (void)::rename(path_.c_str(), old_path.c_str());  // if it fails, this run appends to the old file
    }
    std::lock_guard<std::mutex> lock(mutex_);
    OpenLocked();
  }

  ~DiskFullTolerantInfoLog() override { (void)CloseImpl(); }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    // The header RocksDB's EnvLogger writes: local time to the microsecond, then the thread id.
    struct timeval now {};
    ::gettimeofday(&now, nullptr);
    const time_t seconds = now.tv_sec;
    struct tm time {};
    ::localtime_r(&seconds, &time);
    char line[2048];
    const int length = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %llx ",
                                     time.tm_year + 1900, time.tm_mon + 1, time.tm_mday, time.tm_hour, time.tm_min,
                                     time.tm_sec, static_cast<long>(now.tv_usec),
                                     static_cast<unsigned long long>(::pthread_self()));
    std::string text(line, static_cast<size_t>(length));
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    if (body >= 0 && static_cast<size_t>(body) < sizeof line) {
      text.append(line, static_cast<size_t>(body));
    } else if (body >= 0) {  // a long line (RocksDB's statistics dump): format again into a buffer its size
      std::string long_body(static_cast<size_t>(body) + 1, '\0');
      va_copy(copy, ap);
      std::vsnprintf(long_body.data(), long_body.size(), format, copy);
      va_end(copy);
      long_body.pop_back();
      text += long_body;
    }
    if (text.empty() || text.back() != '\n') text += '\n';

    std::lock_guard<std::mutex> lock(mutex_);
    if (file_closed_) return;
    // Not open (it could not be created, e.g. on a full disk): try again, so logging resumes with the space.
    if (fd_ < 0 && !OpenLocked()) {
      ++dropped_;
      return;
    }
    if (dropped_ > 0) {
      // Written first, so the gap in the log is explained where it is; on a line of its own even after a
      // line the disk cut short.
      const std::string note = std::string(partial_line_ ? "\n" : "") + text.substr(0, static_cast<size_t>(length)) +
                               "[di-ledger] " + std::to_string(dropped_) + " info log line(s) could not be written (" +
                               last_error_ + ") and were dropped\n";
      if (!WriteLocked(note)) {
        ++dropped_;
        return;
      }
      dropped_ = 0;
      partial_line_ = false;
    }
    if (!WriteLocked(text)) ++dropped_;
  }

 protected:
  rocksdb::Status CloseImpl() override {
    std::lock_guard<std::mutex> lock(mutex_);
    file_closed_ = true;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return rocksdb::Status::OK();
  }

 private:
  bool OpenLocked() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) last_error_ = std::strerror(errno);
    return fd_ >= 0;
  }

  // One write(2) per line: with O_APPEND, concurrent lines never interleave. A short write (the disk filled up
  // in the middle of the line) leaves a partial line and counts as dropped.
  bool WriteLocked(const std::string& text) {
    const ssize_t written = ::write(fd_, text.data(), text.size());
    if (written == static_cast<ssize_t>(text.size())) return true;
    if (written > 0) partial_line_ = true;
    last_error_ = written < 0 ? std::strerror(errno) : "short write";
    return false;
  }

  const std::string path_;
  std::mutex mutex_;
  int fd_ = -1;
  bool file_closed_ = false;
  uint64_t dropped_ = 0;      // lines not written since the last one that was
  bool partial_line_ = false;  // the file ends in a line the disk cut short
  std::string last_error_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewDiskFullTolerantInfoLog(const std::string& directory) {
  return std::make_shared<DiskFullTolerantInfoLog>(directory + "/LOG");
}

}  // namespace di::ledger
