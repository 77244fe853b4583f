// Internal to server/: one connection of the binary endpoint, declared apart from its code (as LevelDB keeps
// DBImpl's declaration in db_impl.h) so that its phases, its state and its limits read before any handler.
//
// A connection lives on its own strand and goes through three phases: hello (the first frame must
// authenticate), requests (append batches, answered one by one; the next frame is read only once the reply
// has been written, so a client that sends without reading holds one reply, never a queue), and subscribed
// (the server streams EventBatch frames; the client only closes). Every fatal problem ends the connection
// the same way: the error frame is queued after whatever frame is in flight, the send side is shut down,
// what the client still sends is drained (so the kernel does not answer it with a reset that would destroy
// the error frame), and a grace timer closes the socket regardless.
//
// Subscriptions read the log page by page through LedgerService::ReadLog (visibility, clerk scope and
// pseudonymisation are the service's) and hold at most one encoded batch per subscriber: the next page is
// read only after the previous frame was taken by the socket, and read and encoded by the page workers
// (page_workers.h), never on the io threads, so a subscriber's catch-up never delays an append. Writers never
// wait for a subscriber: they only post a wake-up to its strand. A socket that takes no byte for
// subscription_stall_timeout is a stalled consumer and is dropped with error(slow_consumer); every event up to
// the last EventBatch.lastPosition it received was in the frames before, so it resumes from there and loses
// nothing, repeats nothing.
#ifndef DI_SERVER_BINARY_CONNECTION_H_
#define DI_SERVER_BINARY_CONNECTION_H_

#include <capnp/common.h>
#include <kj/array.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "binary_endpoint_impl.h"

namespace di::server::binary_internal {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BinaryEndpoint::Impl& impl, tcp::socket socket);

  ~Connection();

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  // `refuse_code` non-empty: the connection is refused at once with that error (too many connections).
  void Start(const std::string& refuse_code, const std::string& refuse_message);

 private:
  enum class Phase { kHello, kRequests, kSubscribed };

  // Reading frames ------------------------------------------------------------------------------------------

  void ReadFrame();

  void OnHeader(error_code error);

  void OnTable(error_code error);

  FrameLimits Limits() const { return {impl_.options.max_frame_bytes, impl_.options.max_frame_segments}; }

  void OnBody(error_code error);

  // The client closed, the read failed or timed out, or we are ending and drained what it sent.
  void OnReadEnded(error_code error);

  // Requests --------------------------------------------------------------------------------------------------

  void OnHello(const std::string& token, uint32_t version, const std::string& client_name);

  void OnAppend(DecodedClientMessage request);

  // Replies of the request phase: one at a time; the next frame is read when it has been written.
  void WriteReply(std::string frame);

  // Subscriptions ---------------------------------------------------------------------------------------------

  void OnSubscribe(const SubscribeRequest& request);

  // A subscriber sends nothing more; reading only tells us when it leaves (EOF or reset). Bytes it sends
  // anyway (a goodbye) are ignored: closing the socket is what ends a subscription.
  void WatchClient();

  void ArmWatchdog();

  void ArmHeartbeat();

  std::string HeartbeatFrame();

  void OnHeadChanged();

  // A batch as a page worker made it.
  struct Batch {
    ServiceStatus status;
    uint64_t next_after = 0;     // the read's next_after: the position asked from when caught up
    uint64_t head = 0;           // the visible position when the read began
    uint64_t last_position = 0;  // the batch's lastPosition: the cursor once the batch is taken
    size_t events = 0;
    std::string frame;           // the EventBatch frame; empty: every scanned event was filtered out
  };

  // Queues the making of the batch after cursor_ behind the other subscribers' (page_workers.h: never on the
  // io threads, one at a time per subscriber).
  void AskForBatch();

  // The next page after `after` as one EventBatch frame. On a page worker: reads only what OnSubscribe set before
  // the first batch was asked for, which never changes after.
  Batch MakeBatch(uint64_t after) const;

  // Back on the strand: sends the batch, or idles when caught up, or asks for the next one.
  void OnBatch(Batch batch);

  // Writing ---------------------------------------------------------------------------------------------------

  void SetPending(std::string frame, size_t events);

  // What this connection holds in memory for the client: the frame in flight and the final error frame.
  void NoteBuffered();

  // Writes what is pending; else, ending: the final frame, then the lingering close; else, subscribed: the
  // next batch (idles when caught up); else, requests: the next frame.
  void Pump();

  void WriteSome();

  void OnWritten(error_code error, size_t written);

  // Ending ------------------------------------------------------------------------------------------------------

  void Refuse(std::string_view code, const std::string& message);

  // Queues the final error frame (none for an empty code: a goodbye) after whatever is in flight, then closes;
  // the grace timer closes regardless.
  void End(std::string_view code, const std::string& message, const std::string& field = {});

  // Everything was written: stop sending, and read (and drop) what the client still sends until it closes,
  // so the error frame is not destroyed by a reset. The grace timer bounds the wait.
  void Linger();

  void Drain();

  void Close();

  // The request phase's deadline: a frame must arrive (or a reply be taken) within read_timeout.
  void ArmDeadline();

  BinaryEndpoint::Impl& impl_;
  tcp::socket socket_;
  Phase phase_ = Phase::kHello;
  Principal principal_;
  uint64_t connection_id_ = 0;

  // Reading.
  std::vector<unsigned char> header_;  // the first word, then the whole segment table
  std::vector<uint64_t> segment_words_;
  kj::Array<capnp::word> body_;
  char discard_[4096];
  bool reading_ = false;

  // Writing.
  std::string pending_;  // the frame being written (a reply, a batch, a heartbeat, or the final error)
  std::string tail_;     // the final error frame, queued by End()
  size_t offset_ = 0;
  size_t events_in_pending_ = 0;
  uint64_t buffered_bytes_ = 0;  // pending_ + tail_, as counted in impl_.buffered_bytes_now
  bool writing_ = false, ending_ = false, lingering_ = false, closed_ = false;

  // Subscription.
  bool subscribed_ = false, idle_ = false, with_records_ = false;
  EventFilter filter_;
  uint64_t cursor_ = 0;  // every visible event <= cursor_ that matches is in pending_ or already written
  uint32_t batch_events_ = 0;
  bool framed_any_ = false;       // a batch or heartbeat was framed for this subscriber
  uint64_t reported_position_ = 0;  // the lastPosition of the last batch or heartbeat framed
  uint64_t listener_id_ = 0;
  Clock::time_point last_progress_;
  bool batch_in_flight_ = false;  // a batch is queued or being made for this subscriber
  std::atomic<bool> gone_{false};  // closed_, for the page workers: a batch for a closed socket is not made
  net::any_io_executor executor_ = socket_.get_executor();  // the strand (copied once: the page workers post to it)

  net::steady_timer deadline_, watchdog_, heartbeat_, grace_;
};
}  // namespace di::server::binary_internal

#endif  // DI_SERVER_BINARY_CONNECTION_H_
