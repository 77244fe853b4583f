// Fuzz target: JSON event decoding (EventFromJsonText) and validation (EventStore::Append).
//
// The input is JSON Lines: up to 8 lines, each decoded as one event; the events that decode are appended
// as one batch to a small store holding the test world (tests/testing/test_util.h BaseWorld). Refusals are the
// expected outcome; a crash, a failed DI_ASSERT (abort) or a sanitizer report is a bug. The store is
// recreated every kResetEvery executions so that it stays small.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "di/ledger/json_codec.h"
#include "fuzz_util.h"

namespace {

constexpr int kResetEvery = 2000;
constexpr size_t kMaxLines = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* scratch = new di::fuzzing::ScratchStore(di::testing::BaseWorld());
  static int executions = 0;
  if (++executions % kResetEvery == 0) scratch->Reset();

  std::vector<di::ledger::NewEvent> batch;
  for (const std::string& line : di::fuzzing::SplitLines(data, size, kMaxLines)) {
    di::ledger::NewEvent event;
    if (di::ledger::EventFromJsonText(line, &event).ok()) batch.push_back(std::move(event));
  }
  if (batch.empty()) return 0;
  di::ledger::AppendResult result;
  (void)scratch->store().Append(batch, &result);
  return 0;
}
