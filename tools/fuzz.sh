#!/usr/bin/env bash
# Builds the libFuzzer targets (--config=fuzz: clang 14, ASan + UBSan) and runs each one for
# a bounded time from a fresh, empty corpus. .ci/run calls this; it is the same run locally.
#
#   tools/fuzz.sh                 # 60 s per fuzzer
#   tools/fuzz.sh 20              # 20 s per fuzzer
#   tools/fuzz.sh 60 --config=ci  # extra arguments are passed to `bazel build`
#
# Corpora, logs and crash/leak/timeout/oom reproducers go to $FUZZ_DIR (default: a new
# /tmp/weft-fuzz.XXXXXX, kept). A seed corpus, if the repository has one, is the directory
# <fuzzer>_corpus next to the fuzzer's BUILD file; it is read, never written.
# Replay a reproducer by passing it to the fuzzer binary instead of the corpus directory.
#
# Prints one line per fuzzer at the end, e.g.
#   fuzz:      stream_reader_fuzzer passed (60s, 812345 runs, cov 1029, ft 6081, corpus 412)
#   fuzz:      http_parser_fuzzer FAILED (crash; reproducer /tmp/weft-fuzz.x/http_parser_fuzzer/crash-...)
# and exits non-zero if any fuzzer failed to build, crashed, leaked, timed out or ran out of
# memory. A failure also prints the reproducer (base64) and the last 60 lines of its log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

# label, then -max_len (as suggested in each fuzzer's file comment).
FUZZERS=(
  "//tests/io:stream_reader_fuzzer 1024"
  "//tests/examples:http_parser_fuzzer 4096"
)
SEED=20251121      # fixed, so that two runs of the same tree start alike
TIMEOUT_SECS=10    # one input taking this long is a hang (they take microseconds)
RSS_LIMIT_MB=2048  # the ASan quarantine and libFuzzer's tables stay under ~800 MB

secs=60
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  secs="$1"
  shift
fi
bazel_flags=("$@")

tools/setup.sh || exit 1

if [[ -z "${FUZZ_DIR:-}" ]]; then
  FUZZ_DIR="$(mktemp -d "${TMPDIR:-/tmp}/weft-fuzz.XXXXXX")" || exit 1
fi
mkdir -p "$FUZZ_DIR" || exit 1

symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:external_symbolizer_path=$symbolizer}"

results=()
failed=0

# fail NAME WHAT LOG: records a failure and prints the reproducer and the end of the log.
fail() {
  local name="$1" what="$2" log="$3" repro=""
  if [[ -f "$log" ]]; then
    repro="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)"
    echo "---- $name: last 60 lines of $log"
    tail -n 60 "$log"
    echo "----"
  fi
  if [[ -n "$repro" && -f "$repro" ]]; then
    echo "$name: reproducer $repro ($(stat -c %s "$repro") bytes), base64:"
    head -c 8192 "$repro" | base64
    what="$what; reproducer $repro"
  fi
  failed=$((failed + 1))
  results+=("$(printf '%-10s %s FAILED (%s)' "fuzz:" "$name" "$what")")
}

# final_stat NAME: libFuzzer's -print_final_stats value NAME from $log.
final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n1; }

for entry in "${FUZZERS[@]}"; do
  read -r label max_len <<<"$entry"
  name="${label##*:}"
  pkg="${label#//}"
  pkg="${pkg%%:*}"
  out="$FUZZ_DIR/$name"
  log="$out/fuzz.log"
  rm -rf "$out"
  mkdir -p "$out/corpus"

  echo "== $name: bazel build --config=fuzz ${bazel_flags[*]} $label"
  if ! bazel build --config=fuzz "${bazel_flags[@]}" -- "$label"; then
    fail "$name" "build failed" ""
    continue
  fi
  bin="$(bazel info --config=fuzz "${bazel_flags[@]}" bazel-bin 2>/dev/null)/$pkg/$name"
  if [[ ! -x "$bin" ]]; then
    fail "$name" "no binary at $bin" ""
    continue
  fi

  corpora=("$out/corpus")
  [[ -d "$pkg/${name}_corpus" ]] && corpora+=("$pkg/${name}_corpus")
  args=(-max_total_time="$secs" -seed="$SEED" -max_len="$max_len" -timeout="$TIMEOUT_SECS"
        -rss_limit_mb="$RSS_LIMIT_MB" -print_final_stats=1 -artifact_prefix="$out/")
  echo "== $name: $bin ${args[*]} ${corpora[*]} (log: $log)"
  start=$SECONDS
  # libFuzzer stops itself after max_total_time; the outer limit only catches a wedged run.
  timeout --kill-after=10 $((secs + 120)) "$bin" "${args[@]}" "${corpora[@]}" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  last="$(grep -E '^#[0-9]+' "$log" | tail -n1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
  runs="$(final_stat number_of_executed_units)"
  echo "== $name: exit code $rc after ${took}s; ${runs:-?} runs, cov ${cov:-?}," \
       "ft ${ft:-?}, corpus ${corp:-?}, peak rss $(final_stat peak_rss_mb) MB"
  if ((rc == 124 || rc == 137)); then
    fail "$name" "did not stop within $((secs + 120))s" "$log"
  elif ((rc != 0)) || grep -qE '^==[0-9]+==ERROR|Test unit written to' "$log"; then
    what="$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z -]*[a-z]' "$log")"
    fail "$name" "exit code $rc${what:+, ${what#ERROR: }}" "$log"
  else
    results+=("$(printf '%-10s %s passed (%ss, %s runs, cov %s, ft %s, corpus %s)' "fuzz:" \
      "$name" "$took" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
  fi
done

echo
echo "== fuzz results (work directory $FUZZ_DIR):"
printf '%s\n' "${results[@]}"
((failed == 0))
