#!/bin/bash
# The allocator study (loop/frame_allocator.h): builds //bench:loop_bench and
# //bench:idle_tasks_memory with each FrameAllocator variant, then runs them back to back,
# interleaved, ROUNDS times (the machine is shared and noisy: compare medians across rounds).
#
#   bench/compare_allocators.sh [ROUNDS] [benchmark filter regex]
#
# Variants: new (plain operator new: glibc malloc), tbb (oneTBB scalable_malloc), fl (the
# per-thread free list, the default). Extra binaries to compare against (e.g. a build of an
# older commit) can be dropped into $OUT as loop_bench.<name> / idle.<name> and listed in
# VARIANTS="before new tbb fl".
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FILTER=${2:-.}
OUT=${OUT:-/tmp/weft_alloc_study}
VARIANTS=${VARIANTS:-new tbb fl}
mkdir -p "$OUT"
for v in new tbb fl; do
  [[ " $VARIANTS " == *" $v "* ]] || continue
  if [[ $v == fl ]]; then define=(); else define=(--define=weft_frame_allocator=$v); fi
  bazel build --config=opt "${define[@]}" //bench:loop_bench //bench:idle_tasks_memory >/dev/null 2>&1
  cp -f bazel-bin/bench/loop_bench "$OUT/loop_bench.$v"
  cp -f bazel-bin/bench/idle_tasks_memory "$OUT/idle.$v"
done
for round in $(seq "$ROUNDS"); do
  for v in $VARIANTS; do
    echo "== round $round variant $v ($(cut -d' ' -f1-3 /proc/loadavg))"
    "$OUT/loop_bench.$v" --benchmark_filter="$FILTER" --benchmark_repetitions=5 \
      --benchmark_report_aggregates_only=true 2>/dev/null |
      awk '/_median/ {printf "%-44s %s\n", $1, $NF}'
    for i in 1 2 3 4 5; do "$OUT/idle.$v"; done | sort -t= -k2 -n | sed -n 3p
  done
done
