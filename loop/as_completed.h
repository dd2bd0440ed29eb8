// weft::as_completed: the tasks of a set, in the order they finish (asyncio.as_completed).
//
//   auto finished = weft::as_completed(tasks, 5s);
//   while (std::optional<weft::Task<int>> t = co_await finished.next()) {
//     int v = co_await *t;           // done already: its result, or its exception
//   }
//
// Takes a range of Task<T> / Future<T> handles, or of Coros (each scheduled as a Task at
// once) or other awaitables (each wrapped in a Task); duplicates are dropped as asyncio's
// set does. next() gives the next handle to finish (asyncio 3.13's async-for form: the
// handle itself, so the caller knows which one it is; `co_await *t` or t->result() gives
// its outcome), and std::nullopt once every handle has been given.
//
// Timeout (std::nullopt: none): once it has elapsed, handles that finished before it are
// still given, then every further next() raises TimeoutError, once for each handle left
// (asyncio 3.12). as_completed never cancels anything. Cancelling the task awaiting next()
// raises CancelledError there and leaves the handles alone.
//
// Ownership: AsCompleted owns its copies of the handles and stops watching them when
// destroyed; it is movable (not while a next() on it is pending), not copyable. Misuse: two tasks awaiting next() at once raise
// RuntimeError. Owning loop only.
#ifndef WEFT_LOOP_AS_COMPLETED_H_
#define WEFT_LOOP_AS_COMPLETED_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop/clock.h"
#include "loop/deferred_timer.h"
#include "loop/done_watch.h"
#include "loop/ensure_future.h"
#include "loop/future_base.h"
#include "loop/task_base.h"
#include "loop/wait.h"

namespace weft {
namespace internal {

// The untyped part: completion order, the timeout, the waiting task.
class AsCompletedState final : public DoneListener, public DeferredTimer {
 public:
  AsCompletedState(std::vector<FutureBase*> fs, std::optional<Duration> timeout);
  AsCompletedState(const AsCompletedState&) = delete;
  AsCompletedState& operator=(const AsCompletedState&) = delete;

  // Whether next() can answer without suspending.
  bool ready() const { return !finished_.empty() || unreturned_ == 0 || timed_out_; }
  void wait(TaskBase& task, WaitCanceller* canceller);
  void cancel_wait(const std::string& msg);
  // The index of the next handle to give, or -1 when all have been given; raises
  // TimeoutError past the timeout.
  int64_t take();
  size_t remaining() const { return unreturned_; }

  void on_done(FutureBase& f, uint32_t index) override;
  void on_expire() override;

 private:
  std::vector<FutureBase*> watched_;
  std::vector<uint32_t> watched_index_to_input_;
  std::deque<uint32_t> finished_;  // input indices, in completion order
  DoneWatch watch_{this};
  TaskBase* waiter_ = nullptr;
  size_t unreturned_;
  bool timed_out_ = false;
};

}  // namespace internal

template <class H>
class AsCompleted {
 public:
  class NextAwaiter final : public internal::WaitCanceller {
   public:
    explicit NextAwaiter(AsCompleted* owner) : owner_(owner) {}
    NextAwaiter(NextAwaiter&& o) noexcept : owner_(o.owner_) {}
    bool await_ready() const { return owner_->s_->ready(); }
    void await_suspend(internal::TaskBase& task) { owner_->s_->wait(task, this); }
    std::optional<H> await_resume() {
      int64_t i = owner_->s_->take();
      if (i < 0) return std::nullopt;
      return owner_->handles_[static_cast<size_t>(i)];
    }
    bool cancel_wait(const std::string& msg) override {
      owner_->s_->cancel_wait(msg);
      return true;
    }

   private:
    AsCompleted* owner_;
  };

  AsCompleted(std::vector<H> handles, std::optional<Duration> timeout)
      : handles_(std::move(handles)),
        s_(std::make_unique<internal::AsCompletedState>(bases(handles_), timeout)) {}
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) noexcept = default;

  // co_await next(): the next handle to finish, or std::nullopt when none is left.
  [[nodiscard]] NextAwaiter next() { return NextAwaiter(this); }
  // How many handles next() has yet to give (or to raise TimeoutError for).
  size_t remaining() const { return s_->remaining(); }

 private:
  static std::vector<internal::FutureBase*> bases(std::vector<H>& hs) {
    std::vector<internal::FutureBase*> out;
    out.reserve(hs.size());
    for (H& h : hs) out.push_back(h.base());
    return out;
  }
  std::vector<H> handles_;
  std::unique_ptr<internal::AsCompletedState> s_;
};

template <std::ranges::input_range R>
auto as_completed(R&& awaitables, std::optional<Duration> timeout = std::nullopt) {
  using Elem = std::ranges::range_reference_t<R>;
  if constexpr (internal::FutureHandle<Elem>) {
    using H = std::remove_cvref_t<Elem>;
    std::vector<H> hs;
    if (!std::ranges::empty(awaitables)) {
      hs = internal::unique_handles(std::forward<R>(awaitables), "as_completed");
    }
    return AsCompleted<H>(std::move(hs), timeout);
  } else {
    using H = typename internal::ChildOf<Elem>::Handle;
    std::vector<H> hs;
    for (auto&& a : awaitables) hs.push_back(internal::ensure_future(a).handle());
    return AsCompleted<H>(std::move(hs), timeout);
  }
}

}  // namespace weft

#endif  // WEFT_LOOP_AS_COMPLETED_H_
