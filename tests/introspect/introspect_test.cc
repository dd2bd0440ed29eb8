// current_task, all_tasks, capture_call_graph / format_call_graph and the task dumps.
#include "loop/introspect.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The lines of the co_awaits below, recorded on the line of the co_await itself.
int g_leaf_line = 0;
int g_mid_line = 0;
int g_root_line = 0;

Coro<void> leaf_sleeps() {
  g_leaf_line = __LINE__; co_await sleep(1h);  // clang-format off
}
Coro<void> mid_awaits_leaf() {
  g_mid_line = __LINE__; co_await leaf_sleeps();
}
Coro<void> root_awaits_mid() {
  g_root_line = __LINE__; co_await mid_awaits_leaf();
}

std::string at(const char* fn, int line) {
  return std::string(fn) + "() at tests/introspect/introspect_test.cc:" + std::to_string(line);
}

TEST(CurrentTask, NameIdLoopInsideATaskEmptyOutside) {
  EXPECT_FALSE(current_task());
  EventLoop loop;
  TaskRef seen;
  bool empty_in_callback = false;
  auto body = [&]() -> Coro<void> {
    seen = current_task();
    loop.call_soon([&] { empty_in_callback = !current_task(); });
    co_await sleep(0s);
  };
  Task<void> t = loop.create_task(body(), "worker");
  loop.run_until_complete(t);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen.get_name(), "worker");
  EXPECT_EQ(seen.id(), t.base()->id());
  EXPECT_EQ(&seen.get_loop(), &loop);
  EXPECT_EQ(seen, TaskRef(t));
  EXPECT_TRUE(empty_in_callback);
  EXPECT_FALSE(current_task());
}

TEST(AllTasks, ListsThePendingTasksOfTheRunningLoop) {
  EventLoop loop;
  std::vector<std::string> names;
  auto body = [&]() -> Coro<void> {
    Task<void> a = create_task(leaf_sleeps(), "a");
    Task<void> b = create_task(leaf_sleeps(), "b");
    for (TaskRef& t : all_tasks()) names.push_back(t.get_name());
    a.cancel();
    b.cancel();
    co_await sleep(0s);
  };
  loop.run_until_complete(loop.create_task(body(), "main"));
  EXPECT_THAT(names, ::testing::ElementsAre("main", "a", "b"));
  EXPECT_THROW(all_tasks(), RuntimeError);  // no running loop here
}

TEST(CaptureCallGraph, ThreeInlineLevelsWithTheirCoAwaitLines) {
  EventLoop loop;
  FutureCallGraph graph;
  std::string text;
  auto body = [&]() -> Coro<void> {
    Task<void> t = create_task(root_awaits_mid(), "sleeper");
    co_await sleep(0s);  // t runs to its sleep
    graph = capture_call_graph(TaskRef(t));
    text = format_call_graph(graph);
    t.cancel();
    co_await sleep(0s);
  };
  loop.run_until_complete(loop.create_task(body(), "main"));
  EXPECT_EQ(graph.name, "sleeper");
  EXPECT_EQ(graph.state, "suspended");
  ASSERT_EQ(graph.call_stack.size(), 3u);
  EXPECT_EQ(graph.call_stack[0].coroutine, "root_awaits_mid");
  EXPECT_EQ(graph.call_stack[0].line, static_cast<uint32_t>(g_root_line));
  EXPECT_EQ(graph.call_stack[1].coroutine, "mid_awaits_leaf");
  EXPECT_EQ(graph.call_stack[1].line, static_cast<uint32_t>(g_mid_line));
  EXPECT_EQ(graph.call_stack[2].coroutine, "leaf_sleeps");
  EXPECT_EQ(graph.call_stack[2].line, static_cast<uint32_t>(g_leaf_line));
  EXPECT_EQ(graph.call_stack[2].file, "tests/introspect/introspect_test.cc");
  EXPECT_THAT(graph.awaiting, HasSubstr("sleep (due in"));
  EXPECT_THAT(text, HasSubstr("* Task 'sleeper'"));
  EXPECT_THAT(text, HasSubstr(at("root_awaits_mid", g_root_line)));
  EXPECT_THAT(text, HasSubstr(at("leaf_sleeps", g_leaf_line)));
}

TEST(CaptureCallGraph, AwaitedByTheTasksThatAwaitIt) {
  EventLoop loop;
  FutureCallGraph graph;
  int awaiter_line = 0;
  auto awaiter = [&](Task<void> t) -> Coro<void> {
    awaiter_line = __LINE__; co_await t;
  };
  auto body = [&]() -> Coro<void> {
    Task<void> child = create_task(leaf_sleeps(), "child");
    Task<void> parent = create_task(awaiter(child), "parent");
    co_await sleep(0s);
    graph = capture_call_graph(TaskRef(child));
    parent.cancel();  // cancels child in turn
    co_await sleep(0s);
  };
  loop.run_until_complete(loop.create_task(body(), "main"));
  ASSERT_EQ(graph.awaited_by.size(), 1u);
  const FutureCallGraph& parent = graph.awaited_by[0];
  EXPECT_EQ(parent.name, "parent");
  ASSERT_EQ(parent.call_stack.size(), 1u);
  EXPECT_EQ(parent.call_stack[0].line, static_cast<uint32_t>(awaiter_line));
  EXPECT_THAT(parent.awaiting, HasSubstr("name='child'"));
}

TEST(CaptureCallGraph, NotStartedAndRunningTasks) {
  EventLoop loop;
  FutureCallGraph self, fresh;
  auto body = [&]() -> Coro<void> {
    Task<void> t = create_task(leaf_sleeps(), "fresh");
    self = capture_call_graph(current_task());
    fresh = capture_call_graph(TaskRef(t));
    t.cancel();
    co_await sleep(0s);
  };
  loop.run_until_complete(loop.create_task(body(), "main"));
  EXPECT_EQ(self.state, "running");
  EXPECT_EQ(self.awaiting, "");
  EXPECT_EQ(fresh.state, "not started");
  ASSERT_EQ(fresh.call_stack.size(), 1u);
  EXPECT_EQ(fresh.call_stack[0].line, 0u);
  EXPECT_THAT(format_call_graph(fresh), HasSubstr("leaf_sleeps() defined at"));
}

// Loop A: outer -> middle -> (awaits Task 'inner' of loop B); loop B: inner -> leaf -> sleep.
int g_outer_line = 0;
int g_middle_line = 0;
int g_inner_line = 0;

Coro<void> middle(Task<void> remote) {
  g_middle_line = __LINE__; co_await remote;
}
Coro<void> outer(Task<void> remote) {
  g_outer_line = __LINE__; co_await middle(std::move(remote));
}
Coro<void> inner() {
  g_inner_line = __LINE__; co_await leaf_sleeps();
}

TEST(DumpAllTasks, ThreeLevelAwaitChainAcrossTwoLoops) {
  testing::LoopThread b;
  Task<void> inner_task;
  testing::Notification created;
  b.loop().call_soon_threadsafe([&] {
    inner_task = b.loop().create_task(inner(), "inner");
    created.notify();
  });
  created.wait();

  EventLoop a;
  std::string dump, dump_b_from_a;
  auto body = [&]() -> Coro<void> {
    Task<void> o = create_task(outer(inner_task), "outer");
    co_await sleep(0s);  // outer suspends on inner_task (registered on loop B)
    co_await sleep(1ms);  // let loop B register the waiter
    dump = dump_all_tasks(10s);
    dump_b_from_a = dump_tasks_threadsafe(b.loop(), 10s);
    o.cancel();  // cancels inner on loop B too
    try {
      co_await o;
    } catch (const CancelledError&) {
    }
  };
  a.run_until_complete(a.create_task(body(), "main"));

  if (std::getenv("SHOW_DUMP")) std::fputs(dump.c_str(), stderr);
  EXPECT_THAT(dump, HasSubstr("* Task 'outer'"));
  EXPECT_THAT(dump, HasSubstr(at("outer", g_outer_line)));
  EXPECT_THAT(dump, HasSubstr(at("middle", g_middle_line)));
  EXPECT_THAT(dump, HasSubstr("+ Awaiting: <Task Task-" + std::to_string(inner_task.base()->id()) +
                              " coro=inner()"));
  EXPECT_THAT(dump, HasSubstr("* Task 'inner'"));
  EXPECT_THAT(dump, HasSubstr(at("inner", g_inner_line)));
  EXPECT_THAT(dump, HasSubstr(at("leaf_sleeps", g_leaf_line)));
  EXPECT_THAT(dump, HasSubstr("+ Awaiting: sleep (due in"));
  EXPECT_THAT(dump, HasSubstr("on another loop"));  // inner is awaited by outer, of loop A
  EXPECT_THAT(dump_b_from_a, HasSubstr("* Task 'inner'"));
  EXPECT_THAT(dump_b_from_a, Not(HasSubstr("* Task 'outer'")));
  EXPECT_TRUE(inner_task.done());
}

TEST(DumpTasks, FromAnotherThreadIsRefusedWithWhatToUseInstead) {
  testing::LoopThread b;
  try {
    dump_tasks(b.loop());
    ADD_FAILURE() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("dump_tasks() reads the tasks of a loop that runs on thread"));
    EXPECT_THAT(e.what(), HasSubstr("dump_tasks_threadsafe(loop)"));
  }
  EXPECT_THAT(dump_tasks_threadsafe(b.loop()), HasSubstr("(no pending tasks)"));
}

}  // namespace
}  // namespace weft
