// EventLoop's checked batch: debug mode's slow-callback report and shuffle mode. Kept out of
// event_loop.cc's hot path: run_once comes here only when one of the two is on.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "loop/creation_site.h"
#include "loop/event_loop.h"
#include "loop/task_base.h"

namespace weft {
namespace internal {
namespace {

// splitmix64: small state, good enough to permute a batch.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::optional<uint64_t> shuffle_seed_from_environment() {
  static const std::optional<uint64_t> seed = []() -> std::optional<uint64_t> {
    const char* v = std::getenv("WEFT_SHUFFLE");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return std::nullopt;
    uint64_t s = 0;
    if (std::strcmp(v, "1") == 0 || std::strcmp(v, "random") == 0 || !absl::SimpleAtoi(v, &s)) {
      s = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    }
    std::fprintf(stderr, "weft: shuffle mode, seed %llu (replay with WEFT_SHUFFLE=%llu)\n",
                 static_cast<unsigned long long>(s), static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

}  // namespace internal

using internal::Runnable;
using internal::TaskBase;

void EventLoop::set_debug(bool enabled) {
  if (enabled != debug_) internal::count_debug_loop(enabled ? 1 : -1);
  debug_ = enabled;
  checked_batch_ = debug_ || shuffle_;
}

void EventLoop::enable_shuffle(uint64_t seed) {
  shuffle_ = true;
  checked_batch_ = true;
  shuffle_state_ = seed;
}

void EventLoop::run_batch_checked(size_t n) {
  if (shuffle_) shuffle_task_steps(n);
  while (n-- > 0) {
    Runnable* r = ready_.pop_front();
    if (debug_) {
      run_timed(r);
    } else {
      r->run();
    }
  }
}

void EventLoop::shuffle_task_steps(size_t n) {
  // The first n items leave the queue and come back to its front in the same places, except
  // that the task steps among them are permuted (Fisher-Yates).
  std::vector<Runnable*> batch(n);
  std::vector<size_t> task_slots;
  for (size_t i = 0; i < n; ++i) {
    batch[i] = ready_.pop_front();
    if (dynamic_cast<TaskBase*>(batch[i]) != nullptr) task_slots.push_back(i);
  }
  for (size_t i = task_slots.size(); i > 1; --i) {
    size_t j = internal::next_random(shuffle_state_) % i;
    std::swap(batch[task_slots[i - 1]], batch[task_slots[j]]);
  }
  for (size_t i = n; i > 0; --i) ready_.push_front(batch[i - 1]);
}

void EventLoop::run_timed(Runnable* r) {
  // Only what is needed is kept before the item runs; the text is made only for a slow one.
  // After its step a task may be gone (its last step) or, if spawned, running on another
  // loop: it is held by a reference, and its name read from the immutable TaskName it had
  // before the step (task_name.h). A callback's site is copied out (the node goes when it
  // has run).
  TaskBase* task = dynamic_cast<TaskBase*>(r);
  const internal::TaskName* name = nullptr;
  internal::CallSite handle_site;
  bool has_handle_site = false;
  if (task) {
    task->ref();
    name = task->name_object();
  } else if (auto* node = dynamic_cast<internal::CallbackNode*>(r)) {
    if (const internal::CallSite* site = node->creation_site()) {
      handle_site = *site;
      has_handle_site = true;
    }
  }
  TimePoint start = Clock::now();
  r->run();
  Duration took = Clock::now() - start;
  if (took >= slow_callback_duration_) {
    double secs = std::chrono::duration<double>(took).count();
    ExceptionContext ctx;
    if (task) {
      const internal::CoroSite& site = task->site();
      ctx.task = name ? name->text : absl::StrFormat("Task-%d", task->id());
      // The state it was in while the step ran.
      ctx.future = absl::StrFormat("<Task pending name='%s' coro=%s() at %s:%d%s>", ctx.task,
                                   site.function, site.file, site.line, task->created_at());
      ctx.source = site.to_string();
    } else if (has_handle_site) {
      ctx.handle = "<Handle created at " + handle_site.to_string() + ">";
      ctx.source = handle_site.to_string();
    } else {
      ctx.handle = "<Handle>";
    }
    ctx.message = absl::StrFormat("Executing %s took %.3f seconds",
                                  task ? ctx.future : ctx.handle, secs);
    call_exception_handler(ctx);
  }
  if (task) task->unref();
}

}  // namespace weft
