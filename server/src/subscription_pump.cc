// The subscription pump (subscription_pump.h says what it owns and what its transport supplies).
#include "subscription_pump.h"

#include <algorithm>

namespace di::server::internal {

namespace net = boost::asio;

SubscriptionPump::SubscriptionPump(net::any_io_executor executor, LedgerService& service, PageWorkers& workers)
    : executor_(std::move(executor)),
      service_(service),
      workers_(workers),
      watchdog_(executor_),
      heartbeat_(executor_) {}

SubscriptionPump::~SubscriptionPump() { RemoveHeadListener(); }

void SubscriptionPump::RemoveHeadListener() {
  if (listener_id_ == 0) return;
  service_.RemoveHeadListener(listener_id_);
  listener_id_ = 0;
}

void SubscriptionPump::Start(std::shared_ptr<SubscriptionStream> stream, SubscriptionPumpOptions options) {
  stream_ = stream;
  options_ = std::move(options);
  cursor_ = options_.after;
  std::weak_ptr<SubscriptionStream> weak = stream;
  listener_id_ = service_.AddHeadListener([this, weak, executor = executor_](uint64_t) {
    // On the appending thread: only hand off. `this` lives as long as its stream.
    net::post(executor, [this, weak] {
      if (auto alive = weak.lock()) OnHeadChanged();
    });
  });
  last_progress_ = Clock::now();
  ArmWatchdog();
}

void SubscriptionPump::Next() {
  if (state_ == State::kRunning && !page_in_flight_) AskForPage();
}

void SubscriptionPump::End() {
  if (state_ != State::kRunning) return;
  state_ = State::kEnding;
  heartbeat_.cancel();
}

void SubscriptionPump::Close() {
  state_ = State::kClosed;
  gone_ = true;
  watchdog_.cancel();
  heartbeat_.cancel();
}

void SubscriptionPump::AskForPage() {
  page_in_flight_ = true;
  // Weak: a subscriber that leaves while it waits is destroyed at once, and its page is never made.
  std::weak_ptr<SubscriptionStream> weak = stream_;
  workers_.Submit(options_.page_threads, [this, weak, after = cursor_] {
    std::shared_ptr<SubscriptionStream> stream = weak.lock();
    if (stream == nullptr || gone_.load()) return;
    SubscriptionPage page = MakePage(*stream, after);
    net::post(executor_, [this, stream = std::move(stream), page = std::move(page)]() mutable {
      OnPage(std::move(page));
    });
  });
}

SubscriptionPage SubscriptionPump::MakePage(const SubscriptionStream& stream, uint64_t after) const {
  SubscriptionPage made;
  ReadPage read;
  made.status = service_.ReadLog(options_.principal, after, options_.page_events, options_.filter, &read);
  if (!made.status.ok()) return made;
  made.next_after = read.next_after;
  made.head = read.head;
  if (read.next_after == after) return made;  // caught up
  stream.EncodePage(read, &made);
  return made;
}

void SubscriptionPump::OnPage(SubscriptionPage page) {
  page_in_flight_ = false;
  std::shared_ptr<SubscriptionStream> stream = stream_.lock();  // alive: OnPage's handler holds it
  if (state_ == State::kClosed) return;
  if (state_ == State::kEnding) return stream->WriteNext();  // unsent: the final error was fixed before it
  if (!page.status.ok()) {
    return stream->EndStream(page.status.CodeName(), page.status.message(), page.status.field());
  }
  if (page.next_after == cursor_) {  // caught up
    // An append made more visible while the page was being made: its wake-up found a page in flight.
    if (service_.VisiblePosition() > page.head) return AskForPage();
    if (idle_) return;
    idle_ = true;
    ArmHeartbeat();
    if (!options_.announce_catch_up || (announced_any_ && announced_position_ == cursor_)) return;
    return SendHeartbeat();
  }
  idle_ = false;
  heartbeat_.cancel();
  cursor_ = page.cursor;
  // Every scanned event was filtered out: scan on, behind the other subscribers.
  if (page.bytes.empty()) return AskForPage();
  announced_any_ = true;
  announced_position_ = cursor_;
  stream->Send(std::move(page.bytes), page.events);
}

void SubscriptionPump::OnHeadChanged() {
  if (idle_ && state_ == State::kRunning) {
    if (auto stream = stream_.lock()) stream->WriteNext();
  }
}

void SubscriptionPump::ArmWatchdog() {
  const auto period = std::max(options_.stall_timeout / 4, options_.watchdog_period_min);
  watchdog_.expires_after(period);
  watchdog_.async_wait([this, stream = stream_.lock()](boost::system::error_code error) {
    if (error || state_ != State::kRunning) return;
    if (stream->Writing() && Clock::now() - last_progress_ > options_.stall_timeout) {
      return stream->EndStream("slow_consumer",
                               "the subscriber took no data for " + std::to_string(options_.stall_timeout.count()) +
                                   " ms; " + options_.resume_hint,
                               "");
    }
    ArmWatchdog();
  });
}

void SubscriptionPump::ArmHeartbeat() {
  heartbeat_.expires_after(options_.heartbeat_interval);
  heartbeat_.async_wait([this, stream = stream_.lock()](boost::system::error_code error) {
    if (error || state_ != State::kRunning || !idle_) return;
    // Not under a write in flight (the write points into the pending bytes), nor while a page is being made
    // (the page becomes the pending bytes when it arrives).
    if (!stream->Writing() && !stream->HasPending() && !page_in_flight_) SendHeartbeat();
    ArmHeartbeat();
  });
}

void SubscriptionPump::SendHeartbeat() {
  announced_any_ = true;
  announced_position_ = cursor_;
  auto stream = stream_.lock();
  stream->Send(stream->EncodeHeartbeat(cursor_), 0);
}

}  // namespace di::server::internal
