// Runtime::all_tasks and Runtime::dump_tasks: every loop's tasks, each read on its own thread.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

Coro<void> parked_forever() { co_await sleep(1h); }

TEST(RuntimeIntrospection, AllTasksAndDumpOfEveryLoopFromOutside) {
  Runtime rt({.threads = 2});
  for (size_t i = 0; i < 2; ++i) {
    testing::Notification created;
    rt.loop(i).call_soon_threadsafe([&rt, &created, i] {
      rt.loop(i).create_task(parked_forever(), "parked-" + std::to_string(i));
      created.notify();
    });
    created.wait();
  }
  std::vector<TaskRef> tasks = rt.all_tasks(10s);
  std::vector<std::string> names;
  for (TaskRef& t : tasks) names.push_back(t.get_name());  // names are set once, at creation
  EXPECT_THAT(names, UnorderedElementsAre("parked-0", "parked-1"));
  EXPECT_NE(&tasks[0].get_loop(), &tasks[1].get_loop());

  std::string dump = rt.dump_tasks(10s);
  EXPECT_THAT(dump, HasSubstr("* Task 'parked-0'"));
  EXPECT_THAT(dump, HasSubstr("* Task 'parked-1'"));
  EXPECT_THAT(dump, HasSubstr("parked_forever() at tests/introspect/runtime_introspect_test.cc:"));

  for (TaskRef& t : tasks) t.cancel();  // any thread
  rt.shutdown();
}

TEST(RuntimeIntrospection, AllTasksFromInsideALoop) {
  Runtime rt({.threads = 2});
  size_t n = rt.block_on([&rt]() -> Coro<size_t> {
    Task<void> a = create_task(parked_forever(), "a");
    co_await sleep(0s);
    size_t count = rt.all_tasks(10s).size();  // this loop directly, the other posted
    a.cancel();
    co_return count;
  }());
  EXPECT_EQ(n, 2u);  // "main" and "a"
}

// A spawned task joins its loop's list of pending tasks only at the end of its first step
// (task_base.h); before that it is listed as the task running on the loop, and a task that
// runs another's first step nested in its own (awaiting it before it started) is listed too.
struct Listing {
  std::vector<std::string> names;
  size_t pending = 0;
};

Coro<Listing> list_pending() {
  Listing l;
  for (TaskRef& t : all_tasks()) l.names.push_back(t.get_name());
  l.pending = EventLoop::current().num_pending_tasks();
  co_return l;
}

Coro<Listing> await_child_at_once() { co_return co_await spawn(list_pending(), "child"); }

TEST(RuntimeIntrospection, ASpawnedTaskIsPendingFromItsFirstStep) {
  Runtime rt({.threads = 1});  // one loop: all_tasks() is that loop's
  Listing l = rt.block_on([]() -> Coro<Listing> {
    co_return co_await spawn(await_child_at_once(), "parent");
  }());
  EXPECT_THAT(l.names, ::testing::IsSupersetOf({"parent", "child"}));
  EXPECT_EQ(l.pending, l.names.size());
}

TEST(RuntimeIntrospection, AMigratableTaskIsListedWithoutReadingItsChain) {
  Runtime rt({.threads = 2});
  // Sleeping does not pin a spawned task: it may run its next step on either loop, while it
  // stays in its home loop's list. The dump must not read a chain another loop may be running.
  Task<void> t = rt.spawn(parked_forever(), "wanderer");
  std::string dump;
  // Until its first step has put it in a loop's list (the loops' threads may not even be
  // running yet on a loaded machine). The deadline only bounds a failing test.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (dump.find("migratable") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    dump = rt.dump_tasks(10s);
    std::this_thread::yield();
  }
  EXPECT_THAT(dump, HasSubstr("* Task 'Task-" + std::to_string(t.base()->id()) +
                              "' (id " + std::to_string(t.base()->id()) +
                              ", migratable (may run on any loop: chain not read)"));
  EXPECT_THAT(dump, HasSubstr("parked_forever() defined at"));
  t.cancel();
  rt.shutdown();
}

TEST(AllTasksThreadsafe, TimesOutOnABlockedLoop) {
  testing::Notification release, blocked;  // outlive the loop's thread, which waits on them
  testing::LoopThread t;
  t.loop().call_soon_threadsafe([&] {
    blocked.notify();
    release.wait();
  });
  blocked.wait();
  try {
    all_tasks_threadsafe(t.loop(), 10ms);
    ADD_FAILURE() << "no TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("did not answer within 0.010 s"));
  }
  EXPECT_THAT(dump_tasks_threadsafe(t.loop(), 10ms), HasSubstr("(no answer within 0.010 s"));
  release.notify();
}

}  // namespace
}  // namespace weft
