#include "loop/wait.h"

#include <stdexcept>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "loop/event_loop.h"

namespace weft::internal {

std::vector<size_t> first_occurrences(const std::vector<FutureBase*>& fs) {
  std::vector<size_t> keep;
  keep.reserve(fs.size());
  absl::flat_hash_set<FutureBase*> seen;
  seen.reserve(fs.size());
  for (size_t i = 0; i < fs.size(); ++i) {
    if (seen.insert(fs[i]).second) keep.push_back(i);
  }
  return keep;
}

void throw_empty_wait(const char* what) {
  throw std::invalid_argument(std::string(what) +
                              "(): the set of tasks/futures is empty; there is nothing to wait "
                              "for. Check for an empty input before calling it");
}

WaitAwaiter::~WaitAwaiter() { stop(); }

bool WaitAwaiter::await_ready() const {
  size_t done = 0;
  for (FutureBase* f : fs_) {
    if (!f->done()) continue;
    ++done;
    if (ends_wait_early(*f)) return true;
  }
  return done == fs_.size();
}

bool WaitAwaiter::await_suspend(TaskBase& task) {
  task_ = &task;
  // Checked again while registering: a spawned task can finish on another loop after
  // await_ready, and one that is neither watched nor counted would never be reported.
  pending_ = 0;
  bool satisfied = false;
  for (FutureBase* f : fs_) {
    if (!f->done()) {
      watch_.watch(f);
      ++pending_;
    } else if (ends_wait_early(*f)) {
      satisfied = true;
    }
  }
  if (satisfied || pending_ == 0) {
    watch_.stop();
    return false;  // resume at once
  }
  if (timeout_) arm(task.loop(), task.loop()->time() + *timeout_);
  task.set_waiting_on(this);
  return true;
}

void WaitAwaiter::on_done(FutureBase& f, uint32_t) {
  --pending_;
  if (pending_ == 0 || ends_wait_early(f)) {
    finish();
  }
}

void WaitAwaiter::on_expire() { finish(); }

void WaitAwaiter::finish() {
  stop();
  task_->wake_from_wait();
}

void WaitAwaiter::stop() {
  watch_.stop();
  disarm();
}

bool WaitAwaiter::cancel_wait(const std::string& msg) {
  stop();
  task_->request_cancel_delivery(msg);
  task_->wake_from_wait();
  return true;
}

}  // namespace weft::internal
