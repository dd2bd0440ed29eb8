// Creation sites (internal): where a Coro, a Future or a Handle was created, for debug mode's
// reports about them (asyncio's "source_traceback" and "created at").
//
// Futures and Handles: the file:line of the create_future / call_soon / call_later / call_at
// call, from defaulted __builtin_FILE()/__builtin_LINE() arguments (std::source_location is
// not available with clang 14 + libstdc++ 12). Outside debug mode the two arguments are passed
// and dropped; in debug mode the object is allocated as a subclass that keeps them
// (SitedCallbackNode, SitedFutureState), so the ordinary objects do not grow.
//
// Coros: a short stack captured when the coroutine's frame is created (absl::GetStackTrace,
// which walks frame pointers; names from absl::Symbolize when reported), kept beside the
// frame in a table keyed by the promise's address. The promise constructor tests one global counter (how many loops are in debug mode,
// plus one for WEFT_DEBUG=1); only when it is non-zero does it look further.
#ifndef WEFT_LOOP_CREATION_SITE_H_
#define WEFT_LOOP_CREATION_SITE_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace weft::internal {

// Where a Future or Handle was created.
struct CallSite {
  const char* file = "";
  uint32_t line = 0;
  // "file:line".
  std::string to_string() const;
};

// Non-zero while some loop is in debug mode (or WEFT_DEBUG=1, counted from the first time
// the environment is read: the first EventLoop, at the latest): Coro creation stacks may be
// captured. Read by every coroutine's creation, so it has a cache line of its own: beside a
// counter that two loops write (W5's old task counter, placed there by the linker) every
// Coro creation waited for a cache-line transfer.
extern std::atomic<int> g_debug_reasons;
// An EventLoop entering (+1) or leaving (-1) debug mode.
void count_debug_loop(int delta);

// The slow path of the promise constructor: if the calling thread's loop is in debug mode (or,
// outside a loop, WEFT_DEBUG=1), records the stack for `promise` and returns true.
bool capture_coro_origin(const void* promise);
// Drops the stack recorded for `promise` (its frame is being destroyed).
void forget_coro_origin(const void* promise);
// The recorded stack, symbolised, one frame per line, most recent call last; "" if none.
std::string coro_origin(const void* promise);

// This thread's stack, symbolised, one frame per line, innermost first. Frames before the
// first one whose name contains none of `skip` (a null-terminated list) are left out.
std::string symbolized_stack_here(const char* const* skip);

}  // namespace weft::internal

#endif  // WEFT_LOOP_CREATION_SITE_H_
