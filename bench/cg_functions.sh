#!/usr/bin/env bash
# cg_functions.sh A.out B.out N - where the instructions of one unit of
# work go, by function: (Ir in profile B - Ir in profile A) / N for every
# function, exclusive, largest first, so that start-up cost cancels out.
# A and B are two callgrind profiles of the same server that did N more
# units of work in B (callgrind_http.sh leaves the pair N1/N2 behind).
# Run the server under PROF=1 (bench/build/lua_prof: Debian's lua5.4 from
# liblua5.4.a, with its symbols) to see the interpreter's functions by
# name instead of as ???:0x... addresses.
# TOP=N lines (default 60); INCLUSIVE=yes for inclusive costs.
set -u -o pipefail
a=${1:?usage: cg_functions.sh A.out B.out N} b=${2:?} n=${3:?}
inc=${INCLUSIVE:-no}
per_function() {
  callgrind_annotate --inclusive="$inc" --threshold=100 --auto=no "$1" 2>/dev/null |
    grep -v '=>' |
    awk '/file:function/ { go = 1; next }
         go && /^ *[0-9,]+ +\( *[0-9.]+%\) +/ {
           v = $1; gsub(",", "", v); l = $0
           sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", l); sub(/ \[.*$/, "", l)
           s[l] += v }
         END { for (k in s) print s[k] "\t" k }' | sort -t $'\t' -k2,2
}
join -t $'\t' -1 2 -2 2 -a 2 -e 0 -o '0,1.1,2.1' <(per_function "$a") <(per_function "$b") |
  awk -F'\t' -v n="$n" '{ d = ($3 - $2) / n; t += d; if (d >= 10) printf "%8.0f  %s\n", d, $1 }
                         END { printf "%8.0f  TOTAL\n", t }' |
  sort -rn | head -"${TOP:-60}"
