// The errors of sync/, named after asyncio's. The other errors sync/ raises are loop/'s:
// RuntimeError for misuse (releasing a Lock that is not held, waiting on a Condition whose
// lock is not held) and CancelledError.
#ifndef WEFT_SYNC_ERRORS_H_
#define WEFT_SYNC_ERRORS_H_

#include <string>

#include "loop/errors.h"

namespace weft {

// A value outside what the operation accepts: a negative Semaphore value, a Barrier of no
// parties, a BoundedSemaphore released more often than acquired (Python's ValueError).
class ValueError : public Error {
 public:
  using Error::Error;
};

// A Barrier was aborted or reset while a task waited on it, or is broken when a task
// arrives (asyncio.BrokenBarrierError, a RuntimeError).
class BrokenBarrierError : public RuntimeError {
 public:
  explicit BrokenBarrierError(const std::string& message) : RuntimeError(message) {}
};

}  // namespace weft

#endif  // WEFT_SYNC_ERRORS_H_
