// Future<T>: a result slot bound to a loop (asyncio.Future).
//
//   weft::Future<int> f = loop.create_future<int>();
//   loop.call_later(10ms, [f]() mutable { f.set_result(42); });
//   int v = co_await f;
//
// Ownership: Future<T> is a reference-counted handle; copies share one slot. The value is
// kept until the last handle goes. `co_await f` copies the value; `co_await std::move(f)`
// moves it out (required for move-only T).
//
// Thread-safety: owning loop only (the loop that created it): set_result, set_exception,
// cancel, add_done_callback. In debug mode set_result, set_exception and cancel called from
// another thread while the loop runs raise RuntimeError naming both threads and what to use
// instead (loop.call_soon_threadsafe). Done-callbacks run on that loop, scheduled with call_soon.
// To complete a future from another thread, post the call with loop.call_soon_threadsafe.
//
// Misuse: set_result/set_exception on a done future and result() on a pending one raise
// InvalidStateError; result() of a cancelled future raises CancelledError. An exception set
// and never retrieved is reported through the loop's exception handler when the last
// handle goes ("Future exception was never retrieved").
#ifndef WEFT_LOOP_FUTURE_H_
#define WEFT_LOOP_FUTURE_H_

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "loop/creation_site.h"
#include "loop/future_awaiter.h"
#include "loop/future_base.h"

namespace weft {

class EventLoop;

namespace internal {

template <class T>
class FutureState : public FutureBase {
 public:
  explicit FutureState(EventLoop* loop) : FutureBase(loop, 1) {}
  ResultSlot<T>& slot() { return slot_; }

 private:
  ResultSlot<T> slot_;
};

// What create_future allocates in debug mode: a FutureState that remembers where it was
// created (creation_site.h).
template <class T>
class SitedFutureState final : public FutureState<T> {
 public:
  SitedFutureState(EventLoop* loop, CallSite site) : FutureState<T>(loop), site_(site) {}
  const CallSite* creation_site() const override { return &site_; }

 private:
  CallSite site_;
};

}  // namespace internal

template <class T = void>
class Future {
 public:
  using State = internal::FutureState<T>;

  Future() = default;
  Future(const Future& o) : s_(o.s_) {
    if (s_) s_->ref();
  }
  Future(Future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Future() {
    if (s_) s_->unref();
  }

  explicit operator bool() const { return s_ != nullptr; }
  bool done() const { return s_->done(); }
  bool cancelled() const { return s_->cancelled(); }
  EventLoop& get_loop() const { return *s_->loop(); }

  // The value. Raises InvalidStateError if pending, CancelledError if cancelled, or the
  // stored exception.
  decltype(auto) result() {
    s_->check_result();
    return s_->slot().get();
  }
  // The stored exception, or nullptr if the future has a value. Raises like result() if
  // pending or cancelled.
  std::exception_ptr exception() { return s_->exception(); }

  template <class U = T>
    requires(!std::is_void_v<T>)
  void set_result(U&& value) {
    s_->check_pending("Future.set_result");
    s_->slot().set(std::forward<U>(value));
    s_->finish();
  }
  void set_result()
    requires std::is_void_v<T>
  {
    s_->check_pending("Future.set_result");
    s_->finish();
  }
  void set_exception(std::exception_ptr e) {
    s_->check_pending("Future.set_exception");
    s_->finish_exception(std::move(e));
  }
  // Returns false if the future was already done.
  bool cancel(std::string msg = "") {
    s_->check_loop_thread("Future.cancel");
    return s_->cancel(std::move(msg));
  }

  // Schedules fn(Future&) with call_soon when the future is done (at once if it is).
  // Returns an id for remove_done_callback.
  template <class F>
  uint64_t add_done_callback(F fn) {
    return s_->add_done_callback([fn = std::move(fn)](internal::FutureBase& b) mutable {
      Future f(static_cast<State*>(&b));
      f.s_->ref();
      fn(f);
    });
  }
  size_t remove_done_callback(uint64_t id) { return s_->remove_done_callback(id); }

  auto operator co_await() const& { return internal::FutureAwaiter<State, T, false>(s_); }
  auto operator co_await() && { return internal::FutureAwaiter<State, T, true>(s_); }

  // For weft's own machinery (combinators).
  State* base() const { return s_; }

 private:
  friend class EventLoop;
  explicit Future(State* s) : s_(s) {}  // adopts a reference
  State* s_ = nullptr;
};

}  // namespace weft

#endif  // WEFT_LOOP_FUTURE_H_
