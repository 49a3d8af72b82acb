#!/usr/bin/env bash
# callgrind_http.sh NAME [N1] [N2] - noise-free cost of one HTTP request.
#
# The HTTP counterpart of callgrind_echo.sh: the HTTP server NAME (third
# field of servers.txt / servers.local.txt / $EXTRA_SERVERS) runs under
# callgrind while build/http_count makes exactly N1 keep-alive "GET /"
# requests (wrk's request: a Host field only) over $CG_CONNS connections
# (default 50), then again with N2. (Ir at N2 - Ir at N1) / (N2 - N1) is
# the user-space instructions per request (interpreter, library, libc; not
# the kernel), free of start-up cost and timing noise. Every process of the
# server (nginx's master and worker) is counted: one profile per process,
# summed.
# Defaults: N1=2000 N2=6000. Port: $CG_PORT (default 19099), 127.0.0.1.
# CG_PATH=/small.html requests that path instead of "/" (http_count -u).
# CG_CMD='http command template' skips the lookup (run.sh uses this).
# Output: one line "name ir_per_request=... conns=... ir_n1=... ir_n2=...".
# The profiles stay in out/callgrind/http/NAME-http.cC.N.PID.out for
# callgrind_annotate, or for cg_functions.sh (the cost per request by
# function). PROF=1 runs a lua5.4 server under bench/build/lua_prof, the
# same interpreter with its symbols, so the profiles name its functions.
set -u -o pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$BENCH"
. "$BENCH/lib.sh"
name=${1:?usage: callgrind_http.sh NAME [N1] [N2]}
conns=${CG_CONNS:-50}
n1=${2:-2000} n2=${3:-6000}
port=${CG_PORT:-19099}
out=$BENCH/out/callgrind/http
mkdir -p "$out" build
chmod 1777 "$out"                # nginx's worker runs as another user
[ -x build/http_count ] && [ build/http_count -nt c/http_count.c ] ||
  gcc -O2 -Wall -o build/http_count c/http_count.c || exit 1

tmpl=${CG_CMD:-}                  # run.sh passes the command template directly
[ -n "$tmpl" ] || tmpl=$(server_template "$name" 3)
[ -n "$tmpl" ] && [ "$tmpl" != "-" ] || { echo "no http command for '$name'" >&2; exit 1; }
if [ "${PROF:-0}" = 1 ]; then
  [ -x build/lua_prof ] && [ build/lua_prof -nt c/lua_prof.c ] ||
    gcc -O2 -g -I/usr/include/lua5.4 -o build/lua_prof c/lua_prof.c \
        /usr/lib/x86_64-linux-gnu/liblua5.4.a -lm -ldl -Wl,-E || exit 1
  tmpl=${tmpl// lua5.4 / $BENCH/build/lua_prof }
fi
cmd=${tmpl//\{PORT\}/$port}; cmd=${cmd//\{BENCH\}/$BENCH}; cmd=${cmd//\{ROOT\}/$ROOT}

measure() {                      # requests -> total Ir over the server's processes
  local n=$1 base=$out/$name-http.c$conns.$1 pid
  rm -f "$base".*.out
  cg_start "$cmd" "$port" "$base.%p.out" "$base.log" || return 1
  pid=$CG_PID
  sleep 0.5                              # a forking server: let the worker start
  timeout -k 2 150 ./build/http_count -p "$port" -c "$conns" -n "$n" -d 140 \
    ${CG_PATH:+-u "$CG_PATH"} >"$base.load" 2>&1
  cg_stop "$pid"
  sleep 0.3                              # children (nginx's worker) finish writing
  grep -q "^requests=$n errors=0 " "$base.load" || { echo "load run failed: $(cat "$base.load")" >&2; return 1; }
  cg_total "$base".*.out
}

a=$(measure "$n1") && b=$(measure "$n2") || exit 1
awk -v n="$name" -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v c="$conns" \
  'BEGIN{printf "%s ir_per_request=%.0f conns=%d ir_n1=%s ir_n2=%s\n", n, (b - a) / (n2 - n1), c, a, b}'
