# bench/lib.sh - shell functions the bench scripts share. Sourced (bash),
# never run:  . "$BENCH/lib.sh"
#
# Processes (only PIDs the calling script started are ever passed in):
#   is_alive PID, tree_pids PID, rss_kb PID, fd_count PID, stop_pid PID,
#   cpu_split PID ("user system" clock ticks), cpu_ticks PID (their sum)
# Ports:      port_busy PORT
# Servers:    server_template NAME FIELD   (servers.txt and friends)
# callgrind:  cg_start CMD PORT PROFILE LOG [TENTHS] -> CG_PID,
#             cg_stop PID [TENTHS], cg_total PROFILE...
# TLS:        bench_certs DIR   (a CA, ECDSA P-256 and RSA-2048 leaves),
#             nginx_tls_conf PORT PLAIN DIR LEAF SUITE ROOT

is_alive() {                     # running and not a zombie
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

tree_pids() {                    # PID and all its descendants
  local k
  is_alive "$1" || return 0
  echo "$1"
  for k in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree_pids "$k"; done
}

rss_kb() {                       # VmRSS summed over the process tree
  local t=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

fd_count() {                     # open descriptors over the process tree
  local t=0 p n
  for p in $(tree_pids "$1"); do
    n=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
    t=$((t + n))
  done
  echo "$t"
}

stop_pid() {                     # TERM the process, then KILL its leftover tree
  local pid=$1 pids p i
  pids=$(tree_pids "$pid")
  if [ -n "$pids" ]; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 30); do
      local any=0
      for p in $pids; do is_alive "$p" && any=1; done
      [ "$any" = 0 ] && break
      sleep 0.1
    done
    for p in $pids; do is_alive "$p" && kill -KILL "$p" 2>/dev/null; done
  fi
  wait "$pid" 2>/dev/null
  return 0
}

cpu_split() {                    # "user system" clock ticks over the tree
  local u=0 s=0 p f
  for p in $(tree_pids "$1"); do
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    [ "${#f[@]}" -ge 13 ] || continue
    u=$((u + f[11])); s=$((s + f[12]))
  done
  echo "$u $s"
}

cpu_ticks() {                    # user+system clock ticks over the tree
  local u s
  read -r u s <<<"$(cpu_split "$1")"
  echo $((u + s))
}

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# server_template NAME FIELD: the command template of server NAME in
# field FIELD (2: echo, 3: http) of servers.txt, servers.local.txt and
# $EXTRA_SERVERS, trimmed; empty when there is none. Run from bench/.
server_template() {
  { cat servers.txt; [ -f servers.local.txt ] && cat servers.local.txt
    [ -n "${EXTRA_SERVERS:-}" ] && printf '%s\n' "$EXTRA_SERVERS"; } |
    sed '/^[[:space:]]*#/d' |
    awk -F'|' -v n="$1" -v f="$2" '{ gsub(/^ +| +$/, "", $1) } $1 == n { print $f; exit }' |
    sed 's/^ *//; s/ *$//'
}

# cg_start CMD PORT PROFILE LOG [TENTHS]: runs CMD under callgrind (the
# processes it forks too; a %p in PROFILE gives each its own profile),
# output to LOG, and waits until PORT listens (at most TENTHS tenths of a
# second, default 300) or the process ends. Sets CG_PID.
cg_start() {
  local i
  if port_busy "$2"; then echo "port $2 busy" >&2; return 1; fi
  sh -c "exec valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$3 $1" \
    >"$4" 2>&1 </dev/null &
  CG_PID=$!
  for i in $(seq "${5:-300}"); do port_busy "$2" && break; is_alive "$CG_PID" || break; sleep 0.1; done
}

# cg_stop PID [TENTHS]: TERM (callgrind writes its profiles on exit), KILL
# after TENTHS tenths of a second (default 100), and reap.
cg_stop() {
  local i
  kill -TERM "$1" 2>/dev/null
  for i in $(seq "${2:-100}"); do is_alive "$1" || break; sleep 0.1; done
  is_alive "$1" && kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# cg_total PROFILE...: the Ir of the profiles, summed; fails on 0.
cg_total() {
  local f t=0 v
  for f in "$@"; do
    [ -f "$f" ] || continue
    v=$(awk '/^(summary|totals):/{print $2; exit}' "$f")
    t=$((t + ${v:-0}))
  done
  [ "$t" -gt 0 ] && echo "$t"
}

# bench_certs DIR: a CA (ca.pem, ca.key) and two leaves for localhost and
# 127.0.0.1 signed by it, ecdsa.{pem,key} (P-256) and rsa.{pem,key}
# (RSA-2048); openssl's output goes to DIR/openssl.log.
bench_certs() {
  mkdir -p "$1"
  (
    cd "$1" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
      -out ca.pem -days 2 -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > leaf.ext
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ecdsa.key \
      -out ecdsa.csr -subj /CN=localhost
    openssl x509 -req -in ecdsa.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
      -extfile leaf.ext -out ecdsa.pem
    openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj /CN=localhost
    openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 2 \
      -extfile leaf.ext -out rsa.pem
  ) >"$1/openssl.log" 2>&1 || { echo "openssl failed: $1/openssl.log" >&2; return 1; }
}

# nginx_tls_conf PORT PLAIN DIR LEAF SUITE ROOT: bench/servers/
# nginx_tls.conf.in for a TLS server on PORT and a plain one on PLAIN,
# state in DIR, certificate LEAF.pem with LEAF.key, TLS 1.3 suite SUITE,
# files under ROOT; to stdout.
nginx_tls_conf() {
  sed -e "s|@PORT@|$1|g" -e "s|@PLAIN@|$2|g" -e "s|@DIR@|$3|g" \
      -e "s|@CERT@|$4.pem|g" -e "s|@KEY@|$4.key|g" \
      -e "s|@SUITE@|$5|g" -e "s|@ROOT@|$6|g" "$BENCH/servers/nginx_tls.conf.in"
}
