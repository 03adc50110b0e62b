#!/usr/bin/env bash
# setup.sh - installs the Debian packages ORFEAS needs, only those missing.
#   scripts/setup.sh build   compiler, libraries and cmocka (make, make test)
#   scripts/setup.sh bench   the peers the benchmarks compare against
#   scripts/setup.sh runtime what build/orfeas needs to run, and curl (the Docker image)
#   scripts/setup.sh SET --list   prints the set's packages, installs nothing
# Called by the Makefile and by .ci/run, so a fresh Debian 12 machine needs
# nothing by hand.  Needs root (or sudo) only when something is missing.
set -euo pipefail

build_pkgs=(gcc make pkg-config libspng-dev libturbojpeg0-dev libwebp-dev libexif-dev
            libssl-dev libmeshoptimizer-dev libcmocka-dev libjansson-dev libmicrohttpd-dev
            libzip-dev libcurl4-openssl-dev prometheus curl clang libclang-rt-14-dev)
# tests/test_threemf reads XML with libxml2; tests/test_tools.sh runs real tools
build_pkgs+=(libxml2-dev prusa-slicer admesh)
# the segmentation network (src/segment/net.cpp): OpenCV's DNN, imgproc and
# contrib's ximgproc, a C++ compiler; tests/test_segment.c uses the sample
# photographs of opencv-doc (Debian ships no opencv4.pc without libopencv-dev:
# the Makefile knows the header path)
build_pkgs+=(g++ libopencv-dnn-dev libopencv-imgproc-dev libopencv-contrib-dev opencv-doc)
# orfeas repair reads meshes with the Open Asset Import Library
build_pkgs+=(libassimp-dev)
# the cluster (issue 14): hiredis, and redis-server for its tests
build_pkgs+=(libhiredis-dev redis-server)
# compress=draco (issue 18, src/export/draco.cpp): Google's Draco
build_pkgs+=(libdraco-dev)
bench_pkgs=(python3 python3-numpy python3-scipy python3-skimage python3-vtk9 python3-pil wrk nginx-light)
# Deployment: the libraries build/orfeas links (tests/test_deploy.sh checks them against
# its NEEDED entries) and curl for the image's HEALTHCHECK; the tests of deploy/ and
# scripts/validate.sh need jq, python3-yaml (docker-compose.yml) and wrk (mixed load).
runtime_pkgs=(libspng0 libturbojpeg0 libwebp7 libexif12 libssl3 libjansson4 libmicrohttpd12
              libmeshoptimizer2d libzip4 libstdc++6 libgcc-s1 curl # libstdc++: net.cpp, a CUDA build
              libopencv-dnn406 libopencv-imgproc406 libopencv-core406 libopencv-contrib406)
runtime_pkgs+=(libassimp5) # orfeas repair's importer
runtime_pkgs+=(libhiredis0.14) # the cluster's Redis client
runtime_pkgs+=(libdraco7) # compress=draco
runtime_pkgs+=(libcurl4) # the remote generators' client (HTTP to Hunyuan3D-2 servers)
build_pkgs+=(jq python3-yaml wrk)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  bench) want=("${bench_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  *) echo "usage: $0 build|bench|runtime [--list]" >&2; exit 2 ;;
esac
# node and npm install three.js and playwright-core (web/, tests/browser/) and
# the glTF validator (tools/gltf-validator/) from their lockfiles; the browser
# test drives Debian's chromium
if [ "${1:-build}" = build ]; then
  want+=(nodejs chromium)
  command -v npm >/dev/null || want+=(npm)
fi
[ "${2:-}" = --list ] && { printf '%s\n' "${want[@]}"; exit 0; }

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  $sudo apt-get update >&2
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
