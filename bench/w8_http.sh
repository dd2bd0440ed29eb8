#!/bin/bash
# W8 http_plaintext (shared/WORKLOADS.md): wrk against an HTTP "Hello, World!" server on
# loopback; reports requests/s and the server's CPU time per request (user and system, from
# /proc/PID/stat over the wrk run).
#
# Usage:
#   bench/w8_http.sh [--threads N] [--mode reuseport|acceptor] [--duration 5s]
#                    [--connections 64] [--name NAME] [--cmd 'SERVER COMMAND']
#
# Server interface (for other responders, e.g. bench-peers):
#   --cmd 'COMMAND'  starts the server in the background; every "{port}" in COMMAND is
#                    replaced by a free loopback port chosen here. The server must answer
#                    GET / on 127.0.0.1:{port} with keep-alive. It is stopped with SIGTERM
#                    (then SIGKILL after 2 s) once wrk is done.
#   Without --cmd:   builds and runs weft's examples/http_server (bazel, --config=opt) as
#                    `http_server --port {port} --threads N --mode M`.
# The CPU time is the whole server process's (all threads), read before and after wrk.
#
# Output: one line,
#   W8 name=NAME requests_per_s=R user_us_per_request=U sys_us_per_request=S requests=N
# Defaults: wrk -t1 -c64 -d5s, 2 server threads, mode reuseport.
set -euo pipefail

threads=2
mode=reuseport
duration=5s
connections=64
name=weft
cmd=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --cmd) cmd="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
cd "$(dirname "$0")/.."

if [[ -z "$cmd" ]]; then
  bazel build --config=opt //examples:http_server >&2
  bin="$(bazel info --config=opt bazel-bin 2>/dev/null)/examples/http_server"
  cmd="$bin --port {port} --threads $threads --mode $mode"
  name="weft-$mode-t$threads"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
bash -c "exec ${cmd//\{port\}/$port}" >"$log" 2>&1 &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT

ready=0
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [[ $ready -ne 1 ]]; then
  echo "the server did not listen on port $port:" >&2
  cat "$log" >&2
  exit 1
fi

# utime and stime, in clock ticks: fields 14 and 15 of /proc/PID/stat (after the "(comm)").
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12, $13}'; }
read -r u0 s0 < <(cpu_ticks)
out=$(wrk -t1 -c"$connections" -d"$duration" "http://127.0.0.1:$port/")
read -r u1 s1 < <(cpu_ticks)

rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
requests=$(awk '/requests in/ {print $1}' <<<"$out")
errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
[[ -n "$errors" ]] && echo "wrk reported: $errors" >&2
hz=$(getconf CLK_TCK)
awk -v name="$name" -v rps="$rps" -v n="$requests" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) -v hz="$hz" \
  'BEGIN { printf "W8 name=%s requests_per_s=%.0f user_us_per_request=%.3f sys_us_per_request=%.3f requests=%d\n",
           name, rps, du / hz * 1e6 / n, ds / hz * 1e6 / n, n }'
