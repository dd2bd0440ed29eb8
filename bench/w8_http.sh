#!/bin/bash
# W8 http_plaintext (shared/WORKLOADS.md): wrk against an HTTP "Hello, World!" server on
# loopback; reports requests/s and the server's CPU time per request (user and system, from
# /proc/PID/stat over the wrk run).
#
# Usage:
#   bench/w8_http.sh [--threads N] [--mode reuseport|acceptor] [--duration 5s]
#                    [--connections 64] [--name NAME] [--cmd 'SERVER COMMAND'] [--callgrind]
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
# --callgrind: runs the server under valgrind's callgrind instead and reports the user-space
# instructions it executed per request (counters zeroed once it listens, dumped after wrk).
# Unlike the CPU time, that count does not depend on the machine's load (but valgrind runs
# one thread at a time, so loops batch more events per wake-up than they do natively).
# The profile is left in the file named by callgrind_out= (callgrind_annotate reads it).
#
# Output: one line,
#   W8 name=NAME requests_per_s=R user_us_per_request=U sys_us_per_request=S requests=N
# or with --callgrind,
#   W8 name=NAME instructions_per_request=I requests=N callgrind_out=FILE
# Defaults: wrk -t1 -c64 -d5s, 2 server threads, mode reuseport.
set -euo pipefail

threads=2
mode=reuseport
duration=5s
connections=64
name=weft
cmd=""
callgrind=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --cmd) cmd="$2"; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
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
server_cmd="${cmd//\{port\}/$port}"
if [[ $callgrind -eq 1 ]]; then
  command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
  cg_out="$(mktemp -d)/callgrind.out"
  server_cmd="valgrind --tool=callgrind --callgrind-out-file=$cg_out.%p $server_cmd"
fi
bash -c "exec $server_cmd" >"$log" 2>&1 &
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

if [[ $callgrind -eq 1 ]]; then
  callgrind_control -z "$pid" >/dev/null 2>&1
  out=$(wrk -t1 -c"$connections" -d"$duration" "http://127.0.0.1:$port/")
  callgrind_control -d "$pid" >/dev/null 2>&1
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  # The dump after the zeroing is part 1 (part 0 is written at exit).
  dump="$cg_out.$pid.1"
  for _ in $(seq 1 50); do [[ -s "$dump" ]] && grep -q '^totals:' "$dump" && break; sleep 0.1; done
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump" 2>/dev/null)
  [[ -n "$ir" ]] || { echo "no callgrind dump in $dump:" >&2; cat "$log" >&2; exit 1; }
  awk -v name="$name" -v ir="$ir" -v n="$requests" -v f="$dump" \
    'BEGIN { printf "W8 name=%s instructions_per_request=%.0f requests=%d callgrind_out=%s\n",
             name, ir / n, n, f }'
  exit 0
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
