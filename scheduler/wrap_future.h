// wrap_future: a ConcurrentFuture seen from an event loop (asyncio.wrap_future).
//
//   weft::Coro<int> consumer(weft::ConcurrentFuture<int> cf) {
//     int v = co_await weft::wrap_future(cf);   // or simply: co_await cf
//     co_return v;
//   }
//
// wrap_future(cf) returns a Future<T> of the running loop that completes like cf: when cf is
// done, in whatever thread, its outcome (value, exception or cancellation) crosses to the loop
// by the thread-safe path (call_soon_threadsafe) and completes the Future there. Cancelling
// the Future, which is what cancelling a task that awaits it does, cancels cf (which succeeds
// only if cf is still pending, as concurrent.futures does).
//
// Loop lifetime. The completion may come after the loop has closed, or even been destroyed
// (a weft::run that has returned): it is then dropped without error, as asyncio's bridge
// drops it when loop.is_closed(). The completing thread checks the loop against the loop
// registry under its lock (LoopRef), so no loop has to outlive the bridges it started.
//
// Values: copied out of cf when T is copyable (cf keeps its value for other readers), moved
// out otherwise.
//
// Thread-safety: wrap_future must be called on the loop's thread (a coroutine or callback
// running on it); RuntimeError if no loop runs on this thread.
#ifndef WEFT_SCHEDULER_WRAP_FUTURE_H_
#define WEFT_SCHEDULER_WRAP_FUTURE_H_

#include <memory>
#include <type_traits>
#include <utility>

#include "loop/event_loop.h"
#include "loop/future.h"
#include "scheduler/concurrent_future.h"
#include "scheduler/loop_ref.h"

namespace weft {
namespace internal {

// Completes `dst` (pending, on its loop's thread) with the outcome of the done `src`.
template <class T>
void copy_outcome(ConcurrentState<T>& src, Future<T>& dst) {
  if (dst.done()) return;  // cancelled meanwhile: the outcome is dropped
  if (src.cancelled()) {
    dst.cancel();
  } else if (src.raw_exception()) {
    dst.set_exception(src.raw_exception());
  } else if constexpr (std::is_void_v<T>) {
    dst.set_result();
  } else if constexpr (std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
    dst.set_result(src.slot().get());
  } else {
    dst.set_result(std::move(src.slot().get()));
  }
}

}  // namespace internal

template <class T>
Future<T> wrap_future(const ConcurrentFuture<T>& cf) {
  using State = internal::ConcurrentState<T>;
  EventLoop& loop = EventLoop::current();
  Future<T> future = loop.create_future<T>();
  bool already_done = cf.done();  // raises RuntimeError for an empty (moved-from) handle
  std::shared_ptr<State> state = cf.shared_state();
  if (already_done) {
    internal::copy_outcome(*state, future);
    return future;
  }
  // Loop side: the Future cancelled (its awaiting task was) -> cancel cf. Weak, so that a cf
  // nobody else holds (and nobody can complete any more) is freed with its callbacks.
  future.add_done_callback([weak = std::weak_ptr<State>(state)](Future<T>& f) {
    if (!f.cancelled()) return;
    if (std::shared_ptr<State> s = weak.lock()) s->cancel();
  });
  // Completing side: whichever thread completes cf posts the outcome to the loop. The
  // Future handle moves into the posted callback, so this thread never holds the last
  // reference to a loop object after the post.
  cf.add_done_callback(
      [future, target = internal::LoopRef(loop)](ConcurrentFuture<T>& done) mutable {
        target.post([future = std::move(future), s = done.shared_state()]() mutable {
          internal::copy_outcome(*s, future);
        });
      });
  return future;
}

template <class T>
auto ConcurrentFuture<T>::operator co_await() const {
  return wrap_future(*this).operator co_await();
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_WRAP_FUTURE_H_
