#!/usr/bin/env bash
# run.sh - what `make run` does.  Until the HTTP server lands (issue #4) it
# turns the bundled sample image into a model with the CLI, every stage
# included, and says where the files are.
set -euo pipefail
build=${1:-build}
out="$build/sample"
mkdir -p "$out"
"$build/orfeas" generate samples/heart.png -o "$out/heart.glb" --stages-dir "$out/stages"
"$build/orfeas" generate samples/heart.png -o "$out/heart.stl" --style plain
echo "run: wrote $out/heart.glb (view it in any glTF viewer), $out/heart.stl and $out/stages/"
