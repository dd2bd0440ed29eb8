#!/bin/bash
# Deterministic instruction counts per operation for //bench:loop_bench, with callgrind.
#
#   bazel build --config=opt //bench:loop_bench
#   bench/callgrind_per_op.sh [N]            # N: base iteration count (default 20000)
#
# Each benchmark runs twice under callgrind, with N and 2N fixed iterations
# (WEFT_BENCH_ITERATIONS); instructions per operation = (Ir(2N) - Ir(N)) / (N x ops per
# iteration), so setup, teardown and the benchmark library's own work cancel out.
# BM_CallSoonThreadsafe is left out: two threads, so its count depends on the interleaving.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bazel-bin/bench/loop_bench}
N=${1:-20000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# benchmark name (exact) : operations per iteration
CASES=(
  "BM_CallSoon/1000:1000"
  "BM_CreateTaskAwait:1"
  "BM_InlineAwait:1"
  "BM_InlineAwaitVoid:1"
  "BM_Sleep0:1"
  "BM_Sleep0ManyTasks/200:201"
  "BM_CallLaterCancel/0:1"
  "BM_CallLaterCancel/10000:1"
)

total_ir() {  # iterations, filter
  local out="$TMP/cg.out"
  WEFT_BENCH_ITERATIONS=$1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$BIN" --benchmark_filter="^$2/iterations:[0-9]+\$" >/dev/null 2>"$TMP/log" || { cat "$TMP/log" >&2; exit 1; }
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

printf "%-28s %12s\n" benchmark Ir_per_op
for c in "${CASES[@]}"; do
  name=${c%%:*}
  ops=${c##*:}
  a=$(total_ir "$N" "$name")
  b=$(total_ir $((2 * N)) "$name")
  awk -v a="$a" -v b="$b" -v n="$N" -v ops="$ops" -v name="$name" \
    'BEGIN { printf "%-28s %12.1f\n", name, (b - a) / (n * ops) }'
done
