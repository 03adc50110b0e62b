#!/usr/bin/env bash
# tools_lib.sh - a mesh file checked by the real tools people print and
# view with: PrusaSlicer (--info: the size, the facets, manifold, nothing
# repaired; and slicing to G-code), admesh (nothing to fix) and the Khronos
# glTF validator.  Sourced by tests/test_tools.sh (the engine's generated
# files, issue 3), which sets $work (a scratch folder), $validator and
# $SIZE_MM; run by tests/test_repair.c on the repaired test meshes
# (issue 15):
#   bash tests/tools_lib.sh accept NAME FILE.stl FILE.3mf FACES SIZE_MM
# runs prusa_info on both files, prusa_slice and admesh_check on the STL,
# prints one cmocka-style line per check and exits 0 only when all pass.
# A tool that is missing fails every check that needs it, saying so.

passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0}
failures=()
ok() { echo "[       OK ] $1"; passed=$((passed + 1)); }
bad() { echo "[  ERROR   ] $1: $2"; failed=$((failed + 1)); failures+=("$1"); }
skip() { echo "[  SKIPPED ] $1: $2"; skipped=$((skipped + 1)); }

# Where a tool is missing every check that needs it fails, saying so.
missing_tool() {
  case "$1" in
  prusa-slicer | admesh) command -v "$1" >/dev/null || { echo "$1 is not installed (scripts/setup.sh build)"; return 0; } ;;
  validator) [ -f "$validator" ] && command -v node >/dev/null ||
    { echo "the glTF validator is not installed at $validator (make test installs it)"; return 0; } ;;
  esac
  return 1
}

# prusa_info NAME FILE FACES [SIZE]: --info figures against the request
# (the longest side SIZE mm, default $SIZE_MM).
prusa_info() {
  local name=$1 file=$2 faces=$3 size=${4:-$SIZE_MM} why out
  if why=$(missing_tool prusa-slicer); then bad "$name" "$why"; return; fi
  out=$(timeout 120 prusa-slicer --datadir "$work/prusa" --info "$file" 2>"$work/err") ||
    { bad "$name" "prusa-slicer --info failed: $(grep -v '\[trace\]' "$work/err" | tail -3)"; return; }
  local sx sy sz nf manifold repairs
  sx=$(sed -n 's/^size_x = //p' <<<"$out")
  sy=$(sed -n 's/^size_y = //p' <<<"$out")
  sz=$(sed -n 's/^size_z = //p' <<<"$out")
  nf=$(sed -n 's/^number_of_facets = //p' <<<"$out")
  manifold=$(sed -n 's/^manifold = //p' <<<"$out")
  repairs=$(grep -E '^(degenerate_facets|edges_fixed|facets_removed|facets_reversed|backwards_edges|open_edges) = ' <<<"$out" | tr '\n' ' ')
  [ -n "$sx" ] && [ -n "$sy" ] && [ -n "$sz" ] || { bad "$name" "no size in: $out"; return; }
  local longest
  longest=$(awk -v a="$sx" -v b="$sy" -v c="$sz" 'BEGIN { m = a; if (b > m) m = b; if (c > m) m = c; print m }')
  if ! awk -v l="$longest" -v s="$size" 'BEGIN { d = l - s; exit !(d <= 0.1 && d >= -0.1) }'; then
    bad "$name" "longest side $longest mm, asked $size mm ($sx x $sy x $sz)"
  elif [ "$nf" != "$faces" ]; then
    bad "$name" "$nf facets loaded, the engine wrote $faces"
  elif [ "$manifold" != yes ] || [ -n "$repairs" ]; then
    bad "$name" "manifold=$manifold $repairs"
  else
    ok "$name ($sx x $sy x $sz mm, $nf facets)"
  fi
}

# prusa_slice NAME FILE: slices to G-code with layers and extrusions.
prusa_slice() {
  local name=$1 file=$2 why gcode=$work/out.gcode
  if why=$(missing_tool prusa-slicer); then bad "$name" "$why"; return; fi
  rm -f "$gcode"
  if ! timeout 300 prusa-slicer --datadir "$work/prusa" --export-gcode --support-material \
    --support-material-auto --raft-layers 1 "$file" --output "$gcode" >"$work/err" 2>&1; then
    bad "$name" "prusa-slicer --export-gcode failed: $(grep -v '\[trace\]' "$work/err" | grep -v '=>' | tail -3)"
    return
  fi
  local layers moves
  layers=$(grep -c '^;LAYER_CHANGE' "$gcode" 2>/dev/null)
  moves=$(grep -c '^G1 .*E[0-9.]' "$gcode" 2>/dev/null)
  if [ "${layers:-0}" -lt 2 ] || [ "${moves:-0}" -lt 10 ]; then
    bad "$name" "G-code with ${layers:-0} layers and ${moves:-0} extrusions"
  else
    ok "$name ($layers layers)"
  fi
}

# admesh_check NAME FILE: every repair counter of admesh's report is 0.
admesh_check() {
  local name=$1 file=$2 why out
  if why=$(missing_tool admesh); then bad "$name" "$why"; return; fi
  out=$(timeout 120 admesh "$file" 2>&1) || { bad "$name" "admesh failed: $(tail -3 <<<"$out")"; return; }
  local fields="Degenerate facets|Edges fixed|Facets removed|Facets added|Facets reversed|Backwards edges|Normals fixed"
  local found nonzero disc
  found=$(grep -cE "^($fields) +:" <<<"$out")
  nonzero=$(grep -E "^($fields) +:" <<<"$out" | awk -F: '$2 + 0 != 0' | tr -s ' ' | tr '\n' ';')
  disc=$(sed -n 's/^Total disconnected facets *: *\([0-9]*\) *\([0-9]*\)/\1 \2/p' <<<"$out")
  if [ "$found" -ne 7 ] || [ -z "$disc" ]; then
    bad "$name" "admesh's report not understood"
  elif [ -n "$nonzero" ] || [ "$disc" != "0 0" ]; then
    bad "$name" "admesh fixed something: $nonzero disconnected facets $disc"
  else
    ok "$name"
  fi
}

# gltf_check NAME FILE: the Khronos validator reports no error.
gltf_check() {
  local name=$1 file=$2 why out
  if why=$(missing_tool validator); then bad "$name" "$why"; return; fi
  if out=$(timeout 120 node "$validator" "$file" 2>&1) && grep -q ': errors=0 ' <<<"$out"; then
    ok "$name ($(sed -n 's/.*: errors=0 //p' <<<"$out"))"
  else
    bad "$name" "$(head -6 <<<"$out")"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  [ "${1:-}" = accept ] && [ $# -eq 6 ] || { echo "usage: $0 accept NAME FILE.stl FILE.3mf FACES SIZE_MM" >&2; exit 2; }
  name=$2 stl=$3 tmf=$4 faces=$5 size=$6
  work=$(mktemp -d /tmp/orf_tools_lib_XXXXXX)
  trap 'rm -rf "$work"' EXIT
  prusa_info "$name prusa_info_stl" "$stl" "$faces" "$size"
  prusa_info "$name prusa_info_3mf" "$tmf" "$faces" "$size"
  prusa_slice "$name slice_stl" "$stl"
  admesh_check "$name admesh_stl" "$stl"
  [ "$failed" -eq 0 ]
fi
