// drop_ref: the release half of an intrusive atomic reference count, for the objects a loop
// creates and frees at its own rate (callback nodes, executor jobs; FutureBase spells out a
// variant whose plain-future count stops at 1, for its awaiter pins).
//
//   void unref() {
//     if (internal::drop_ref(refs_)) delete this;
//   }
//
// Returns true when the caller held the last reference (the object is then the caller's to
// destroy). The sole owner skips the read-modify-write: a count read as 1 cannot change under
// it, since nobody else holds a reference to change it with, and most objects lose their
// last reference on the thread that used them. A locked decrement costs about 6 ns on the
// project's VM even uncontended; in W3l (ping-pong on one loop) the counts held about 60% of
// the profile (docs/ARCHITECTURE.md, "Reference counts on the hot paths").
//
// Thread-safety: any thread, with a reference held. The acquire load pairs with the release
// of the other owners' earlier decrements, so the destroying thread sees their writes.
#ifndef WEFT_LOOP_REF_COUNT_H_
#define WEFT_LOOP_REF_COUNT_H_

#include <atomic>
#include <cstdint>

namespace weft::internal {

inline bool drop_ref(std::atomic<uint32_t>& refs) {
  return refs.load(std::memory_order_acquire) == 1 ||
         refs.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

}  // namespace weft::internal

#endif  // WEFT_LOOP_REF_COUNT_H_
