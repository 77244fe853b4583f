// RocksDB's info log ("LOG" in the database directory) written so that a full disk cannot abort the process.
//
// Why: RocksDB 7.8 (Debian 12's librocksdb, built with assertions on) writes its info log through an
// EnvLogger. When the disk is full, one write of a log line fails and marks the file writer as failed; the
// next line (RocksDB logs the failed append itself, a flush, a recovery step, the close) then hits the
// assertion `sync_without_flush_called_` in WritableFileWriter and the process aborts (issue #12). Every
// RocksDB this project opens for writing is given this logger instead (rocksdb::DBOptions::info_log).
//
// Behaviour: the same file names as RocksDB's own (an existing LOG is renamed LOG.old.<microseconds> at open,
// and RocksDB's keep_log_file_num prunes those), the same line header (time, thread id). Each line is one
// write(2) to a file opened O_APPEND; a line that cannot be written (no space, an I/O error) is dropped and
// counted, and the next line that can be written is preceded by a note of how many were dropped and why.
// Nothing of the database depends on the info log: it is for operators reading what RocksDB did.
#ifndef DI_LEDGER_ROCKSDB_INFO_LOG_H_
#define DI_LEDGER_ROCKSDB_INFO_LOG_H_

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}  // namespace rocksdb

namespace di::ledger {

// An info logger writing `directory`/LOG (the directory must exist). Never fails: while the file cannot be
// opened (the disk is full, the directory is read-only) lines are dropped, and each later line tries again.
std::shared_ptr<rocksdb::Logger> NewDiskFullTolerantInfoLog(const std::string& directory);

}  // namespace di::ledger

#endif  // DI_LEDGER_ROCKSDB_INFO_LOG_H_
