// The whole public API of weft's event loop in one include.
#ifndef WEFT_LOOP_WEFT_H_
#define WEFT_LOOP_WEFT_H_

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/exception_context.h"
#include "loop/future.h"
#include "loop/handle.h"
#include "loop/run.h"
#include "loop/sleep.h"
#include "loop/task.h"

#endif  // WEFT_LOOP_WEFT_H_
