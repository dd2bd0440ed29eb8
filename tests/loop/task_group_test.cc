#include "loop/task_group.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::what_of;

int cancelling() { return internal::current_task_or_null()->cancelling(); }

Coro<int> value_after(int v, Duration d) {
  co_await sleep(d);
  co_return v;
}

Coro<int> fail_after(Duration d, std::string what) {
  co_await sleep(d);
  throw std::runtime_error(what);
}

// Sleeps; when cancelled, logs, spends `cleanup`, logs again and re-raises.
Coro<int> cancellable(std::vector<std::string>* log, std::string name, Duration cleanup = 0s) {
  try {
    co_await sleep(1h);
  } catch (const CancelledError&) {
    log->push_back(name + " cancelled");
  }
  co_await sleep(cleanup);
  log->push_back(name + " done");
  throw CancelledError();
}

std::vector<std::string> whats(const ExceptionGroup& eg) {
  std::vector<std::string> out;
  for (const std::exception_ptr& e : eg.exceptions()) out.push_back(what_of(e));
  return out;
}

TEST(TaskGroup, WaitsForEveryChildAndReturnsTheBodysValue) {
  auto main = []() -> Coro<void> {
    std::optional<Task<int>> a, b;
    int v = co_await task_group([&](TaskGroup& tg) -> Coro<int> {
      a = tg.create_task(value_after(1, 2ms));
      b = tg.create_task(value_after(2, 1ms));
      EXPECT_EQ(tg.size(), 2u);
      co_return 10;  // before the children are done
    });
    EXPECT_EQ(v, 10);
    EXPECT_TRUE(a->done());
    EXPECT_TRUE(b->done());
    EXPECT_EQ(a->result() + b->result(), 3);
    co_await task_group([](TaskGroup&) -> Coro<void> { co_return; });  // empty, void
  };
  run(main());
}

TEST(TaskGroup, ChildrenMayCreateSiblings) {
  auto main = []() -> Coro<void> {
    std::vector<int> seen;
    co_await task_group([&](TaskGroup& tg) -> Coro<void> {
      tg.create_task([](TaskGroup tg, std::vector<int>* seen) -> Coro<void> {
        co_await sleep(0s);
        seen->push_back(1);
        tg.create_task([](std::vector<int>* seen) -> Coro<void> {
          co_await sleep(1ms);
          seen->push_back(2);
        }(seen));
      }(tg, &seen));
      co_return;
    });
    EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  };
  run(main());
}

TEST(TaskGroup, AChildFailureCancelsTheOthersAndTheBody) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(cancellable(&log, "sibling"));
        tg.create_task(fail_after(1ms, "child failed"));
        try {
          co_await sleep(1h);
        } catch (const CancelledError&) {
          log.push_back("body cancelled");
          throw;
        }
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      EXPECT_EQ(whats(eg), (std::vector<std::string>{"std::runtime_error: child failed"}));
      EXPECT_EQ(eg.matching<std::runtime_error>().size(), 1u);
      EXPECT_EQ(eg.matching<std::logic_error>().size(), 0u);
    }
    // The group withdrew its own cancellation of this task.
    EXPECT_EQ(cancelling(), 0);
    EXPECT_EQ(co_await value_after(1, 0s), 1);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"sibling cancelled", "body cancelled", "sibling done"}));
}

TEST(TaskGroup, TwoFailingChildrenAndOneThatIgnoresCancellationForAWhile) {
  std::vector<std::string> log;
  auto stubborn = [](std::vector<std::string>* log) -> Coro<int> {
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
      log->push_back("stubborn ignores the cancellation");
    }
    co_await sleep(2ms);
    log->push_back("stubborn finishes");
    co_return 3;
  };
  auto fails_when_cancelled = [](std::vector<std::string>* log) -> Coro<int> {
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
      log->push_back("second fails in its cleanup");
    }
    throw std::logic_error("second");
  };
  auto main = [&]() -> Coro<void> {
    std::optional<Task<int>> s;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        s = tg.create_task(stubborn(&log));
        tg.create_task(fail_after(1ms, "first"));
        tg.create_task(fails_when_cancelled(&log));
        co_await sleep(1h);
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      log.push_back("group raised");
      EXPECT_EQ(whats(eg), (std::vector<std::string>{"std::runtime_error: first",
                                                     "std::logic_error: second"}));
      EXPECT_NE(std::string(eg.what()).find("2 sub-exceptions"), std::string::npos) << eg.what();
    }
    EXPECT_EQ(s->result(), 3);
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"stubborn ignores the cancellation",
                                           "second fails in its cleanup", "stubborn finishes",
                                           "group raised"}));
}

TEST(TaskGroup, BodyErrorCancelsTheChildrenAndComesLast) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(cancellable(&log, "child", 1ms));
        co_await sleep(0s);
        throw std::runtime_error("body failed");
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      EXPECT_EQ(whats(eg), (std::vector<std::string>{"std::runtime_error: body failed"}));
    }
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"child cancelled", "child done"}));
}

TEST(TaskGroup, CancellingTheParentCancelsTheChildrenAndRaisesCancelledError) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    Task<void> parent = create_task(task_group([&](TaskGroup& tg) -> Coro<void> {
      tg.create_task(cancellable(&log, "a", 1ms));
      tg.create_task(cancellable(&log, "b"));
      co_await sleep(1h);
    }));
    co_await sleep(0s);
    co_await sleep(0s);
    parent.cancel("stop");
    try {
      co_await parent;
      ADD_FAILURE();
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "stop");
      log.push_back("parent cancelled");
    }
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"a cancelled", "b cancelled", "b done", "a done",
                                           "parent cancelled"}));
}

TEST(TaskGroup, CancellationWhileWaitingForTheChildren) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    Task<int> parent = create_task(task_group([&](TaskGroup& tg) -> Coro<int> {
      tg.create_task(cancellable(&log, "child"));
      co_return 1;  // the group now waits for the child
    }));
    co_await sleep(0s);
    co_await sleep(0s);
    parent.cancel();
    EXPECT_THROW(co_await parent, CancelledError);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"child cancelled", "child done"}));
}

TEST(TaskGroup, ChildFailingAfterTheBodyDoesNotLeaveTheParentCancelled) {
  auto main = []() -> Coro<void> {
    try {
      co_await task_group([](TaskGroup& tg) -> Coro<void> {
        tg.create_task(fail_after(1ms, "late"));
        co_return;
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      EXPECT_EQ(eg.exceptions().size(), 1u);
    }
    // asyncio 3.12 cancels the parent here and never withdraws it.
    EXPECT_EQ(cancelling(), 0);
    EXPECT_EQ(co_await value_after(2, 0s), 2);
  };
  run(main());
}

TEST(TaskGroup, CancellationIsNotLostWhenErrorsWin) {
  auto main = []() -> Coro<void> {
    auto fails_in_cleanup = []() -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      throw std::runtime_error("cleanup");
    };
    std::vector<std::string> log;
    Task<void> parent = create_task([](auto fails_in_cleanup, std::vector<std::string>* log)
                                        -> Coro<void> {
      try {
        co_await task_group([&](TaskGroup& tg) -> Coro<void> {
          tg.create_task(fails_in_cleanup());
          co_await sleep(1h);
        });
      } catch (const ExceptionGroup&) {
        log->push_back("ExceptionGroup");  // the errors take priority...
      }
      try {
        co_await sleep(1h);
        log->push_back("not cancelled");
      } catch (const CancelledError& e) {
        log->push_back("then CancelledError: " + e.message());  // ...but it is not lost
        throw;
      }
    }(fails_in_cleanup, &log));
    co_await sleep(0s);
    co_await sleep(0s);
    parent.cancel("external");
    EXPECT_THROW(co_await parent, CancelledError);
    EXPECT_EQ(log, (std::vector<std::string>{"ExceptionGroup", "then CancelledError: external"}));
  };
  run(main());
}

TEST(TaskGroup, CreatingATaskInAFinishedOrAbortingGroupRaises) {
  testing::HandlerLog handler;
  auto main = [&]() -> Coro<void> {
    handler.install();
    std::optional<TaskGroup> kept;
    co_await task_group([&](TaskGroup& tg) -> Coro<void> {
      kept = tg;
      co_return;
    });
    EXPECT_THROW(kept->create_task(value_after(1, 0s)), RuntimeError);
    bool raised_while_aborting = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(fail_after(0s, "x"));
        try {
          co_await sleep(1h);
        } catch (const CancelledError&) {
        }
        try {
          tg.create_task(value_after(1, 0s));
        } catch (const RuntimeError& e) {
          raised_while_aborting = std::string(e.what()).find("shutting down") != std::string::npos;
        }
      });
    } catch (const ExceptionGroup&) {
    }
    EXPECT_TRUE(raised_while_aborting);
  };
  EventLoop loop;
  loop.set_debug(true);  // a discarded Coro must not be reported as never awaited
  loop.run_until_complete(main());
  loop.close();
  EXPECT_EQ(handler.size(), 0u) << handler.dump();
}

TEST(TaskGroup, InsideATimeout) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await timeout(1ms, task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(cancellable(&log, "child", 1ms));
        co_await sleep(1h);
      }));
      ADD_FAILURE();
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"child cancelled", "child done", "timeout"}));
}

TEST(TaskGroup, TimeoutInsideAChildIsThatChildsError) {
  auto main = []() -> Coro<void> {
    try {
      co_await task_group([](TaskGroup& tg) -> Coro<void> {
        tg.create_task(timeout(1ms, value_after(1, 1h)));
        co_await sleep(1h);
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      EXPECT_EQ(eg.matching<TimeoutError>().size(), 1u);
    }
  };
  run(main());
}

// CPython test_taskgroup_16-ish: a failure inside a nested group reaches the outer group as
// the inner group's ExceptionGroup; the outer group then cancels its own children.
TEST(TaskGroup, NestedGroups) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await task_group([&](TaskGroup& outer) -> Coro<void> {
        outer.create_task(cancellable(&log, "outer child"));
        co_await task_group([&](TaskGroup& inner) -> Coro<void> {
          inner.create_task(cancellable(&log, "inner child"));
          inner.create_task(fail_after(0s, "deep"));
          co_await sleep(1h);
        });
        ADD_FAILURE() << "the inner group did not raise";
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      CO_ASSERT_EQ(eg.exceptions().size(), 1u);
      EXPECT_TRUE(testing::holds<ExceptionGroup>(eg.exceptions()[0]));
      EXPECT_EQ(eg.matching<std::runtime_error>().size(), 1u);  // "deep", found in the nested group
    }
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner child cancelled", "inner child done",
                                           "outer child cancelled", "outer child done"}));
}

// CPython test_taskgroup_01/02: results, and a failure with a sibling cancelled.
TEST(TaskGroup, CPythonResultsAndSiblingCancelled) {
  auto main = []() -> Coro<void> {
    std::optional<Task<int>> t1, t2;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1ms));
      t2 = g.create_task(value_after(11, 2ms));
      co_return;
    });
    EXPECT_EQ(t1->result(), 42);
    EXPECT_EQ(t2->result(), 11);
    try {
      co_await task_group([&](TaskGroup& g) -> Coro<void> {
        t1 = g.create_task(value_after(42, 1h));
        t2 = g.create_task(fail_after(1ms, "zero division"));
        co_return;
      });
      ADD_FAILURE();
    } catch (const ExceptionGroup& eg) {
      EXPECT_EQ(eg.exceptions().size(), 1u);
    }
    EXPECT_TRUE(t1->cancelled());
  };
  run(main());
}

// CPython test_taskgroup_14: the parent is cancelled, a child swallows the cancellation.
TEST(TaskGroup, CPythonChildSwallowsCancellation) {
  auto main = []() -> Coro<void> {
    auto swallow = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_return 1;
    };
    Task<void> parent = create_task(task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(swallow());
      co_await sleep(1h);
    }));
    co_await sleep(0s);
    co_await sleep(0s);
    parent.cancel();
    EXPECT_THROW(co_await parent, CancelledError);
  };
  run(main());
}

}  // namespace
}  // namespace weft
