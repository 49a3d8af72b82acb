#!/bin/sh
# bench/callgrind_resp.sh: instructions per request (user space, callgrind)
# of the naive RESP servers of bench/resp.sh (lunasock, lunasock with
# write_buffer = false, luv) under redis-benchmark -t set -c 50 -P 16:
# (Ir after N2 requests - Ir after N1) / (N2 - N1), free of start-up cost
# and of the timing noise of a shared machine.
#   bench/callgrind_resp.sh            # N1=10000 N2=30000
# Needs valgrind, redis-tools and lua-luv (make bench-deps).
set -eu
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
N1=${N1:-10000}
N2=${N2:-30000}
TEST=${TEST:-set}
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;"
OUT=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

# ir NAME SCRIPT ARG N: total Ir of the server after N requests
ir() {
  f="$OUT/$1.$4.cg"
  o="$OUT/$1.$4.out"
  valgrind --tool=callgrind --callgrind-out-file="$f" $LUA "$2" 0 $3 \
    > "$o" 2> "$OUT/$1.err" &
  pid=$!
  i=0
  while ! grep -q '^listening on' "$o" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $pid 2>/dev/null; then
      echo "callgrind_resp.sh: $1 did not start" >&2; cat "$OUT/$1.err" >&2; exit 1
    fi
    sleep 0.1
  done
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$o")
  if ! timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -t "$TEST" -n "$4" -c 50 -P 16 \
       -q --csv > "$OUT/$1.$4.csv" 2>&1 || ! grep -qi "$TEST" "$OUT/$1.$4.csv"; then
    echo "callgrind_resp.sh: redis-benchmark against $1 failed" >&2
    kill $pid; exit 1
  fi
  kill -TERM $pid                 # callgrind writes its profile on exit
  wait $pid 2>/dev/null || true
  awk '/^(summary|totals):/ { print $2; exit }' "$f"
}

echo "naive RESP server, redis-benchmark -t $TEST -c 50 -P 16, callgrind: user-space instructions per request"
echo
echo "| server | Ir/request | vs luv |"
echo "|---|---:|---:|"
for s in "lunasock bench/servers/lunasock_resp.lua -" "unbuffered bench/servers/lunasock_resp.lua unbuffered" \
         "luv bench/servers/luv_resp.lua -"; do
  set -- $s
  arg=$3; [ "$arg" = "-" ] && arg=""
  a=$(ir "$1" "$2" "$arg" "$N1")
  b=$(ir "$1" "$2" "$arg" "$N2")
  echo "$1 $(( (b - a) / (N2 - N1) ))" >> "$OUT/ir"
done
luv=$(awk '$1 == "luv" { print $2 }' "$OUT/ir")
while read -r name v; do
  label=$name
  [ "$name" = unbuffered ] && label="lunasock, write_buffer = false"
  printf '| %s | %s | %.2fx |\n' "$label" "$v" "$(echo "$v / $luv" | bc -l)"
done < "$OUT/ir"
