#!/usr/bin/env bash
# bench_formats.sh - file size of each output format (issue 3): a quality-7
# generation of samples/heart.png (100 mm, style realistic: colours where the
# format has them) for every mode in MODES that this build has, written as
# STL, OBJ, PLY, GLB and 3MF.  Prints per file the bytes, bytes per face,
# the CLI's wall time and the pipeline's own total (their difference is
# mostly the export and the file write).
#   bench/bench_formats.sh BUILD
set -u
MODES="inflate relief lithophane extrude"
FORMATS="stl obj ply glb 3mf"
build=${1:-build}
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/orf_bench_formats_XXXXXX)
trap 'rm -rf "$work"' EXIT

printf '%-11s %-4s %10s %8s %8s %12s %9s\n' mode fmt bytes faces B/face wall_ms pipe_ms
for mode in $MODES; do
  for fmt in $FORMATS; do
    t0=$(date +%s%N)
    if ! out=$("$build/orfeas" generate samples/heart.png -o "$work/m.$fmt" --mode "$mode" --quality 7 --json 2>"$work/err"); then
      printf '%-11s %s\n' "$mode" "not run: $(tail -1 "$work/err")"
      break
    fi
    t1=$(date +%s%N)
    faces=$(sed -n 's/.*"mesh":{[^}]*"faces":\([0-9]*\).*/\1/p' <<<"$out")
    pipe=$(sed -n 's/.*"timings_ms":{[^}]*"total":\([0-9.]*\).*/\1/p' <<<"$out")
    bytes=$(stat -c %s "$work/m.$fmt")
    printf '%-11s %-4s %10d %8d %8.1f %12d %9.0f\n' "$mode" "$fmt" "$bytes" "$faces" \
      "$(awk -v b="$bytes" -v f="$faces" 'BEGIN { print b / f }')" $(((t1 - t0) / 1000000)) "$pipe"
  done
done
