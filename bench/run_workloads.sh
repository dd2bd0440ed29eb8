#!/usr/bin/env bash
# Runs the side-by-side workloads (shared/WORKLOADS.md) on weft and oneTBB, each workload in
# its own process, REPEAT times (default 5), interleaving the runtimes so that machine drift
# hits both alike, and prints the median, min and max of each metric.
#
#   bench/run_workloads.sh [REPEAT] [SCALE]
#
# The full, charted suite with the other peers (asyncio, uvloop, Go, Asio, Tokio) is
# bench/suite.py; this is the quick weft/oneTBB table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repeat="${1:-5}"
scale="${2:-1}"
tools/setup.sh >/dev/null
bazel build --config=opt //bench:workloads >/dev/null 2>&1
bin="bazel-bin/bench/workloads"
weft_workloads=(spawn_many spawn_many_remote yield_many ping_pong_xthread ping_pong_local
                chained_spawn fib_fork_join timers timer_cancel blocking_pool blocking_sleep
                idle_tasks_memory skynet)
tbb_workloads=(spawn_many chained_spawn fib_fork_join skynet)
out="$(mktemp)"
for ((r = 0; r < repeat; r++)); do
  for w in "${weft_workloads[@]}"; do
    "$bin" weft "$w" "$scale" >>"$out"
    for t in "${tbb_workloads[@]}"; do
      [[ "$t" == "$w" ]] && "$bin" onetbb "$w" "$scale" >>"$out"
    done
  done
done
python3 - "$out" <<'PY'
import sys, statistics, collections
vals = collections.OrderedDict()
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or parts[0] != "RESULT":
        continue
    runtime, workload = parts[1], parts[2]
    for kv in parts[3:]:
        k, v = kv.split("=")
        vals.setdefault((workload, runtime, k), []).append(float(v))
print(f"{'workload':<20} {'runtime':<8} {'metric':<22} {'median':>14} {'min':>14} {'max':>14}  n")
for (w, r, k), v in vals.items():
    print(f"{w:<20} {r:<8} {k:<22} {statistics.median(v):>14.6g} {min(v):>14.6g} {max(v):>14.6g}  {len(v)}")
PY
rm -f "$out"
