#include "scheduler/loop_ref.h"

#include <utility>

#include "loop/handle.h"

namespace weft::internal {

void LoopRef::post(absl::AnyInvocable<void()> fn) const {
  // One reference: the inbox's. run() or discard() releases it (and with it fn).
  auto* node = new CallbackNode(loop_, std::move(fn), /*refs=*/1);
  schedule_threadsafe_if_alive(loop_, serial_, node);
}

}  // namespace weft::internal
