// Internal to server/: the subscription pump, once for both transports (HTTP NDJSON, subscription.cc; the binary
// endpoint's EventBatch frames, binary_connection.cc).
//
// A subscription streams every visible event after a position that matches a filter, in position order, each
// once: first the backlog, page by page, then new events as they are folded. What is the same on every transport
// is here: the cursor, the page request (read through LedgerService::ReadLog with the principal's filter, so
// visibility, clerk scope and pseudonymisation are the service's; the model lock is taken only for a clerk's scope
// check, never while encoding), made by the page workers (page_workers.h), never on the io threads, one page per
// subscriber at a time; the caught-up check and the wait for the head (a
// head listener, which only posts a wake-up: writers never wait for a subscriber); the watchdog (a socket that
// takes no byte for the stall timeout is a stalled consumer and is ended with slow_consumer); and the heartbeat
// while caught up. What differs is the transport's (SubscriptionStream): how a page, a heartbeat and the final
// error are encoded, and when the bytes are written (both write through socket_writer.h; the binary connection's
// writer also serves its request phase).
//
// Memory is bounded per subscriber: the next page is asked for only when the transport has written the previous
// one (it calls Next() when it has nothing left to write), so a slow consumer holds one page, never a backlog, and
// has at most one job in the workers' queue.
#ifndef DI_SERVER_SUBSCRIPTION_PUMP_H_
#define DI_SERVER_SUBSCRIPTION_PUMP_H_

#include <atomic>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "di/server/ledger_service.h"
#include "page_workers.h"

namespace di::server::internal {

// A page as a worker made it, for the pump to send.
struct SubscriptionPage {
  ledger::Status status;
  uint64_t next_after = 0;  // the read's next_after: the position asked from when caught up
  uint64_t head = 0;        // the visible position when the read began
  uint64_t cursor = 0;      // the cursor once the page is taken: every matching event up to it is in `bytes`
  size_t events = 0;        // events in `bytes`
  std::string bytes;        // the encoded page; empty: every scanned event was filtered out
};

// What a transport supplies to its pump. Called on the transport's strand, except EncodePage.
class SubscriptionStream {
 public:
  // On a page worker: `read` (events after the cursor, not caught up) encoded into `page` (cursor, events,
  // bytes; status if the encoding must read more and fails). Reads only what never changes once the pump started.
  virtual void EncodePage(const ReadPage& read, SubscriptionPage* page) const = 0;
  // A heartbeat telling the subscriber it is caught up at `cursor`.
  virtual std::string EncodeHeartbeat(uint64_t cursor) = 0;
  // Starts writing `bytes` (nothing is pending nor being written); `events` are counted once written.
  virtual void Send(std::string bytes, size_t events) = 0;
  // A write is in flight (the watchdog measures its progress).
  virtual bool Writing() const = 0;
  // Bytes are pending (a heartbeat waits for them).
  virtual bool HasPending() const = 0;
  // Writes what is pending, else (ending) the final error, else asks the pump for the next page (Next()).
  virtual void WriteNext() = 0;
  // Ends the stream with a final error (`code`: slow_consumer, or the store's error) after what is in flight.
  virtual void EndStream(std::string_view code, const std::string& message, const std::string& field) = 0;

  virtual ~SubscriptionStream() = default;
};

struct SubscriptionPumpOptions {
  Principal principal;
  EventFilter filter;
  uint64_t after = 0;     // the first cursor: events after it are sent
  size_t page_events = 0;  // the most events read per page
  int page_threads = 1;    // the page workers' threads (started by the first subscription)
  std::chrono::milliseconds stall_timeout{15000};
  // The watchdog looks every stall_timeout / 4, but not more often than this.
  std::chrono::milliseconds watchdog_period_min{20};
  std::chrono::milliseconds heartbeat_interval{5000};
  // Sends a heartbeat at once on catching up when the subscriber cannot tell from what it got (nothing yet, or
  // a filter skipped the events after the last page): a client waiting to be caught up need not wait for the
  // heartbeat interval. (The binary endpoint's; an NDJSON heartbeat is a blank line, which tells nothing.)
  bool announce_catch_up = false;
  // The end of the slow_consumer message: where to resume from.
  std::string resume_hint;
};

class SubscriptionPump {
 public:
  using Clock = std::chrono::steady_clock;

  // `executor`: the transport's strand. The pump is a member of its transport, which outlives it.
  SubscriptionPump(boost::asio::any_io_executor executor, LedgerService& service, PageWorkers& workers);
  ~SubscriptionPump();
  SubscriptionPump(const SubscriptionPump&) = delete;
  SubscriptionPump& operator=(const SubscriptionPump&) = delete;

  // Listens for the head and starts the watchdog. `stream` owns this pump; asynchronous work keeps it alive.
  // The transport then calls WriteNext() to start (it may have a header to write first).
  void Start(std::shared_ptr<SubscriptionStream> stream, SubscriptionPumpOptions options);

  // The transport has nothing left to write: asks for the next page unless one is being made.
  void Next();
  // The socket took bytes.
  void NoteProgress() { last_progress_ = Clock::now(); }
  // The transport is ending (its final error queued): no more pages, heartbeats or stall checks.
  void End();
  // The socket is closed: timers cancelled, and no page is made for it any more.
  void Close();
  // Removes the head listener (idempotent). The transport's destructor calls it first: the service may be
  // destroyed once the transport has unregistered.
  void RemoveHeadListener();

  // Every visible event <= cursor() that matches is pending in the transport or already written.
  uint64_t cursor() const { return cursor_; }

 private:
  enum class State { kRunning, kEnding, kClosed };

  void AskForPage();
  // On a page worker: reads only what Start set, which never changes after.
  SubscriptionPage MakePage(const SubscriptionStream& stream, uint64_t after) const;
  // Back on the strand: sends the page, or idles when caught up, or asks for the next one.
  void OnPage(SubscriptionPage page);
  void OnHeadChanged();
  void ArmWatchdog();
  void ArmHeartbeat();
  void SendHeartbeat();

  boost::asio::any_io_executor executor_;  // the strand (copied once: the page workers post to it)
  LedgerService& service_;
  PageWorkers& workers_;
  SubscriptionPumpOptions options_;
  std::weak_ptr<SubscriptionStream> stream_;

  State state_ = State::kRunning;
  bool idle_ = false;             // caught up: waiting for the head, heartbeats armed
  bool page_in_flight_ = false;   // a page is queued or being made for this subscriber
  std::atomic<bool> gone_{false};  // closed, for the page workers: a page for a closed socket is not made
  uint64_t cursor_ = 0;
  bool announced_any_ = false;     // a page or heartbeat was sent
  uint64_t announced_position_ = 0;  // the cursor of the last page or heartbeat sent
  uint64_t listener_id_ = 0;
  Clock::time_point last_progress_;
  boost::asio::steady_timer watchdog_, heartbeat_;
};

}  // namespace di::server::internal

#endif  // DI_SERVER_SUBSCRIPTION_PUMP_H_
