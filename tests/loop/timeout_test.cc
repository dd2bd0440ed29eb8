#include "loop/timeout.h"

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

int cancelling() { return internal::current_task_or_null()->cancelling(); }

Coro<int> value_after(int v, Duration d) {
  co_await sleep(d);
  co_return v;
}

TEST(Timeout, BlockFinishingInTimeGivesItsValue) {
  auto main = []() -> Coro<void> {
    bool expired = true;
    int v = co_await timeout(1h, [&](Timeout& scope) -> Coro<int> {
      int r = co_await value_after(3, 0s);
      expired = scope.expired();
      co_return r;
    });
    EXPECT_EQ(v, 3);
    EXPECT_FALSE(expired);
    // The other forms of the block: a nullary callable, a Coro.
    co_await timeout(1h, []() -> Coro<void> { co_await sleep(0s); });
    EXPECT_EQ(co_await timeout(1h, value_after(4, 0s)), 4);
    EXPECT_EQ(co_await timeout_at(EventLoop::current().time() + 1h, value_after(5, 0s)), 5);
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
}

TEST(Timeout, ExpiryCancelsTheBlockAndRaisesTimeoutError) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await timeout(1ms, [&](Timeout& scope) -> Coro<void> {
        try {
          co_await sleep(1h);
        } catch (const CancelledError&) {
          log.push_back(scope.expired() ? "cancelled, expired" : "cancelled");
        }
        co_await sleep(0s);  // cleanup may await
        log.push_back("cleaned up");
        throw CancelledError();
      });
      ADD_FAILURE();
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    EXPECT_EQ(cancelling(), 0);
    // The task is usable afterwards.
    EXPECT_EQ(co_await value_after(1, 0s), 1);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled, expired", "cleaned up", "timeout"}));
}

TEST(Timeout, WhenAndReschedule) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    // No deadline, then one in the past: expires at the next iteration.
    EXPECT_THROW(co_await timeout(std::nullopt, [&](Timeout& scope) -> Coro<void> {
      EXPECT_FALSE(scope.when().has_value());
      co_await sleep(0s);
      scope.reschedule(loop.time() - 1s);
      co_await sleep(1h);
    }),
                 TimeoutError);
    // A deadline moved away: no expiry.
    int v = co_await timeout(1ms, [&](Timeout& scope) -> Coro<int> {
      EXPECT_TRUE(scope.when().has_value());
      scope.reschedule(std::nullopt);
      EXPECT_FALSE(scope.when().has_value());
      co_return co_await value_after(6, 3ms);
    });
    EXPECT_EQ(v, 6);
    // Extended.
    TimePoint when{};
    v = co_await timeout_at(loop.time() + 1ms, [&](Timeout& scope) -> Coro<int> {
      scope.reschedule(*scope.when() + 1h);
      when = *scope.when();
      co_return co_await value_after(7, 3ms);
    });
    EXPECT_EQ(v, 7);
    EXPECT_GT(when, loop.time() + 30min);
  };
  run(main());
}

TEST(Timeout, RescheduleOnceExpiredIsAnError) {
  auto main = []() -> Coro<void> {
    bool raised = false;
    try {
      co_await timeout(1ms, [&](Timeout& scope) -> Coro<void> {
        try {
          co_await sleep(1h);
        } catch (const CancelledError&) {
          try {
            scope.reschedule(std::nullopt);
          } catch (const RuntimeError&) {
            raised = true;
          }
          throw;
        }
      });
    } catch (const TimeoutError&) {
    }
    EXPECT_TRUE(raised);
  };
  run(main());
}

TEST(Timeout, NestedInnerExpiresOuterDoesNot) {
  auto main = []() -> Coro<void> {
    bool outer_expired = true;
    int v = co_await timeout(1h, [&](Timeout& outer) -> Coro<int> {
      int r = 0;
      try {
        co_await timeout(1ms, []() -> Coro<void> { co_await sleep(1h); });
      } catch (const TimeoutError&) {
        r = 1;
      }
      EXPECT_EQ(cancelling(), 0);
      r += co_await value_after(1, 0s);  // not cancelled any more
      outer_expired = outer.expired();
      co_return r;
    });
    EXPECT_EQ(v, 2);
    EXPECT_FALSE(outer_expired);
  };
  run(main());
}

TEST(Timeout, NestedOuterExpiresInnerDoesNot) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await timeout(1ms, [&]() -> Coro<void> {
        try {
          co_await timeout(1h, [&](Timeout& inner) -> Coro<void> {
            try {
              co_await sleep(1h);
            } catch (const CancelledError&) {
              log.push_back(inner.expired() ? "inner expired" : "inner not expired");
              throw;
            }
          });
        } catch (const CancelledError&) {
          log.push_back("inner passed CancelledError on");
          throw;
        } catch (const TimeoutError&) {
          log.push_back("inner raised TimeoutError");
          throw;
        }
      });
    } catch (const TimeoutError&) {
      log.push_back("outer raised TimeoutError");
    }
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner not expired", "inner passed CancelledError on",
                                           "outer raised TimeoutError"}));
}

TEST(Timeout, NestedBothExpireTogetherTheOuterReportsIt) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    TimePoint deadline = loop.time() + 1ms;
    try {
      co_await timeout_at(deadline, [&]() -> Coro<void> {
        try {
          co_await timeout_at(deadline, []() -> Coro<void> { co_await sleep(1h); });
        } catch (const CancelledError&) {
          log.push_back("inner passed CancelledError on");
          throw;
        }
      });
    } catch (const TimeoutError&) {
      log.push_back("outer raised TimeoutError");
    }
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner passed CancelledError on",
                                           "outer raised TimeoutError"}));
}

TEST(Timeout, RealCancellationIsNotTurnedIntoTimeout) {
  auto main = []() -> Coro<void> {
    // Cancelled from outside, not expired: CancelledError.
    Task<void> t = create_task(timeout(1h, []() -> Coro<void> { co_await sleep(1h); }));
    co_await sleep(0s);
    t.cancel("from outside");
    EXPECT_THROW(co_await t, CancelledError);
    // Cancelled from outside in the same iteration as the expiry: still CancelledError.
    Task<void> u = create_task(timeout(1ms, []() -> Coro<void> { co_await sleep(1h); }));
    EventLoop::current().call_later(1ms, [u]() mutable { u.cancel("racing"); });
    co_await sleep(1ms);
    bool cancelled = false;
    try {
      co_await u;
    } catch (const CancelledError&) {
      cancelled = true;
    } catch (const TimeoutError&) {
    }
    EXPECT_TRUE(cancelled);
  };
  run(main());
}

TEST(Timeout, BlockSwallowingTheCancellationReturnsNormally) {
  auto main = []() -> Coro<void> {
    bool expired = false;
    int v = co_await timeout(1ms, [&](Timeout& scope) -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      expired = scope.expired();
      co_return 8;
    });
    EXPECT_EQ(v, 8);
    EXPECT_TRUE(expired);
    EXPECT_EQ(cancelling(), 0);
    EXPECT_EQ(co_await value_after(1, 0s), 1);  // no cancellation left pending
  };
  run(main());
}

TEST(Timeout, OtherExceptionsPassThrough) {
  auto main = []() -> Coro<void> {
    EXPECT_THROW(co_await timeout(1h, []() -> Coro<void> {
      co_await sleep(0s);
      throw std::runtime_error("mine");
    }),
                 std::runtime_error);
    // Even once expired, an error raised during the cleanup is what propagates.
    EXPECT_THROW(co_await timeout(1ms, []() -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      throw std::logic_error("cleanup");
    }),
                 std::logic_error);
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
}

// CPython test_timeout_zero: a zero timeout expires at the first suspension.
TEST(Timeout, CPythonZero) {
  auto main = []() -> Coro<void> {
    EXPECT_THROW(co_await timeout(0s, []() -> Coro<void> { co_await sleep(10ms); }),
                 TimeoutError);
    // A block that never suspends finishes before the expiry can fire.
    EXPECT_EQ(co_await timeout(0s, []() -> Coro<int> { co_return 1; }), 1);
  };
  run(main());
}

// CPython test_timeout_in_the_past_sleep_0.
TEST(Timeout, CPythonInThePastSleep0) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    EXPECT_THROW(co_await timeout_at(loop.time() - 1s, []() -> Coro<void> { co_await sleep(0s); }),
                 TimeoutError);
  };
  run(main());
}

// CPython test_timeout_after_cancellation: a timeout used in cleanup after the task was
// cancelled still times out.
TEST(Timeout, CPythonTimeoutAfterCancellation) {
  auto main = []() -> Coro<void> {
    internal::TaskBase* me = internal::current_task_or_null();
    bool cancelled = false;
    try {
      me->cancel("");
      co_await sleep(1h);  // cancelled at once
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(me->cancelling(), 1);
    EXPECT_THROW(co_await timeout(0s, []() -> Coro<void> { co_await sleep(1h); }),
                 TimeoutError);
    EXPECT_EQ(me->cancelling(), 1);
    me->uncancel();
  };
  run(main());
}

// CPython test_cancel_in_timeout_after_cancellation.
TEST(Timeout, CPythonCancelInTimeoutAfterCancellation) {
  auto main = []() -> Coro<void> {
    internal::TaskBase* me = internal::current_task_or_null();
    try {
      me->cancel("");
      co_await sleep(1h);
    } catch (const CancelledError&) {
    }
    EXPECT_THROW(co_await timeout(1h, [me]() -> Coro<void> {
      me->cancel("");
      co_await sleep(1h);
    }),
                 CancelledError);
    me->uncancel();
    me->uncancel();
  };
  run(main());
}

// CPython test_outer_task_is_not_cancelled.
TEST(Timeout, CPythonOuterTaskIsNotCancelled) {
  auto main = []() -> Coro<void> {
    auto inner = []() -> Coro<void> {
      co_await timeout(1ms, []() -> Coro<void> { co_await sleep(1h); });
    };
    Task<void> t = create_task(inner());
    EXPECT_THROW(co_await t, TimeoutError);
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(cancelling(), 0);
  };
  run(main());
}

}  // namespace
}  // namespace weft
