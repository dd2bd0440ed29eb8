#include "loop/future_base.h"

#include <algorithm>
#include <utility>

#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/task_base.h"

namespace weft::internal {

namespace {

// The reference a done-callback posted to the loop holds on its future. Released when the
// callback is destroyed, whether it ran (even if it threw) or a closing loop dropped it
// unrun; a reference taken by hand in the callback's body would leak in the second case.
class PostedRef {
 public:
  explicit PostedRef(FutureBase* f) : f_(f) {}  // adopts a reference
  PostedRef(PostedRef&& other) noexcept : f_(std::exchange(other.f_, nullptr)) {}
  PostedRef& operator=(PostedRef&&) = delete;
  ~PostedRef() {
    if (f_) f_->unref();
  }
  FutureBase& get() const { return *f_; }

 private:
  FutureBase* f_;
};

}  // namespace

FutureBase::~FutureBase() = default;

bool FutureBase::cancel(std::string msg) {
  if (done()) return false;
  exception_retrieved_ = true;  // a cancelled future has nothing to report
  finish_cancelled(std::make_exception_ptr(CancelledError(std::move(msg))));
  return true;
}

std::string FutureBase::describe() const {
  switch (state_) {
    case State::kPending:
      return "<Future pending>";
    case State::kCancelled:
      return "<Future cancelled>";
    case State::kFinished:
      return exception_ ? "<Future finished exception>" : "<Future finished>";
  }
  return "<Future>";
}

void FutureBase::check_result() {
  switch (state_) {
    case State::kPending:
      throw InvalidStateError(describe() +
                              ": result is not set yet; await the future (or check done()) "
                              "before asking for its result");
    case State::kCancelled:
      std::rethrow_exception(exception_);
    case State::kFinished:
      if (exception_) {
        exception_retrieved_ = true;
        std::rethrow_exception(exception_);
      }
      return;
  }
}

std::exception_ptr FutureBase::exception() {
  if (state_ == State::kPending) {
    throw InvalidStateError(describe() +
                            ": exception is not set yet; await the future (or check done()) "
                            "before asking for its exception");
  }
  if (state_ == State::kCancelled) std::rethrow_exception(exception_);
  exception_retrieved_ = true;
  return exception_;
}

void FutureBase::check_pending(const char* what) const {
  if (state_ != State::kPending) {
    throw InvalidStateError(std::string(what) + "() on " + describe() +
                            ": a future can be completed only once; check done() first");
  }
}

void FutureBase::finish() {
  state_ = State::kFinished;
  notify_all();
}

void FutureBase::finish_exception(std::exception_ptr e) {
  exception_ = std::move(e);
  state_ = State::kFinished;
  notify_all();
}

void FutureBase::finish_cancelled(std::exception_ptr cancelled_error) {
  exception_ = std::move(cancelled_error);
  state_ = State::kCancelled;
  notify_all();
}

void FutureBase::notify_all() {
  if (TaskBase* w = std::exchange(first_waiter_, nullptr)) w->wake_from_wait();
  if (!callbacks_) return;
  std::unique_ptr<std::vector<Callback>> callbacks = std::move(callbacks_);
  for (Callback& cb : *callbacks) {
    if (cb.waiter) {
      cb.waiter->wake_from_wait();
    } else {
      ref();
      loop_->call_soon(
          [self = PostedRef(this), fn = std::move(cb.fn)]() mutable { fn(self.get()); });
    }
  }
}

uint64_t FutureBase::add_done_callback(DoneCallbackFn fn) {
  static std::atomic<uint64_t> next_id{1};
  uint64_t id = next_id.fetch_add(1, std::memory_order_relaxed);
  if (done()) {
    ref();
    loop_->call_soon([self = PostedRef(this), fn = std::move(fn)]() mutable { fn(self.get()); });
    return id;
  }
  if (!callbacks_) callbacks_ = std::make_unique<std::vector<Callback>>();
  callbacks_->push_back(Callback{id, nullptr, std::move(fn)});
  return id;
}

size_t FutureBase::remove_done_callback(uint64_t id) {
  if (!callbacks_) return 0;
  auto& v = *callbacks_;
  auto it = std::remove_if(v.begin(), v.end(),
                           [id](const Callback& cb) { return !cb.waiter && cb.id == id; });
  size_t n = static_cast<size_t>(v.end() - it);
  v.erase(it, v.end());
  return n;
}

void FutureBase::add_waiter(TaskBase* task) {
  if (!first_waiter_ && !callbacks_) {
    first_waiter_ = task;
    return;
  }
  if (!callbacks_) callbacks_ = std::make_unique<std::vector<Callback>>();
  callbacks_->push_back(Callback{0, task, nullptr});
}

bool FutureBase::remove_waiter(TaskBase* task) {
  if (first_waiter_ == task) {
    first_waiter_ = nullptr;
    return true;
  }
  if (!callbacks_) return false;
  auto& v = *callbacks_;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->waiter == task) {
      v.erase(it);
      return true;
    }
  }
  return false;
}

void FutureBase::on_last_unref() {
  if (state_ != State::kFinished || !exception_ || exception_retrieved_) return;
  ExceptionContext ctx;
  ctx.message = "Future exception was never retrieved";
  ctx.exception = exception_;
  ctx.future = describe();
  if (loop_is_alive(loop_)) {
    loop_->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

}  // namespace weft::internal
