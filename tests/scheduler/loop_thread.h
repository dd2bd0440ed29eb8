// Test helpers for scheduler/:
//   Notification: a one-shot event between threads (std::mutex/condition_variable, so TSan
//   sees it), as absl::Notification.
//   LoopThread: an EventLoop running run_forever() on its own std::thread, for tests that
//   need a loop other than the test's own. Stopped, joined and closed by the destructor.
#ifndef WEFT_TESTS_SCHEDULER_LOOP_THREAD_H_
#define WEFT_TESTS_SCHEDULER_LOOP_THREAD_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "loop/event_loop.h"

namespace weft::testing {

class Notification {
 public:
  void notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return notified_; });
  }
  bool notified() {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

class LoopThread {
 public:
  LoopThread() : loop_(std::make_unique<EventLoop>()) {
    Notification running;
    thread_ = std::thread([this, &running] {
      loop_->call_soon([&running] { running.notify(); });
      loop_->run_forever();
    });
    running.wait();
  }
  ~LoopThread() { stop(); }

  EventLoop& loop() { return *loop_; }

  // Stops the loop, joins its thread and closes the loop (pending tasks are dropped).
  void stop() {
    if (!thread_.joinable()) return;
    loop_->call_soon_threadsafe([this] { loop_->stop(); });
    thread_.join();
    loop_->close();
  }
  // stop(), then destroys the loop.
  void destroy() {
    stop();
    loop_.reset();
  }

 private:
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
};

}  // namespace weft::testing

#endif  // WEFT_TESTS_SCHEDULER_LOOP_THREAD_H_
