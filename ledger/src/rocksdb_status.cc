#include "di/ledger/rocksdb_status.h"

#include <rocksdb/status.h>

#include <string>

namespace di::ledger {

Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  if (status.IsCorruption()) return Status::Corruption(std::string(what) + ": " + status.ToString());
  return Status::IOError(std::string(what) + ": " + status.ToString());
}

}  // namespace di::ledger
