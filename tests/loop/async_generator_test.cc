#include "loop/async_generator.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

// Logs when it goes out of scope: shows which destructors of a generator's frame ran.
struct Guard {
  std::vector<std::string>* log;
  std::string name;
  ~Guard() { log->push_back(name + " destroyed"); }
};

AsyncGenerator<int> count_to(int n) {
  for (int i = 1; i <= n; ++i) co_yield i;
}

AsyncGenerator<int> slow_count(int n, std::vector<std::string>* log) {
  Guard g{log, "slow_count"};
  for (int i = 1; i <= n; ++i) {
    co_await sleep(0s);
    co_yield i;
  }
  log->push_back("slow_count finished");
}

// Yields forever; when closed, runs an awaiting cleanup.
AsyncGenerator<int> with_async_cleanup(std::vector<std::string>* log) {
  Guard g{log, "frame"};
  bool closed = false;
  try {
    for (int i = 0;; ++i) co_yield i;
  } catch (const GeneratorExit&) {
    closed = true;
  }
  // C++ forbids co_await inside a handler: clean up after it.
  if (closed) {
    co_await sleep(0s);
    log->push_back("async cleanup ran");
    throw GeneratorExit();
  }
}

TEST(AsyncGenerator, YieldsThenEnds) {
  auto main = []() -> Coro<void> {
    auto gen = count_to(3);
    std::vector<int> got;
    while (std::optional<int> v = co_await gen.next()) got.push_back(*v);
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(gen.done());
    EXPECT_FALSE((co_await gen.next()).has_value());
  };
  run(main());
}

TEST(AsyncGenerator, AwaitsBetweenYieldsInTheConsumersTask) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    internal::TaskBase* me = internal::current_task_or_null();
    internal::TaskBase* seen = nullptr;
    auto gen = [](internal::TaskBase** seen) -> AsyncGenerator<int> {
      co_await sleep(1ms);
      *seen = internal::current_task_or_null();
      co_yield 1;
      co_await sleep(0s);
      co_yield 2;
    }(&seen);
    EXPECT_EQ(*co_await gen.next(), 1);
    EXPECT_EQ(seen, me);
    EXPECT_EQ(*co_await gen.next(), 2);
    EXPECT_FALSE(co_await gen.next());
    auto slow = slow_count(3, &log);
    int sum = 0;
    while (auto v = co_await slow.next()) sum += *v;
    EXPECT_EQ(sum, 6);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"slow_count finished", "slow_count destroyed"}));
}

TEST(AsyncGenerator, ExceptionComesOutOfNextAndFinishesIt) {
  auto main = []() -> Coro<void> {
    auto gen = []() -> AsyncGenerator<int> {
      co_yield 1;
      co_await sleep(0s);
      throw std::runtime_error("generator broke");
    }();
    EXPECT_EQ(*co_await gen.next(), 1);
    EXPECT_THROW(co_await gen.next(), std::runtime_error);
    EXPECT_TRUE(gen.done());
    EXPECT_FALSE(co_await gen.next());
  };
  run(main());
}

TEST(AsyncGenerator, MoveOnlyAndCopiedValues) {
  auto main = []() -> Coro<void> {
    auto ptrs = []() -> AsyncGenerator<std::unique_ptr<int>> {
      co_yield std::make_unique<int>(1);
      auto p = std::make_unique<int>(2);
      co_yield std::move(p);
    }();
    EXPECT_EQ(**co_await ptrs.next(), 1);
    EXPECT_EQ(**co_await ptrs.next(), 2);
    // An lvalue is copied: the generator's own variable is untouched.
    auto strings = [](std::vector<std::string>* seen) -> AsyncGenerator<std::string> {
      std::string s = "kept";
      co_yield s;
      seen->push_back(s);
      co_yield "converted";
    };
    std::vector<std::string> seen;
    auto g = strings(&seen);
    EXPECT_EQ(*co_await g.next(), "kept");
    EXPECT_EQ(*co_await g.next(), "converted");
    EXPECT_EQ(seen, (std::vector<std::string>{"kept"}));
  };
  run(main());
}

TEST(AsyncGenerator, GeneratorsCompose) {
  auto main = []() -> Coro<void> {
    auto doubled = [](AsyncGenerator<int> in) -> AsyncGenerator<int> {
      while (auto v = co_await in.next()) co_yield *v * 2;
    }(count_to(3));
    std::vector<int> got;
    while (auto v = co_await doubled.next()) got.push_back(*v);
    EXPECT_EQ(got, (std::vector<int>{2, 4, 6}));
  };
  run(main());
}

TEST(AsyncGenerator, ManyItemsDoNotGrowTheStack) {
  auto main = []() -> Coro<void> {
    auto gen = count_to(200000);
    long sum = 0;
    while (auto v = co_await gen.next()) sum += *v;
    EXPECT_EQ(sum, 200000L * 200001L / 2);
  };
  run(main());
}

TEST(AsyncGenerator, AcloseRunsTheCleanupWhichMayAwait) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = with_async_cleanup(&log);
    EXPECT_EQ(*co_await gen.next(), 0);
    EXPECT_EQ(*co_await gen.next(), 1);
    co_await gen.aclose();
    log.push_back("aclose returned");
    EXPECT_TRUE(gen.done());
    EXPECT_FALSE(co_await gen.next());
    co_await gen.aclose();  // again: nothing to do
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"async cleanup ran", "frame destroyed",
                                           "aclose returned"}));
}

TEST(AsyncGenerator, AcloseBeforeStartingNeverRunsTheBody) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = [](std::vector<std::string>* log) -> AsyncGenerator<int> {
      log->push_back("body ran");
      co_yield 1;
    }(&log);
    co_await gen.aclose();
    EXPECT_TRUE(gen.done());
    auto finished = count_to(1);
    while (co_await finished.next()) {
    }
    co_await finished.aclose();
  };
  run(main());
  EXPECT_TRUE(log.empty());
}

TEST(AsyncGenerator, AcloseErrors) {
  auto main = []() -> Coro<void> {
    auto stubborn = []() -> AsyncGenerator<int> {
      for (;;) {
        try {
          co_yield 1;
        } catch (const GeneratorExit&) {
        }
      }
    }();
    co_await stubborn.next();
    EXPECT_THROW(co_await stubborn.aclose(), RuntimeError);
    EXPECT_TRUE(stubborn.done());

    auto failing = []() -> AsyncGenerator<int> {
      try {
        co_yield 1;
      } catch (const GeneratorExit&) {
        throw std::runtime_error("cleanup failed");
      }
    }();
    co_await failing.next();
    EXPECT_THROW(co_await failing.aclose(), std::runtime_error);

    auto returning = []() -> AsyncGenerator<int> {
      try {
        co_yield 1;
      } catch (const GeneratorExit&) {
      }
    }();
    co_await returning.next();
    co_await returning.aclose();  // returning instead of re-raising is fine
    EXPECT_TRUE(returning.done());
  };
  run(main());
}

TEST(AsyncGenerator, DestroyedMidwayRunsItsDestructors) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    {
      auto gen = slow_count(10, &log);
      co_await gen.next();
    }
    log.push_back("after scope");
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"slow_count destroyed", "after scope"}));
}

TEST(AsyncGenerator, AbandonedMidwayIsFinalisedAtShutdown) {
  std::vector<std::string> log;
  std::unique_ptr<AsyncGenerator<int>> kept;
  auto main = [&]() -> Coro<void> {
    kept = std::make_unique<AsyncGenerator<int>>(with_async_cleanup(&log));
    EXPECT_EQ(*co_await kept->next(), 0);
    log.push_back("main returns");
  };
  run(main());
  log.push_back("run returned");
  // Shutdown ran its cleanup (which awaited) and destroyed its frame.
  EXPECT_EQ(log, (std::vector<std::string>{"main returns", "async cleanup ran", "frame destroyed",
                                           "run returned"}));
  EXPECT_TRUE(kept->done());
  kept.reset();  // nothing left to destroy
}

TEST(AsyncGenerator, ConsumerCancelledAtShutdownDestroysItsGenerator) {
  std::vector<std::string> log;
  bool holding = false;
  auto consumer = [](std::vector<std::string>* log, bool* holding) -> Coro<void> {
    auto gen = slow_count(10, log);
    co_await gen.next();
    *holding = true;
    co_await sleep(1h);
  };
  auto main = [&]() -> Coro<void> {
    create_task(consumer(&log, &holding));
    // The consumer holds a suspended generator when shutdown cancels it (gen.next() takes
    // more than one loop iteration: a fixed sleep here would not guarantee it).
    while (!holding) co_await sleep(0s);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"slow_count destroyed"}));
}

TEST(AsyncGenerator, ErrorDuringShutdownFinalisationIsReported) {
  testing::HandlerLog handler;
  std::unique_ptr<AsyncGenerator<int>> kept;
  auto main = [&]() -> Coro<void> {
    handler.install();
    kept = std::make_unique<AsyncGenerator<int>>([]() -> AsyncGenerator<int> {
      try {
        co_yield 1;
      } catch (const GeneratorExit&) {
      }
      co_await sleep(0s);
      throw std::runtime_error("finaliser failed");
    }());
    co_await kept->next();
  };
  run(main());
  EXPECT_EQ(handler.count("closing of an asynchronous generator"), 1u) << handler.dump();
}

TEST(AsyncGenerator, CancellingTheConsumerWhileTheGeneratorAwaits) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = [](std::vector<std::string>* log) -> AsyncGenerator<int> {
      Guard g{log, "gen"};
      co_yield 1;
      co_await sleep(1h);
      co_yield 2;
    }(&log);
    co_await gen.next();
    try {
      co_await timeout(1ms, gen.next());
      ADD_FAILURE();
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    EXPECT_TRUE(gen.done());  // the CancelledError finished it
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"gen destroyed", "timeout"}));
}

TEST(AsyncGenerator, SecondConsumerWhileRunningIsAnError) {
  auto main = []() -> Coro<void> {
    auto gen = []() -> AsyncGenerator<int> {
      co_await sleep(1ms);
      co_yield 1;
      co_yield 2;
    }();
    Task<int> first = create_task([](AsyncGenerator<int>* g) -> Coro<int> {
      co_return *co_await g->next();
    }(&gen));
    co_await sleep(0s);
    EXPECT_THROW(co_await gen.next(), RuntimeError);
    EXPECT_THROW(co_await gen.aclose(), RuntimeError);
    EXPECT_EQ(co_await first, 1);
    EXPECT_EQ(*co_await gen.next(), 2);
  };
  run(main());
}

// asend: the co_yield evaluates to the sent value, or std::nullopt after next().
AsyncGenerator<int, int> running_total(std::vector<std::string>* log) {
  log->push_back("started");
  int total = 0;
  for (;;) {
    std::optional<int> add = co_yield total;
    if (add) {
      total += *add;
    } else {
      log->push_back("next() resumed it");
    }
  }
}

TEST(AsyncGenerator, AsendGivesTheValueToTheCoYield) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = running_total(&log);
    EXPECT_EQ(*co_await gen.next(), 0);
    EXPECT_EQ(*co_await gen.asend(5), 5);
    EXPECT_EQ(*co_await gen.asend(2), 7);
    EXPECT_EQ(*co_await gen.next(), 7);
    EXPECT_EQ(*co_await gen.asend(-7), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"started", "next() resumed it"}));
}

TEST(AsyncGenerator, AsendBeforeTheFirstNextIsAnErrorAndDoesNotStartIt) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = running_total(&log);
    try {
      co_await gen.asend(1);
      ADD_FAILURE() << "asend on a generator not started should raise";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("start it with next()"), std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(log.empty());
    EXPECT_FALSE(gen.done());
    EXPECT_EQ(*co_await gen.next(), 0);
    EXPECT_EQ(*co_await gen.asend(3), 3);
  };
  run(main());
}

TEST(AsyncGenerator, AsendOnAFinishedGeneratorGivesNothing) {
  auto main = []() -> Coro<void> {
    auto gen = []() -> AsyncGenerator<int, std::string> {
      std::optional<std::string> word = co_yield 1;
      co_yield static_cast<int>(word ? word->size() : 0);
    }();
    EXPECT_EQ(*co_await gen.next(), 1);
    EXPECT_EQ(*co_await gen.asend("four"), 4);
    EXPECT_FALSE(co_await gen.asend("more"));
    EXPECT_TRUE(gen.done());
  };
  run(main());
}

// Catches what athrow raises at its co_yield and yields -1 instead; returns on "stop".
AsyncGenerator<int> forgiving(std::vector<std::string>* log) {
  Guard g{log, "forgiving"};
  for (int i = 0;; ++i) {
    bool caught = false;
    try {
      co_yield i;
    } catch (const std::runtime_error& e) {
      log->push_back(std::string("caught ") + e.what());
      if (std::string(e.what()) == "stop") co_return;
      caught = true;
    }
    if (caught) co_yield -1;
  }
}

TEST(AsyncGenerator, AthrowRaisesAtTheCoYield) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = forgiving(&log);
    EXPECT_EQ(*co_await gen.next(), 0);
    EXPECT_EQ(*co_await gen.athrow(std::runtime_error("oops")), -1);
    EXPECT_EQ(*co_await gen.next(), 1);
    // The body returns: std::nullopt, and the generator is finished.
    EXPECT_FALSE(co_await gen.athrow(std::make_exception_ptr(std::runtime_error("stop"))));
    EXPECT_TRUE(gen.done());
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"caught oops", "caught stop", "forgiving destroyed"}));
}

TEST(AsyncGenerator, AthrowNotCaughtComesOutAndFinishesIt) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto gen = forgiving(&log);
    EXPECT_EQ(*co_await gen.next(), 0);
    try {
      co_await gen.athrow(std::logic_error("not a runtime_error"));
      ADD_FAILURE() << "the body does not catch logic_error";
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "not a runtime_error");
    }
    EXPECT_TRUE(gen.done());
    EXPECT_FALSE(co_await gen.next());
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"forgiving destroyed"}));
}

TEST(AsyncGenerator, AthrowBeforeStartOrAfterTheEndRaisesAtOnce) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    auto fresh = forgiving(&log);
    EXPECT_THROW(co_await fresh.athrow(std::runtime_error("early")), std::runtime_error);
    EXPECT_TRUE(fresh.done());  // finished without running its body
    auto finished = count_to(1);
    while (co_await finished.next()) {
    }
    EXPECT_THROW(co_await finished.athrow(std::runtime_error("late")), std::runtime_error);
  };
  run(main());
  EXPECT_TRUE(log.empty()) << "the body of `fresh` must not have run";
}

TEST(AsyncGenerator, AsendAndAthrowWhileRunningAreErrors) {
  auto main = []() -> Coro<void> {
    auto gen = []() -> AsyncGenerator<int, int> {
      co_yield 0;
      co_await sleep(1ms);
      co_yield 1;
      co_yield 2;
    }();
    co_await gen.next();
    Task<int> first = create_task([](AsyncGenerator<int, int>* g) -> Coro<int> {
      co_return *co_await g->next();
    }(&gen));
    co_await sleep(0s);
    EXPECT_THROW(co_await gen.asend(5), RuntimeError);
    EXPECT_THROW(co_await gen.athrow(std::runtime_error("x")), RuntimeError);
    EXPECT_EQ(co_await first, 1);
    EXPECT_EQ(*co_await gen.asend(5), 2);  // nothing was handed over by the refused calls
  };
  run(main());
}

}  // namespace
}  // namespace weft
