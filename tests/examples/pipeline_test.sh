#!/bin/bash
# Usage: pipeline_test.sh PIPELINE MODE
#
# Runs examples/pipeline for real on generated files and a subprocess, and checks its output
# against one computed here independently (python3: reverse, upper-case, FNV-1a 64).
#
# MODE:
#   output        every input line transformed exactly once, each source's lines in input
#                 order, on 2 loops and on 1; a missing input file fails cleanly (status 1).
#   backpressure  --queue-size 1 with a slow pool stage: the output is still exact, the
#                 producers waited on full queues (counter > 0), no queue held more than 1.
#   sigint        SIGINT while lines flow: status 130, "cancelled after N lines", the output
#                 holds exactly N lines, each source's lines are a prefix of its expected
#                 output, and the subprocess was killed and reaped.
set -u
pipeline="$(realpath "$1")"
mode="$2"
dir="${TEST_TMPDIR:-/tmp}/pipeline_$mode"
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1
export LC_ALL=C

fail() {
  echo "FAIL: $*" >&2
  for f in err*.txt; do [[ -f "$f" ]] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}

# Three files of printable ASCII (tabs, backslashes and '%' included): lines of 0 to 90
# characters, one of 100,000 characters (longer than the example's 64 KiB read chunk), an
# empty line, and a last line without '\n'.
gen() {
  awk -v seed="$1" -v lines="$2" 'BEGIN {
    srand(seed)
    for (n = 1; n <= lines; n++) {
      k = int(rand() * 91)
      if (n == 7) k = 100000
      if (n == 11) k = 0
      for (j = 0; j < k; j++) printf "%c", (rand() < 0.05 ? 9 : 32 + int(rand() * 95))
      if (n < lines) printf "\n"
    }
  }'
}
gen 1 3000 >in0.txt
gen 2 2500 >in1.txt
gen 3 40 >in2.txt
files=(in0.txt in1.txt in2.txt)

# expected SUBPROCESS_OUTPUT: the expected output of every source, one file per source
# (exp<i>.txt), in input order.
expected() {
  python3 - "$1" "${files[@]}" <<'EOF'
import sys
def fnv1a(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
sources = sys.argv[2:] + [sys.argv[1]]
for i, path in enumerate(sources):
    data = open(path, 'rb').read()
    lines = data.split(b'\n')
    if data.endswith(b'\n') or not data:
        lines.pop()
    with open('exp%d.txt' % i, 'wb') as out:
        for n, line in enumerate(lines, 1):
            t = line[::-1].upper()
            out.write(b'%d\t%d\t%016x\t' % (i, n, fnv1a(t)) + t + b'\n')
EOF
}

# source_lines FILE I: the lines of source I in FILE, in file order.
source_lines() { awk -F'\t' -v s="$2" '$1 == s' "$1"; }

# check_exact OUTPUT: each source's lines equal its expected output, in order, and nothing else.
check_exact() {
  local total=0
  for i in 0 1 2 3; do
    source_lines "$1" "$i" >got$i.txt
    cmp -s got$i.txt exp$i.txt || fail "$1: source $i differs from its expected output ($(wc -l <got$i.txt) lines, expected $(wc -l <exp$i.txt))"
    total=$((total + $(wc -l <exp$i.txt)))
  done
  [[ $(wc -l <"$1") -eq $total ]] || fail "$1: $(wc -l <"$1") lines, expected $total"
}

# summary_value ERR REGEX: the number after REGEX in the summary.
summary_value() { sed -n "s/^  $2 \([0-9]*\).*/\1/p" "$1"; }

case "$mode" in
  output)
    cmd='seq 1 2000'
    sh -c "$cmd" >sub.txt
    expected sub.txt
    for threads in 2 1; do
      "$pipeline" --threads $threads --cmd "$cmd" --output out$threads.txt "${files[@]}" \
        2>err$threads.txt
      status=$?
      [[ $status -eq 0 ]] || fail "--threads $threads: exit status $status"
      check_exact out$threads.txt
      grep -q "^  total: $(cat exp*.txt | wc -l) lines written$" err$threads.txt ||
        fail "--threads $threads: the summary's total is wrong"
      grep -q "^  subprocess exit status: 0$" err$threads.txt || fail "no subprocess status"
    done
    # A missing file: the group cancels the other stages, the subprocess is killed.
    "$pipeline" --cmd 'exec sleep 600' --output out_missing.txt in0.txt nosuch.txt \
      2>err_missing.txt
    status=$?
    [[ $status -eq 1 ]] || fail "missing file: exit status $status, expected 1"
    grep -q "cannot open 'nosuch.txt'" err_missing.txt || fail "missing file: no error message"
    grep -q "^  subprocess exit status: -9$" err_missing.txt ||
      fail "missing file: the subprocess was not killed"
    ;;

  backpressure)
    cmd='seq 1 500'
    sh -c "$cmd" >sub.txt
    expected sub.txt
    "$pipeline" --queue-size 1 --block-us 200 --cmd "$cmd" --output out.txt "${files[@]}" \
      2>err.txt
    status=$?
    [[ $status -eq 0 ]] || fail "exit status $status"
    check_exact out.txt
    waits=$(summary_value err.txt "full-queue waits:")
    [[ -n "$waits" && "$waits" -gt 0 ]] || fail "no producer waited on a full queue ('$waits')"
    depths=$(sed -n 's/^  queue .*max depth \([0-9]*\),.*/\1/p' err.txt)
    [[ $(wc -l <<<"$depths") -eq 3 ]] || fail "the summary does not list three queues"
    for d in $depths; do
      [[ "$d" -le 1 ]] || fail "a queue of maxsize 1 held $d items"
    done
    ;;

  sigint)
    # The subprocess prints 50 lines and then sleeps (it never ends by itself); the pool
    # stage blocks 2 ms per line, so the files take seconds to get through.
    cmd='seq 1 50; exec sleep 600'
    seq 1 50 >sub.txt
    expected sub.txt
    # A non-interactive shell starts background commands with SIGINT ignored, and weft::run,
    # as Python, leaves an ignored SIGINT alone: restore the default for the example.
    env --default-signal=INT "$pipeline" --block-us 2000 --cmd "$cmd" --output out.txt \
      "${files[@]}" 2>err.txt &
    pid=$!
    trap 'kill -KILL $pid 2>/dev/null' EXIT
    # Wait (bounded) for the example to say it started, then for its first output.
    for _ in $(seq 1 600); do
      grep -q "^started" err.txt && [[ -s out.txt ]] && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.05
    done
    grep -q "^started" err.txt || fail "the example never printed 'started'"
    [[ -s out.txt ]] || fail "no output before the interrupt"
    child=$(sed -n 's/^started: .*subprocess pid \([0-9]*\),.*/\1/p' err.txt)
    [[ -n "$child" ]] || fail "no subprocess pid in the 'started' line"
    kill -INT $pid
    for _ in $(seq 1 600); do
      kill -0 $pid 2>/dev/null || break
      sleep 0.05
    done
    kill -0 $pid 2>/dev/null && fail "still running 30 s after SIGINT"
    wait $pid
    status=$?
    trap - EXIT
    [[ $status -eq 130 ]] || fail "exit status $status after SIGINT, expected 130"
    n=$(sed -n 's/^cancelled after \([0-9]*\) lines$/\1/p' err.txt)
    [[ -n "$n" ]] || fail "no 'cancelled after N lines'"
    [[ $(wc -l <out.txt) -eq $n ]] || fail "the output holds $(wc -l <out.txt) lines, the example says $n"
    [[ "$n" -gt 0 ]] || fail "nothing was written before the interrupt"
    # What was written is right and in order: each source's lines are a prefix of its expected.
    for i in 0 1 2 3; do
      source_lines out.txt "$i" >got$i.txt
      k=$(wc -l <got$i.txt)
      head -n "$k" exp$i.txt | cmp -s - got$i.txt || fail "source $i: the $k lines written are not the first $k expected"
    done
    grep -q "^  subprocess exit status: -9$" err.txt || fail "the subprocess was not killed"
    kill -0 "$child" 2>/dev/null && fail "the subprocess $child is still there"
    ;;

  *)
    fail "unknown mode $mode"
    ;;
esac
exit 0
