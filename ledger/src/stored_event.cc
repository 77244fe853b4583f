#include <capnp/message.h>

#include <kj/exception.h>

#include <cstring>

#include "di/ledger/event.h"

namespace di::ledger {

template <typename T>
CanonicalMessage<T>::CanonicalMessage(kj::Array<capnp::word> words) : words_(kj::mv(words)) {
  segment_ = std::make_unique<kj::ArrayPtr<const capnp::word>>(words_.asPtr());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 64 * 1024 * 1024;
  message_ = std::make_unique<capnp::SegmentArrayMessageReader>(
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(segment_.get(), 1), options);
}

template <typename T>
typename T::Reader CanonicalMessage<T>::reader() const {
  return message_->getRoot<T>();
}

template <typename T>
bool CanonicalMessage<T>::IsWellFormedCanonical() const {
  if (empty()) return false;
  try {
    return message_->isCanonical();
  } catch (const kj::Exception&) {
    return false;
  }
}

template class CanonicalMessage<schema::Event>;
template class CanonicalMessage<schema::RecordedEvent>;

NewEvent NewEvent::FromReader(schema::Event::Reader event) {
  NewEvent result;
  result.event = CanonicalMessage<schema::Event>(capnp::canonicalize(event));
  return result;
}

kj::Array<capnp::word> CopyToWords(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0 || bytes.empty()) return nullptr;
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

std::string HashToHex(const Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(hash.size() * 2);
  for (uint8_t byte : hash) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

}  // namespace di::ledger
