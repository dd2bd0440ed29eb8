// Streams and subprocesses on a multi-loop Runtime: each task uses the pipes and children it
// created, on whichever loop started it; many at once, under TSan in CI.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loop/fd_streams.h"
#include "loop/subprocess.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"

namespace weft {
namespace {

// Sends `lines` numbered lines through `cat` and checks they come back in order.
Coro<int> cat_round_trip(int id, int lines) {
  auto p = create_subprocess_exec("cat", {}, {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe});
  std::string expected;
  for (int i = 0; i < lines; ++i) {
    std::string line = std::to_string(id) + ":" + std::to_string(i) + "\n";
    p->stdin()->write(line);
    expected += line;
    co_await p->stdin()->drain();
  }
  p->stdin()->write_eof();
  std::string got;
  for (;;) {
    std::string line = co_await p->stdout()->readline();
    if (line.empty()) break;
    got += line;
  }
  const int status = co_await p->wait();
  co_return got == expected ? status : -1000;
}

TEST(StreamsRuntimeTest, SubprocessesOnEveryLoop) {
  const std::vector<int> results = weft::run(
      []() -> Coro<std::vector<int>> {
        std::vector<Task<int>> tasks;
        for (int i = 0; i < 16; ++i) tasks.push_back(spawn(cat_round_trip(i, 200)));
        std::vector<int> out;
        for (Task<int>& t : tasks) out.push_back(co_await t);
        co_return out;
      }(),
      {.threads = 2});
  ASSERT_EQ(results.size(), 16u);
  for (int r : results) EXPECT_EQ(r, 0);
}

}  // namespace
}  // namespace weft
