// Tests for foreign awaitables inside a Coro: any type with await_ready /
// await_suspend(std::coroutine_handle<>) / await_resume, with each kind of await_suspend
// result (void, bool, a handle), resumed on the loop or from another std::thread. The task
// must always continue on its own loop's thread, and cancellation requested while it waits
// is delivered when the awaitable completes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <coroutine>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

// Ready at once: never suspends.
struct ReadyAwaitable {
  int value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) { ADD_FAILURE() << "must not suspend"; }
  int await_resume() const { return value; }
};

// void await_suspend: resumes the handle from a loop callback.
struct ResumeFromCallback {
  int value;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    EventLoop::current().call_soon([h] { h.resume(); });
  }
  int await_resume() const { return value; }
};

// bool await_suspend returning false: does not suspend after all.
struct DeclinesToSuspend {
  int value;
  bool suspend_called = false;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<>) {
    suspend_called = true;
    return false;
  }
  int await_resume() const {
    EXPECT_TRUE(suspend_called);
    return value;
  }
};

// bool await_suspend returning true, resumed later from a timer.
struct SuspendsViaBool {
  int value;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    EventLoop::current().call_later(1ms, [h] { h.resume(); });
    return true;
  }
  int await_resume() const { return value; }
};

// Handle-returning await_suspend: transfers to the handle it was given (resume at once).
struct TransfersToTheHandle {
  int value;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) { return h; }
  int await_resume() const { return value; }
};

// Handle-returning await_suspend that returns noop: resumed later from a callback.
struct TransfersToNoop {
  int value;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    EventLoop::current().call_soon([h] { h.resume(); });
    return std::noop_coroutine();
  }
  int await_resume() const { return value; }
};

// Resumes the handle from a new std::thread (possibly before await_suspend has returned).
struct ResumeFromThread {
  int value;
  std::thread thread;
  std::thread::id resumed_from;
  // When the task is cancelled, await_resume is skipped (CancelledError is raised instead).
  ~ResumeFromThread() {
    if (thread.joinable()) thread.join();
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    thread = std::thread([this, h] {
      resumed_from = std::this_thread::get_id();
      h.resume();
    });
  }
  int await_resume() {
    thread.join();
    return value;
  }
};

// Resumes the handle from a new std::thread and does NOT wait for that thread: the thread
// may still be inside h.resume() when the task runs on, awaits again, or finishes (as with
// a thread pool that completes work). Threads are joined by the test at the end.
struct ResumeFromUnjoinedThread {
  std::vector<std::thread>* threads;
  std::mutex* mu;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    std::lock_guard<std::mutex> lock(*mu);
    threads->emplace_back([h] { h.resume(); });
  }
  void await_resume() const noexcept {}
};

// Keeps the handle until the test resumes it: for cancellation while suspended.
struct ManualAwaitable {
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { *slot = h; }
  void await_resume() const noexcept {}
};

// operator co_await on a type returns the awaiter.
struct HasMemberCoAwait {
  int value;
  ReadyAwaitable operator co_await() const { return ReadyAwaitable{value}; }
};
struct HasFreeCoAwait {
  int value;
};
ResumeFromCallback operator co_await(HasFreeCoAwait a) { return ResumeFromCallback{a.value}; }

TEST(ForeignAwaitable, EveryKindOfAwaitSuspendWorks) {
  auto main = []() -> Coro<int> {
    int sum = 0;
    sum += co_await ReadyAwaitable{1};
    sum += co_await ResumeFromCallback{2};
    sum += co_await DeclinesToSuspend{4};
    sum += co_await SuspendsViaBool{8};
    sum += co_await TransfersToTheHandle{16};
    sum += co_await TransfersToNoop{32};
    sum += co_await HasMemberCoAwait{64};
    sum += co_await HasFreeCoAwait{128};
    co_return sum;
  };
  EXPECT_EQ(run(main()), 255);
}

TEST(ForeignAwaitable, LvalueAwaitableIsUsedInPlace) {
  auto main = []() -> Coro<bool> {
    DeclinesToSuspend a{5};
    int v = co_await a;
    co_return v == 5 && a.suspend_called;  // the same object, not a copy
  };
  EXPECT_TRUE(run(main()));
}

TEST(ForeignAwaitable, ResumedFromAnotherThreadContinuesOnTheLoopThread) {
  auto main = []() -> Coro<int> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    int sum = 0;
    for (int i = 0; i < 50; ++i) {
      ResumeFromThread aw{1, {}, {}};
      sum += co_await aw;
      EXPECT_NE(aw.resumed_from, loop_thread);
      EXPECT_EQ(std::this_thread::get_id(), loop_thread);
      EXPECT_EQ(EventLoop::current_or_null(), &EventLoop::current());
    }
    co_return sum;
  };
  EXPECT_EQ(run(main()), 50);
}

TEST(ForeignAwaitable, ResumedFromAnotherThreadInsideNestedCorosAndConcurrentTasks) {
  auto leaf = []() -> Coro<int> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    ResumeFromThread aw{1, {}, {}};
    int v = co_await aw;
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    co_return v;
  };
  auto middle = [&]() -> Coro<int> {
    int v = 0;
    for (int i = 0; i < 10; ++i) v += co_await leaf();
    co_return v;
  };
  auto main = [&]() -> Coro<int> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(create_task(middle()));
    int total = 0;
    for (Task<int>& t : tasks) total += co_await t;
    co_return total;
  };
  EXPECT_EQ(run(main()), 80);
}

TEST(ForeignAwaitable, ResumerThreadStillRunningWhenTheTaskContinues) {
  // Each resumption comes from a thread the task never synchronises with. The task must
  // continue on the loop thread, and the handle it gave out must be safe to resume again
  // (next await) or to destroy (task end) while the previous resumer is still returning.
  std::vector<std::thread> threads;
  std::mutex mu;
  auto main = [&]() -> Coro<int> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    int n = 0;
    for (int i = 0; i < 200; ++i) {
      co_await ResumeFromUnjoinedThread{&threads, &mu};
      EXPECT_EQ(std::this_thread::get_id(), loop_thread);
      ++n;
    }
    co_return n;
  };
  EXPECT_EQ(run(main()), 200);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : threads) t.join();
}

TEST(ForeignAwaitable, CancelWhileSuspendedIsDeliveredWhenItCompletes) {
  EventLoop loop;
  std::coroutine_handle<> parked;
  bool reached_after = false;
  bool caught = false;
  std::string message;
  Task<void> t = loop.create_task([](std::coroutine_handle<>* slot, bool& after, bool& c,
                                     std::string& msg) -> Coro<void> {
    try {
      co_await ManualAwaitable{slot};
      after = true;
    } catch (const CancelledError& e) {
      c = true;
      msg = e.message();
      throw;
    }
  }(&parked, reached_after, caught, message));
  // Let the task suspend on the awaitable.
  loop.run_until_complete([]() -> Coro<void> { co_await sleep(0s); }());
  ASSERT_TRUE(parked);
  EXPECT_TRUE(t.cancel("stop waiting"));
  // The awaitable knows nothing of cancellation: the task stays suspended until it completes.
  loop.run_until_complete([]() -> Coro<void> {
    co_await sleep(0s);
    co_await sleep(0s);
  }());
  EXPECT_FALSE(t.done());
  EXPECT_FALSE(caught);
  loop.call_soon([h = parked] { h.resume(); });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(caught);
  EXPECT_FALSE(reached_after);
  EXPECT_EQ(message, "stop waiting");
}

TEST(ForeignAwaitable, CancelWhileSuspendedAndResumedFromAnotherThread) {
  EventLoop loop;
  bool caught = false;
  Task<void> t = loop.create_task([](bool& c) -> Coro<void> {
    for (;;) {
      try {
        ResumeFromThread aw{0, {}, {}};
        co_await aw;
      } catch (const CancelledError&) {
        c = true;
        throw;
      }
    }
  }(caught));
  loop.run_until_complete([](Task<void> victim) -> Coro<void> {
    co_await sleep(1ms);
    victim.cancel();
  }(t));
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(caught);
}

TEST(ForeignAwaitable, AwaitSuspendThatThrowsRaisesAtTheAwait) {
  struct Refuses {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) { throw std::runtime_error("refused"); }
    void await_resume() const noexcept {}
  };
  auto main = []() -> Coro<std::string> {
    std::string out;
    try {
      co_await Refuses{};
    } catch (const std::runtime_error& e) {
      out = e.what();
    }
    co_await sleep(0s);  // the task goes on normally
    co_return out;
  };
  EXPECT_EQ(run(main()), "refused");
}

TEST(ForeignAwaitable, ResumedAfterItsLoopClosedIsDropped) {
  // A late completion (a thread pool finishing after the program closed its loop) resumes
  // the handle of a task the closing loop destroyed. It must be dropped, as any delivery to
  // a closed loop is.
  std::coroutine_handle<> parked;
  {
    EventLoop loop;
    loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    Task<void> t = loop.create_task([](std::coroutine_handle<>* slot) -> Coro<void> {
      co_await ManualAwaitable{slot};
    }(&parked));
    loop.run_until_complete([]() -> Coro<void> { co_await sleep(0s); }());
    ASSERT_TRUE(parked);
    loop.close();
  }
  parked.resume();
}

}  // namespace
}  // namespace weft
