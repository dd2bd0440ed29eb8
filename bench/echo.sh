#!/bin/bash
# Echo throughput and latency (issue 6: 64 connections, 64-byte messages, p50/p99): runs
# examples/echo_client against weft's examples/echo_server and against the asyncio and uvloop
# echo servers of bench/peers/asyncio/workloads.py, in the same run, repetitions interleaved.
#
# Usage:
#   bench/echo.sh [--connections 64] [--size 64] [--messages 2000] [--reps 3]
#                 [--threads 2] [--servers weft,weft1,asyncio,uvloop] [--no-build]
#
# Servers: weft = echo_server --threads N (a Runtime of N loops), weft1 = echo_server on one
# loop, asyncio / uvloop = the Python peers (one loop). The client is always weft's
# echo_client (one loop; every connection sends a message, waits for its whole echo, then
# sends the next), so the servers are compared under the same load. The client and the
# server share the machine's cores.
#
# Output: one line per run,
#   ECHO server=NAME messages_per_s=M p50_us=P p99_us=Q server_user_us_per_message=U
#        server_sys_us_per_message=S
# U and S: the server's user and system CPU time (/proc/PID/stat, 10 ms ticks) per echoed
# message, over the client's run (connecting included).
set -euo pipefail

connections=64
size=64
messages=2000
reps=3
threads=2
servers=weft,weft1,asyncio,uvloop
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --messages) messages="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
[[ $build -eq 1 ]] && bazel build --config=opt //examples:echo_server //examples:echo_client >&2
bin="$(bazel info --config=opt bazel-bin 2>/dev/null)/examples"
peer=bench/peers/asyncio/workloads.py

server_cmd() {  # NAME PORT
  case "$1" in
    weft) echo "$bin/echo_server --port $2 --threads $threads" ;;
    weft1) echo "$bin/echo_server --port $2 --threads 1" ;;
    asyncio|uvloop) echo "/usr/bin/python3 $peer $1 echo_server $2" ;;
    *) echo "unknown server: $1" >&2; return 1 ;;
  esac
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }

run_one() {  # NAME
  local name=$1 port pid out
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2046
  $(server_cmd "$name" "$port") >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "server $name exited" >&2; return 1; }
    sleep 0.1
  done
  local u0 s0 u1 s1
  read -r u0 s0 < <(cpu_ticks "$pid")
  out=$("$bin/echo_client" --port "$port" --connections "$connections" --size "$size" \
        --messages "$messages") || { echo "echo_client failed against $name: $out" >&2; }
  read -r u1 s1 < <(cpu_ticks "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk -v name="$name" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" '
    /^throughput:/ { rate = $2 }
    /^latency:/ { p50 = $3; p99 = $6 }
    /^connections:/ { n = $NF }
    /^errors:/ { errors = $2 }
    END {
      if (errors != 0) printf "ECHO server=%s errors=%s\n", name, errors
      else printf "ECHO server=%s messages_per_s=%s p50_us=%s p99_us=%s server_user_us_per_message=%.2f server_sys_us_per_message=%.2f\n",
                  name, rate, p50, p99, du / hz * 1e6 / n, ds / hz * 1e6 / n
    }' <<<"$out"
}

IFS=, read -r -a names <<<"$servers"
for _ in $(seq 1 "$reps"); do
  for name in "${names[@]}"; do run_one "$name"; done
done
