#!/bin/sh
# bench/resp.sh: a naive RESP (redis protocol) server on lunasock
# (tcp.serve, one write per reply, the stream's buffered writes) against the
# same server on luv, under redis-benchmark -P 16, in one run. Server on
# CPU 0, redis-benchmark on CPU 1 (taskset). Prints one markdown table.
#   bench/resp.sh                       # SET and GET, 50 conns, -P 16
#   N=500000 CONNS=50 PIPELINE=16 TESTS=set,get,incr REPEATS=5 bench/resp.sh
# Each figure is the median of REPEATS runs (by requests/s) against one
# server process.
# Needs redis-tools (redis-benchmark) and lua-luv: make bench-deps.
set -eu
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
N=${N:-200000}
CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-16}
TESTS=${TESTS:-set,get}
REPEATS=${REPEATS:-3}
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# start NAME SCRIPT [ARG]: runs the server on CPU 0, sets PID and PORT
start() {
  taskset -c 0 $LUA "$2" 0 ${3:-} > "$OUT/$1.out" 2> "$OUT/$1.err" &
  PID=$!
  i=0
  while ! grep -q '^listening on' "$OUT/$1.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $PID 2>/dev/null; then
      echo "resp.sh: $1 did not start: $(cat "$OUT/$1.err")" >&2
      exit 1
    fi
    sleep 0.1
  done
  PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$OUT/$1.out")
}

# measure NAME SCRIPT [ARG]: "test rps" lines in $OUT/NAME.rps
measure() {
  start "$1" "$2" "${3:-}"
  # a correctness check first: the replies a real client expects
  got=$(redis-cli -p "$PORT" SET k v; redis-cli -p "$PORT" GET k)
  if [ "$got" != "OK
v" ]; then echo "resp.sh: $1 answered wrong: $got" >&2; kill $PID; exit 1; fi
  : > "$OUT/$1.rps"
  for t in $(echo "$TESTS" | tr ',' ' '); do
    : > "$OUT/$1.runs"
    r=0
    while [ $r -lt "$REPEATS" ]; do
      r=$((r + 1))
      c0=$(cpu $PID)
      taskset -c 1 timeout 120 redis-benchmark -h 127.0.0.1 -p "$PORT" -t "$t" -n "$N" \
        -c "$CONNS" -P "$PIPELINE" -q --csv 2>/dev/null | tr -d '"' \
        | awk -F, '$1 != "test" { print $1, $2 }' > "$OUT/$1.one"
      c1=$(cpu $PID)
      # name, requests/s, server CPU microseconds per request
      awk -v c="$((c1 - c0))" -v n="$N" -v hz="$(getconf CLK_TCK)" \
        '{ printf "%s %s %.2f\n", $1, $2, c / hz * 1e6 / n }' "$OUT/$1.one" >> "$OUT/$1.runs"
    done
    # the median run by requests/s
    sort -k2 -n "$OUT/$1.runs" | sed -n "$(( (REPEATS + 1) / 2 ))p" >> "$OUT/$1.rps"
  done
  kill $PID
  wait $PID 2>/dev/null || true
  sort -o "$OUT/$1.rps" "$OUT/$1.rps"
}

# cpu PID: the process's user + system time so far, in clock ticks
cpu() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

measure lunasock bench/servers/lunasock_resp.lua
measure unbuffered bench/servers/lunasock_resp.lua unbuffered
measure luv bench/servers/luv_resp.lua

echo "naive RESP server, redis-benchmark -n $N -c $CONNS -P $PIPELINE, $(date -u '+%Y-%m-%d %H:%M UTC'), median of $REPEATS, load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "req/s: wall clock, noisy on a shared machine; CPU: the server's user+system"
echo "time per request (/proc/PID/stat), steadier. Ratios: lunasock against luv."
echo
echo "| test | lunasock req/s | CPU µs/req | write_buffer = false req/s | CPU µs/req | luv req/s | CPU µs/req | req/s ratio | CPU ratio (luv / lunasock) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
join "$OUT/lunasock.rps" "$OUT/unbuffered.rps" | join - "$OUT/luv.rps" \
  | while read -r t a ac u uc b bc_; do
  printf '| %s | %.0f | %.2f | %.0f | %.2f | %.0f | %.2f | %.2fx | %.2fx |\n' "$t" "$a" "$ac" "$u" "$uc" \
    "$b" "$bc_" "$(echo "$a / $b" | bc -l)" "$(echo "$bc_ / $ac" | bc -l)"
done
