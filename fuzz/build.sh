#!/bin/sh
# Builds the fuzz harnesses: build-fuzz/<name> for each fuzz/<name>.lua
# that has a "-- fuzz harness:" header. lunasock.core and lunasock.tls
# are compiled in with libFuzzer's coverage, ASan and UBSan. Usage: fuzz/build.sh [CC]
set -eu
cd "$(dirname "$0")/.."
CC=${1:-clang}
OUT=build-fuzz
LUA_CFLAGS=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer -std=c99 -D_GNU_SOURCE $LUA_CFLAGS"
mkdir -p "$OUT/obj"
# the source lists of lunasock.core and lunasock.tls, from the Makefile
sources() {
  sed -n "/^$1 *=/,/^[^ ]/p" Makefile | tr -d '\\' | sed "s/^$1 *=//" \
    | tr ' ' '\n' | grep '^csrc/.*\.c$'
}
OPENSSL_CFLAGS=$(pkg-config --cflags openssl 2>/dev/null || true)
OPENSSL_LIBS=$(pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
objs=
# (a file both modules compile, csrc/wait.c or errmsg.c, is linked once)
for src in $( { sources SRCS; sources TLS_SRCS; } | awk '!seen[$0]++'); do
  obj="$OUT/obj/$(basename "$src" .c).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ csrc/lunasock.h -nt "$obj" ]; then
    $CC $CFLAGS $OPENSSL_CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
  fi
  objs="$objs $obj"
done
for script in fuzz/*.lua; do
  grep -q '^-- fuzz harness:' "$script" || continue
  name=$(basename "$script" .lua)
  $CC $CFLAGS $SAN -fsanitize=fuzzer -DFUZZ_SCRIPT="\"$script\"" \
    -o "$OUT/$name" fuzz/harness.c $objs $LUA_LIBS $OPENSSL_LIBS -lpthread -lm
done
