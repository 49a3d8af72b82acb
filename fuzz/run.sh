#!/bin/sh
# make fuzz: builds the harnesses (fuzz/build.sh) and runs each for its
# share of FUZZ_TIME seconds (default 60 in all), from the seeds in
# fuzz/corpus/<harness>/ plus what earlier local runs kept in
# build-fuzz/corpus/<harness>/. Prints a table (seconds, executions,
# executions/s, corpus size, result); exits non-zero if any harness found
# a failure, whose input is then in build-fuzz/artifacts/.
# Usage: fuzz/run.sh [total-seconds] [harness...]
set -u
cd "$(dirname "$0")/.."
total=${1:-60}
[ $# -gt 0 ] && shift
fuzz/build.sh "${FUZZ_CC:-clang}" || exit 2
if [ $# -gt 0 ]; then list="$*"; else
  list=$(for f in fuzz/*.lua; do grep -q '^-- fuzz harness:' "$f" && basename "$f" .lua; done)
fi
n=$(echo $list | wc -w)
each=$(( total / n )); [ "$each" -lt 1 ] && each=1
mkdir -p build-fuzz/artifacts build-fuzz/logs
status=0
printf '%-12s %6s %10s %8s %7s  %s\n' harness seconds execs exec/s corpus result
for h in $list; do
  case $h in
    url) maxlen=8192 ;;
    http_server|http_client) maxlen=16384 ;;
    *) maxlen=4096 ;;
  esac
  mkdir -p "build-fuzz/corpus/$h" "fuzz/corpus/$h"
  log=build-fuzz/logs/$h.log
  dict=; [ -f "fuzz/$h.dict" ] && dict="-dict=fuzz/$h.dict"
  start=$(date +%s)
  LUNASOCK_ROOT=$PWD ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout $(( each + 120 )) "build-fuzz/$h" -max_total_time="$each" \
      -max_len="$maxlen" -timeout=10 -detect_leaks=0 -print_final_stats=1 $dict \
      -artifact_prefix="build-fuzz/artifacts/$h-" \
      "build-fuzz/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(ls "build-fuzz/corpus/$h" | wc -l)
  if [ $rc = 0 ]; then result=ok; else
    result="FAILED (exit $rc, see $log)"; status=1
    grep -E 'FUZZ FAIL|ERROR:|failed:|Test unit written' "$log" | head -n 5 >&2
  fi
  printf '%-12s %6s %10s %8s %7s  %s\n' "$h" "$secs" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
exit $status
