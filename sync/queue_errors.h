// The errors of the queues (sync/queue.h), named after asyncio's.
#ifndef WEFT_SYNC_QUEUE_ERRORS_H_
#define WEFT_SYNC_QUEUE_ERRORS_H_

#include <string>

#include "loop/errors.h"

namespace weft {

// get_nowait() found the queue empty (asyncio.QueueEmpty).
class QueueEmpty : public Error {
 public:
  using Error::Error;
};

// put_nowait() found the queue full (asyncio.QueueFull).
class QueueFull : public Error {
 public:
  using Error::Error;
};

// put or get on a queue that was shut down (asyncio.QueueShutDown, Python 3.13): every put
// after shutdown(), and every get once the queue is shut down and empty.
class QueueShutDown : public Error {
 public:
  using Error::Error;
};

}  // namespace weft

#endif  // WEFT_SYNC_QUEUE_ERRORS_H_
