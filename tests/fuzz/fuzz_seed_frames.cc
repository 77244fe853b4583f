// Writes the Cap'n Proto seed corpus of fuzz_capnp_frame (corpus/capnp_frame/): a hello, a goodbye, a few
// subscribes, and one append per event of tests/data/catalog_samples.jsonl (plus one append of all of
// them), each in the standard stream framing the endpoint reads.
//   fuzz_seed_frames tests/data/catalog_samples.jsonl tests/fuzz/corpus/capnp_frame
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "di/ledger/json_codec.h"
#include "protocol.capnp.h"

namespace {

bool Write(const std::string& dir, const std::string& name, capnp::MessageBuilder& message) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(words.begin()), static_cast<std::streamsize>(words.size() * sizeof(capnp::word)));
  return static_cast<bool>(out);
}

bool WriteAppend(const std::string& dir, const std::string& name, const std::vector<di::ledger::NewEvent>& batch,
                 bool with_version) {
  capnp::MallocMessageBuilder message;
  auto append = message.initRoot<di::protocol::ClientMessage>().initAppend();
  append.setRequestId(7);
  auto events = append.initEvents(static_cast<unsigned>(batch.size()));
  for (unsigned i = 0; i < batch.size(); ++i) {
    events[i].setEvent(batch[i].reader());
    if (with_version) {
      events[i].getExpectedVersion().setVersion(0);
    } else {
      events[i].getExpectedVersion().setAny();
    }
  }
  return Write(dir, name, message);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <catalog_samples.jsonl> <out dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[2];
  bool ok = true;
  {
    capnp::MallocMessageBuilder message;
    auto hello = message.initRoot<di::protocol::ClientMessage>().initHello();
    hello.setToken("tok-project");
    hello.setProtocolVersion(di::protocol::PROTOCOL_VERSION);
    hello.setClientName("di-ledger seed");
    ok = ok && Write(dir, "hello", message);
  }
  {
    capnp::MallocMessageBuilder message;
    message.initRoot<di::protocol::ClientMessage>().setGoodbye();
    ok = ok && Write(dir, "goodbye", message);
  }
  {
    capnp::MallocMessageBuilder message;
    auto subscribe = message.initRoot<di::protocol::ClientMessage>().initSubscribe();
    subscribe.setAfter(12);
    auto types = subscribe.initTypes(2);
    types.set(0, "service_delivered");
    types.set(1, "delivery_voided");
    subscribe.setStreamPrefix("grant/");
    subscribe.setMaxBatchEvents(100);
    subscribe.setWithRecords(true);
    ok = ok && Write(dir, "subscribe", message);
  }
  {
    capnp::MallocMessageBuilder message;
    message.initRoot<di::protocol::ClientMessage>().initSubscribe();
    ok = ok && Write(dir, "subscribe-empty", message);
  }
  std::ifstream samples(argv[1]);
  std::string line;
  std::vector<di::ledger::NewEvent> all;
  int index = 0;
  while (std::getline(samples, line)) {
    di::ledger::NewEvent event;
    di::ledger::Status status = di::ledger::EventFromJsonText(line, &event);
    if (!status.ok()) {
      std::fprintf(stderr, "sample %d: %s\n", index, status.ToString().c_str());
      return 1;
    }
    char name[32];
    std::snprintf(name, sizeof(name), "append-%02d", index);
    std::vector<di::ledger::NewEvent> one;
    one.push_back(std::move(event));
    ok = ok && WriteAppend(dir, name, one, index % 2 == 1);
    all.push_back(std::move(one.front()));
    ++index;
  }
  ok = ok && WriteAppend(dir, "append-all", all, false);
  if (!ok) {
    std::fprintf(stderr, "cannot write to %s\n", dir.c_str());
    return 1;
  }
  std::printf("%d samples, %d frames written to %s\n", index, index + 5, dir.c_str());
  return 0;
}
