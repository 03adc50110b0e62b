#!/usr/bin/env bash
# test_mixed_load.sh BUILD - a short run of bench/bench_mixed.sh (issue 7,
# sustained mixed load): 16 connections for 10 s of cache hits, fresh
# generations, bad images, non-images and bad parameters against the real
# server on 127.0.0.1.  Checks what must hold at any speed:
#  1. the server is alive and healthy after the run, every answer has a
#     status the mix expects (200, 400, 415, 422, 429), no more error
#     answers than bad requests were sent, wrk saw no socket error, and
#     SIGTERM then stops it with status 0 (with ASan: no leak);
#  2. open file descriptors 3 s after the run, once no job is left queued
#     or running, are back within 8 of the count before it (a descriptor
#     leaked per request would show hundreds).
# RSS is printed but not judged (wall clock and allocator dependent):
# BENCHMARKS.md has the 64-connection, 60 s figures of `make bench`.
# Prints cmocka's "[  PASSED  ] N" / "[  FAILED  ] N" lines for tests/run.sh.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "[==========] Running 2 test(s)."
MIXED_SECONDS=10 MIXED_CONNECTIONS=16 MIXED_SETTLE=3 MIXED_ROUNDS=1 bash bench/bench_mixed.sh "$build" >"$out" 2>&1
rc=$?
sed 's/^/    /' "$out"
passed=0
failed=0
if [ "$rc" -eq 0 ] && grep -q '^bench_mixed: ok$' "$out"; then
  echo "[       OK ] mixed_load_expected_statuses_and_alive"; passed=$((passed + 1))
else
  echo "[  FAILED  ] mixed_load_expected_statuses_and_alive"; failed=$((failed + 1))
fi
before=$(sed -n 's/.*before_fds=\([0-9]*\).*/\1/p' "$out")
settled=$(sed -n 's/.*settled_fds=\([0-9]*\).*/\1/p' "$out")
if [ -n "$before" ] && [ -n "$settled" ] && [ "$settled" -le $((before + 8)) ]; then
  echo "[       OK ] mixed_load_descriptors_flat ($before before, $settled after)"; passed=$((passed + 1))
else
  echo "[  FAILED  ] mixed_load_descriptors_flat (${before:-?} before, ${settled:-?} after)"; failed=$((failed + 1))
fi
echo "[  PASSED  ] $passed test(s)."
[ "$failed" -gt 0 ] && echo "[  FAILED  ] $failed test(s)."
[ "$failed" -eq 0 ]
