#include "scheduler/runtime.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_format.h"
#include "loop/errors.h"
#include "loop/work_source.h"
#include "scheduler/stealable_queue.h"

namespace weft {

using internal::TaskBase;

// One loop of the Runtime, its thread, its stealable queue, and the WorkSource through
// which the loop asks for migratable work.
//
// Invariants:
// - Only the worker's own thread pushes to `queue`; any thread may take from it.
// - A task is in at most one place: a StealableQueue, the injection queue, or a loop's
//   ready queue. Taking it (CAS or the injection lock) is what transfers it.
// - The parking handshake. A loop about to block sets its `parked` flag and increments
//   num_parked_, then calls has_work(), which reads every queue. A pusher writes its queue,
//   then reads num_parked_ / num_searching_. All four are sequentially consistent, so either
//   the parking loop sees the work, or the pusher sees the parked loop and notifies it.
// - A pusher wakes nobody while a loop is searching: the searcher will reach the new work
//   or, giving up, go through the handshake above, which sees it.
class Runtime::Worker final : public internal::WorkSource {
 public:
  Worker(Runtime* rt, size_t index) : rt_(rt), index_(index), rng_(0x9E3779B9u * (index + 1)) {
    loop_.set_work_source(this);
  }

  EventLoop& loop() { return loop_; }
  Runtime* runtime() const { return rt_; }
  internal::StealableQueue& queue() { return queue_; }
  size_t index() const { return index_; }

  void start() {
    thread_ = std::thread([this] {
      t_worker = this;
      loop_.run_forever();
      t_worker = nullptr;
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // Owner thread: a task spawned here goes to the LIFO slot, so that it runs next, while
  // its creator's data is still in this core's cache (the fork-join case: spawn, then
  // await). The task it displaces goes to the stealable queue, where siblings can take it.
  // The slot itself can be stolen too (as a last resort), so that a loop that blocks its
  // thread cannot strand the task in it.
  void push(TaskBase* task) {
    if (TaskBase* displaced = lifo_.exchange(task, std::memory_order_seq_cst)) {
      push_to_queue(displaced);
    }
  }

  // Owner thread: queue a task where siblings can steal it, moving half the queue to the
  // injection queue when full; then wake a parked sibling if nobody is searching.
  void push_to_queue(TaskBase* task) {
    if (!queue_.push(task)) {
      std::array<TaskBase*, internal::StealableQueue::kCapacity / 2 + 1> batch;
      size_t n = queue_.take(batch.data(), batch.size() - 1, /*half=*/true);
      batch[n++] = task;
      rt_->injection_.push(batch.data(), n);
    }
    rt_->notify_if_idle();
  }

  // Owner thread, after the loop stopped: everything still queued here, for discarding.
  void drain(std::vector<TaskBase*>& out) {
    if (TaskBase* t = lifo_.exchange(nullptr)) out.push_back(t);
    std::array<TaskBase*, internal::StealableQueue::kCapacity> got;
    while (size_t n = queue_.take(got.data(), got.size(), false)) {
      out.insert(out.end(), got.begin(), got.begin() + n);
    }
  }
  bool has_lifo() const { return lifo_.load(std::memory_order_seq_cst) != nullptr; }

  // --- WorkSource ---
  size_t take_local(internal::RunQueue& ready, size_t max) override {
    // The LIFO slot first, but not more than kMaxLifoStreak times in a row: two tasks that
    // keep spawning each other must not starve the queue.
    if (has_lifo()) {
      if (TaskBase* t = lifo_.exchange(nullptr, std::memory_order_acq_rel)) {
        if (lifo_streak_ < kMaxLifoStreak) {
          ++lifo_streak_;
          ready.push_back(t);
          return 1;
        }
        push_to_queue(t);
      }
    }
    lifo_streak_ = 0;
    std::array<TaskBase*, kSlice> got;
    size_t n = 0;
    // Every so often look at the injection queue first, so it cannot starve behind a loop
    // that always has local work.
    if (++ticks_ % kInjectionCheckInterval == 0) {
      n = rt_->injection_.pull(got.data(), std::min<size_t>(kSlice, max));
      bump(injection_pulls_, n);
    }
    if (n < kSlice) n += queue_.take(got.data() + n, std::min<size_t>(kSlice, max) - n, false);
    for (size_t i = 0; i < n; ++i) ready.push_back(got[i]);
    return n;
  }

  size_t find_work(internal::RunQueue& ready) override {
    if (!rt_->try_start_searching()) return 0;
    size_t n = steal(ready);
    if (n == 0) {
      std::array<TaskBase*, kSlice> got;
      n = rt_->injection_.pull(got.data(), kSlice);
      bump(injection_pulls_, n);
      for (size_t i = 0; i < n; ++i) ready.push_back(got[i]);
    }
    rt_->stop_searching();
    // We found a batch: if more is waiting, someone else may as well help.
    if (n > 0 && has_work()) rt_->notify_if_idle();
    return n;
  }

  bool has_work() override {
    if (!rt_->injection_.empty()) return true;
    for (auto& w : rt_->workers_) {
      if (!w->queue_.empty() || w->has_lifo()) return true;
    }
    return false;
  }

  void push_woken(TaskBase* task) override {
    Worker* w = t_worker;
    if (w && w->rt_ == rt_) {
      w->push_to_queue(task);
    } else {
      rt_->injection_.push(&task, 1);
      rt_->notify_one();
    }
  }

  void push_requeued(TaskBase* task) override {
    // Relaxed: a hint. A sibling that parks just after this read misses nothing: the task
    // runs here soon, and whatever this loop queues next goes through push_to_queue again.
    if (rt_->num_parked_.load(std::memory_order_relaxed) == 0 &&
        rt_->num_searching_.load(std::memory_order_relaxed) == 0) {
      loop_.schedule(task);
    } else {
      push_to_queue(task);
    }
  }

  void on_park() override { rt_->num_parked_.fetch_add(1, std::memory_order_seq_cst); }
  void on_unpark() override { rt_->num_parked_.fetch_sub(1, std::memory_order_seq_cst); }
  bool shutting_down() const override { return rt_->shutting_down(); }

  LoopStats stats() const {
    LoopStats s;
    EventLoop::Stats l = loop_.stats();
    s.tasks_run = l.items_run;
    s.parks = l.parks;
    s.remote_wakes = l.remote_items;
    s.ready = l.ready;
    s.steals = steals_.load(std::memory_order_relaxed);
    s.stolen_tasks = stolen_tasks_.load(std::memory_order_relaxed);
    s.stolen_from = stolen_from_.load(std::memory_order_relaxed);
    s.injection_pulls = injection_pulls_.load(std::memory_order_relaxed);
    s.queue_depth = queue_.size();
    return s;
  }

  static thread_local Worker* t_worker;

 private:
  static constexpr size_t kSlice = 32;
  static constexpr uint32_t kMaxLifoStreak = 3;
  static constexpr uint32_t kInjectionCheckInterval = 31;

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    if (n) c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  // Takes half of one sibling's queue, trying each sibling once from a random start.
  size_t steal(internal::RunQueue& ready) {
    const size_t n_workers = rt_->workers_.size();
    if (n_workers < 2) return 0;
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    size_t start = rng_ % n_workers;
    std::array<TaskBase*, internal::StealableQueue::kCapacity / 2> got;
    for (size_t i = 0; i < n_workers; ++i) {
      Worker* victim = rt_->workers_[(start + i) % n_workers].get();
      if (victim == this) continue;
      size_t n = victim->queue_.take(got.data(), got.size(), /*half=*/true);
      if (n == 0) continue;
      victim->stolen_from_.fetch_add(n, std::memory_order_relaxed);
      bump(steals_);
      bump(stolen_tasks_, n);
      for (size_t k = 0; k < n; ++k) ready.push_back(got[k]);
      return n;
    }
    // Last resort: a sibling's LIFO slot (its owner may be blocked).
    for (size_t i = 0; i < n_workers; ++i) {
      Worker* victim = rt_->workers_[(start + i) % n_workers].get();
      if (victim == this || !victim->has_lifo()) continue;
      if (TaskBase* t = victim->lifo_.exchange(nullptr, std::memory_order_acq_rel)) {
        victim->stolen_from_.fetch_add(1, std::memory_order_relaxed);
        bump(steals_);
        bump(stolen_tasks_);
        ready.push_back(t);
        return 1;
      }
    }
    return 0;
  }

  Runtime* rt_;
  size_t index_;
  EventLoop loop_;
  internal::StealableQueue queue_;
  std::thread thread_;
  uint32_t rng_;
  uint32_t ticks_ = 0;
  std::atomic<TaskBase*> lifo_{nullptr};  // owner pushes; owner or thieves take
  uint32_t lifo_streak_ = 0;
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> stolen_tasks_{0};
  std::atomic<uint64_t> stolen_from_{0};  // written by thieves: fetch_add
  std::atomic<uint64_t> injection_pulls_{0};
};

thread_local Runtime::Worker* Runtime::Worker::t_worker = nullptr;

namespace {

void run_on_runtime(Coro<void> main, const RunOptions& options) {
  internal::check_no_running_loop("weft::run");
  RuntimeOptions rt_options;
  rt_options.threads = options.threads;
  rt_options.debug = options.debug;
  Runtime rt(rt_options);
  rt.block_on(std::move(main));
}

// weft::run(coro, {.threads = N}) lives in loop/, which cannot depend on scheduler/: this
// registers the multi-loop runner at start-up (the library is alwayslink).
const bool g_registered = [] {
  internal::set_multi_loop_runner(&run_on_runtime);
  return true;
}();

}  // namespace

Runtime::Runtime(RuntimeOptions options) {
  size_t n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i));
    EventLoop& loop = workers_.back()->loop();
    loop.set_spin_before_park(options.spin_before_park);
    if (options.debug) loop.set_debug(*options.debug);
  }
  // Start the threads only once every worker exists: a thief reads workers_.
  for (auto& w : workers_) w->start();
}

Runtime::~Runtime() { shutdown(); }

EventLoop& Runtime::loop(size_t i) {
  if (i >= workers_.size()) {
    throw RuntimeError(absl::StrFormat("Runtime::loop(%d): this Runtime has %d loops", i,
                                       workers_.size()));
  }
  return workers_[i]->loop();
}

Runtime* Runtime::current() noexcept {
  Worker* w = Worker::t_worker;
  return w ? w->runtime() : nullptr;
}

void Runtime::check_not_on_loop(const char* what) const {
  Worker* w = Worker::t_worker;
  if (w && w->runtime() == this) {
    throw RuntimeError(absl::StrFormat(
        "Runtime::%s() was called from one of this Runtime's own loops and would wait for "
        "itself: from inside the Runtime, await the coroutine (or spawn it) instead",
        what));
  }
}

void Runtime::push_spawned(TaskBase* task) {
  Worker* w = Worker::t_worker;
  if (w && w->runtime() == this) {
    w->push(task);
    notify_if_idle();
  } else {
    injection_.push(&task, 1);
    notify_one();
  }
}

void Runtime::notify_if_idle() {
  // See the parking handshake in Worker's comment.
  if (num_searching_.load(std::memory_order_seq_cst) == 0 &&
      num_parked_.load(std::memory_order_seq_cst) > 0) {
    notify_one();
  }
}

void Runtime::notify_one() {
  Worker* self = Worker::t_worker;
  for (auto& w : workers_) {
    if (w.get() != self && w->loop().parked()) {
      w->loop().notify();
      return;
    }
  }
}

bool Runtime::try_start_searching() {
  // At most half the loops (at least one) search at once: a burst of work should not send
  // every idle loop scanning every queue.
  int limit = std::max<int>(1, static_cast<int>(workers_.size()) / 2);
  int n = num_searching_.load(std::memory_order_relaxed);
  while (n < limit) {
    if (num_searching_.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

void Runtime::stop_searching() { num_searching_.fetch_sub(1, std::memory_order_seq_cst); }

std::vector<Runtime::LoopStats> Runtime::stats() const {
  std::vector<LoopStats> out;
  out.reserve(workers_.size());
  for (auto& w : workers_) out.push_back(w->stats());
  return out;
}

std::string Runtime::stats_text() const {
  std::string out;
  std::vector<LoopStats> all = stats();
  for (size_t i = 0; i < all.size(); ++i) {
    const LoopStats& s = all[i];
    out += absl::StrFormat(
        "loop %d: tasks_run=%d steals=%d stolen_tasks=%d stolen_from=%d parks=%d "
        "remote_wakes=%d injection_pulls=%d queue_depth=%d ready=%d\n",
        i, s.tasks_run, s.steals, s.stolen_tasks, s.stolen_from, s.parks, s.remote_wakes,
        s.injection_pulls, s.queue_depth, s.ready);
  }
  return out;
}

void Runtime::shutdown() {
  check_not_on_loop("shutdown");
  std::lock_guard<std::mutex> guard(shutdown_mu_);
  if (shut_down_) return;
  shutting_down_.store(true, std::memory_order_release);

  // Rounds: each loop cancels the tasks it holds and answers once all of them are done.
  // Tasks created meanwhile (cleanup code may spawn) are caught by the next round; spawned
  // tasks that never started are cancelled at their first step (TaskBase::start).
  for (;;) {
    struct Round {
      std::mutex mu;
      std::condition_variable cv;
      size_t replies = 0;
      size_t tasks_seen = 0;
    };
    auto round = std::make_shared<Round>();
    auto reply = [round](size_t seen) {
      std::lock_guard<std::mutex> lock(round->mu);
      round->tasks_seen += seen;
      ++round->replies;
      round->cv.notify_all();
    };
    for (auto& w : workers_) {
      EventLoop* loop = &w->loop();
      Worker* worker = w.get();
      loop->call_soon_threadsafe([loop, worker, reply] {
        std::vector<TaskBase*> tasks = loop->pending_tasks_snapshot();
        if (tasks.empty()) {
          // Work not started yet still counts: it will start (and be cancelled) soon.
          reply(worker->has_lifo() || loop->num_ready() > 0 ? 1 : 0);
          return;
        }
        auto left = std::make_shared<size_t>(tasks.size());
        size_t seen = tasks.size();
        for (TaskBase* t : tasks) {
          t->cancel("the Runtime is shutting down");
          t->add_done_callback([left, reply, seen](internal::FutureBase&) {
            if (--*left == 0) reply(seen);
          });
          t->unref();
        }
      });
    }
    std::unique_lock<std::mutex> lock(round->mu);
    round->cv.wait(lock, [&] { return round->replies == workers_.size(); });
    bool queues_empty = injection_.empty();
    for (auto& w : workers_) queues_empty = queues_empty && w->queue().empty();
    if (round->tasks_seen == 0 && queues_empty) break;
  }

  for (auto& w : workers_) {
    EventLoop* loop = &w->loop();
    loop->call_soon_threadsafe([loop] { loop->stop(); });
  }
  for (auto& w : workers_) w->join();
  // Nothing should be left; whatever is (a task that ignored the shutdown) is dropped and
  // reported rather than leaked.
  std::vector<TaskBase*> left;
  for (auto& w : workers_) w->drain(left);
  std::array<TaskBase*, 64> got;
  while (size_t n = injection_.pull(got.data(), got.size())) left.insert(left.end(), got.begin(), got.begin() + n);
  for (TaskBase* t : left) t->discard();
  for (auto& w : workers_) w->loop().close();
  shut_down_ = true;
}

}  // namespace weft
