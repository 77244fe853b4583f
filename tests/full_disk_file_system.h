// FullDiskFileSystem: a RocksDB file system that runs out of space on command, for disk-fault tests.
//
// It forwards everything to the real (POSIX) file system and counts the bytes written. Once a budget is
// set, a write or sync that would exceed it fails with IOStatus::NoSpace ("No space left on device"), like
// a full disk; SetUnlimited() is the operator freeing space. Syncs can also be made to fail on their own
// (an I/O error on fsync). Thread-safe: RocksDB writes from its own threads.
#ifndef DI_TESTS_FULL_DISK_FILE_SYSTEM_H_
#define DI_TESTS_FULL_DISK_FILE_SYSTEM_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace di::testing {

class FullDiskFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FullDiskFileSystem"; }

  // From now on, at most `bytes` more may be written (appends and new files); then every write fails.
  void SetSpaceLeft(int64_t bytes) { space_left_.store(bytes); }
  void SetUnlimited() { space_left_.store(kUnlimited); }
  void SetSyncsFail(bool fail) { syncs_fail_.store(fail); }
  int64_t refused_writes() const { return refused_writes_.load(); }

  // An Env over this file system, for rocksdb::Options::env.
  static std::unique_ptr<rocksdb::Env> NewEnv(const std::shared_ptr<FullDiskFileSystem>& file_system) {
    return rocksdb::NewCompositeEnv(file_system);
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file, rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options, std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* debug) override;

  // For the files: take `bytes` from the budget, or refuse.
  rocksdb::IOStatus Spend(uint64_t bytes);
  rocksdb::IOStatus SyncOutcome();

 private:
  static constexpr int64_t kUnlimited = INT64_MAX;
  std::atomic<int64_t> space_left_{kUnlimited};
  std::atomic<bool> syncs_fail_{false};
  std::atomic<int64_t> refused_writes_{0};
};

}  // namespace di::testing

#endif  // DI_TESTS_FULL_DISK_FILE_SYSTEM_H_
