#!/usr/bin/env bash
# static.sh - `lunasock http --root DIR` against nginx (sendfile on, one
# worker) serving the same files: small-file requests/s and 1 MB-file MB/s
# with wrk at 10 and 50 connections, in one run, with ratios. The two
# servers' runs alternate, so that both see the same load from the rest
# of a shared machine; each ratio is the median of the per-turn ratios.
#
# Server pinned to CPU $SERVER_CPU, wrk to CPU $LOAD_CPU (taskset). Each
# figure is the median of $REPEATS wrk runs of $SECS seconds against the
# same server process. Everything on 127.0.0.1; only processes started
# here are signalled, by PID. Prints a markdown table and writes it to
# $OUT (default bench/out/static-<timestamp>.md).
#
# Usage: bench/static.sh            (after make; needs wrk and nginx)
#   SECS=3 REPEATS=1 CONNS="10 50" SMALL_SIZE=1024 SERVER_CPU=0 LOAD_CPU=1
#   PORT_BASE=19400 bench/static.sh
set -u -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
: "${SECS:=3}" "${REPEATS:=1}" "${CONNS:=10 50}" "${SMALL_SIZE:=1024}"
: "${SERVER_CPU:=0}" "${LOAD_CPU:=1}" "${PORT_BASE:=19400}" "${LUA:=lua5.4}"
RUN_ID=$(date +%Y%m%d-%H%M%S)
DIR=$BENCH/out/static-$RUN_ID
: "${OUT:=$DIR/results.md}"
mkdir -p -m 755 "$DIR" "$DIR/site"

for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "static.sh: $tool is needed" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -f "$ROOT/build/lunasock/core.so" ] || { echo "static.sh: run make first" >&2; exit 1; }

# the files: a small page and a 1 MiB file of bytes that do not compress
head -c "$SMALL_SIZE" /dev/urandom | base64 -w 76 | head -c "$SMALL_SIZE" > "$DIR/site/small.html"
head -c 1048576 /dev/urandom > "$DIR/site/1m.bin"
chmod 755 "$DIR/site"; chmod 644 "$DIR/site/"*

. "$BENCH/lib.sh"                 # cpu_ticks: utime + stime of a process tree
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# waits until 127.0.0.1:$1 accepts (bounded: 10 s)
wait_port() {
  local i
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "static.sh: nothing listens on port $1" >&2
  return 1
}

start_lunasock() {
  taskset -c "$SERVER_CPU" "$LUA" "$ROOT/bin/lunasock" http --root "$DIR/site" \
    --port "$1" >"$DIR/lunasock.log" 2>&1 &
  PIDS+=($!)
  PID_LSK=$!
  wait_port "$1"
}

start_nginx() {
  local d=$DIR/nginx
  mkdir -p "$d"
  sed -e "s|@PORT@|$1|g" -e "s|@DIR@|$d|g" -e "s|@ROOT@|$DIR/site|g" \
    "$BENCH/servers/nginx_static.conf.in" > "$d/nginx.conf"
  taskset -c "$SERVER_CPU" "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
  PIDS+=($!)
  PID_NGX=$!
  wait_port "$1"
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# wrk's Transfer/sec in MB/s (it prints KB, MB or GB)
to_mb() {
  awk '{v=$1; u=$1; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
        if (u=="GB") v*=1024; else if (u=="KB") v/=1024; else if (u=="B") v/=1048576;
        printf "%.1f\n", v}'
}

CLK_TCK=$(getconf CLK_TCK)

# run_once PID PORT PATH CONNS -> "requests/s MB/s cpu-us/request" of one wrk run
run_once() {
  local pid=$1 port=$2 path=$3 c=$4 out t0 t1 n
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPU" timeout $((SECS + 20)) wrk -t1 -c"$c" -d"${SECS}s" \
        "http://127.0.0.1:$port$path" 2>&1)
  t1=$(cpu_ticks "$pid")
  echo "$out" >>"$DIR/wrk.log"
  if echo "$out" | grep -q "Non-2xx"; then
    echo "static.sh: non-2xx answers from port $port $path" >&2
  fi
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" \
       "$(echo "$out" | awk '/^Transfer\/sec/ {print $2}' | to_mb)" \
       "$(awk -v d=$((t1 - t0)) -v n="${n:-0}" -v hz="$CLK_TCK" \
            'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print 0 }')"
}

# measure PATH CONNS: REPEATS runs of each server, taken in turns
# (lunasock, nginx, lunasock, ...) so that both see the same load from
# the rest of the machine. Sets R[srv,PATH,CONNS] = "requests/s MB/s
# cpu-us/request" (medians) and Q[PATH,CONNS,k] = the median of the
# per-turn ratios lunasock/nginx of field k.
measure() {
  local path=$1 c=$2 i k a b l=() g=() q1=() q2=() q3=()
  # one short warm-up each
  for port in "$P_LSK" "$P_NGX"; do
    taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d1s "http://127.0.0.1:$port$path" >/dev/null 2>&1
  done
  for i in $(seq "$REPEATS"); do
    a=$(run_once "$PID_LSK" "$P_LSK" "$path" "$c")
    b=$(run_once "$PID_NGX" "$P_NGX" "$path" "$c")
    l+=("$a") g+=("$b")
    q1+=("$(ratio "$(echo "$a" | cut -d' ' -f1)" "$(echo "$b" | cut -d' ' -f1)")")
    q2+=("$(ratio "$(echo "$a" | cut -d' ' -f2)" "$(echo "$b" | cut -d' ' -f2)")")
    q3+=("$(ratio "$(echo "$a" | cut -d' ' -f3)" "$(echo "$b" | cut -d' ' -f3)")")
  done
  for k in 1 2 3; do
    R[lunasock,$path,$c]+="$(printf '%s\n' "${l[@]}" | cut -d' ' -f$k | median) "
    R[nginx,$path,$c]+="$(printf '%s\n' "${g[@]}" | cut -d' ' -f$k | median) "
  done
  Q[$path,$c,1]=$(printf '%s\n' "${q1[@]}" | median)
  Q[$path,$c,2]=$(printf '%s\n' "${q2[@]}" | median)
  Q[$path,$c,3]=$(printf '%s\n' "${q3[@]}" | median)
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A R
P_LSK=$PORT_BASE P_NGX=$((PORT_BASE + 1))
start_lunasock "$P_LSK" || exit 1
start_nginx "$P_NGX" || exit 1
# the same bytes from both
for p in "$P_LSK" "$P_NGX"; do
  curl -s "http://127.0.0.1:$p/1m.bin" | cmp -s - "$DIR/site/1m.bin" ||
    { echo "static.sh: port $p does not serve 1m.bin intact" >&2; exit 1; }
done

declare -A Q
for c in $CONNS; do
  measure /small.html "$c"
  measure /1m.bin "$c"
  for srv in lunasock nginx; do
    echo "$srv c=$c small: ${R[$srv,/small.html,$c]} 1m: ${R[$srv,/1m.bin,$c]}" >&2
  done
done

{
  echo "## static files: lunasock http --root vs nginx (sendfile on)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "wrk -t1 -d${SECS}s; $REPEATS runs of each server, in turns; medians, and the ratio is the"
  echo "median of the per-turn ratios; server on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU;"
  echo "small.html = $SMALL_SIZE bytes, 1m.bin = 1 MiB. Command: bench/static.sh"
  echo
  echo "| test | conns | lunasock | nginx | ratio |"
  echo "|---|---|---|---|---|"
  field() { echo "$1" | cut -d' ' -f"$2"; }
  row() {   # row TITLE PATH FIELD
    local c
    for c in $CONNS; do
      echo "| $1 | $c | $(field "${R[lunasock,$2,$c]}" "$3") | $(field "${R[nginx,$2,$c]}" "$3")" \
           "| ${Q[$2,$c,$3]} |"
    done
  }
  row "small file requests/s" /small.html 1
  row "small file: server CPU µs/request" /small.html 3
  row "1 MB file MB/s" /1m.bin 2
  row "1 MB file: server CPU µs/request" /1m.bin 3
} | tee "$OUT"
