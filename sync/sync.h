// Everything in sync/: asyncio's synchronisation primitives, safe to share between tasks on
// different loops of a Runtime. (Not in loop/weft.h: sync/ depends on loop/, not the reverse.)
#ifndef WEFT_SYNC_SYNC_H_
#define WEFT_SYNC_SYNC_H_

#include "sync/barrier.h"
#include "sync/condition.h"
#include "sync/errors.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/release_guard.h"
#include "sync/semaphore.h"

#endif  // WEFT_SYNC_SYNC_H_
