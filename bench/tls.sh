#!/usr/bin/env bash
# tls.sh - lunasock's TLS against nginx, in one run, same certificate,
# protocol (TLS 1.3) and cipher suite (TLS_AES_128_GCM_SHA256, X25519):
#
#   handshakes   full handshakes/s on one core = 1 / server CPU per
#                handshake (utime+stime of the server's process tree,
#                /proc/PID/stat), ECDSA P-256 and RSA-2048 leaves;
#                load: build/tls_clients -m handshake -c 16 -d $SECS
#   bulk         MB/s of one 256 MiB file over one TLS connection (curl
#                -o /dev/null), and server CPU per MB
#   https        keep-alive GET / at 50 connections (wrk -t1 -c50 -d
#                $SECS, after a 1 s warm-up), req/s and server CPU per
#                request; the same over plain HTTP for the ratio of ratios
#   idle         RSS per idle TLS connection with 5,000 held
#                (build/tls_clients -m idle -k 5000)
#
# Servers: bench/servers/lunasock_https.lua (lunasock.http with tls) and
# nginx with bench/servers/nginx_tls.conf.in (master + one worker). Server
# pinned to CPU $SERVER_CPU, load to CPU $LOAD_CPU. Writes the table to
# stdout and to $OUT (default bench/out/tls-<timestamp>.md), raw outputs
# next to it. Only processes started here are signalled, by PID.
#
# Knobs: SECS=3 REPEATS=3 IDLE=5000 BULK_MB=256 SERVER_CPU=0 LOAD_CPU=1
#        PORT_BASE=19400 TESTS=handshake,bulk,https,idle
set -u -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
: "${SECS:=3}" "${REPEATS:=3}" "${IDLE:=5000}" "${BULK_MB:=256}"
: "${SERVER_CPU:=0}" "${LOAD_CPU:=1}" "${PORT_BASE:=19400}"
: "${TESTS:=handshake,bulk,https,idle}"
SUITE=TLS_AES_128_GCM_SHA256
STAMP=$(date +%Y%m%d-%H%M%S)
RUNDIR=$BENCH/out/tls-$STAMP
: "${OUT:=$RUNDIR/results.md}"
mkdir -p "$RUNDIR" "$BENCH/build"
RAW=$RUNDIR/raw.txt
CLK_TCK=$(getconf CLK_TCK)
LUA_ENV="LUA_PATH=$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;; LUA_CPATH=$ROOT/build/?.so;;"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
has() { case ",$TESTS," in *",$1,"*) return 0 ;; esac; return 1; }

. "$BENCH/lib.sh"
STARTED=()
cleanup() { local p; for p in "${STARTED[@]}"; do is_alive "$p" && stop_pid "$p"; done; }
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---------------------------------------------------------------- setup
log "building bench/build/tls_clients"
gcc -O2 -Wall -Wextra -o "$BENCH/build/tls_clients" "$BENCH/c/tls_clients.c" -lssl -lcrypto || exit 1
[ -f "$ROOT/build/lunasock/tls.so" ] || { log "build lunasock first (make)"; exit 1; }
command -v wrk >/dev/null || { log "wrk is missing: make bench-deps"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

CERTS=$RUNDIR/certs
WWW=$RUNDIR/www
mkdir -p "$WWW"
bench_certs "$CERTS" || exit 1
head -c $((BULK_MB * 1024 * 1024)) /dev/urandom > "$WWW/bulk.bin"

SRV_PID=
TLS_PORT=$PORT_BASE PLAIN_PORT=$((PORT_BASE + 1))
start() {                        # name cert -> SRV_PID; waits for the ports
  local name=$1 cert=$2 i
  if [ "$name" = nginx ]; then
    local d=$RUNDIR/nginx
    mkdir -p "$d"
    nginx_tls_conf "$TLS_PORT" "$PLAIN_PORT" "$d" "$CERTS/$cert" "$SUITE" "$WWW" > "$d/nginx.conf"
    taskset -c "$SERVER_CPU" "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" \
      >>"$RUNDIR/nginx.log" 2>&1 </dev/null &
  else
    # two processes: TLS on one port, plaintext on the other (one
    # lunasock server speaks one or the other); pinned to the same CPU
    taskset -c "$SERVER_CPU" env $LUA_ENV sh -c "lua5.4 '$BENCH/servers/lunasock_https.lua' \
      $TLS_PORT '$CERTS/$cert.pem' '$CERTS/$cert.key' '$WWW' $SUITE & \
      lua5.4 '$BENCH/servers/lunasock_https.lua' $PLAIN_PORT - - '$WWW'; wait" \
      >>"$RUNDIR/lunasock.log" 2>&1 </dev/null &
  fi
  SRV_PID=$!
  STARTED+=("$SRV_PID")
  for i in $(seq 100); do
    if ss -Hltn "sport = :$TLS_PORT" | grep -q . && ss -Hltn "sport = :$PLAIN_PORT" | grep -q .; then
      sleep 0.3
      return 0
    fi
    is_alive "$SRV_PID" || break
    sleep 0.1
  done
  log "$name did not start (see $RUNDIR/$name.log)"
  return 1
}
# the CPU of the process listening on a port (lunasock runs one per port)
port_pid() { ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }

median() { sort -g | awk 'NF{v[++n]=$1} END{if (n) print v[int((n+1)/2)]}'; }

declare -A R                     # results: R[test,server] = "value us_per_op"

# ---------------------------------------------------------------- tests
hs_test() {                      # server cert
  local name=$1 cert=$2 a out n t0 t1 pid vals="" us=""
  start "$name" "$cert" || return
  pid=$(port_pid "$TLS_PORT")
  taskset -c "$LOAD_CPU" "$BENCH/build/tls_clients" -p "$TLS_PORT" -m handshake -c 16 -d 1 >/dev/null
  for a in $(seq "$REPEATS"); do
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" timeout 60 "$BENCH/build/tls_clients" -p "$TLS_PORT" \
            -m handshake -c 16 -d "$SECS")
    t1=$(cpu_ticks "$pid")
    echo "handshake $name $cert run $a: $out cpu_ticks=$((t1 - t0))" >>"$RAW"
    n=$(sed -n 's/.*handshakes=\([0-9]*\).*/\1/p' <<<"$out")
    [ "${n:-0}" -gt 0 ] || continue
    us+="$(awk -v t=$((t1 - t0)) -v c="$CLK_TCK" -v n="$n" 'BEGIN{printf "%.2f", t / c * 1e6 / n}')"$'\n'
    vals+="$(awk -v n="$n" -v s="$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$out")" 'BEGIN{printf "%.0f", n / s}')"$'\n'
  done
  stop_pid "$SRV_PID"
  R[hs_$cert,$name]="$(median <<<"$vals") $(median <<<"$us")"
  log "  handshakes $cert $name: ${R[hs_$cert,$name]} (hs/s wall, server us/hs)"
}

bulk_test() {                    # server
  local name=$1 a out t0 t1 pid vals="" us=""
  start "$name" ecdsa || return
  pid=$(port_pid "$TLS_PORT")
  for a in $(seq "$REPEATS"); do
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" timeout 120 curl -sS --cacert "$CERTS/ca.pem" \
            --tls13-ciphers "$SUITE" -o /dev/null -w '%{size_download} %{time_total}' \
            "https://localhost:$TLS_PORT/bulk.bin")
    t1=$(cpu_ticks "$pid")
    echo "bulk $name run $a: $out cpu_ticks=$((t1 - t0))" >>"$RAW"
    read -r size secs <<<"$out"
    [ "${size:-0}" = $((BULK_MB * 1024 * 1024)) ] || { log "  bulk $name: short transfer ($out)"; continue; }
    vals+="$(awk -v b="$size" -v s="$secs" 'BEGIN{printf "%.1f", b / s / 1048576}')"$'\n'
    us+="$(awk -v t=$((t1 - t0)) -v c="$CLK_TCK" -v mb="$BULK_MB" 'BEGIN{printf "%.1f", t / c * 1e6 / mb}')"$'\n'
  done
  stop_pid "$SRV_PID"
  R[bulk,$name]="$(median <<<"$vals") $(median <<<"$us")"
  log "  bulk $name: ${R[bulk,$name]} (MB/s, server us/MB)"
}

wrk_test() {                     # server scheme port pid -> "rps us/req"
  local name=$1 scheme=$2 port=$3 pid=$4 a out t0 t1 n vals="" us=""
  taskset -c "$LOAD_CPU" timeout 30 wrk -t1 -c50 -d1s "$scheme://127.0.0.1:$port/" >/dev/null 2>&1
  for a in $(seq "$REPEATS"); do
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" timeout 60 wrk -t1 -c50 -d"${SECS}s" "$scheme://127.0.0.1:$port/" 2>&1)
    t1=$(cpu_ticks "$pid")
    echo "$out" | sed "s/^/wrk $name $scheme run $a: /" >>"$RAW"
    n=$(awk '/ requests in /{print $1}' <<<"$out")
    [ "${n:-0}" -gt 0 ] || continue
    vals+="$(awk '/^Requests\/sec:/{printf "%.0f", $2}' <<<"$out")"$'\n'
    us+="$(awk -v t=$((t1 - t0)) -v c="$CLK_TCK" -v n="$n" 'BEGIN{printf "%.2f", t / c * 1e6 / n}')"$'\n'
  done
  echo "$(median <<<"$vals") $(median <<<"$us")"
}

https_test() {                   # server
  local name=$1
  start "$name" ecdsa || return
  R[https,$name]=$(wrk_test "$name" https "$TLS_PORT" "$(port_pid "$TLS_PORT")")
  R[http,$name]=$(wrk_test "$name" http "$PLAIN_PORT" "$(port_pid "$PLAIN_PORT")")
  stop_pid "$SRV_PID"
  log "  https $name: ${R[https,$name]}; http: ${R[http,$name]} (req/s, server us/req)"
}

idle_test() {                    # server
  local name=$1 pid rss0 rss1 fd0 fds ipid iout i held
  start "$name" ecdsa || return
  pid=$(port_pid "$TLS_PORT")
  # nginx: the worker holds the connections; count its tree from the master
  [ "$name" = nginx ] && pid=$SRV_PID
  rss0=$(rss_kb "$pid"); fd0=$(fd_count "$pid")
  iout=$RUNDIR/idle-$name.txt
  taskset -c "$LOAD_CPU" "$BENCH/build/tls_clients" -p "$TLS_PORT" -m idle -k "$IDLE" -h 120 \
    -t 60 >"$iout" 2>&1 &
  ipid=$!
  STARTED+=("$ipid")
  for i in $(seq 700); do grep -q '^connected=' "$iout" && break; is_alive "$ipid" || break; sleep 0.1; done
  for i in $(seq 100); do
    fds=$(( $(fd_count "$pid") - fd0 ))
    [ "$fds" -ge "$IDLE" ] && break
    sleep 0.1
  done
  sleep 1
  rss1=$(rss_kb "$pid"); held=$(( $(fd_count "$pid") - fd0 ))
  echo "idle $name: $(cat "$iout") rss0=$rss0 rss1=$rss1 held=$held" >>"$RAW"
  stop_pid "$ipid"
  stop_pid "$SRV_PID"
  R[idle,$name]="$(awk -v a="$rss0" -v b="$rss1" -v n="$held" 'BEGIN{printf "%.2f", (n > 0) ? (b - a) / n : 0}') $held"
  log "  idle $name: ${R[idle,$name]} (KB/conn, held)"
}

log "run $RUNDIR (server CPU $SERVER_CPU, load CPU $LOAD_CPU, $SECS s x $REPEATS)"
for s in lunasock nginx; do
  if has handshake; then hs_test "$s" ecdsa; hs_test "$s" rsa; fi
  has bulk && bulk_test "$s"
  has https && https_test "$s"
  has idle && idle_test "$s"
done

# ---------------------------------------------------------------- report
f() { awk '{print $'"$2"'}' <<<"${R[$1]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
{
  echo "# lunasock TLS vs nginx ($(date -u +%FT%TZ))"
  echo
  echo "TLS 1.3, $SUITE, X25519; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU;"
  echo "median of $REPEATS runs of $SECS s. Command: \`$0\` (TESTS=$TESTS)."
  echo
  echo "| row | lunasock | nginx | ratio | target |"
  echo "|---|---|---|---|---|"
  for c in ecdsa rsa; do
    l=$(f "hs_$c,lunasock" 2) n=$(f "hs_$c,nginx" 2)
    echo "| full handshakes/s on one core ($c leaf; 1e6 / server µs per handshake) | $(awk -v u="$l" 'BEGIN{if (u) printf "%.0f (%s µs)", 1e6 / u, u}') | $(awk -v u="$n" 'BEGIN{if (u) printf "%.0f (%s µs)", 1e6 / u, u}') | $(ratio "$n" "$l") | ≥ 0.9 |"
    echo "| … wall handshakes/s (tls_clients -c 16) | $(f "hs_$c,lunasock" 1) | $(f "hs_$c,nginx" 1) | $(ratio "$(f "hs_$c,lunasock" 1)" "$(f "hs_$c,nginx" 1)") | |"
  done
  echo "| bulk MB/s, one connection (${BULK_MB} MiB file) | $(f bulk,lunasock 1) | $(f bulk,nginx 1) | $(ratio "$(f bulk,lunasock 1)" "$(f bulk,nginx 1)") | ≥ 0.9 |"
  echo "| … server CPU µs per MB | $(f bulk,lunasock 2) | $(f bulk,nginx 2) | $(ratio "$(f bulk,lunasock 2)" "$(f bulk,nginx 2)") | |"
  echo "| HTTPS keep-alive GET /, 50 conns: req/s | $(f https,lunasock 1) | $(f https,nginx 1) | $(ratio "$(f https,lunasock 1)" "$(f https,nginx 1)") | |"
  hr=$(ratio "$(f https,lunasock 2)" "$(f https,nginx 2)")
  pr=$(ratio "$(f http,lunasock 2)" "$(f http,nginx 2)")
  echo "| … server CPU µs/request (HTTPS) | $(f https,lunasock 2) | $(f https,nginx 2) | $hr | |"
  echo "| … server CPU µs/request (plain HTTP, same servers) | $(f http,lunasock 2) | $(f http,nginx 2) | $pr | |"
  echo "| HTTPS CPU ratio ÷ plain HTTP CPU ratio | | | $(ratio "$hr" "$pr") | ≤ 1.2 |"
  echo "| idle TLS connection: RSS KB/conn (held) | $(f idle,lunasock 1) ($(f idle,lunasock 2)) | $(f idle,nginx 1) ($(f idle,nginx 2)) | $(awk -v a="$(f idle,lunasock 1)" -v b="$(f idle,nginx 1)" 'BEGIN{if (a != "" && b != "") printf "%+.2f KB", a - b}') | ≤ nginx + 2 KB |"
} | tee "$OUT"
log "raw outputs: $RAW"
