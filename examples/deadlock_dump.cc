// A task that waits for a Lock it already holds hangs forever, silently. The task dump
// (loop/introspect.h) shows why at a glance: the task holds the lock in refresh_all(), and
// the innermost frame, update_entry(), is suspended on the lock's acquire.
//
//   bazel run //examples:deadlock_dump
//
// The same dump is printed by `kill -USR1 <pid>` once enable_task_dump_on_signal(SIGUSR1)
// was called, which is how one finds such a hang in a running program.
#include <cstdio>
#include <string>

#include "loop/weft.h"
#include "sync/sync.h"

using namespace std::chrono_literals;

namespace {

weft::Lock cache_lock;
int cache_version = 0;

// Takes the lock to update one entry.
weft::Coro<void> update_entry(int key) {
  weft::LockGuard guard = co_await cache_lock.scoped();  // waits forever: see refresh_all
  cache_version += key;
}

// The bug: it holds the lock while it calls a coroutine that takes the lock again. weft's
// Lock, like asyncio's, is not reentrant.
weft::Coro<void> refresh_all() {
  weft::LockGuard guard = co_await cache_lock.scoped();
  for (int key = 1; key <= 3; ++key) co_await update_entry(key);
}

weft::Coro<void> main_coro() {
  weft::Task<void> refresher = weft::create_task(refresh_all(), "refresher");
  co_await weft::sleep(50ms);  // by now the refresher is stuck
  std::fputs(weft::dump_tasks(weft::EventLoop::current()).c_str(), stdout);
  refresher.cancel("deadlock shown");
  try {
    co_await refresher;
  } catch (const weft::CancelledError&) {
    std::puts("refresher cancelled");
  }
}

}  // namespace

int main() { weft::run(main_coro()); }
