#!/bin/sh
# Builds the fuzz harnesses: build-fuzz/<name> for each fuzz/<name>.lua
# that has a "-- fuzz harness:" header. lunasock.core is compiled in with
# libFuzzer's coverage, ASan and UBSan. Usage: fuzz/build.sh [CC]
set -eu
cd "$(dirname "$0")/.."
CC=${1:-clang}
OUT=build-fuzz
LUA_CFLAGS=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer -std=c99 -D_GNU_SOURCE $LUA_CFLAGS"
mkdir -p "$OUT/obj"
srcs=$(sed -n '/^SRCS *=/,/^[^ ]/p' Makefile | tr -d '\\' | sed 's/^SRCS *=//' \
       | tr ' ' '\n' | grep '^csrc/.*\.c$')
objs=
for src in $srcs; do
  obj="$OUT/obj/$(basename "$src" .c).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ csrc/lunasock.h -nt "$obj" ]; then
    $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
  fi
  objs="$objs $obj"
done
for script in fuzz/*.lua; do
  grep -q '^-- fuzz harness:' "$script" || continue
  name=$(basename "$script" .lua)
  $CC $CFLAGS $SAN -fsanitize=fuzzer -DFUZZ_SCRIPT="\"$script\"" \
    -o "$OUT/$name" fuzz/harness.c $objs $LUA_LIBS -lpthread -lm
done
