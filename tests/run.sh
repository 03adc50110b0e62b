#!/usr/bin/env bash
# run.sh - runs every test program under BUILD/tests (each a cmocka group,
# each under a time limit) and the shell tests tests/test_*.sh (each run with
# BUILD as its argument, printing cmocka's "[  PASSED  ] N" / "[  FAILED  ] N"
# lines), and closes with one summary line over all of them.
#   tests/run.sh BUILD [NAME...]   NAME picks programs (test_mc, test_tools.sh, ...)
#   tests/run.sh BUILD test_server:test_health   one test of a program (cmocka
#                                  filter, '*' wildcards: test_server:'test_results*')
set -u
build=${1:-build}; shift || true
cd "$(dirname "$0")/.."
progs=("$@")
[ ${#progs[@]} -eq 0 ] && progs=($(ls "$build"/tests/ | grep '^test_' | sort) $(cd tests && ls test_*.sh 2>/dev/null | sort))
export ORFEAS_BIN="$build/orfeas"
# every answer the integration tests get is recorded for test_openapi.sh
export ORFEAS_API_RECORD="$PWD/$build/api-responses.jsonl"
: >"$ORFEAS_API_RECORD"
# the tests run as root on CI; `orfeas serve` refuses root unless told
export ORFEAS_ALLOW_ROOT=${ORFEAS_ALLOW_ROOT:-1}
passed=0; failed=0; broken=()
for p in "${progs[@]}"; do
  filter=""
  case "$p" in *:*) filter=${p#*:}; p=${p%%:*} ;; esac
  log=$(mktemp)
  case "$p" in
    *.sh) timeout 900 bash "tests/$p" "$build" 2>&1 | tee "$log" ;;
    *) ORF_TEST="$filter" timeout 600 "$build/tests/$p" 2>&1 | tee "$log" ;;
  esac
  rc=${PIPESTATUS[0]}
  n_ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  n_bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  passed=$((passed + n_ok)); failed=$((failed + n_bad))
  if [ "$rc" -ne 0 ] && [ "$n_bad" -eq 0 ]; then failed=$((failed + 1)); broken+=("$p(rc=$rc)"); fi
  rm -f "$log"
done
[ ${#broken[@]} -gt 0 ] && echo "programs that crashed or timed out: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
