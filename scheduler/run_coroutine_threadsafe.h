// run_coroutine_threadsafe: run a coroutine on a loop from any thread and get its result as
// a ConcurrentFuture (asyncio.run_coroutine_threadsafe).
//
//   // On some thread that is not `loop`'s:
//   weft::ConcurrentFuture<int> f = weft::run_coroutine_threadsafe(compute(), loop);
//   int v = f.get(5s);         // blocks this thread; TimeoutError after 5 s
//   // or, from a task on another loop: int v = co_await f;
//
// The coroutine is wrapped in a Task on `loop` (scheduled with call_soon_threadsafe) and the
// future completes with the task's value, exception, or cancellation. Cancelling the future
// cancels the task, on its own loop (the request crosses by call_soon_threadsafe); the task
// may still run cleanup, and if it swallows the cancellation and returns, the future stays
// cancelled.
//
// If `loop` is closed when this is called, RuntimeError is raised (as asyncio). If it closes
// before the task could start or finish (a loop dropped without weft::run's shutdown), the
// future is cancelled rather than left pending forever. The task never ends with an
// exception of its own, so nothing is reported twice: the exception is the future's.
//
// Thread-safety: any thread, including `loop`'s own (the task then starts on a later step).
// `loop` must be alive when this is called; after that it may go away at any time.
#ifndef WEFT_SCHEDULER_RUN_COROUTINE_THREADSAFE_H_
#define WEFT_SCHEDULER_RUN_COROUTINE_THREADSAFE_H_

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/task.h"
#include "scheduler/concurrent_future.h"
#include "scheduler/loop_ref.h"

namespace weft {
namespace internal {

// Holds the ConcurrentFuture a coroutine will complete; if it is destroyed with the future
// still pending (the task's frame was dropped by a closing loop, or the task never started),
// it cancels the future so that nobody waits forever.
template <class T>
class CancelIfPending {
 public:
  explicit CancelIfPending(ConcurrentFuture<T> f) : f_(std::move(f)) {}
  CancelIfPending(CancelIfPending&&) noexcept = default;
  CancelIfPending& operator=(CancelIfPending&&) = delete;
  ~CancelIfPending() {
    if (f_) f_.cancel();  // no-op when done
  }
  ConcurrentFuture<T>& future() { return f_; }

 private:
  ConcurrentFuture<T> f_;
};

template <class T>
Coro<void> run_and_complete(Coro<T> coro, CancelIfPending<T> guard) {
  ConcurrentFuture<T>& f = guard.future();
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      f.try_set_result();
    } else {
      f.try_set_result(co_await std::move(coro));
    }
  } catch (const CancelledError&) {
    f.cancel();
    throw;
  } catch (...) {
    f.try_set_exception(std::current_exception());
  }
}

}  // namespace internal

template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
  ConcurrentFuture<T> future;
  loop.call_soon_threadsafe(
      [&loop, coro = std::move(coro), guard = internal::CancelIfPending<T>(future)]() mutable {
        ConcurrentFuture<T> f = guard.future();
        std::string name = coro.function_name();
        Task<void> task = loop.create_task(
            internal::run_and_complete(std::move(coro), std::move(guard)), std::move(name));
        // The future cancelled from outside -> cancel the task on its loop. Posted even from
        // the loop's own thread: the future may be cancelled while the task's frame is being
        // destroyed, when calling into the task is not safe.
        f.add_done_callback([task, target = internal::LoopRef(loop)](ConcurrentFuture<T>& done) {
          if (!done.cancelled()) return;
          target.post([task]() mutable { task.cancel(); });
        });
      });
  return future;
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_RUN_COROUTINE_THREADSAFE_H_
