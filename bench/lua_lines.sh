#!/usr/bin/env bash
# lua_lines.sh [N] - Lua VM instructions per HTTP request, by source line,
# for examples/http_server.lua (GET / through the router, keep-alive,
# $CG_CONNS connections, default 50). The server runs under lua_lines.lua
# (a count hook on every instruction); build/http_count makes N (default
# 2000) requests once, then N more, then 2N more: ((third - second) -
# (second - first)) / N counts one request's instructions, start-up and
# connection set-up cancelled out. Prints "instructions<TAB>file:line",
# largest first, then the total. An instruction is a VM one (OP_GETFIELD,
# OP_CALL, ...), not a machine one: callgrind_http.sh counts those.
# Port: $CG_PORT (default 19099).
set -u -o pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$BENCH"
n=${1:-2000} conns=${CG_CONNS:-50} port=${CG_PORT:-19099}
out=$BENCH/out/lua_lines
mkdir -p "$out" build
[ -x build/http_count ] && [ build/http_count -nt c/http_count.c ] ||
  gcc -O2 -Wall -o build/http_count c/http_count.c || exit 1
rm -f "$out"/counts*
LUA_LINES_OUT=$out/counts LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;" \
  LUA_CPATH="$ROOT/build/?.so;;" lua5.4 lua_lines.lua "$ROOT/examples/http_server.lua" \
  --port "$port" >"$out/server.log" 2>&1 </dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT
for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$port")" ] && break; sleep 0.1; done
snap() {       # requests, name: run them, then wait for a dump after they ended
  timeout -k 2 300 ./build/http_count -p "$port" -c "$conns" -n "$1" -d 280 >"$out/$2.load" || exit 1
  local t; t=$(date +%s.%N)
  while :; do
    sleep 0.5
    [ -f "$out/counts" ] && [ "$(stat -c %.9Y "$out/counts")" \> "$t" ] && break
  done
  # one more dump: the one just seen may have begun before the run ended
  sleep 1.5
  cp "$out/counts" "$out/$2"
}
snap "$n" a; snap "$n" b; snap $((2 * n)) c
awk -F'\t' -v n="$n" '
  FILENAME ~ /\/a$/ { a[$2] = $1; keys[$2] } FILENAME ~ /\/b$/ { b[$2] = $1; keys[$2] }
  FILENAME ~ /\/c$/ { c[$2] = $1; keys[$2] }
  END { for (k in keys) { d = ((c[k] - b[k]) - (b[k] - a[k])) / n; t += d
                         if (d >= 0.5 || d <= -0.5) printf "%7.1f\t%s\n", d, k }
        printf "%7.1f\tTOTAL\n", t }' "$out/a" "$out/b" "$out/c" | sort -rn
