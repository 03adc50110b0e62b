#!/usr/bin/env bash
# device_check.sh - the GPU checks of issue 8, run on the GPU machine from the
# repository root with a kit made by scripts/device_kit.sh:
#   1. the test programs (the engine's default device is auto, so every job
#      of the suite runs its marching cubes on the GPU there), in
#      particular test_fieldgrid's GPU-against-reference comparison;
#   2. compute-sanitizer memcheck on the GPU tests;
#   3. the GPU benchmark (bench_gpu), CPU and GPU in one run.
# Logs go to $OUT (the device tool brings them back) or ./device-logs.
#   scripts/device_check.sh KIT [tests|memcheck|bench]...
set -uo pipefail
kit=${1:?KIT}; shift
steps=${*:-tests memcheck bench}
out=${OUT:-device-logs}; mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"
status=0
for step in $steps; do
  case $step in
    tests)
      progs=${TESTS:-$(cd "$kit/build/tests" && ls test_* | tr "\n" " ")}
      # shellcheck disable=SC2086
      bash tests/run.sh "$kit/build" $progs > "$out/tests.log" 2>&1 || status=1
      grep -E "passed, .* failed|crashed|FAILED|gpu:|usable GPU" "$out/tests.log" | tail -20 ;;
    memcheck)
      ORFEAS_GPU_TEST_QUICK=1 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
        "$kit/build/tests/test_fieldgrid" > "$out/memcheck.log" 2>&1 || status=1
      tail -5 "$out/memcheck.log" ;;
    bench)
      "$kit/build/bench/bench_gpu" > "$out/bench_gpu.log" 2>&1 || status=1
      cat "$out/bench_gpu.log" ;;
  esac
done
exit $status
