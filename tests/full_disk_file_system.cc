#include "full_disk_file_system.h"

namespace di::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

class FullDiskWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, FullDiskFileSystem* file_system)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), file_system_(file_system) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus status = file_system_->Spend(data.size()); !status.ok()) return status;
    return target()->Append(data, options, debug);
  }
  IOStatus Append(const Slice& data, const IOOptions& options, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* debug) override {
    if (IOStatus status = file_system_->Spend(data.size()); !status.ok()) return status;
    return target()->Append(data, options, info, debug);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus status = file_system_->Spend(data.size()); !status.ok()) return status;
    return target()->PositionedAppend(data, offset, options, debug);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info, IODebugContext* debug) override {
    if (IOStatus status = file_system_->Spend(data.size()); !status.ok()) return status;
    return target()->PositionedAppend(data, offset, options, info, debug);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus status = file_system_->SyncOutcome(); !status.ok()) return status;
    return target()->Sync(options, debug);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus status = file_system_->SyncOutcome(); !status.ok()) return status;
    return target()->Fsync(options, debug);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t bytes, const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus status = file_system_->SyncOutcome(); !status.ok()) return status;
    return target()->RangeSync(offset, bytes, options, debug);
  }

 private:
  FullDiskFileSystem* file_system_;
};

}  // namespace

IOStatus FullDiskFileSystem::Spend(uint64_t bytes) {
  int64_t left = space_left_.load();
  while (left != kUnlimited) {
    if (static_cast<uint64_t>(left) < bytes) {
      refused_writes_.fetch_add(1);
      return IOStatus::NoSpace("No space left on device (FullDiskFileSystem)");
    }
    if (space_left_.compare_exchange_weak(left, left - static_cast<int64_t>(bytes))) break;
  }
  return IOStatus::OK();
}

IOStatus FullDiskFileSystem::SyncOutcome() {
  if (syncs_fail_.load()) {
    refused_writes_.fetch_add(1);
    return IOStatus::IOError("fsync failed (FullDiskFileSystem)");
  }
  return IOStatus::OK();
}

IOStatus FullDiskFileSystem::NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* file, IODebugContext* debug) {
  if (space_left_.load() == 0) return IOStatus::NoSpace("No space left on device (FullDiskFileSystem)");
  std::unique_ptr<rocksdb::FSWritableFile> real;
  IOStatus status = target()->NewWritableFile(name, options, &real, debug);
  if (status.ok()) *file = std::make_unique<FullDiskWritableFile>(std::move(real), this);
  return status;
}

IOStatus FullDiskFileSystem::ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                                std::unique_ptr<rocksdb::FSWritableFile>* file, IODebugContext* debug) {
  std::unique_ptr<rocksdb::FSWritableFile> real;
  IOStatus status = target()->ReopenWritableFile(name, options, &real, debug);
  if (status.ok()) *file = std::make_unique<FullDiskWritableFile>(std::move(real), this);
  return status;
}

IOStatus FullDiskFileSystem::ReuseWritableFile(const std::string& name, const std::string& old_name,
                                               const rocksdb::FileOptions& options,
                                               std::unique_ptr<rocksdb::FSWritableFile>* file, IODebugContext* debug) {
  std::unique_ptr<rocksdb::FSWritableFile> real;
  IOStatus status = target()->ReuseWritableFile(name, old_name, options, &real, debug);
  if (status.ok()) *file = std::make_unique<FullDiskWritableFile>(std::move(real), this);
  return status;
}

}  // namespace di::testing
