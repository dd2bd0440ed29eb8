// The whole public API of weft's event loop in one include.
#ifndef WEFT_LOOP_WEFT_H_
#define WEFT_LOOP_WEFT_H_

#include "loop/as_completed.h"
#include "loop/async_generator.h"
#include "loop/async_with.h"
#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/exception_context.h"
#include "loop/exception_group.h"
#include "loop/fd_watch.h"
#include "loop/future.h"
#include "loop/gather.h"
#include "loop/handle.h"
#include "loop/os_error.h"
#include "loop/outcome.h"
#include "loop/run.h"
#include "loop/shield.h"
#include "loop/signals.h"
#include "loop/sleep.h"
#include "loop/task.h"
#include "loop/task_group.h"
#include "loop/timeout.h"
#include "loop/wait.h"
#include "loop/wait_for.h"

#endif  // WEFT_LOOP_WEFT_H_
