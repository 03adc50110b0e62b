#!/usr/bin/env bash
# test_studio.sh - the web studio in a real browser (issue 6): runs
# tests/browser/studio.mjs (playwright-core driving Debian's chromium,
# headless, against BUILD/orfeas serving BUILD/web), which prints cmocka's
# summary lines for tests/run.sh.  `make test` installs playwright-core
# from tests/browser/package-lock.json first.  It took 43 s on a 2-core
# machine (a quality-5 lithophane among its generations), up to 4 minutes
# while the machine was shared.
#   tests/test_studio.sh BUILD
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "test_studio: tests/browser/node_modules is missing: run make test (or npm ci in tests/browser)"
  echo "[  FAILED  ] 1 test(s)."
  exit 1
fi
exec timeout 260 node tests/browser/studio.mjs "$build"
