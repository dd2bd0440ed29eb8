// 7. Wait: asyncio.wait splits tasks into done and pending as soon as its condition holds
// (every task, the first one, or the first failure) and cancels nothing. The jobs sleep
// 10, 20 and 30 ms, so which are done at each point does not depend on timing.
//
// The Python original:
//
//   async def job(name, delay, fail=False):
//       await asyncio.sleep(delay)
//       if fail:
//           raise ValueError(f'{name} failed')
//       return name
//
//   def start(*jobs):
//       return [asyncio.create_task(job(*j), name=j[0]) for j in jobs]
//
//   def report(when, tasks, done, pending):
//       print(f'{when}: {len(done)} done, {len(pending)} pending, done: '
//             f'{[t.get_name() for t in tasks if t in done]}')
//
//   async def waiting():
//       tasks = start(('a', 0.01), ('b', 0.02), ('c', 0.03))
//       done, pending = await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)
//       report('ALL_COMPLETED', tasks, done, pending)
//
//       tasks = start(('a', 0.01), ('b', 0.02), ('c', 0.03))
//       done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
//       report('FIRST_COMPLETED', tasks, done, pending)
//       await asyncio.wait(pending)
//
//       tasks = start(('a', 0.01), ('b', 0.02, True), ('c', 0.03))
//       done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
//       report('FIRST_EXCEPTION', tasks, done, pending)
//       for t in tasks:
//           if t in done and t.exception():
//               print(f'{t.get_name()} raised: {t.exception()}')
//       await asyncio.wait(pending)
//
// In weft (done and pending are vectors that keep the input order, where asyncio gives
// sets; ValueError is std::invalid_argument):

#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<std::string> job(std::string name, weft::Duration delay, bool fail = false) {
  co_await weft::sleep(delay);
  if (fail) throw std::invalid_argument(name + " failed");
  co_return name;
}

struct Job {
  const char* name;
  weft::Duration delay;
  bool fail = false;
};

std::vector<weft::Task<std::string>> start(std::vector<Job> jobs) {
  std::vector<weft::Task<std::string>> tasks;
  for (const Job& j : jobs) {
    tasks.push_back(weft::create_task(job(j.name, j.delay, j.fail), j.name));
  }
  return tasks;
}

void report(const char* when, const weft::WaitResult<weft::Task<std::string>>& r) {
  std::printf("%s: %zu done, %zu pending, done: [", when, r.done.size(), r.pending.size());
  for (size_t i = 0; i < r.done.size(); ++i) {
    std::printf(i ? ", '%s'" : "'%s'", r.done[i].get_name().c_str());
  }
  std::printf("]\n");
}

}  // namespace

weft::Coro<void> waiting() {
  {
    auto tasks = start({{"a", 10ms}, {"b", 20ms}, {"c", 30ms}});
    auto r = co_await weft::wait(tasks, std::nullopt, weft::ALL_COMPLETED);
    report("ALL_COMPLETED", r);
  }
  {
    auto tasks = start({{"a", 10ms}, {"b", 20ms}, {"c", 30ms}});
    auto r = co_await weft::wait(tasks, std::nullopt, weft::FIRST_COMPLETED);
    report("FIRST_COMPLETED", r);
    co_await weft::wait(r.pending);
  }
  {
    auto tasks = start({{"a", 10ms}, {"b", 20ms, /*fail=*/true}, {"c", 30ms}});
    auto r = co_await weft::wait(tasks, std::nullopt, weft::FIRST_EXCEPTION);
    report("FIRST_EXCEPTION", r);
    for (weft::Task<std::string>& t : r.done) {
      if (std::exception_ptr e = t.exception()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::printf("%s raised: %s\n", t.get_name().c_str(), ex.what());
        }
      }
    }
    co_await weft::wait(r.pending);
  }
}

}  // namespace tour
