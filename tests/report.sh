# report.sh - cmocka's result lines for the shell tests, sourced by
# tests/test_deploy.sh, test_validate.sh and test_mixed_load.sh:
# tests/run.sh counts their "[  PASSED  ] N" / "[  FAILED  ] N" lines.
passed=0
failed=0

# check NAME STATUS [DETAIL-FILE]: one test, passed when STATUS is 0; a
# failure also prints DETAIL-FILE, indented.
check() {
  if [ "$2" -eq 0 ]; then
    echo "[       OK ] $1"; passed=$((passed + 1))
  else
    echo "[  FAILED  ] $1"; failed=$((failed + 1))
    [ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/    /' "$3"
  fi
  return 0
}

# report_end: the summary lines; its status is the script's (1 when a test failed).
report_end() {
  echo "[  PASSED  ] $passed test(s)."
  [ "$failed" -gt 0 ] && echo "[  FAILED  ] $failed test(s)."
  [ "$failed" -eq 0 ]
}
