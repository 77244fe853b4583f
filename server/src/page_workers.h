// Internal to server/: the threads that make subscribers' pages, for the subscription pump
// (subscription_pump.h) of the HTTP subscriptions (subscription.cc) and the binary endpoint's (binary_connection.cc).
//
// Why not the io threads: making a page (reading up to a page of events from the store and rendering each as
// JSON; for a reader, pseudonymised: a keyed hash per id) is CPU work of milliseconds to tens of milliseconds.
// Done inline on the io threads, 256 subscribers starting from position 0 put 256 such pages in the io queue
// ahead of every other request, and each written page queued the next: /healthz and a clerk's append waited
// 0.5-20 s (issue #12; docs/performance.md, "Subscribers and everyone else"). Here the io threads only write
// bytes and run requests; pages are made by these threads, one job per subscriber at a time (a subscriber
// asks for its next page only when its socket took the previous one), first come first served, so every
// subscriber gets its turn in order and the queue never holds more jobs than there are subscribers.
#ifndef DI_SERVER_PAGE_WORKERS_H_
#define DI_SERVER_PAGE_WORKERS_H_

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace di::server::internal {

class PageWorkers {
 public:
  // The workers' Linux nice value: the lowest. Pages are throughput work and a request is someone waiting for
  // an answer, so when the cores are busy the scheduler should run the request first (a nice-19 thread gets
  // ~1.5 % of a core against a nice-0 one). Not SCHED_IDLE: a subscriber must still make progress on a server
  // that is never idle.
  static constexpr int kNice = 19;

  PageWorkers() = default;
  ~PageWorkers() { Stop(); }
  PageWorkers(const PageWorkers&) = delete;
  PageWorkers& operator=(const PageWorkers&) = delete;

  // Queues `job` behind the ones queued (first come, first served). The first call starts `threads` threads
  // (at least one). False once stopped: the job is dropped (destroyed) unrun.
  bool Submit(int threads, std::function<void()> job) {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    if (threads_.empty()) {
      for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
    }
    queue_.push_back(std::move(job));
    ready_.notify_one();
    return true;
  }

  // Jobs waiting for a thread.
  size_t queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

  // Drops the queued jobs, lets the running ones finish, joins the threads. Idempotent. Jobs must not depend on
  // threads that are stopped before this is called (they may only hand their result off, e.g. post it).
  void Stop() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      dropped.swap(queue_);
    }
    ready_.notify_all();
    // threads_ changes only under the mutex before stopped_ is set: nothing adds to it now.
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  void Run() {
    ::pthread_setname_np(::pthread_self(), "di-pages");  // so that top -H and perf name the work
    // Per thread on Linux (threads are scheduled entities of their own); lowering one's own priority needs no
    // privilege. Failure only leaves the thread at the io threads' priority.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kNice);
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      std::function<void()> job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // what the job holds is released outside the lock
      lock.lock();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace di::server::internal

#endif  // DI_SERVER_PAGE_WORKERS_H_
