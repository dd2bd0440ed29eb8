#include "scheduler/runtime.h"
#include "tests/sanitizers.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <set>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "scheduler/to_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

constexpr int kScale = test_env::kSanitizerSlowdown;

Coro<int> answer() { co_return 42; }

// Coroutine lambdas must not capture: the closure is a temporary that dies before the
// coroutine runs. These helpers take what they need as parameters instead.
Coro<void> bump(std::atomic<long>& count) {
  count.fetch_add(1, std::memory_order_relaxed);
  co_return;
}

Coro<int> bump_and_return(std::atomic<int>& count, int x) {
  count.fetch_add(1);
  co_return x;
}

struct StealProbe {
  std::atomic<int> ran{0};
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::thread::id> threads;
  int expected = 0;
};

Coro<void> record_thread(StealProbe& p) {
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.threads.insert(std::this_thread::get_id());
  }
  if (p.ran.fetch_add(1) + 1 == p.expected) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.cv.notify_all();
  }
  co_return;
}

// Holds loops' threads in a callback until release() (or the destructor): what is pushed to
// those loops meanwhile waits in their queues. Declared after the Runtime, it lets the loops
// go before the Runtime shuts down.
class LoopHold {
 public:
  ~LoopHold() { release(); }
  // Returns once `loop` runs the holding callback.
  void hold(EventLoop& loop) {
    std::unique_lock<std::mutex> lock(mu_);
    const int holding = ++posted_;
    loop.call_soon_threadsafe([this] {
      std::unique_lock<std::mutex> lock(mu_);
      ++holding_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    });
    cv_.wait(lock, [&] { return holding_ == holding; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int posted_ = 0;
  int holding_ = 0;
  bool released_ = false;
};

// What `f` raised as a RuntimeError, or a note that it raised none.
template <class F>
std::string runtime_error_of(F f) {
  try {
    f();
  } catch (const RuntimeError& e) {
    return e.what();
  }
  return "(no RuntimeError)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RuntimeTest, BlockOnReturnsTheResult) {
  Runtime rt({.threads = 2});
  EXPECT_EQ(rt.num_loops(), 2u);
  EXPECT_EQ(rt.block_on(answer()), 42);
  EXPECT_EQ(rt.block_on(answer()), 42);
}

TEST(RuntimeTest, RunWithThreadsUsesARuntime) {
  auto main = []() -> Coro<bool> { co_return Runtime::current() != nullptr; };
  EXPECT_TRUE(run(main(), {.threads = 2}));
  EXPECT_FALSE(run(main()));
}

TEST(RuntimeTest, BlockOnRethrows) {
  Runtime rt({.threads = 2});
  auto boom = []() -> Coro<void> {
    co_await sleep(0s);
    throw std::runtime_error("boom");
  };
  EXPECT_THROW(rt.block_on(boom()), std::runtime_error);
}

TEST(RuntimeTest, SpawnedTasksAreAwaitedAcrossLoops) {
  Runtime rt({.threads = 2});
  auto main = []() -> Coro<long> {
    std::vector<Task<long>> tasks;
    for (long i = 0; i < 1000; ++i) {
      tasks.push_back(spawn([](long x) -> Coro<long> {
        co_await sleep(0s);
        co_return x * 2;
      }(i)));
    }
    long sum = 0;
    for (auto& t : tasks) sum += co_await t;
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(main()), 999L * 1000L);
}

// The loop that spawns blocks its thread; the other loops must steal every task. Its queue
// overflows into the injection queue, and with 3 and 4 loops only one and two of them may
// search at once: while only injection work is left, the rest park although they see it, and
// the last searcher to stop must wake one while work is left. The last task stays in the
// blocked loop's LIFO slot, put there with a plain store once a put saw a sibling awake (the
// first one, into the empty slot, or one of those that displaced a task): a sibling that
// parks sees the owner's awake mark and rescues it.
TEST(RuntimeTest, IdleLoopStealsFromABlockedLoop) {
  for (size_t threads : {2, 3, 4}) {
    SCOPED_TRACE(threads);
    Runtime rt({.threads = threads});
    constexpr int kTasks = 10000;
    StealProbe probe;
    probe.expected = kTasks;
    auto main = [&]() -> Coro<std::thread::id> {
      for (int i = 0; i < kTasks; ++i) spawn(record_thread(probe));
      // Block this loop's thread (deliberately, for the test) until all have run elsewhere.
      std::unique_lock<std::mutex> lock(probe.mu);
      probe.cv.wait(lock, [&] { return probe.ran.load() == kTasks; });
      co_return std::this_thread::get_id();
    };
    std::thread::id main_thread = rt.block_on(main());
    EXPECT_EQ(probe.ran.load(), kTasks);
    EXPECT_EQ(probe.threads.count(main_thread), 0u);
    uint64_t taken = 0;
    for (const auto& s : rt.stats()) taken += s.steals + s.injection_pulls;
    EXPECT_GT(taken, 0u) << rt.stats_text();
  }
}

// The LIFO rescue: a loop spawns ONE task (it goes to the loop's LIFO slot, which siblings
// do not poll) and then blocks its thread until that task has run. A sibling must take it,
// however many loops there are and whether they were parked or not when it was spawned.
TEST(RuntimeTest, ALoopThatBlocksAfterOneSpawnHasItsTaskRescued) {
  for (size_t threads : {2u, 4u}) {
    for (int round = 0; round < 20; ++round) {
      Runtime rt({.threads = threads});
      StealProbe probe;
      probe.expected = 1;
      auto main = [&]() -> Coro<std::thread::id> {
        // Half the rounds let the siblings park first (their spin is short), half do not.
        if (round % 2 == 0) co_await sleep(1ms);
        spawn(record_thread(probe));
        std::unique_lock<std::mutex> lock(probe.mu);
        probe.cv.wait(lock, [&] { return probe.ran.load() == 1; });
        co_return std::this_thread::get_id();
      };
      std::thread::id main_thread = rt.block_on(main());
      ASSERT_EQ(probe.ran.load(), 1);
      EXPECT_EQ(probe.threads.count(main_thread), 0u) << threads << " loops, round " << round;
    }
  }
}

// The same, when the task goes into the slot with a plain store: the loop has already put
// tasks there since it last woke and found a sibling awake, so it no longer announces them
// (LifoSlot::put_if_empty). A sibling that parks sees the owner's awake mark and watches.
// Failing, the task is stranded: the wait gives up after 10 s instead of hanging.
Coro<void> no_op() { co_return; }

uint64_t total_parks(Runtime& rt) {
  uint64_t parks = 0;
  for (const auto& s : rt.stats()) parks += s.parks;
  return parks;
}

TEST(RuntimeTest, ALoopThatBlocksAfterAnUnannouncedSpawnHasItsTaskRescued) {
  for (size_t threads : {2u, 3u}) {
    for (int round = 0; round < 10; ++round) {
      Runtime rt({.threads = threads});
      StealProbe probe;
      probe.expected = 1;
      auto main = [&]() -> Coro<bool> {
        if (round % 2 == 0) co_await sleep(1ms);
        // Puts and takes without parking in between: the first puts wake a sibling, and once
        // one is seen awake the puts stop announcing.
        for (int i = 0; i < 4; ++i) {
          spawn(no_op());
          co_await sleep(0s);
        }
        // Let a sibling park while the slot is empty (this loop's own loop cannot park: this
        // step holds it), so that only the awake mark can make it watch.
        uint64_t parks_before = total_parks(rt);
        while (total_parks(rt) == parks_before) std::this_thread::yield();
        spawn(record_thread(probe));
        std::unique_lock<std::mutex> lock(probe.mu);
        co_return probe.cv.wait_for(lock, 10s, [&] { return probe.ran.load() == 1; });
      };
      ASSERT_TRUE(rt.block_on(main())) << threads << " loops, round " << round
                                       << ": the task was never rescued";
    }
  }
}

// A chain of tasks each spawning the next runs from the LIFO slot of one loop: an idle
// sibling must not take the hops one by one (it did, when it polled the slot while spinning).
// Only the rescue may move a hop, and only when the owner was off the CPU for a millisecond.
Coro<void> chain_hop(long left, std::atomic<long>& done) {
  if (left == 0) {
    done.store(1);
    co_return;
  }
  spawn(chain_hop(left - 1, done));
}

TEST(RuntimeTest, AChainOfSpawnsStaysOnItsLoop) {
  Runtime rt({.threads = 2});
  const long kHops = 20000 / kScale;
  std::atomic<long> done{0};
  auto main = [&]() -> Coro<void> {
    spawn(chain_hop(kHops, done));
    while (done.load() == 0) co_await sleep(0ms);
  };
  rt.block_on(main());
  uint64_t stolen = 0;
  for (const auto& s : rt.stats()) stolen += s.stolen_tasks;
  // Each rescue needs the owner descheduled for 1 ms: a handful at most on a loaded machine.
  EXPECT_LT(stolen, static_cast<uint64_t>(kHops / 20)) << rt.stats_text();
}

// A spawned task runs in the batch whose step spawned it (no loop iteration per hop of a
// chain), but the LIFO streak still bounds how many run in a row: a task waiting in the
// loop's ready queue gets its turn every few hops, however long the chain.
Coro<void> hop_until(long limit, long& hops) {
  if (++hops < limit) spawn(hop_until(limit, hops));
  co_return;
}

TEST(RuntimeTest, AChainOfSpawnsLetsTheLoopsOtherWorkIn) {
  Runtime rt({.threads = 1});
  const long kLimit = 100000;
  long hops = 0;
  std::vector<long> gaps;
  rt.block_on([](long limit, long& hops, std::vector<long>& gaps) -> Coro<void> {
    spawn(hop_until(limit, hops));
    for (int i = 0; i < 200 && hops < limit; ++i) {
      long before = hops;
      co_await sleep(0s);  // back of the loop's ready queue
      gaps.push_back(hops - before);
    }
  }(kLimit, hops, gaps));
  ASSERT_FALSE(gaps.empty());
  // Unbounded, the first gap would be the whole chain.
  EXPECT_LE(*std::max_element(gaps.begin(), gaps.end()), 8) << "hops " << hops;
}

// A rally of spawns through the LIFO slot: each hop spawns the next (to the slot, the same as
// two tasks that keep spawning each other), until a task queued in the loop's stealable
// queue has run.
struct LifoRally {
  long limit = 0;
  long hops = 0;
  long hops_when_queued_ran = -1;
};

Coro<void> rally(LifoRally& r) {
  if (++r.hops < r.limit && r.hops_when_queued_ran < 0) spawn(rally(r));
  co_return;
}

Coro<void> note_hops(LifoRally& r, Future<void> ran) {
  r.hops_when_queued_ran = r.hops;
  ran.set_result();
  co_return;
}

// The same guard against a task waiting in the loop's stealable queue: the LIFO streak
// (kMaxLifoStreak) ends the rally's run every few hops, and the queue's turn comes. One loop,
// so no sibling can steal the queued task instead.
TEST(RuntimeTest, AChainOfSpawnsLetsTheLoopsQueuedTaskIn) {
  Runtime rt({.threads = 1});
  LifoRally r;
  r.limit = 100000;
  auto main = [&]() -> Coro<void> {
    Future<void> ran = EventLoop::current().create_future<void>();
    spawn(note_hops(r, ran));  // into the LIFO slot...
    spawn(rally(r));           // ...from which this displaces it into the queue
    EXPECT_EQ(rt.stats()[0].queue_depth, 1u);
    co_await ran;
  };
  rt.block_on(main());
  ASSERT_GE(r.hops_when_queued_ran, 0);
  // Unbounded, the rally would run all its hops first.
  EXPECT_LE(r.hops_when_queued_ran, 8) << "the queued task waited for " << r.hops_when_queued_ran
                                       << " hops of a chain of spawns (of " << r.limit << ")";
}

TEST(RuntimeTest, PinnedTasksStayOnTheirLoop) {
  Runtime rt({.threads = 2});
  auto main = []() -> Coro<bool> {
    std::thread::id home = std::this_thread::get_id();
    std::vector<Task<bool>> tasks;
    for (int i = 0; i < 200; ++i) {
      tasks.push_back(create_task([](std::thread::id h) -> Coro<bool> {
        bool same = true;
        for (int k = 0; k < 10; ++k) {
          co_await sleep(0s);
          same = same && std::this_thread::get_id() == h;
        }
        co_return same;
      }(home)));
    }
    // Keep the other loop hungry: spawn work too, so it searches.
    for (int i = 0; i < 200; ++i) spawn([]() -> Coro<void> { co_await sleep(0s); }());
    bool all = true;
    for (auto& t : tasks) all = all && co_await t;
    co_return all;
  };
  EXPECT_TRUE(rt.block_on(main()));
}

TEST(RuntimeTest, AwaitAFutureOfAnotherLoop) {
  Runtime rt({.threads = 2});
  EventLoop& other = rt.loop(1);
  auto main = [&]() -> Coro<int> {
    // Create the future on loop 1, await it here on loop 0, complete it on loop 1.
    Future<int> f;
    std::mutex mu;
    std::condition_variable cv;
    bool created = false;
    other.call_soon_threadsafe([&] {
      std::lock_guard<std::mutex> lock(mu);
      f = other.create_future<int>();
      created = true;
      cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return created; });
    }
    Future<int> copy = f;
    other.call_soon_threadsafe([copy]() mutable { copy.set_result(7); });
    int v = co_await f;
    co_return v;
  };
  EXPECT_EQ(rt.block_on(main()), 7);
}

TEST(RuntimeTest, CancelASpawnedTaskFromAnotherLoop) {
  Runtime rt({.threads = 2});
  auto main = []() -> Coro<bool> {
    std::atomic<bool> started{false};
    std::atomic<bool> cleaned{false};
    Task<void> t = spawn([](std::atomic<bool>& s, std::atomic<bool>& c) -> Coro<void> {
      try {
        s = true;
        co_await sleep(1h);
      } catch (const CancelledError&) {
        c = true;
        throw;
      }
    }(started, cleaned));
    // Cancel once it runs (a task cancelled before its first step never runs its handler);
    // the other loop may take any time to start it.
    while (!started.load()) co_await sleep(0s);
    t.cancel("stop");
    try {
      co_await t;
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "stop");
    }
    co_return t.cancelled() && cleaned.load();
  };
  EXPECT_TRUE(rt.block_on(main()));
}

// A spawned task that yields where no sibling could take it (here: it has none) goes back to
// its loop's ready queue without leaving its step state (TaskBase::end_step_spawned). It
// still takes turns with the loop's other tasks, and a cancel() from another task of the
// loop is delivered at its very next resumption, once.
Coro<int> yield_until_cancelled(std::vector<int>& log, int id) {
  int steps = 0;
  try {
    for (;;) {
      log.push_back(id);
      ++steps;
      co_await sleep(0s);
    }
  } catch (const CancelledError&) {
  }
  co_await sleep(0s);  // clean-up may yield too
  co_return steps;
}

TEST(RuntimeTest, AYieldKeptOnItsLoopTakesTurnsAndTakesACancelAtItsNextResumption) {
  Runtime rt({.threads = 1});
  auto main = []() -> Coro<void> {
    std::vector<int> log;
    Task<int> a = spawn(yield_until_cancelled(log, 1));
    Task<int> b = spawn(yield_until_cancelled(log, 2));
    while (log.size() < 20) co_await sleep(0s);
    a.cancel("a");
    b.cancel("b");
    const auto ran = [&log](int id) { return std::count(log.begin(), log.end(), id); };
    const long a_steps = ran(1), b_steps = ran(2);
    EXPECT_EQ(co_await a, a_steps);  // no step after the cancel reached the loop body
    EXPECT_EQ(co_await b, b_steps);
    EXPECT_FALSE(a.cancelled());  // each swallowed its cancellation
    // Turns: once both are in the ready queue, neither runs twice in a row. (Before that a
    // task may: `a` waits in the stealable queue, read once the ready queue is empty.)
    size_t both = std::find(log.begin(), log.end(), log[0] == 1 ? 2 : 1) - log.begin();
    EXPECT_LT(both, log.size());
    for (size_t i = both + 1; i < log.size(); ++i) EXPECT_NE(log[i], log[i - 1]) << "at " << i;
  };
  rt.block_on(main());
}

TEST(RuntimeTest, CancelBeforeStartNeverRuns) {
  // One loop, busy running main: the spawned task cannot start before the cancel.
  Runtime rt({.threads = 1});
  auto main = []() -> Coro<bool> {
    std::atomic<bool> ran{false};
    Task<void> t = spawn([](std::atomic<bool>& r) -> Coro<void> {
      r = true;
      co_return;
    }(ran));
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
    co_return t.cancelled() && !ran.load();
  };
  EXPECT_TRUE(rt.block_on(main()));
}

// Two pinned tasks on different loops bounce a token through futures: every wake crosses
// threads; none may be lost or delivered twice.
TEST(RuntimeTest, CrossThreadPingPong) {
  Runtime rt({.threads = 2});
  const int rounds = 20000 / kScale;
  struct Channel {
    std::mutex mu;
    Future<int> slot;
  };
  auto main = [&]() -> Coro<int> {
    EventLoop& here = EventLoop::current();
    EventLoop& there = rt.loop(1);
    int got = 0;
    for (int i = 0; i < rounds; ++i) {
      Future<int> reply = here.create_future<int>();
      there.call_soon_threadsafe([&here, reply, i]() mutable {
        // Runs on loop 1; answer on loop 0.
        here.call_soon_threadsafe([reply, i]() mutable { reply.set_result(i); });
      });
      got += (co_await reply == i);
    }
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), rounds);
}

// A task on loop 0 suspends; its handle (the task's waker) is resumed on loop 1, which
// wakes the task back on loop 0: one cross-thread callback and one cross-thread task wake
// per await.
struct ResumeOnOtherLoop {
  EventLoop* other;
  std::atomic<long>* suspends;
  std::atomic<long>* resumes;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspends->fetch_add(1, std::memory_order_relaxed);
    other->call_soon_threadsafe([h] { h.resume(); });
  }
  void await_resume() const noexcept { resumes->fetch_add(1, std::memory_order_relaxed); }
};

Coro<long> bounce(EventLoop* other, long rounds, std::atomic<long>* suspends,
                  std::atomic<long>* resumes) {
  std::thread::id home = std::this_thread::get_id();
  long ok = 0;
  for (long i = 0; i < rounds; ++i) {
    co_await ResumeOnOtherLoop{other, suspends, resumes};
    ok += std::this_thread::get_id() == home;
  }
  co_return ok;
}

// A million cross-thread handoffs (half of them task wakes): none lost (every task
// finishes), none delivered twice (resumes == suspends), all on the task's own thread.
TEST(RuntimeTest, AMillionCrossThreadHandoffs) {
  Runtime rt({.threads = 2});
  constexpr long kTasks = 100;
  const long rounds = 5000 / kScale;
  std::atomic<long> suspends{0}, resumes{0};
  auto main = [&]() -> Coro<long> {
    std::vector<Task<long>> tasks;
    for (long i = 0; i < kTasks; ++i) {
      tasks.push_back(create_task(bounce(&rt.loop(1), rounds, &suspends, &resumes)));
    }
    long ok = 0;
    for (auto& t : tasks) ok += co_await t;
    co_return ok;
  };
  EXPECT_EQ(rt.block_on(main()), kTasks * rounds);
  EXPECT_EQ(suspends.load(), kTasks * rounds);
  EXPECT_EQ(resumes.load(), kTasks * rounds);
}

// What a task on loop 0 gets from a future of loop 1: a sequence number, and the future to
// await next, made on loop 1 by the callback that completes this one.
struct WakeStep {
  uint32_t seq = 0;
  Future<WakeStep> next;
};

// One task's line of futures.
struct WakeLine {
  Future<WakeStep> first;             // made on loop 1 before the task starts
  uint32_t sent = 0;                  // loop 1 only: the next sequence number
  std::vector<uint32_t> got;          // the task only: the numbers it resumed with, in order
  std::atomic<uint32_t> received{0};  // got.size(), for a report from another thread
  std::string error;                  // what the task raised, if it failed
};

struct WakeTest {
  std::vector<WakeLine> lines;
  std::atomic<size_t> tasks_left;
  std::promise<void> all_done;
  explicit WakeTest(size_t tasks) : lines(tasks), tasks_left(tasks) {}
};

// On loop 1: completes `f` with the line's next number and a new future for the next round.
void send_wake(EventLoop& far, WakeLine& line, Future<WakeStep> f) {
  f.set_result(WakeStep{line.sent++, far.create_future<WakeStep>()});
}

// A pinned task: `rounds` times, waits for a future of `far` that `far` completes.
Coro<void> receive_wakes(EventLoop& far, WakeTest& test, WakeLine& line, uint32_t rounds) {
  EventLoop& here = EventLoop::current();
  Future<WakeStep> f = std::move(line.first);
  try {
    for (uint32_t i = 0; i < rounds; ++i) {
      // The request leaves from a callback of this loop, which runs once this step has
      // suspended on `f`: it reaches `far` behind the registration of this task as f's waiter
      // (posted from this thread too, and a loop's inbox keeps each sender's order). So `f`
      // completes only while the task waits, and every round is a wake sent from far's thread.
      here.call_soon([&far, &line, f] {
        far.call_soon_threadsafe([&far, &line, f] { send_wake(far, line, f); });
      });
      // A wake delivered again once the task waits on the next future resumes it with that
      // future pending: result() raises InvalidStateError.
      WakeStep step = co_await f;
      line.got.push_back(step.seq);
      line.received.store(static_cast<uint32_t>(line.got.size()), std::memory_order_relaxed);
      f = std::move(step.next);
    }
  } catch (const std::exception& e) {
    line.error = e.what();
  }
  if (test.tasks_left.fetch_sub(1) == 1) test.all_done.set_value();
}

// A million task wakes cross from loop 1 to tasks pinned on loop 0 (awaiting futures of loop
// 1): none is lost (every task gets all of its rounds) and none is delivered twice or runs a
// step twice (each task resumes with exactly 0, 1, ..., rounds - 1, in order).
//
// A lost wake fails the test with a message after a bound instead of hanging. Not with
// wait_for inside the Runtime: it cancels what timed out and waits for it to finish, which
// a task whose wake was lost never does (it is not woken for the cancellation either: the
// future it waits on is done), and neither does the Runtime's shutdown. So the test thread
// waits with a timeout, and on failure leaks the Runtime and what its loops use.
TEST(RuntimeTest, AMillionCrossThreadTaskWakesAreEachDeliveredOnce) {
  constexpr size_t kTasks = 100;
  const uint32_t rounds = 10000 / kScale;
  auto test = std::make_unique<WakeTest>(kTasks);
  auto rt = std::make_unique<Runtime>(RuntimeOptions{.threads = 2});
  EventLoop& near = rt->loop(0);
  EventLoop& far = rt->loop(1);
  far.call_soon_threadsafe([&near, &far, &test = *test, rounds] {
    for (WakeLine& line : test.lines) line.first = far.create_future<WakeStep>();
    near.call_soon_threadsafe([&far, &test, rounds] {
      for (WakeLine& line : test.lines) {
        (void)create_task(receive_wakes(far, test, line, rounds));
      }
    });
  });
  // The timeout only bounds a failing test.
  if (test->all_done.get_future().wait_for(60s) != std::future_status::ready) {
    std::string stuck;
    for (size_t k = 0; k < kTasks; ++k) {
      uint32_t n = test->lines[k].received.load(std::memory_order_relaxed);
      if (n < rounds) stuck += " task " + std::to_string(k) + ": " + std::to_string(n) + ";";
    }
    ADD_FAILURE() << "wakes lost; wakes received (of " << rounds << "):" << stuck;
    (void)rt.release();
    (void)test.release();
    return;
  }
  for (size_t k = 0; k < kTasks; ++k) {
    const std::vector<uint32_t>& got = test->lines[k].got;
    ASSERT_EQ(test->lines[k].error, "") << "task " << k << " failed after " << got.size()
                                        << " wakes";
    ASSERT_EQ(got.size(), rounds) << "task " << k;
    for (uint32_t i = 0; i < rounds; ++i) {
      ASSERT_EQ(got[i], i) << "task " << k << " resumed with wake " << got[i] << " in round " << i;
    }
  }
  EXPECT_GE(rt->stats()[0].remote_wakes, uint64_t{kTasks} * rounds);
}

Coro<void> mark(std::atomic<uint8_t>& slot) {
  slot.fetch_add(1, std::memory_order_relaxed);
  co_return;
}

struct StormTest {
  std::vector<std::atomic<uint8_t>> slots;  // one per spawned task: how many times it ran
  std::barrier<> start;
  std::atomic<size_t> storms_left;
  std::promise<void> all_done;
  StormTest(size_t loops, size_t per_loop)
      : slots(loops * per_loop), start(static_cast<std::ptrdiff_t>(loops)), storms_left(loops) {}
};

// One loop's storm: once every loop's storm is ready, spawns a task per slot of its share
// (each marks its own) and awaits them all.
Coro<void> storm_from_here(StormTest& test, size_t first, size_t n) {
  test.start.arrive_and_wait();  // blocks this loop's thread (deliberately) until all are here
  std::vector<Task<void>> tasks;
  tasks.reserve(n);
  for (size_t i = first; i < first + n; ++i) tasks.push_back(spawn(mark(test.slots[i])));
  for (auto& t : tasks) co_await t;
  if (test.storms_left.fetch_sub(1) == 1) test.all_done.set_value();
}

// A storm of spawns starts on every loop at the same moment (a task pinned to each, released
// together by a barrier): the loops push, overflow into the injection queue and steal from
// each other all at once. Every task runs exactly once: each marks its own slot. A lost task
// fails the test after a bound (its storm never finishes; the Runtime, which would wait for
// it forever, is leaked then, as in the test above).
TEST(RuntimeTest, SpawnStormFromEveryLoop) {
  for (size_t threads : {2, 3, 4}) {
    SCOPED_TRACE(threads);
    const size_t per_loop = 20000 / kScale;
    auto test = std::make_unique<StormTest>(threads, per_loop);
    auto rt = std::make_unique<Runtime>(RuntimeOptions{.threads = threads});
    for (size_t i = 0; i < threads; ++i) {
      rt->loop(i).call_soon_threadsafe([&test = *test, i, per_loop] {
        (void)create_task(storm_from_here(test, i * per_loop, per_loop));
      });
    }
    // The timeout only bounds a failing test.
    if (test->all_done.get_future().wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << test->storms_left.load() << " storms never finished\n"
                    << rt->stats_text();
      (void)rt.release();
      (void)test.release();
      return;
    }
    size_t wrong = 0;
    for (size_t k = 0; k < test->slots.size(); ++k) {
      int runs = test->slots[k].load();
      if (runs != 1 && wrong++ < 10) ADD_FAILURE() << "task " << k << " ran " << runs << " times";
    }
    EXPECT_EQ(wrong, 0u) << "tasks that did not run exactly once";
  }
}

TEST(RuntimeTest, SpawnFromOutsideGoesThroughInjection) {
  Runtime rt({.threads = 2});
  std::atomic<int> count{0};
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 1000; ++i) {
    tasks.push_back(rt.spawn(bump_and_return(count, i)));
  }
  auto main = [&]() -> Coro<long> {
    long sum = 0;
    for (auto& t : tasks) sum += co_await t;
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(main()), 999L * 1000L / 2);
  EXPECT_EQ(count.load(), 1000);
}

Coro<void> record_order(std::vector<int>& order, int i) {
  order.push_back(i);
  co_return;
}

// Tasks spawned from outside the Runtime start in the order they were spawned (the injection
// queue is FIFO across the batches its pullers take).
TEST(RuntimeTest, SpawnsFromOutsideStartInOrder) {
  Runtime rt({.threads = 1});
  std::vector<int> order;  // touched only by the one loop
  // Hold the loop so that every spawn below waits in the injection queue.
  LoopHold hold;
  hold.hold(rt.loop(0));
  constexpr int kTasks = 1000;
  std::vector<Task<void>> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(rt.spawn(record_order(order, i)));
  hold.release();
  auto main = [&]() -> Coro<void> {
    for (auto& t : tasks) co_await t;
  };
  rt.block_on(main());
  ASSERT_EQ(order.size(), size_t{kTasks});
  for (int i = 0; i < kTasks; ++i) ASSERT_EQ(order[i], i) << "task " << i << " started out of order";
}

Coro<void> set_flag(std::atomic<bool>& flag) {
  flag.store(true);
  co_return;
}

// A loop that always has work of its own still takes from the injection queue every
// kInjectionCheckInterval turns. One loop, whose main task never lets it run dry (so it never
// looks for work elsewhere): each turn it yields to the ready queue and spawns two tasks,
// the first displaced from the LIFO slot into its stealable queue. A task spawned from
// outside the Runtime waits in the injection queue, and only its run ends the busy loop. The
// loop's turns after the spawn are counted: starved, the test fails after 100,000 of them
// (the queue's turn comes every 31) instead of hanging.
TEST(RuntimeTest, TheInjectionQueueIsNotStarvedByALoopThatAlwaysHasLocalWork) {
  Runtime rt({.threads = 1});
  constexpr long kBound = 100000;
  std::atomic<long> turns{0};
  std::atomic<bool> injected{false}, ran{false};
  auto main = [&]() -> Coro<long> {
    long turns_since_injected = 0;
    while (!ran.load()) {
      if (injected.load() && ++turns_since_injected > kBound) break;
      spawn(no_op());
      spawn(no_op());
      turns.fetch_add(1);
      co_await sleep(0s);
    }
    co_return turns_since_injected;
  };
  std::thread outsider([&] {
    while (turns.load() < 100) std::this_thread::yield();  // the busy loop is under way
    (void)rt.spawn(set_flag(ran));
    injected.store(true);
  });
  long turns_since_injected = rt.block_on(main());
  outsider.join();
  EXPECT_LE(turns_since_injected, 100)
      << "turns of a loop that always had local work before it ran the task waiting in the "
         "injection queue (its turn comes every 31; starved, the loop gives up after "
      << kBound << ")";
  EXPECT_GE(rt.stats()[0].injection_pulls, 1u);
}

void concurrent_spawns_from_outside_run_once_each(size_t threads) {
  Runtime rt({.threads = threads});
  constexpr int kThreads = 4;
  const int per_thread = 20000 / kScale;
  std::vector<std::atomic<long>> runs(kThreads * per_thread);
  std::vector<std::vector<Task<void>>> tasks(kThreads);
  std::vector<std::thread> spawners;
  for (int t = 0; t < kThreads; ++t) {
    spawners.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        tasks[t].push_back(rt.spawn(bump(runs[t * per_thread + i])));
      }
    });
  }
  for (auto& s : spawners) s.join();
  auto main = [&]() -> Coro<void> {
    for (auto& list : tasks) {
      for (auto& task : list) co_await task;
    }
  };
  rt.block_on(main());
  for (size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i].load(), 1) << "task " << i;
}

// Several threads outside the Runtime spawn at once while the loops pull: every task runs
// exactly once. With 3 loops, one may search at a time: the others park although they see
// the injection queue's work, and are woken by the searcher that leaves work behind.
TEST(RuntimeTest, ConcurrentSpawnsFromOutsideRunOnceEach) {
  for (size_t threads : {2, 3}) {
    SCOPED_TRACE(threads);
    concurrent_spawns_from_outside_run_once_each(threads);
  }
}

// A spawned task nobody else holds a handle to starts and completes without its lock
// (TaskBase::only_this_thread_reaches). Here the handles are used and dropped on a plain
// thread while the loops start and complete their tasks: a cancel accepted before the task
// ran ends it cancelled (one that reached a running task may arrive after its last step: then
// it finished), every done callback runs exactly once with the task done, and no task runs
// twice. A start or completion that skipped the lock while a handle was in use
// loses callbacks here (the wait below then fails), and under TSan is a reported race.
TEST(RuntimeTest, HandlesUsedAndDroppedWhileTheirTasksStart) {
  Runtime rt({.threads = 2});
  const int n = 30000 / kScale;
  std::vector<std::atomic<long>> runs(n);
  // Per task: 0 no callback yet, 1 finished, 2 cancelled; 3 and up: a callback ran twice.
  std::vector<std::atomic<int>> outcome(n);
  std::vector<char> cancel_accepted(n, 0);
  std::mutex mu;
  std::condition_variable cv;
  int callbacks_left = 0;
  for (int i = 0; i < n; ++i) {
    // Thirds: cancelled and watched, watched, dropped at once.
    Task<void> t = rt.spawn(bump(runs[i]));
    if (i % 3 == 0) cancel_accepted[i] = t.cancel();
    if (i % 3 != 2) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++callbacks_left;
      }
      t.add_done_callback([&, i](Task<void>& done) {
        outcome[i].fetch_add(done.cancelled() ? 2 : 1);
        std::lock_guard<std::mutex> lock(mu);
        if (--callbacks_left == 0) cv.notify_all();
      });
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    // The timeout only bounds a failing test.
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return callbacks_left == 0; }))
        << callbacks_left << " done callbacks never ran";
  }
  for (int i = 0; i < n; ++i) {
    ASSERT_LE(runs[i].load(), 1) << "task " << i;
    if (i % 3 == 2) continue;
    // bump() has no suspension point: a cancel either precedes its only step (it never runs
    // and ends cancelled) or arrives after it (it finished).
    if (runs[i].load() == 0) {
      ASSERT_TRUE(cancel_accepted[i]) << "task " << i << " never ran";
      ASSERT_EQ(outcome[i].load(), 2) << "task " << i << ": cancelled before it ran, yet not";
    } else {
      ASSERT_EQ(outcome[i].load(), 1) << "task " << i;
    }
  }
}

Coro<void> log_name(std::vector<std::string>& log, std::string name) {
  log.push_back(std::move(name));
  co_return;
}

// A loop's own queued migratable work gets its turn at the next step even while the ready
// queue keeps refilling itself one item at a time (a small batch goes on with what it made
// ready only while the loop's queue and LIFO slot are empty: EventLoop::run_batch_extension).
TEST(RuntimeTest, QueuedSpawnedTasksRunBetweenTheLinksOfACallbackChain) {
  Runtime rt({.threads = 1});
  std::vector<std::string> log;  // loop thread only, until `done`
  std::promise<void> done;
  std::function<void(int)> link = [&](int i) {
    log.push_back(std::to_string(i));
    if (i == 0) {
      spawn(log_name(log, "a"));  // displaced from the LIFO slot by b: queued
      spawn(log_name(log, "b"));
    }
    if (i + 1 < 50) {
      EventLoop::current().call_soon([&link, i] { link(i + 1); });
    } else {
      done.set_value();
    }
  };
  rt.loop(0).call_soon_threadsafe([&] { link(0); });
  done.get_future().wait();
  ASSERT_EQ(log.size(), 52u);
  EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 4),
            (std::vector<std::string>{"0", "b", "1", "a"}));
}

TEST(RuntimeTest, ShutdownCancelsPendingTasksAndRunsCleanup) {
  std::atomic<int> cleaned{0};
  {
    Runtime rt({.threads = 2});
    std::atomic<int> started{0};
    auto main = [&]() -> Coro<void> {
      for (int i = 0; i < 50; ++i) {
        spawn([](std::atomic<int>& s, std::atomic<int>& c) -> Coro<void> {
          bool cancelled = false;
          try {
            s.fetch_add(1);
            co_await sleep(1h);
          } catch (const CancelledError&) {
            cancelled = true;
          }
          if (cancelled) {
            co_await sleep(0s);  // cleanup may await
            c.fetch_add(1);
            throw CancelledError();
          }
        }(started, cleaned));
      }
      // Every task has started (one cancelled before its first step never runs its
      // cleanup), whatever time the loops take to pick them up.
      while (started.load() < 50) co_await sleep(0s);
    };
    rt.block_on(main());
  }
  EXPECT_EQ(cleaned.load(), 50);
}

int count_dir(const char* path) {
  int n = 0;
  if (DIR* d = opendir(path)) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

// Each Runtime spawns, and makes a blocking call (which starts a thread of its pool): its
// loops' threads and its pool's are joined, and its file descriptors closed, by ~Runtime.
TEST(RuntimeTest, StartAndStopRepeatedlyLeaksNothing) {
  int fds = count_dir("/proc/self/fd");
  int threads = count_dir("/proc/self/task");
  auto work = []() -> Coro<int> {
    Task<int> spawned = spawn(answer());
    int one = co_await to_thread([] { return 1; });
    co_return co_await spawned + one - 1;
  };
  for (int i = 0; i < 1000 / kScale; ++i) {
    Runtime rt({.threads = 2});
    EXPECT_EQ(rt.block_on(work()), 42);
  }
  EXPECT_EQ(count_dir("/proc/self/fd"), fds);
  EXPECT_EQ(count_dir("/proc/self/task"), threads);
}

// The Runtime's pool serves to_thread on every loop, and its shutdown waits for a call still
// running while the loops run: the call can still hand work to a loop.
TEST(RuntimeTest, ShutdownWaitsForBlockingCallsWhileTheLoopsRun) {
  std::atomic<int> got{0};
  {
    Runtime rt({.threads = 2});
    auto main = [&]() -> Coro<void> {
      EXPECT_EQ(&current_blocking_pool(), &rt.blocking_pool());
      Runtime* r = &rt;
      // Dropped: the call runs on, awaited by nobody.
      (void)to_thread([&got, r] {
        // Until the Runtime has begun shutting its pool down (bounded: main returns at once
        // and the destructor follows).
        while (!r->blocking_pool().is_shut_down()) std::this_thread::yield();
        got = run_coroutine_threadsafe(answer(), r->loop(1)).get();
      });
      co_return;
    };
    rt.block_on(main());
  }
  EXPECT_EQ(got.load(), 42);
}

// Cleanup code that spawns while the Runtime shuts down gets a task that ends cancelled
// without running (as under Tokio), not an exception at the spawn; from outside the Runtime,
// a spawn after shutdown() raises.
TEST(RuntimeTest, SpawnDuringShutdownGivesATaskCancelledBeforeItRuns) {
  std::atomic<bool> child_ran{false};
  std::atomic<int> outcome{0};  // 1: CancelledError from the child, 2: something else
  auto child = [&]() -> Coro<int> {
    child_ran = true;
    co_return 1;
  };
  std::atomic<bool> started{false};
  auto waits_forever = [&]() -> Coro<void> {
    started = true;
    bool cancelled = false;
    try {
      co_await sleep(std::chrono::hours(1));
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (!cancelled) co_return;
    try {
      co_await spawn(child());  // the cleanup
      outcome = 2;
    } catch (const CancelledError&) {
      outcome = 1;
    } catch (...) {
      outcome = 2;
    }
    throw CancelledError("cleaned up");
  };
  auto rt = std::make_unique<Runtime>(RuntimeOptions{.threads = 2});
  auto start = [&]() -> Coro<void> {
    (void)create_task(waits_forever());
    co_await sleep(0s);  // it runs first, up to its sleep (FIFO)
  };
  rt->block_on(start());
  ASSERT_TRUE(started.load());
  rt->shutdown();
  EXPECT_EQ(outcome.load(), 1);
  EXPECT_FALSE(child_ran.load());
  try {
    (void)rt->spawn(child());
    ADD_FAILURE() << "spawn after shutdown did not raise";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("shutting down"), std::string::npos) << e.what();
  }
}

// A generator left suspended mid-iteration runs its cleanup (which awaits) at the Runtime's
// shutdown, on its loop, as asyncio's shutdown_asyncgens does.
TEST(RuntimeTest, ShutdownClosesAbandonedAsyncGenerators) {
  std::vector<std::string> log;  // written on loop 0 only
  std::unique_ptr<AsyncGenerator<int>> kept;
  auto make = [](std::vector<std::string>* log) -> AsyncGenerator<int> {
    try {
      co_yield 1;
      co_yield 2;
    } catch (const GeneratorExit&) {
      log->push_back("closing");
    }
    co_await sleep(0s);  // cleanup that awaits
    log->push_back("cleaned up");
  };
  {
    Runtime rt({.threads = 2});
    auto main = [&]() -> Coro<int> {
      kept = std::make_unique<AsyncGenerator<int>>(make(&log));
      co_return *co_await kept->next();
    };
    EXPECT_EQ(rt.block_on(main()), 1);
    log.push_back("shutting down");
  }
  EXPECT_EQ(log, (std::vector<std::string>{"shutting down", "closing", "cleaned up"}));
  EXPECT_TRUE(kept->done());
}

TEST(RuntimeTest, BlockOnFromALoopRaises) {
  Runtime rt({.threads = 2});
  auto main = [&]() -> Coro<bool> {
    try {
      rt.block_on(answer());
    } catch (const RuntimeError& e) {
      co_return std::string(e.what()).find("await") != std::string::npos;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(main()));
}

// The counters agree with each other and with what ran. Loop 0 spawns while its siblings are
// held, so its tasks wait in its queue (queue_depth) and LIFO slot; then it blocks until the
// siblings, released, have run them all: every task was stolen from loop 0 (stolen_from)
// by one of them (stolen_tasks), the LIFO one by the rescue. Fewer tasks than a queue holds:
// none overflows to the injection queue.
TEST(RuntimeTest, TheCountersAddUp) {
  for (size_t threads : {2, 3}) {
    SCOPED_TRACE(threads);
    Runtime rt({.threads = threads});
    constexpr int kTasks = 200;
    StealProbe probe;
    probe.expected = kTasks;
    LoopHold hold;
    for (size_t i = 1; i < threads; ++i) hold.hold(rt.loop(i));
    Runtime::LoopStats held;
    auto main = [&]() -> Coro<void> {
      for (int i = 0; i < kTasks; ++i) spawn(record_thread(probe));
      held = rt.stats()[0];
      hold.release();
      // Block this loop's thread (deliberately) until all have run elsewhere.
      std::unique_lock<std::mutex> lock(probe.mu);
      probe.cv.wait(lock, [&] { return probe.ran.load() == kTasks; });
      co_return;
    };
    rt.block_on(main());
    // The last task spawned is in the LIFO slot, the others in the queue.
    EXPECT_EQ(held.queue_depth, size_t{kTasks - 1});
    std::vector<Runtime::LoopStats> s = rt.stats();
    uint64_t stolen = 0, pulled = 0, run_by_thieves = 0;
    for (size_t i = 1; i < threads; ++i) {
      stolen += s[i].stolen_tasks;
      pulled += s[i].injection_pulls;
      run_by_thieves += s[i].tasks_run;
      EXPECT_EQ(s[i].stolen_from, 0u) << "loop " << i;
    }
    EXPECT_EQ(s[0].stolen_from, stolen) << rt.stats_text();
    EXPECT_EQ(stolen, uint64_t{kTasks}) << rt.stats_text();
    EXPECT_EQ(pulled, 0u);
    EXPECT_EQ(s[0].stolen_tasks, 0u);
    // Each task's one step, and each sibling's holding callback.
    EXPECT_GE(run_by_thieves, kTasks + threads - 1) << rt.stats_text();
    for (size_t i = 0; i < threads; ++i) EXPECT_EQ(s[i].queue_depth, 0u) << "loop " << i;

    // Callbacks from a plain thread arrive through the loop's inbox: remote wakes.
    constexpr int kCalls = 1000;
    const uint64_t remote_before = s[1].remote_wakes;
    std::atomic<int> calls{0};
    std::promise<void> called;
    for (int i = 0; i < kCalls; ++i) {
      rt.loop(1).call_soon_threadsafe([&] {
        if (calls.fetch_add(1) + 1 == kCalls) called.set_value();
      });
    }
    called.get_future().wait();
    EXPECT_GE(rt.stats()[1].remote_wakes, remote_before + kCalls);
  }
}

// Each misuse raises RuntimeError saying what happened and what to do instead.
TEST(RuntimeTest, MisuseRaisesRuntimeErrorsThatSayWhatToDo) {
  std::string msg = runtime_error_of([] { (void)spawn(answer()); });
  EXPECT_TRUE(contains(msg, "no event loop is running")) << msg;
  EXPECT_TRUE(contains(msg, "use rt.spawn(coro)")) << msg;

  Runtime rt({.threads = 2});
  msg = runtime_error_of([&] { rt.loop(2); });
  EXPECT_TRUE(contains(msg, "Runtime::loop(2): this Runtime has 2 loops")) << msg;
  EXPECT_TRUE(contains(msg, "pass an index below num_loops()")) << msg;

  auto main = [&]() -> Coro<std::string> { co_return runtime_error_of([&] { rt.shutdown(); }); };
  msg = rt.block_on(main());
  EXPECT_TRUE(contains(msg, "Runtime::shutdown() was called from one of this Runtime's own loops"))
      << msg;
  EXPECT_TRUE(contains(msg, "shut the Runtime down from a thread outside it")) << msg;
  EXPECT_EQ(rt.block_on(answer()), 42);  // the failed shutdown changed nothing

  rt.shutdown();
  msg = runtime_error_of([&] { (void)rt.spawn(answer()); });
  EXPECT_TRUE(contains(msg, "shutting down and accepts no tasks from outside")) << msg;
  EXPECT_TRUE(contains(msg, "spawn before shutdown() (or on a new Runtime)")) << msg;
  msg = runtime_error_of([&] { rt.block_on(answer()); });
  EXPECT_TRUE(contains(msg, "this Runtime is shut down")) << msg;
  EXPECT_TRUE(contains(msg, "create a new Runtime")) << msg;
}

}  // namespace
}  // namespace weft
