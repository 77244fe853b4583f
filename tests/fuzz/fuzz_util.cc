#include "fuzz_util.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace di::fuzzing {

ScratchStore::ScratchStore(std::vector<nlohmann::json> world) : world_(std::move(world)) { Reset(); }

void ScratchStore::Reset() {
  store_.reset();  // closed before its directory goes
  dir_ = std::make_unique<testing::TempDir>();
  ledger::EventStoreOptions options;
  options.sync = false;  // nothing here must survive a crash; an fsync per execution would dominate the run
  ledger::Status status = ledger::EventStore::Open(options, dir_->Sub("data"), &store_);
  if (!status.ok()) {
    std::fprintf(stderr, "fuzz: cannot open a scratch store: %s\n", status.ToString().c_str());
    std::abort();
  }
  std::vector<ledger::NewEvent> batch;
  for (const auto& json : world_) {
    ledger::NewEvent event;
    status = ledger::EventFromJson(json, &event);
    if (status.ok()) batch.push_back(std::move(event));
  }
  ledger::AppendResult result;
  status = store_->Append(batch, &result);
  if (!status.ok()) {
    std::fprintf(stderr, "fuzz: the seed world was refused: %s\n", status.ToString().c_str());
    std::abort();
  }
}

std::vector<std::string> SplitLines(const uint8_t* data, size_t size, size_t max_lines) {
  std::vector<std::string> lines;
  const char* text = reinterpret_cast<const char*>(data);
  size_t start = 0;
  while (lines.size() + 1 < max_lines && start < size) {
    const void* newline = std::memchr(text + start, '\n', size - start);
    if (newline == nullptr) break;
    const size_t end = static_cast<size_t>(static_cast<const char*>(newline) - text);
    lines.emplace_back(text + start, end - start);
    start = end + 1;
  }
  lines.emplace_back(size == 0 ? "" : std::string(text + start, size - start));
  return lines;
}

}  // namespace di::fuzzing
