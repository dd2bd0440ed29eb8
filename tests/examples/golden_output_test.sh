#!/bin/bash
# Usage: golden_output_test.sh PROGRAM GOLDEN
#
# Runs PROGRAM and fails unless it exits 0, prints exactly GOLDEN on stdout, and prints
# nothing on stderr (where the loop reports errors nobody handled, e.g. "Task exception was
# never retrieved"). To update GOLDEN after an intended change, run the program and check its
# output by hand before copying it over.
set -u

program="$1"
golden="$2"
out="${TEST_TMPDIR:-/tmp}/stdout"
err="${TEST_TMPDIR:-/tmp}/stderr"

"$program" >"$out" 2>"$err"
status=$?
failed=0
if [[ $status -ne 0 ]]; then
  echo "FAIL: $program exited with status $status" >&2
  failed=1
fi
if ! diff -u "$golden" "$out" >&2; then
  echo "FAIL: stdout of $program differs from $golden (diff above: - golden, + actual)" >&2
  failed=1
fi
if [[ -s "$err" ]]; then
  echo "FAIL: $program wrote to stderr:" >&2
  cat "$err" >&2
  failed=1
fi
exit $failed
