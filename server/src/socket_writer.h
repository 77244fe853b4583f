// Internal to server/: how a connection writes to its client, one write in flight at a time. Both transports'
// streaming connections use it: the HTTP subscriptions (subscription.cc) and the binary endpoint's connections
// (binary_connection.cc, for its replies and its subscription alike).
//
// The final bytes (the error a connection ends with) are kept apart from the pending ones, which a write in
// flight points into, and become pending once those are through (TakeFinal).
#ifndef DI_SERVER_SOCKET_WRITER_H_
#define DI_SERVER_SOCKET_WRITER_H_

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <cstddef>
#include <string>

namespace di::server::internal {

class SocketWriter {
 public:
  // `socket` is the connection's, which owns this writer.
  explicit SocketWriter(boost::asio::ip::tcp::socket& socket) : socket_(socket) {}
  SocketWriter(const SocketWriter&) = delete;
  SocketWriter& operator=(const SocketWriter&) = delete;

  bool writing() const { return writing_; }
  bool has_pending() const { return !pending_.empty(); }
  // What the connection holds for its client: the pending bytes and the final ones.
  size_t held_bytes() const { return pending_.size() + final_.size(); }
  // The events in the pending bytes, which the connection counts once they are written.
  size_t pending_events() const { return pending_events_; }

  // The next bytes to write (nothing is pending), holding `events` events.
  void SetPending(std::string bytes, size_t events = 0) {
    pending_ = std::move(bytes);
    pending_events_ = events;
  }
  void SetFinal(std::string bytes) { final_ = std::move(bytes); }
  // Makes the final bytes pending (nothing is pending); false when there are none.
  bool TakeFinal() {
    if (final_.empty()) return false;
    pending_ = std::move(final_);
    final_.clear();
    return true;
  }

  // Starts one write of what is left of the pending bytes; `on_written(error, written)` follows on the socket's
  // executor. The handler keeps the connection, and so this writer, alive until then.
  template <typename Handler>
  void WriteSome(Handler on_written) {
    writing_ = true;
    socket_.async_write_some(
        boost::asio::buffer(pending_.data() + offset_, pending_.size() - offset_),
        [this, on_written = std::move(on_written)](boost::system::error_code error, size_t written) mutable {
          writing_ = false;
          on_written(error, written);
        });
  }

  // After a write of `written` bytes: false while pending bytes are left (write again); true once all are
  // written, when they are dropped and `*events` is the events they held.
  bool Wrote(size_t written, size_t* events) {
    offset_ += written;
    if (offset_ < pending_.size()) return false;
    pending_.clear();
    offset_ = 0;
    *events = pending_events_;
    pending_events_ = 0;
    return true;
  }

 private:
  boost::asio::ip::tcp::socket& socket_;
  std::string pending_;  // the bytes being written (a header, a reply, a page, a heartbeat, or the final bytes)
  std::string final_;    // the final bytes, queued when the connection ends
  size_t offset_ = 0;    // how much of pending_ is written
  size_t pending_events_ = 0;
  bool writing_ = false;
};

}  // namespace di::server::internal

#endif  // DI_SERVER_SOCKET_WRITER_H_
