// 4. A custom awaitable: a type of your own with await_ready/await_suspend/await_resume.
// This one sums on a new thread and resumes the awaiting task from there; weft hands it a
// handle that is safe to resume from any thread, and the task goes on on its own loop's
// thread.
//
// The Python original (an object with __await__, completed with call_soon_threadsafe):
//
//   import threading
//
//   class SumInThread:
//       def __init__(self, n):
//           self.n = n
//
//       def __await__(self):
//           loop = asyncio.get_running_loop()
//           future = loop.create_future()
//           def work():
//               total = sum(range(self.n))
//               loop.call_soon_threadsafe(future.set_result, total)
//           thread = threading.Thread(target=work)
//           thread.start()
//           total = yield from future.__await__()
//           thread.join()
//           return total
//
//   async def custom_awaitable():
//       loop_thread = threading.get_ident()
//       total = await SumInThread(1_000_000)
//       print(f'sum(range(1000000)) = {total}')
//       same = threading.get_ident() == loop_thread
//       print('resumed on the loop thread' if same else 'resumed on another thread')
//
// In weft:

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

class SumInThread {
 public:
  explicit SumInThread(int64_t n) : n_(n) {}

  bool await_ready() const noexcept { return false; }
  // `resume` wakes the awaiting task on its loop; any thread may call resume() on it.
  void await_suspend(std::coroutine_handle<> resume) {
    thread_ = std::thread([this, resume] {
      int64_t total = 0;
      for (int64_t i = 0; i < n_; ++i) total += i;
      total_ = total;
      resume.resume();
    });
  }
  int64_t await_resume() {
    thread_.join();
    return total_;
  }

 private:
  int64_t n_;
  int64_t total_ = 0;
  std::thread thread_;
};

}  // namespace

weft::Coro<void> custom_awaitable() {
  std::thread::id loop_thread = std::this_thread::get_id();
  int64_t total = co_await SumInThread(1'000'000);
  std::printf("sum(range(1000000)) = %lld\n", static_cast<long long>(total));
  bool same = std::this_thread::get_id() == loop_thread;
  std::puts(same ? "resumed on the loop thread" : "resumed on another thread");
}

}  // namespace tour
