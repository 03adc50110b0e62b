#!/usr/bin/env bash
# run.sh - `make bench`: every benchmark program, then the peers they
# compare against in the same run.  Figures go to BENCHMARKS.md by hand,
# with the machine they came from.
set -euo pipefail
build=${1:-build}
# benchmarks run as root on the bench machine; `orfeas serve` refuses root unless told
export ORFEAS_ALLOW_ROOT=${ORFEAS_ALLOW_ROOT:-1}
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== engine (bench_engine)"
"$build/bench/bench_engine"
echo "== final stage within its face budget (bench_budget; issue 13)"
"$build/bench/bench_budget"
if [ -x "$build/bench/bench_mc" ]; then
  echo "== marching cubes (bench_mc --peers)"
  "$build/bench/bench_mc" --peers
fi
echo "== segmentation network (bench_segment)"
"$build/bench/bench_segment"
echo "== CUDA path (bench_gpu: CPU and GPU in one run; says so when there is no GPU)"
"$build/bench/bench_gpu"
echo "== HTTP server (bench_server.sh)"
bash bench/bench_server.sh "$build"
echo "== memory admission (bench_admission)"
"$build/bench/bench_admission"
echo "== load (bench_load.sh)"
bash bench/bench_load.sh "$build"
echo "== GLB variants: texture, meshopt, Draco at qualities 4, 7, 10 (bench_glb; issue 18)"
"$build/bench/bench_glb"
echo "== file size of each format (bench_formats.sh)"
bash bench/bench_formats.sh "$build"
echo "== mixed load (bench_mixed.sh: 64 connections, 60 s)"
bash bench/bench_mixed.sh "$build"
echo "== cluster through Redis (bench_cluster.sh; issue 14)"
bash bench/bench_cluster.sh "$build"
