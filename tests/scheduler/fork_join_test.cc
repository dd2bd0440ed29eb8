// Awaiting a spawned task that has not started runs it at once on the awaiting loop
// (TaskBase::run_awaited_inline): the order it gives, its bounds, and fork-join trees on
// several loops.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/sanitizers.h"

namespace weft {
namespace {

constexpr int kFibN = test_env::kUnderSanitizer ? 16 : 20;  // sanitizers are ~10x slower

uint64_t inline_runs(Runtime& rt) {
  uint64_t n = 0;
  for (const auto& s : rt.stats()) n += s.inline_runs;
  return n;
}

Coro<int> logged(std::vector<int>& log, int i) {
  log.push_back(i);
  co_return i;
}

// One loop, so that the order is the scheduler's alone.
Coro<void> spawn_two_await_first(std::vector<int>& log) {
  Task<int> a = spawn(logged(log, 1));
  Task<int> b = spawn(logged(log, 2));
  EXPECT_EQ(co_await a, 1);
  // `a` ran inside this step, before `b` (which the loop would have run first: the task
  // spawned last sits in the loop's LIFO slot).
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_EQ(co_await b, 2);
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

TEST(ForkJoinTest, AwaitingAnUnstartedChildRunsItAtOnce) {
  Runtime rt({.threads = 1});
  std::vector<int> log;
  rt.block_on(spawn_two_await_first(log));
  EXPECT_EQ(inline_runs(rt), 2u);
}

Coro<void> spawn_five_await_in_order(std::vector<int>& log) {
  std::vector<Task<int>> children;
  for (int i = 0; i < 5; ++i) children.push_back(spawn(logged(log, i)));
  int sum = 0;
  for (auto& c : children) sum += co_await c;
  EXPECT_EQ(sum, 0 + 1 + 2 + 3 + 4);
}

TEST(ForkJoinTest, AwaitingTheOldestChildRunsTheNewerOnesFirst) {
  // Children 0-3 are in the loop's queue and 4 in its LIFO slot. Awaiting 0 takes the
  // queue's newest first (3, 2, 1, then 0), as a oneTBB task_group::wait would; 4 runs when
  // it is awaited. A depth-first order: each child's own children would run before the next.
  Runtime rt({.threads = 1});
  std::vector<int> log;
  rt.block_on(spawn_five_await_in_order(log));
  EXPECT_EQ(log, (std::vector<int>{3, 2, 1, 0, 4}));
}

Coro<void> note_thread(std::thread::id& where) {
  where = std::this_thread::get_id();
  co_return;
}

Coro<bool> child_runs_on_awaiting_thread() {
  std::thread::id child;
  Task<void> t = spawn(note_thread(child));
  co_await t;
  co_return child == std::this_thread::get_id();
}

TEST(ForkJoinTest, TheChildRunsOnTheAwaitingLoop) {
  Runtime rt({.threads = 2});
  // Awaited at once, the child is still in this loop's LIFO slot (siblings do not steal
  // from it), so it runs here, nested in the awaiter's step.
  EXPECT_TRUE(rt.block_on(child_runs_on_awaiting_thread()));
}

Coro<int> fails() {
  throw std::runtime_error("boom");
  co_return 0;
}

Coro<std::string> await_failing_child() {
  Task<int> t = spawn(fails());
  try {
    co_await t;
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no exception";
}

TEST(ForkJoinTest, AnExceptionOfAChildRunInlineReachesTheAwaiter) {
  Runtime rt({.threads = 1});
  EXPECT_EQ(rt.block_on(await_failing_child()), "boom");
}

Coro<std::string> await_cancelled_child(int& ran) {
  Task<void> t = spawn([](int& r) -> Coro<void> {
    ++r;
    co_return;
  }(ran));
  t.cancel("not needed");
  try {
    co_await t;
  } catch (const CancelledError& e) {
    co_return e.what();
  }
  co_return "not cancelled";
}

TEST(ForkJoinTest, AChildCancelledBeforeItStartsNeverRuns) {
  Runtime rt({.threads = 1});
  int ran = 0;
  EXPECT_EQ(rt.block_on(await_cancelled_child(ran)), "not needed");
  EXPECT_EQ(ran, 0);
}

Coro<long> chain(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await spawn(chain(n - 1));
}

TEST(ForkJoinTest, ADeepChainOfAwaitedSpawnsStaysWithinTheDepthBound) {
  // 20,000 nested awaits: run inline without a bound, they would need 20,000 nested steps
  // on the C++ stack. Past EventLoop::kMaxInlineDepth the awaiter suspends as usual.
  Runtime rt({.threads = 2});
  EXPECT_EQ(rt.block_on(chain(20000)), 20000);
}

// A binary tree of n tasks; returns n.
Coro<long> tree(long n, std::atomic<long>& done) {
  if (n == 0) co_return 0;
  long sum = 1;
  if (n > 1) {
    Task<long> a = spawn(tree(n / 2, done));
    Task<long> b = spawn(tree(n - n / 2 - 1, done));
    sum += co_await a;
    sum += co_await b;
  }
  done.fetch_add(1, std::memory_order_relaxed);
  co_return sum;
}

Coro<long> tree_and_a_callback(long n, std::atomic<long>& done, long& seen) {
  // Queued before the tree starts; it must not wait for the whole tree.
  EventLoop::current().call_soon([&done, &seen] { seen = done.load(); });
  co_return co_await spawn(tree(n, done));
}

TEST(ForkJoinTest, ATreeRunInlineStillLetsTheLoopRunItsOtherWork) {
  // The inline runs of one batch are bounded (EventLoop::kInlineRunsPerBatch): the tree
  // suspends and the callback queued behind it runs before the tree is done.
  constexpr long kTasks = 3 * EventLoop::kInlineRunsPerBatch;
  Runtime rt({.threads = 1});
  std::atomic<long> done{0};
  long seen = -1;
  EXPECT_EQ(rt.block_on(tree_and_a_callback(kTasks, done, seen)), kTasks);
  EXPECT_GE(seen, 0);
  EXPECT_LT(seen, kTasks);
}

Coro<long> fib(int n) {
  if (n < 2) co_return n;
  Task<long> a = spawn(fib(n - 1));
  Task<long> b = spawn(fib(n - 2));
  long x = co_await a;
  long y = co_await b;
  co_return x + y;
}

long fib_value(int n) { return n < 2 ? n : fib_value(n - 1) + fib_value(n - 2); }

TEST(ForkJoinTest, FibOnTwoLoopsIsRightAndRunsMostChildrenInline) {
  Runtime rt({.threads = 2});
  EXPECT_EQ(rt.block_on(fib(kFibN)), fib_value(kFibN));
  // Every call with n >= 2 spawns two children; most are run by their awaiter. (Not all:
  // siblings steal, and a child taken by a sibling is awaited the usual way.)
  EXPECT_GT(inline_runs(rt), 0u);
}

Coro<long> skynet(long num, long size) {
  if (size == 1) co_return num;
  std::vector<Task<long>> children;
  long sub = size / 10;
  for (long i = 0; i < 10; ++i) children.push_back(spawn(skynet(num + i * sub, sub)));
  long sum = 0;
  for (auto& c : children) sum += co_await c;
  co_return sum;
}

TEST(ForkJoinTest, SkynetOnTwoLoopsIsRight) {
  constexpr long kLeaves = 10000;
  for (int round = 0; round < 3; ++round) {
    Runtime rt({.threads = 2});
    EXPECT_EQ(rt.block_on(skynet(0, kLeaves)), kLeaves * (kLeaves - 1) / 2);
  }
}

// The awaited child runs nested in the awaiter's co_await and, finishing there, leaves its
// loop's task list, handing the list's reference to the awaiter, which has none of its own
// (TaskBase::run_awaited_handing_ref). If the child also drops the handle the parent awaits
// through, that handed reference is the last one (ASan: a use after free otherwise).
struct ChildHolder {
  Task<int> child;
};

Coro<int> drop_own_handle(ChildHolder& holder) {
  holder.child = Task<int>();
  co_return 5;
}

Coro<int> await_held_child(ChildHolder& holder) {
  holder.child = spawn(drop_own_handle(holder));
  co_return co_await holder.child;
}

TEST(ForkJoinTest, AChildThatDropsTheHandleItIsAwaitedThroughStillDeliversItsResult) {
  Runtime rt({.threads = 1});
  ChildHolder holder;
  EXPECT_EQ(rt.block_on(await_held_child(holder)), 5);
  EXPECT_EQ(inline_runs(rt), 1u);
  EXPECT_FALSE(holder.child);
}

// A child whose first step, run nested in the awaiter's co_await, does not finish it: the
// awaiter must get a reference of its own before the child can run again (here, on either
// loop: the yield puts it where a sibling may take it). The child drops the handle its
// parent awaits through, so that reference is the only one left once the child finishes.
Coro<int> drop_handle_then_yield(ChildHolder& holder, int value) {
  holder.child = Task<int>();
  co_await sleep(Duration::zero());
  co_await sleep(Duration::zero());
  co_return value;
}

Coro<int> await_held_yielding_child(ChildHolder& holder, int value) {
  holder.child = spawn(drop_handle_then_yield(holder, value));
  co_return co_await holder.child;
}

TEST(ForkJoinTest, AChildThatYieldsInItsFirstStepAfterDroppingItsHandleStillDelivers) {
  Runtime rt({.threads = 1});
  ChildHolder holder;
  EXPECT_EQ(rt.block_on(await_held_yielding_child(holder, 9)), 9);
  EXPECT_EQ(inline_runs(rt), 1u);
  EXPECT_FALSE(holder.child);
}

Coro<long> many_yielding_children(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    ChildHolder holder;
    Task<int> keep_going = spawn(await_held_yielding_child(holder, i));
    sum += co_await keep_going;
  }
  co_return sum;
}

TEST(ForkJoinTest, ChildrenThatMayMoveAfterTheirFirstNestedStepStressOnTwoLoops) {
  // Bounded: each round, a child run nested in its awaiter's co_await yields, may be taken
  // by the other loop and finish there, while its awaiter waits on this one, through the
  // reference the first step took for it.
  constexpr int kChildren = test_env::kUnderSanitizer ? 300 : 3000;
  Runtime rt({.threads = 2});
  EXPECT_EQ(rt.block_on(many_yielding_children(kChildren)),
            static_cast<long>(kChildren) * (kChildren - 1) / 2);
}

Coro<int> value_after_yield(int v) {
  co_await sleep(Duration::zero());
  co_return v;
}

Coro<int> await_yielding_children_kept() {
  Task<int> a = spawn(value_after_yield(1));
  Task<int> b = spawn(value_after_yield(2));
  int x = co_await a;  // a's first step runs here and suspends: the awaiter waits for it
  int y = co_await b;
  co_return x + y;
}

TEST(ForkJoinTest, AChildWhoseNestedFirstStepSuspendsIsAwaitedTheUsualWay) {
  Runtime rt({.threads = 1});
  EXPECT_EQ(rt.block_on(await_yielding_children_kept()), 3);
  // Only `a` ran nested: while the awaiter waited for it, the loop started `b` (its LIFO
  // slot) as usual.
  EXPECT_EQ(inline_runs(rt), 1u);
}

}  // namespace
}  // namespace weft
