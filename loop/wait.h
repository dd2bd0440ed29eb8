// weft::wait: wait for a set of tasks or futures until some condition holds, and partition
// them into done and pending (asyncio.wait).
//
//   std::vector<weft::Task<int>> tasks = ...;
//   auto [done, pending] = co_await weft::wait(tasks, 100ms, weft::FIRST_COMPLETED);
//
// return_when: ALL_COMPLETED (the default), FIRST_COMPLETED (any one is done),
// FIRST_EXCEPTION (one finished with an exception, not counting cancellation; or all are
// done). `timeout`: std::nullopt (the default) waits as long as it takes; otherwise wait()
// returns when it elapses with whatever is done by then. wait() never cancels the tasks and
// never raises on timeout: look at `pending`.
//
// Accepts a range of Task<T> or Future<T> handles (asyncio 3.11+ refuses bare coroutines;
// so does weft, at compile time). Duplicates are dropped, as asyncio's sets do; the
// results keep the input order. An empty input raises std::invalid_argument (asyncio's
// ValueError).
//
// Cancelling the awaiting task raises CancelledError from wait() and leaves the tasks
// alone. If the condition already holds when wait() is awaited it returns at once (asyncio
// yields to the loop once first; nothing else differs).
//
// Owning loop only.
#ifndef WEFT_LOOP_WAIT_H_
#define WEFT_LOOP_WAIT_H_

#include <cstddef>
#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/deferred_timer.h"
#include "loop/done_watch.h"
#include "loop/ensure_future.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {

enum class ReturnWhen { kFirstCompleted, kFirstException, kAllCompleted };
// asyncio's names.
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::kFirstCompleted;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::kFirstException;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::kAllCompleted;

// What wait() returns; `auto [done, pending] = co_await wait(...)`.
template <class H>
struct WaitResult {
  std::vector<H> done;
  std::vector<H> pending;
};

namespace internal {

// Suspends until the condition holds, the deadline passes, or the task is cancelled.
// Awaited as an lvalue from wait_impl().
class WaitAwaiter final : public WaitCanceller, public DoneListener, public DeferredTimer {
 public:
  WaitAwaiter(const std::vector<FutureBase*>& fs, std::optional<Duration> timeout,
              ReturnWhen return_when)
      : fs_(fs), timeout_(timeout), return_when_(return_when) {}
  WaitAwaiter(const WaitAwaiter&) = delete;
  WaitAwaiter& operator=(const WaitAwaiter&) = delete;
  ~WaitAwaiter();

  bool await_ready() const;
  // False (resume at once) if the wait was satisfied since await_ready.
  bool await_suspend(TaskBase& task);
  void await_resume() { stop(); }

  bool cancel_wait(const std::string& msg) override;
  void on_done(FutureBase& f, uint32_t index) override;
  void on_expire() override;

 private:
  // A done future that ends the wait before every one is done (FIRST_COMPLETED, or
  // FIRST_EXCEPTION and it failed).
  bool ends_wait_early(const FutureBase& f) const {
    return return_when_ == ReturnWhen::kFirstCompleted ||
           (return_when_ == ReturnWhen::kFirstException && f.has_exception());
  }
  void stop();
  void finish();

  const std::vector<FutureBase*>& fs_;
  std::optional<Duration> timeout_;
  ReturnWhen return_when_;
  TaskBase* task_ = nullptr;
  size_t pending_ = 0;
  DoneWatch watch_{this};
};

// Drops repeated handles, keeping the first of each.
std::vector<size_t> first_occurrences(const std::vector<FutureBase*>& fs);
[[noreturn]] void throw_empty_wait(const char* what);

template <class H>
Coro<WaitResult<H>> wait_impl(std::vector<H> fs, std::optional<Duration> timeout,
                              ReturnWhen return_when) {
  std::vector<FutureBase*> bases;
  bases.reserve(fs.size());
  for (H& h : fs) bases.push_back(h.base());
  WaitAwaiter awaiter(bases, timeout, return_when);
  co_await awaiter;
  WaitResult<H> out;
  for (size_t i = 0; i < fs.size(); ++i) {
    (bases[i]->done() ? out.done : out.pending).push_back(std::move(fs[i]));
  }
  co_return out;
}

template <class R>
auto unique_handles(R&& handles, const char* what) {
  using H = std::remove_cvref_t<std::ranges::range_reference_t<R>>;
  static_assert(FutureHandle<H>,
                "wait()/as_completed() take Task or Future handles; wrap a coroutine in a Task "
                "first (weft::create_task), as asyncio 3.11+ requires");
  std::vector<H> all;
  if constexpr (std::ranges::sized_range<R>) all.reserve(std::ranges::size(handles));
  for (auto&& h : handles) all.push_back(h);
  if (all.empty()) throw_empty_wait(what);
  std::vector<FutureBase*> bases;
  bases.reserve(all.size());
  for (H& h : all) bases.push_back(h.base());
  std::vector<size_t> keep = first_occurrences(bases);
  if (keep.size() == all.size()) return all;
  std::vector<H> unique;
  unique.reserve(keep.size());
  for (size_t i : keep) unique.push_back(std::move(all[i]));
  return unique;
}

}  // namespace internal

// Raises std::invalid_argument (when called) if `handles` is empty.
template <std::ranges::input_range R>
auto wait(R&& handles, std::optional<Duration> timeout = std::nullopt,
          ReturnWhen return_when = ALL_COMPLETED) {
  return internal::wait_impl(internal::unique_handles(std::forward<R>(handles), "wait"), timeout,
                             return_when);
}

}  // namespace weft

#endif  // WEFT_LOOP_WAIT_H_
