#!/bin/bash
# Usage: echo_test.sh ECHO_SERVER ECHO_CLIENT
#
# Starts the echo server on a free loopback port (2 loops), drives it with echo_client
# (64 connections) and fails unless every echo came back intact ("errors: 0").
set -u
server="$1"
client="$2"
out="${TEST_TMPDIR:-/tmp}/echo_server.out"

"$server" --threads 2 >"$out" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 200); do
  grep -q "listening on" "$out" && break
  sleep 0.05
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
if [[ -z "$port" ]]; then
  echo "FAIL: the server did not report its port:" >&2
  cat "$out" >&2
  exit 1
fi
result=$("$client" --port "$port" --connections 64 --size 64 --messages 200)
status=$?
echo "$result"
if [[ $status -ne 0 ]] || ! grep -q "^errors: 0$" <<<"$result"; then
  echo "FAIL: echo_client failed (status $status)" >&2
  exit 1
fi
grep -q "^latency: p50 .* us, p99 .* us$" <<<"$result" || { echo "FAIL: no latency line" >&2; exit 1; }
exit 0
