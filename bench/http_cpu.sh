#!/usr/bin/env bash
# http_cpu.sh [CONNS] [TURNS] - server CPU per request, lunasock against
# nginx, in alternating turns (lunasock, nginx, lunasock, ...), so that a
# shared machine's drift hits both alike. Each turn starts the server on
# CPU 0 (examples/http_server.lua: GET / through the router; nginx: one
# worker, bench/servers/nginx_http.sh), warms it with 2 s of wrk, then
# runs `wrk -t1 -cCONNS -d5` on CPU 1 and reads the server's user+system
# CPU time from /proc/PID/stat around it. Prints a line per turn
# ("name conns requests us/req") and the median of the per-turn ratios.
# Defaults: CONNS=500 TURNS=4. Port: $HTTP_CPU_PORT (default 19481).
set -u -o pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
conns=${1:-500} turns=${2:-4} port=${HTTP_CPU_PORT:-19481}
command -v wrk >/dev/null || { echo "wrk is needed (make bench-deps)" >&2; exit 1; }
hz=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT   # the server of a turn cut short

turn() {                          # name -> R (requests), U (us/req)
  local name=$1 spid c0 c1 reqs
  R=0 U=0
  if [ -n "$(ss -Hltn "sport = :$port")" ]; then
    echo "port $port is in use (HTTP_CPU_PORT=...)" >&2
    return
  fi
  if [ "$name" = lunasock ]; then
    LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;" LUA_CPATH="$ROOT/build/?.so;;" \
      taskset -c 0 lua5.4 "$ROOT/examples/http_server.lua" --port "$port" >/dev/null 2>&1 &
    pid=$!
  else
    taskset -c 0 sh "$BENCH/servers/nginx_http.sh" "$port" >/dev/null 2>&1 &
    pid=$!
  fi
  for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$port")" ] && break; sleep 0.05; done
  spid=$pid
  if [ "$name" = nginx ]; then    # the worker: the master's child
    for _ in $(seq 100); do spid=$(pgrep -P "$pid" | head -1); [ -n "$spid" ] && break; sleep 0.05; done
  fi
  timeout 20 taskset -c 1 wrk -t1 -c"$conns" -d2 "http://127.0.0.1:$port/" >/dev/null 2>&1
  c0=$(cpu_ticks "$spid")
  reqs=$(timeout 30 taskset -c 1 wrk -t1 -c"$conns" -d5 "http://127.0.0.1:$port/" 2>/dev/null |
         awk '/requests in/ { print $1 }')
  c1=$(cpu_ticks "$spid")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  pid=
  R=${reqs:-0}
  U=$(awk -v r="$R" -v t=$((c1 - c0)) -v hz="$hz" \
        'BEGIN { printf "%.2f", (r > 0 ? t * 1e6 / hz / r : 0) }')
}

ratios=()
for i in $(seq "$turns"); do
  turn lunasock; lr=$R lu=$U
  turn nginx; nr=$R nu=$U
  echo "turn $i: lunasock conns=$conns requests=$lr us/req=$lu  nginx requests=$nr us/req=$nu"
  ratios+=("$(awk -v a="$lu" -v b="$nu" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
done
printf '%s\n' "${ratios[@]}" | sort -n |
  awk -v c="$conns" '{ r[NR] = $1 } END {
    m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "lunasock/nginx server CPU per request, %d conns: median %.2fx (turns %s..%s)\n", c, m, r[1], r[NR] }'
