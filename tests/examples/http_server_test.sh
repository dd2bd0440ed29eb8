#!/bin/bash
# Usage: http_server_test.sh HTTP_SERVER
#
# Starts the HTTP server on a free loopback port (2 loops) and checks: a plain request, two
# requests over one keep-alive connection (curl), three pipelined requests written at once
# answered in order, "Connection: close" honoured, and a malformed request answered 400.
set -u
server="$1"
out="${TEST_TMPDIR:-/tmp}/http_server.out"

"$server" --threads 2 >"$out" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 200); do
  grep -q "listening on" "$out" && break
  sleep 0.05
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
[[ -n "$port" ]] || { echo "FAIL: no port reported" >&2; cat "$out" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }

body=$(curl -s --max-time 5 "http://127.0.0.1:$port/")
[[ "$body" == "Hello, World!" ]] || fail "plain GET returned '$body'"

# Two URLs on one connection: curl reuses it (keep-alive) and reports one connect.
conns=$(curl -s --max-time 5 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  "http://127.0.0.1:$port/a" "http://127.0.0.1:$port/b" | paste -sd+ | bc)
[[ "$conns" == "1" ]] || fail "keep-alive: $conns connects for two requests"

# Pipelining: three requests in one write; the last asks to close, so the server closes.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
responses=$(timeout 5 cat <&3)
exec 3<&-
n=$(grep -o "HTTP/1.1 200 OK" <<<"$responses" | wc -l)
[[ "$n" == "3" ]] || fail "pipelining: $n responses to 3 requests: $responses"
hellos=$(grep -o "Hello, World!" <<<"$responses" | wc -l)
[[ "$hellos" == "3" ]] || fail "pipelining: $hellos bodies"
grep -q "^Connection: close" <<<"$responses" || fail "pipelining: no Connection: close on the last"

# A malformed request: 400 and the connection closes.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'NOT HTTP\r\n\r\n' >&3
bad=$(timeout 5 cat <&3)
exec 3<&-
grep -q "HTTP/1.1 400 Bad Request" <<<"$bad" || fail "malformed request got: $bad"

kill -TERM $pid
wait $pid 2>/dev/null
trap - EXIT
exit 0
