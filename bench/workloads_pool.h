// Workloads W7 and W7s of shared/WORKLOADS.md on weft: the blocking pool, driven from one
// event loop (weft::run). Each function runs its workload once and returns its metric. The
// pool is weft::run's own (blocking_pool.h): each run starts it cold, and joins its threads
// at its end.
#ifndef WEFT_BENCH_WORKLOADS_POOL_H_
#define WEFT_BENCH_WORKLOADS_POOL_H_

#include <cstddef>

// W7 blocking_pool: 100,000 x scale calls of a trivial function through the blocking pool
// (to_thread), all submitted, then all awaited. Returns calls per second.
double weft_w7_blocking_pool(double scale);

// W7s blocking_sleep: 2,000 x scale blocking calls that each sleep 1 ms, all awaited.
// Returns the wall time in seconds.
double weft_w7s_blocking_sleep(double scale);

// How many threads the pool had when the last of the two above finished its measurement.
size_t weft_last_pool_threads();

#endif  // WEFT_BENCH_WORKLOADS_POOL_H_
