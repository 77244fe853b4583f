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
// Subscriptions are driven by the subscription pump (subscription_pump.h, shared with the HTTP subscriptions):
// it reads the log page by page through LedgerService::ReadLog (visibility, clerk scope and pseudonymisation
// are the service's) on the page workers, never on the io threads, and asks for the next page only after the
// previous frame was taken by the socket, so a subscriber holds at most one encoded batch. The connection is its
// SubscriptionStream: it encodes an EventBatch, a heartbeat and the final error frame, and writes them with the
// same writer as the request phase (one frame in flight, memory accounting, the lingering close). A socket that
// takes no byte for subscription_stall_timeout is a stalled consumer and is dropped with error(slow_consumer);
// every event up to the last EventBatch.lastPosition it received was in the frames before, so it resumes from
// there and loses nothing, repeats nothing.
#ifndef DI_SERVER_BINARY_CONNECTION_H_
#define DI_SERVER_BINARY_CONNECTION_H_

#include <capnp/common.h>
#include <kj/array.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "binary_endpoint_impl.h"
#include "socket_writer.h"
#include "subscription_pump.h"

namespace di::server::binary_internal {

class Connection : public std::enable_shared_from_this<Connection>, public internal::SubscriptionStream {
 public:
  Connection(BinaryEndpoint::Impl& impl, tcp::socket socket);

  ~Connection();

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  // `refuse_code` non-empty: the connection is refused at once with that error (too many connections).
  void Start(const std::string& refuse_code, const std::string& refuse_message);

  // SubscriptionStream (the pump's side of a subscription) ------------------------------------------------------

  // On a page worker: the page as one EventBatch frame (with the records when asked for), closed at
  // subscription_batch_bytes (the first event always goes).
  void EncodePage(const ReadPage& read, internal::SubscriptionPage* page) const override;

  std::string EncodeHeartbeat(uint64_t cursor) override;

  void Send(std::string frame, size_t events) override;

  bool Writing() const override { return writer_.writing(); }

  bool HasPending() const override { return writer_.has_pending(); }

  void WriteNext() override { Pump(); }

  void EndStream(std::string_view code, const std::string& message, const std::string& field) override;

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

  // Writing ---------------------------------------------------------------------------------------------------

  // Writes `frame` (nothing is pending); its `events` are counted once written.
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
  internal::SocketWriter writer_;  // a reply, a batch, a heartbeat, or the final error frame
  uint64_t buffered_bytes_ = 0;    // writer_.held_bytes(), as counted in impl_.buffered_bytes_now
  bool ending_ = false, lingering_ = false, closed_ = false;

  // Subscription. with_records_ is set before the pump starts and never changes after (the page workers read it).
  bool subscribed_ = false, with_records_ = false;
  internal::SubscriptionPump pump_;

  net::steady_timer deadline_, grace_;
};
}  // namespace di::server::binary_internal

#endif  // DI_SERVER_BINARY_CONNECTION_H_
