#!/usr/bin/env bash
# callgrind_tls.sh NAME [KEY] [N1] [N2] - noise-free cost of one full TLS
# handshake in the server NAME (lunasock or nginx), as bench/tls.sh runs
# them (TLS 1.3, TLS_AES_128_GCM_SHA256, X25519), with an ECDSA P-256
# (KEY=ecdsa, default) or RSA-2048 (KEY=rsa) leaf. KEY=get measures one
# keep-alive HTTPS "GET /" instead (ECDSA leaf, 50 connections, each
# primed by one uncounted request: handshakes cancel out); KEY=bulk one
# MiB of a 32 MiB file sent over TLS (curl fetches it N1, then N2 times
# on one connection; defaults 1 and 3).
#
# The server runs under callgrind while build/tls_clients makes exactly
# N1 full handshakes (4 at a time; connect, handshake, close_notify,
# close), then again with N2: (Ir at N2 - Ir at N1) / (N2 - N1) is the
# user-space instructions per handshake (interpreter, OpenSSL, libc; not
# the kernel), free of start-up cost and of the noise of a shared machine.
# Every process of the server (nginx's master and worker) is counted.
# Defaults: N1=100 N2=400. Port: $CG_PORT (default 19098), 127.0.0.1.
# Output: one line "name key ir_per_handshake=... (or ir_per_request=...)
# ir_n1=... ir_n2=... counts=N1,N2";
# the profiles stay in out/callgrind/tls/ for callgrind_annotate.
set -u -o pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$BENCH"
. "$BENCH/lib.sh"
name=${1:?usage: callgrind_tls.sh lunasock|nginx [ecdsa|rsa] [N1] [N2]}
key=${2:-ecdsa} n1=${3:-100} n2=${4:-400}
mode=handshake
if [ "$key" = get ]; then mode=get key=ecdsa; n1=${3:-2000} n2=${4:-6000}; fi
if [ "$key" = bulk ]; then mode=bulk key=ecdsa; n1=${3:-1} n2=${4:-3}; fi
port=${CG_PORT:-19098} plain=$(( ${CG_PORT:-19098} + 100 ))
SUITE=TLS_AES_128_GCM_SHA256
out=$BENCH/out/callgrind/tls
mkdir -p "$out" build
chmod 1777 "$out"                # nginx's worker runs as another user
[ -x build/tls_clients ] && [ build/tls_clients -nt c/tls_clients.c ] ||
  gcc -O2 -Wall -Wextra -o build/tls_clients c/tls_clients.c -lssl -lcrypto || exit 1

certs=$out/certs
if [ ! -f "$certs/rsa.pem" ]; then
  mkdir -p "$out/www"
  bench_certs "$certs" || exit 1
  chmod 644 "$certs"/*
fi
[ -f "$out/www/bulk.bin" ] || head -c $((32 * 1024 * 1024)) /dev/urandom > "$out/www/bulk.bin"

case $name in
  lunasock)
    cmd="env 'LUA_PATH=$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;' 'LUA_CPATH=$ROOT/build/?.so;;' \
lua5.4 $BENCH/servers/lunasock_https.lua $port $certs/$key.pem $certs/$key.key $out/www $SUITE" ;;
  nginx)
    d=$out/nginx; mkdir -p "$d"; chmod 1777 "$d"
    nginx_tls_conf "$port" "$plain" "$d" "$certs/$key" "$SUITE" "$out/www" > "$d/nginx.conf"
    cmd="$(command -v nginx || echo /usr/sbin/nginx) -p $d -c $d/nginx.conf -e $d/error.log" ;;
  *) echo "callgrind_tls.sh: lunasock or nginx, not '$name'" >&2; exit 2 ;;
esac

measure() {                      # handshakes -> total Ir over the server's processes
  local n=$1 base=$out/$name-$key-$mode.$1 pid
  rm -f "$base".*.out
  cg_start "$cmd" "$port" "$base.%p.out" "$base.log" 600 || return 1
  pid=$CG_PID
  sleep 1                                # a forking server: let the worker start
  if [ "$mode" = bulk ]; then
    local urls="" k
    for k in $(seq "$n"); do urls+=" https://localhost:$port/bulk.bin"; done
    # shellcheck disable=SC2086
    timeout -k 2 600 curl -sS --cacert "$certs/ca.pem" --tls13-ciphers "$SUITE" \
      -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null $urls \
      -w 'x%{size_download}\n' >"$base.curl" 2>&1
    echo "requests=$(grep -c "^x$((32 * 1024 * 1024))\$" "$base.curl") errors=0 " >"$base.load"
  elif [ "$mode" = get ]; then
    timeout -k 2 600 ./build/tls_clients -p "$port" -m get -c 50 -n "$n" -d 590 >"$base.load" 2>&1
  else
    timeout -k 2 600 ./build/tls_clients -p "$port" -m handshake -c 4 -n "$n" -d 590 \
      >"$base.load" 2>&1
  fi
  cg_stop "$pid" 200
  sleep 0.3
  local got
  got=$(sed -n 's/^\(handshakes\|requests\)=\([0-9]*\) \(failed\|errors\)=0 .*/\2/p' "$base.load")
  [ "${got:-0}" -ge "$n" ] || { echo "load run failed: $(cat "$base.load")" >&2; return 1; }
  local t
  t=$(cg_total "$base".*.out) && echo "$t $got"
}

read -r a an < <(measure "$n1") && read -r b bn < <(measure "$n2") || exit 1
what=$(case $mode in get) echo request ;; bulk) echo mib ;; *) echo handshake ;; esac)
[ "$mode" = bulk ] && { an=$((an * 32)); bn=$((bn * 32)); }
awk -v n="$name" -v k="$key" -v w="$what" -v a="$a" -v b="$b" -v n1="$an" -v n2="$bn" \
  'BEGIN{printf "%s %s ir_per_%s=%.0f ir_n1=%s ir_n2=%s counts=%s,%s\n", n, k, w, (b - a) / (n2 - n1), a, b, n1, n2}'
