#!/usr/bin/env bash
# device_kit.sh - packs what the GPU checks need into one folder that travels
# to a GPU machine without Debian's libraries (the workplace's device tool
# carries ignored folders): the binaries of BUILD (server, test programs,
# benchmarks) and every shared library they load except the C library's own,
# so `scripts/device_check.sh KIT` runs there with LD_LIBRARY_PATH=KIT/lib.
# cudart is linked statically; the GPU machine brings the driver.
#   scripts/device_kit.sh BUILD KIT      e.g. build .devkit
set -euo pipefail
build=${1:?BUILD}; kit=${2:?KIT}
rm -rf "$kit"; mkdir -p "$kit/build/tests" "$kit/build/bench" "$kit/lib"
cp "$build/orfeas" "$kit/build/"
[ -d "$build/web" ] && cp -r "$build/web" "$kit/build/web" # the studio, for the server tests
cp "$build"/tests/test_* "$kit/build/tests/"
cp "$build"/bench/bench_* "$kit/build/bench/"
# test_threemf reads XML with libxml2, whose ICU data alone is 30 MB: the 3MF
# writer has nothing to do with the GPU, so it stays behind
rm -f "$kit/build/tests/test_threemf"
strip --strip-debug "$kit"/build/orfeas "$kit"/build/tests/* "$kit"/build/bench/*
for bin in "$kit"/build/orfeas "$kit"/build/tests/* "$kit"/build/bench/*; do
  ldd "$bin" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
    *) cp -L "$lib" "$kit/lib/" ;;
  esac
done
du -sh "$kit"
