#include "scheduler/runtime.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_format.h"
#include "loop/async_generator.h"
#include "loop/errors.h"
#include "loop/work_source.h"
#include "scheduler/lifo_slot.h"
#include "scheduler/stealable_queue.h"

namespace weft {

using internal::TaskBase;

// One loop of the Runtime, its thread, its stealable queue, and the WorkSource through
// which the loop asks for migratable work.
//
// Invariants:
// - Only the worker's own thread pushes to `queue_` and to `lifo_`, and pops at the back of
//   `queue_` (take_for_await); any thread may take from the front. The owner takes from the
//   slot with plain accesses, a sibling only by LifoSlot::rescue (its own handshake).
// - A task is in at most one place: a StealableQueue, a LIFO slot, the injection queue, or a
//   loop's ready queue, or it is being run by the loop that took it (also inline, by a task
//   awaiting it). Taking it (CAS, exchange, the slot's handshake or the injection lock) is
//   what transfers it.
//
// The parking protocol (no lost wake-ups). Work a loop may take from a sibling is announced
// in a queue (a StealableQueue's word, the injection queue's size); each worker says whether
// its loop is parked in `park_state_`, a word on its own cache line. Two sides:
// - A pusher writes its queue (seq_cst), then loads `num_searching_` and the siblings'
//   `park_state_` (seq_cst, notify_if_idle). If nobody searches and a sibling is parked, it
//   wakes that one (EventLoop::notify).
// - A loop about to block sets its loop's `parked_` flag, then its `park_state_` (both
//   seq_cst, on_park), then reads every queue (has_work). If it sees work it does not block
//   (with one exception, below: injection work while others search).
//   All of these are in the single total order of seq_cst operations, so either the pusher's
//   load of `park_state_` follows the parker's store (it sees the loop parked, and since
//   `parked_` was set before, notify() writes its eventfd) or the parker's reads follow the
//   push (it sees the work).
// - A pusher wakes nobody while a loop searches. That is safe because a searcher, when it
//   stops, either found nothing (it then goes through the park handshake above, which sees
//   the work) or found some: then stop_searching's RMW on `num_searching_` follows the
//   pusher's load of it (which saw it searching), so the queue reads that follow it
//   (has_work) see the push, and it wakes a parked loop if work is left (Tokio's "the last
//   searcher wakes the next one").
// - A loop that cannot search, because as many loops as may search at once already do, parks
//   even if it sees work in the injection queue (has_work says no; Tokio's workers do the
//   same). It loads `num_searching_` after storing its `park_state_`, so the RMW of the
//   searcher that stops last follows that load, and that searcher's loads (has_work, then
//   `park_state_` in notify_if_idle) see both the work and this loop parked. If that searcher
//   found nothing, it is the one that stays awake: its own park handshake sees the work with
//   nobody searching. Before this rule, the loop that lost the race polled the queues until
//   the searcher was done, and pulled from the injection queue every kInjectionCheckInterval
//   polls, against the searcher's lock: in W1r (an outside thread spawns; 3 threads on 2
//   cores) a futex wait and wake between the loops were 13% of the samples, ~2% after.
//   Together with outside spawns waking nobody while a loop searches (push_spawned, the same
//   handshake as a loop's pushes): W1r 6.98 -> 8.88 M tasks/s, medians of 10, every run of
//   the new code above every run of the old. Work in a sibling's StealableQueue still keeps
//   a loop awake: with the rule for it too, W1r's median was 7.78 M in the same runs, and W2
//   yield_many fell into its slow mode (below 60 M yields/s; one loop runs most of the
//   yields) in 5 of 22 runs, against 2 of 22 without.
// - A loop with nothing visible to steal does not become a searcher at all (find_work looks
//   first, with plain loads): it never suppresses a wake, so nothing depends on it.
// So a park cycle writes only the parking loop's own lines (no read-modify-write on a word
// every loop writes: with a shared parked count, two loops serving sockets passed its cache
// line back and forth twice per park), and a push reads one shared word and each sibling's
// `park_state_`, lines that change only when that sibling parks or searches. The price is
// a scan of the siblings per push: fine for the few loops of a machine like this one; a
// machine with many dozens of cores would want a summary word again.
// - The LIFO slot has a protocol of its own. Its owner runs the slot's task next, unless it
//   blocks its thread instead, and then a sibling must rescue it. A parking loop that sees a
//   sibling's slot occupied notes the sibling's step counter (EventLoop::step_seq) and parks
//   for at most kLifoRescueNs, marked kWatching; once awake it takes the slot's task
//   (LifoSlot::rescue: ~14 us of asymmetric fence, once per rescue, so that the owner's
//   takes cost no locked instruction) if the counter has not moved. A parking loop that sees
//   the slot empty but the owner's awake mark (set by every put, cleared as the owner parks)
//   watches too, without a counter: the owner may fill the slot unannounced, and the next
//   park looks again. Announcing a put, the same Dekker pair as for the queues: the owner
//   exchanges the slot word (seq_cst, which also sets the mark), then loads the siblings'
//   `park_state_` (notify_if_all_parked); the parker stores its `park_state_` (seq_cst), then
//   loads the slot words. Either the owner sees every sibling parked without bound (and wakes
//   one: woken, it finds the slot and watches), or the parker sees the task or the mark (and
//   watches). An announced put that displaces a task loads the park states too, after the
//   queue push that announces the displaced task (and wakes a parked sibling). Once an
//   announced put has seen a sibling that is not parked without bound, the owner's puts are
//   plain stores until it next wakes from a park (`announce_lifo_`; a task they displace is
//   taken the owner's way and goes to the queue, whose push announces it): that sibling's
//   next park follows the load that saw it in the seq_cst order, so it sees the mark, which
//   stays set while the owner is awake. A busy loop that spawns thus costs a parked sibling a
//   wake-up per kLifoRescueNs.
// Thieves never poll a LIFO slot while spinning: a spinning sibling that read the slot each
// time its owner wrote it cost the owner a cache-line transfer per spawn, and stole the task
// the owner was about to run (W4 chained_spawn on 2 loops: one transfer per hop).
class Runtime::Worker final : public internal::WorkSource {
 public:
  Worker(Runtime* rt, size_t index)
      : WorkSource(&rt->shutting_down_),
        rt_(rt),
        index_(index),
        rng_(0x9E3779B9u * (index + 1)) {
    loop_.set_work_source(this);
  }

  EventLoop& loop() { return loop_; }
  Runtime* runtime() const { return rt_; }
  internal::StealableQueue& queue() { return queue_; }
  size_t index() const { return index_; }

  void start() {
    lifo_seen_.assign(rt_->workers_.size(), 0);
    thread_ = std::thread([this] {
      t_worker = this;
      internal::BlockingPoolScope::install_on_this_thread(&rt_->pool_scope_);
      loop_.run_forever();
      t_worker = nullptr;
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // Owner thread: a task spawned here goes to the LIFO slot, so that it runs next, while
  // its creator's data is still in this core's cache (the fork-join case: spawn, then
  // await). The task it displaces goes to the stealable queue, where siblings can take it
  // (and that push wakes a parked sibling). The slot itself is announced only to loops
  // that all sleep without bound (see the parking protocol).
  void push(TaskBase* task) {
    // Plain stores once a handshake since this loop last woke found a sibling not parked
    // without bound (see the parking protocol). The task it displaces is taken the owner's
    // way (no locked instruction) and announced by its queue push.
    if (!announce_lifo_) {
      TaskBase* displaced = lifo_.take();
      lifo_.put_if_empty(task);  // empty now: only this thread puts tasks in
      if (displaced) push_to_queue(displaced);
      return;
    }
    // seq_cst (LifoSlot::push): the LIFO handshake orders this before the load of the idle
    // state.
    if (TaskBase* displaced = lifo_.push(task)) {
      push_to_queue(displaced);  // whose push announces the displaced task
      // This put was announced too (the exchange set the mark): once it has seen a sibling
      // not parked without bound, later puts are plain stores, as after a put into the empty
      // slot. Without this a loop whose slot is never empty (it spawns and runs nothing
      // else) kept exchanging: W1's spawner paid a locked instruction per spawn.
      announce_lifo_ = rt_->workers_.size() > 1 && rt_->all_siblings_parked(this);
    } else {
      announce_lifo_ = rt_->workers_.size() > 1 && rt_->notify_if_all_parked(this);
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
    if (TaskBase* t = lifo_.take()) out.push_back(t);
    lifo_.owner_parking();  // for good: siblings need not watch a stopped loop's slot
    std::array<TaskBase*, internal::StealableQueue::kCapacity> got;
    while (size_t n = queue_.take(got.data(), got.size(), false)) {
      out.insert(out.end(), got.begin(), got.begin() + n);
    }
  }
  bool has_lifo() const { return lifo_.occupied(); }
  bool has_local_work() const override { return has_lifo() || !queue_.empty(); }

  // --- WorkSource ---
  size_t take_local(internal::RunQueue& ready, size_t max) override {
    // Nothing here, and not the turn to look at the injection queue: a loop that runs the
    // tasks it wakes one by one (W3l) takes this path every iteration. Apart from the rest
    // because the rest's frame (the batch array) cost 40 instructions per call.
    if (!has_local_work() && (ticks_ + 1) % kInjectionCheckInterval != 0) {
      ++ticks_;
      lifo_streak_ = 0;
      return 0;
    }
    return take_local_batch(ready, max);
  }

  [[gnu::noinline]] size_t take_local_batch(internal::RunQueue& ready, size_t max) {
    // The LIFO slot first, but not more than kMaxLifoStreak times in a row: two tasks that
    // keep spawning each other must not starve the queue. Past the streak the slot's task
    // runs after a slice of the queue, from the ready queue (not re-queued: that would
    // announce it, and wake a sibling, only for this loop to take it back at once).
    if (TaskBase* t = take_next_spawned()) {
      ready.push_back(t);
      return 1;
    }
    TaskBase* lifo = lifo_.take();
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
    if (lifo) {
      ready.push_back(lifo);
      ++n;
    }
    return n;
  }

  TaskBase* take_next_spawned() override {
    // The same streak as take_local's: at most kMaxLifoStreak LIFO tasks in a row, whether
    // they run in the batch that spawned them or in the next one.
    if (lifo_streak_ >= kMaxLifoStreak) return nullptr;
    TaskBase* t = lifo_.take();
    if (t) ++lifo_streak_;
    return t;
  }

  size_t find_work(internal::RunQueue& ready) override {
    // Look before announcing a search: most of the time an idle loop has nothing to find,
    // and then it costs no write to the shared idle state (see the parking protocol).
    if (!has_work()) return steal_stranded_lifo(ready);
    watched_ = false;  // work to do instead: the rescue waits for the next watching park
    if (!rt_->try_start_searching()) return 0;
    size_t n = steal(ready);
    if (n == 0) {
      std::array<TaskBase*, kSlice> got;
      n = rt_->injection_.pull(got.data(), kSlice);
      bump(injection_pulls_, n);
      for (size_t i = 0; i < n; ++i) ready.push_back(got[i]);
    }
    rt_->stop_searching();
    // We found a batch: if more is waiting, someone else may as well help (and must, if a
    // pusher skipped its wake because we were searching).
    if (n > 0 && has_work()) rt_->notify_if_idle();
    return n;
  }

  // Work this loop should stay awake for: work announced in any StealableQueue (not the
  // LIFO slots), or in the injection queue while this loop could start searching for it.
  // Injection work while the searchers are at their limit is theirs: the last one to stop
  // wakes a parked loop if work is left (the protocol's third point). Plain seq_cst loads, no
  // writes: the parking loop's half of the handshake, and what a spinning loop polls.
  bool has_work() override {
    for (auto& w : rt_->workers_) {
      if (!w->queue_.empty()) return true;
    }
    return !rt_->injection_.empty() &&
           rt_->num_searching_.load(std::memory_order_seq_cst) < rt_->search_limit();
  }

  TaskBase* take_for_await(TaskBase* awaited) override {
    // The LIFO slot only if it holds `awaited`: the slot's task is otherwise the one this
    // loop runs next anyway.
    if (lifo_.take_if(awaited)) return awaited;
    // The back of the queue: what this loop pushed last (the oldest, at the front, are what
    // thieves take). Only unstarted tasks: a woken one goes back where it was.
    TaskBase* task = queue_.pop_back();
    if (task == nullptr || !task->started()) return task;
    queue_.push(task);  // cannot fail: the pop made room, and takers only make more
    return nullptr;
  }

  bool take_awaited(TaskBase* awaited) override {
    if (lifo_.take_if(awaited)) return true;
    return queue_.pop_back_if(awaited);
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
    if (requeues_here()) {
      loop_.schedule(task);
    } else {
      push_to_queue(task);
    }
  }

  bool requeues_here() const override {
    // Relaxed: a hint. A sibling that parks just after this read misses nothing: the task
    // runs here soon, and whatever this loop queues next goes through push_to_queue again.
    return rt_->num_searching_.load(std::memory_order_relaxed) == 0 && !sibling_idle();
  }

  // Whether a sibling is parked (a hint: relaxed loads).
  bool sibling_idle() const {
    for (auto& w : rt_->workers_) {
      if (w.get() != this && w->park_state_.load(std::memory_order_relaxed) != kAwake) {
        return true;
      }
    }
    return false;
  }

  int64_t on_park() override {
    // The parker's half of both handshakes: the store, then the loads (the LIFO slots here,
    // has_work after this returns).
    lifo_.owner_parking();
    park_state_.store(kParked, std::memory_order_seq_cst);
    const size_t n_workers = rt_->workers_.size();
    watched_ = false;
    for (size_t i = 0; i < n_workers; ++i) {
      Worker* w = rt_->workers_[i].get();
      lifo_seen_[i] = 0;
      if (w == this) continue;
      internal::LifoSlot::View slot = w->lifo_.peek();
      if (slot.occupied) {
        lifo_seen_[i] = w->loop_.step_seq() + 1;  // +1: 0 means "not seen"
        watched_ = true;
      } else if (slot.owner_awake) {
        watched_ = true;  // it may fill its slot unannounced: look again after the watch
      }
    }
    if (!watched_) return -1;
    // Relaxed: an owner that misses it wakes this loop needlessly, which is harmless.
    park_state_.store(kWatching, std::memory_order_relaxed);
    return kLifoRescueNs;
  }
  // Relaxed: nothing is published by leaving the parked state. A pusher that still sees this
  // loop as parked wakes it needlessly, which is harmless.
  void on_unpark() override {
    park_state_.store(kAwake, std::memory_order_relaxed);
    announce_lifo_ = true;  // the next put finds out again who is parked
  }
  // Any thread.
  uint8_t park_state() const { return park_state_.load(std::memory_order_seq_cst); }
  static constexpr uint8_t kAwake = 0;
  static constexpr uint8_t kParked = 1;    // without bound
  static constexpr uint8_t kWatching = 2;  // bounded, to rescue a sibling's LIFO task

  LoopStats stats() const {
    LoopStats s;
    EventLoop::Stats l = loop_.stats();
    s.tasks_run = l.items_run;
    s.inline_runs = l.inline_runs;
    s.parks = l.parks;
    s.remote_wakes = l.remote_items;
    s.ready = l.ready;
    s.poll_time = l.poll_time;
    s.sched_delay = l.sched_delay;
    s.steals = steals_.load(std::memory_order_relaxed);
    s.stolen_tasks = stolen_tasks_.load(std::memory_order_relaxed);
    s.stolen_from = stolen_from_.load(std::memory_order_relaxed);
    s.injection_pulls = injection_pulls_.load(std::memory_order_relaxed);
    s.wakes_sent = wakes_sent_.load(std::memory_order_relaxed);
    s.queue_depth = queue_.size();
    return s;
  }

  // Owner thread.
  void count_wake_sent() { bump(wakes_sent_); }

  static thread_local Worker* t_worker;

 private:
  static constexpr size_t kSlice = 32;
  static constexpr uint32_t kMaxLifoStreak = 3;
  static constexpr uint32_t kInjectionCheckInterval = 31;
  // How long a loop parks at most while a sibling's LIFO slot is occupied (1 ms: an idle
  // loop next to a busy one wakes 1,000 times a second, a fraction of a percent of a core).
  static constexpr int64_t kLifoRescueNs = 1'000'000;

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
    return 0;
  }

  // The LIFO rescue (see the parking protocol), after a watching park: takes a sibling's
  // LIFO task if the sibling has not finished a batch since on_park saw its slot occupied.
  size_t steal_stranded_lifo(internal::RunQueue& ready) {
    if (!watched_) return 0;
    watched_ = false;
    size_t n = 0;
    const size_t n_workers = rt_->workers_.size();
    for (size_t i = 0; i < n_workers; ++i) {
      uint64_t seen = std::exchange(lifo_seen_[i], 0);
      if (n > 0 || seen == 0) continue;
      Worker* victim = rt_->workers_[i].get();
      if (victim->loop_.step_seq() + 1 != seen) continue;
      if (TaskBase* t = victim->lifo_.rescue()) {
        victim->stolen_from_.fetch_add(1, std::memory_order_relaxed);
        bump(steals_);
        bump(stolen_tasks_);
        ready.push_back(t);
        n = 1;
      }
    }
    return n;
  }

  // Read-only after construction.
  Runtime* rt_;
  size_t index_;
  // Owner-only (and stats() readers): kept off the lines siblings read or write.
  alignas(64) uint32_t rng_;
  uint32_t ticks_ = 0;
  uint32_t lifo_streak_ = 0;
  // Whether a put into the empty LIFO slot must go through the handshake (an exchange, then
  // the siblings' park states): since this loop last woke, no put has found a sibling that
  // was not parked without bound.
  bool announce_lifo_ = true;
  std::vector<uint64_t> lifo_seen_;  // per sibling: its step_seq() + 1 when its slot was seen
  bool watched_ = false;             // the last park watched a sibling's LIFO slot
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> stolen_tasks_{0};
  std::atomic<uint64_t> injection_pulls_{0};
  std::atomic<uint64_t> wakes_sent_{0};
  std::thread thread_;
  // Written by the owner on every spawn; read by a sibling only on the rescue path.
  internal::LifoSlot lifo_;
  // Written by thieves (fetch_add).
  alignas(64) std::atomic<uint64_t> stolen_from_{0};
  // Written by the owner as it parks and unparks; read by every push of a sibling.
  alignas(64) std::atomic<uint8_t> park_state_{kAwake};
  // Its own lines: head (thieves), tail (owner) and slots.
  internal::StealableQueue queue_;
  alignas(64) EventLoop loop_;
};

thread_local Runtime::Worker* Runtime::Worker::t_worker = nullptr;

namespace {

void run_on_runtime(Coro<void> main, const RunOptions& options) {
  internal::check_no_running_loop("weft::run");
  RuntimeOptions rt_options;
  rt_options.threads = options.threads;
  rt_options.debug = options.debug;
  rt_options.stuck_threshold = options.stuck_threshold;
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

Runtime::Runtime(RuntimeOptions options) : blocking_pool_(options.blocking_pool) {
  size_t n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i));
    EventLoop& loop = workers_.back()->loop();
    loop.set_spin_before_park(options.spin_before_park);
    loop.set_io_coalescing(options.io_coalescing);
    if (options.debug) loop.set_debug(*options.debug);
    if (options.stuck_threshold) loop.set_stuck_threshold(*options.stuck_threshold);
  }
  // Start the threads only once every worker exists: a thief reads workers_.
  for (auto& w : workers_) w->start();
}

Runtime::~Runtime() { shutdown(); }

EventLoop& Runtime::loop(size_t i) {
  if (i >= workers_.size()) {
    throw RuntimeError(absl::StrFormat(
        "Runtime::loop(%d): this Runtime has %d loops; pass an index below num_loops()", i,
        workers_.size()));
  }
  return workers_[i]->loop();
}

Runtime* Runtime::current() noexcept {
  Worker* w = Worker::t_worker;
  return w ? w->runtime() : nullptr;
}

void Runtime::check_may_spawn_while_shutting_down(bool on_own_thread) const {
  // The caller's loop still runs, so shutdown's rounds will see the task (its queues are
  // checked until they are empty).
  if (on_own_thread) return;
  throw RuntimeError(
      "spawn: this Runtime is shutting down and accepts no tasks from outside its loops; "
      "spawn before shutdown() (or on a new Runtime)");
}

void Runtime::check_not_on_loop(const char* what, const char* fix) const {
  Worker* w = Worker::t_worker;
  if (w && w->runtime() == this) {
    throw RuntimeError(absl::StrFormat(
        "Runtime::%s() was called from one of this Runtime's own loops and would wait for "
        "itself: %s",
        what, fix));
  }
}

void internal::throw_spawn_without_loop() {
  throw RuntimeError(
      "weft::spawn: no event loop is running on this thread. Call it from a coroutine or "
      "callback running on a loop (weft::run, Runtime::block_on); from outside a Runtime, "
      "use rt.spawn(coro)");
}

void Runtime::push_spawned(TaskBase* task) {
  Worker* w = Worker::t_worker;
  if (w && w->runtime() == this) {
    w->push(task);  // wakes a sibling if it queues a displaced task
  } else {
    injection_.push(&task, 1);
    notify_if_idle();
  }
}

void Runtime::notify_if_idle() {
  // The pusher's half of the parking handshake (Worker's comment), after the push's
  // seq_cst store.
  if (num_searching_.load(std::memory_order_seq_cst) == 0) notify_one();
}

void Runtime::notify_one() {
  if (Worker* w = parked_sibling(); w && w->loop().notify()) {
    if (Worker* self = Worker::t_worker) self->count_wake_sent();
  }
}

Runtime::Worker* Runtime::parked_sibling() const {
  Worker* self = Worker::t_worker;
  for (auto& w : workers_) {
    if (w.get() != self && w->park_state() != Worker::kAwake) return w.get();
  }
  return nullptr;
}

bool Runtime::all_siblings_parked(Worker* self) const {
  for (auto& w : workers_) {
    if (w.get() != self && w->park_state() != Worker::kParked) return false;
  }
  return true;
}

bool Runtime::notify_if_all_parked(Worker* self) {
  // The owner's half of the LIFO handshake (Worker's comment): wake a sibling only if none
  // is awake, searching or watching, since any of those will find the slot by itself. The
  // siblings first: usually one is awake, and that ends it with one load.
  if (!all_siblings_parked(self)) return false;
  if (num_searching_.load(std::memory_order_seq_cst) == 0) notify_one();
  return true;
}

uint32_t Runtime::search_limit() const {
  // At most half the loops (at least one) search at once: a burst of work should not send
  // every idle loop scanning every queue.
  return std::max<uint32_t>(1, static_cast<uint32_t>(workers_.size() / 2));
}

bool Runtime::try_start_searching() {
  const uint32_t limit = search_limit();
  uint32_t n = num_searching_.load(std::memory_order_relaxed);
  while (n < limit) {
    if (num_searching_.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst,
                                             std::memory_order_relaxed)) {
      return true;
    }
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

std::vector<TaskRef> Runtime::all_tasks(Duration timeout) {
  std::vector<TaskRef> out;
  TimePoint deadline = Clock::now() + timeout;
  for (auto& w : workers_) {
    Duration left = std::max(Duration::zero(), deadline - Clock::now());
    std::vector<TaskRef> part = all_tasks_threadsafe(w->loop(), left);
    for (TaskRef& t : part) out.push_back(std::move(t));
  }
  return out;
}

std::string Runtime::dump_tasks(Duration timeout) {
  std::string out;
  TimePoint deadline = Clock::now() + timeout;
  for (auto& w : workers_) {
    Duration left = std::max(Duration::zero(), deadline - Clock::now());
    out += dump_tasks_threadsafe(w->loop(), left);
  }
  return out;
}

std::string Runtime::stats_text() const {
  std::string out;
  std::vector<LoopStats> all = stats();
  for (size_t i = 0; i < all.size(); ++i) {
    const LoopStats& s = all[i];
    out += absl::StrFormat(
        "loop %d: tasks_run=%d steals=%d stolen_tasks=%d stolen_from=%d parks=%d "
        "remote_wakes=%d wakes_sent=%d injection_pulls=%d queue_depth=%d ready=%d "
        "poll_time: %s; sched_delay (sampled): %s\n",
        i, s.tasks_run, s.steals, s.stolen_tasks, s.stolen_from, s.parks, s.remote_wakes,
        s.wakes_sent, s.injection_pulls, s.queue_depth, s.ready, s.poll_time.summary(),
        s.sched_delay.summary());
  }
  return out;
}

void Runtime::shutdown() {
  check_not_on_loop("shutdown",
                    "shut the Runtime down from a thread outside it (e.g. after block_on "
                    "returns), or return from the coroutine block_on runs and let ~Runtime "
                    "do it");
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
  // asyncio's shutdown_asyncgens, on each loop's own thread: the generators still suspended
  // mid-iteration run their cleanup (they are registered with the loop that first ran them).
  {
    // On this stack: the last callback's set() is what lets wait() return.
    Latch closed;
    std::atomic<size_t> left{workers_.size()};
    for (auto& w : workers_) {
      EventLoop* loop = &w->loop();
      loop->call_soon_threadsafe([loop, &left, &closed] {
        Task<void> t = loop->create_task(internal::shutdown_async_generators(*loop),
                                         "asyncgen-shutdown");
        t.add_done_callback([&left, &closed](Task<void>&) {
          if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) closed.set();
        });
      });
    }
    closed.wait();
  }
  // The loops still run: a call that hands work to one of them (call_soon_threadsafe,
  // run_coroutine_threadsafe(...).get()) finishes.
  blocking_pool_.shutdown(/*wait=*/true);

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
  while (size_t n = injection_.pull(got.data(), got.size())) {
    left.insert(left.end(), got.begin(), got.begin() + n);
  }
  for (TaskBase* t : left) t->discard();
  for (auto& w : workers_) w->loop().close();
  shut_down_ = true;
}

}  // namespace weft
