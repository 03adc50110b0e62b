#!/usr/bin/env bash
# test_compat.sh BUILD - clients written for other APIs against ORFEAS
# (issue 16), end to end over loopback with the real binary:
#  1. the original ORFEAS API with curl: upload-image, generate-3d, poll
#     job-status, download an STL that PrusaSlicer loads (the size asked,
#     manifold, nothing repaired) and slices; and that API's error shapes;
#  2. a client of the Hunyuan3D-2 API server's contract
#     (tests/hunyuan_client.py, Python standard library): /send, poll
#     /status/<uid>, the base64 GLB decoded, and the Khronos glTF validator
#     accepting it; /generate answering the GLB itself.
# Prints cmocka-style lines for tests/run.sh.  No wall-clock limit is
# asserted; every wait is bounded.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
validator=$build/tools/gltf-validator/validate.js
work=$(mktemp -d /tmp/orf_test_compat_XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. tests/tools_lib.sh
SIZE_MM=40

"$bin" serve --host 127.0.0.1 --port 0 --data-dir "$work/data" --workers 2 --queue-max 8 \
  >"$work/out" 2>"$work/log" &
pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^orfeas listening on //p' "$work/out")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start"; tail -20 "$work/log"; exit 1; }

# json FILE EXPR: a value of the JSON in FILE (python3's json, standard library).
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
# status_of METHOD PATH [curl args...]: the body into $work/body, the status printed.
status_of() {
  local m=$1 p=$2
  shift 2
  curl -s -o "$work/body" -w '%{http_code}' --max-time 120 -X "$m" "$url$p" "$@"
}

# ---- 1. the original ORFEAS API --------------------------------------------
st=$(status_of POST /api/upload-image -F "image=@samples/heart.png")
id=$(json "$work/body" "d['job_id']")
if [ "$st" = 200 ] && [ "$(json "$work/body" "d['status']")" = uploaded ] &&
  [ "$(json "$work/body" "d['original_filename']")" = heart.png ] &&
  [ "$(json "$work/body" "d['image_info']['width'] > 0")" = True ]; then
  ok "orfeas upload_image"
else
  bad "orfeas upload_image" "$st $(cat "$work/body")"
fi
st=$(status_of GET "$(json "$work/body" "d['preview_url']")")
[ "$st" = 200 ] && cmp -s "$work/body" samples/heart.png && ok "orfeas preview" || bad "orfeas preview" "$st"

st=$(status_of POST /api/generate-3d -H 'Content-Type: application/json' \
  -d "{\"job_id\":\"$id\",\"format\":\"stl\",\"dimensions\":{\"width\":40,\"height\":30,\"depth\":8},\"quality\":3}")
if [ "$st" = 200 ] && [ "$(json "$work/body" "d['status']")" = generating_3d ] &&
  [ "$(json "$work/body" "d['format']+str(d['quality'])")" = stl3 ]; then
  ok "orfeas generate_3d"
else
  bad "orfeas generate_3d" "$st $(cat "$work/body")"
fi
status=
for _ in $(seq 1200); do
  status_of GET "/api/job-status/$id" >/dev/null
  status=$(json "$work/body" "d['status']")
  case "$status" in completed | failed) break ;; esac
  sleep 0.25
done
if [ "$status" = completed ]; then
  ok "orfeas job_status_completed"
  st=$(status_of GET "$(json "$work/body" "d['download_url']")")
  cp "$work/body" "$work/model.stl"
  faces=$(python3 -c "import struct,sys; print(struct.unpack('<I', open(sys.argv[1],'rb').read()[80:84])[0])" "$work/model.stl")
  [ "$st" = 200 ] && ok "orfeas download ($faces facets)" || bad "orfeas download" "$st"
  prusa_info "orfeas prusa_info_stl" "$work/model.stl" "$faces"
  prusa_slice "orfeas slice_stl" "$work/model.stl"
else
  bad "orfeas job_status_completed" "ended \"$status\": $(cat "$work/body")"
fi

# its error shapes
st=$(status_of GET /api/job-status/0123456789abcdef0123456789abcdef)
[ "$st" = 404 ] && [ "$(json "$work/body" "d['error']")" = "Job not found" ] &&
  ok "orfeas job_not_found" || bad "orfeas job_not_found" "$st $(cat "$work/body")"
st=$(status_of POST /api/generate-3d -H 'Content-Type: application/json' -d "{\"job_id\":\"$id\",\"format\":\"fbx\"}")
[ "$st" = 400 ] && [ -n "$(json "$work/body" "d['details']")" ] &&
  ok "orfeas bad_format_details" || bad "orfeas bad_format_details" "$st $(cat "$work/body")"
st=$(status_of POST /api/generate-3d -H 'Content-Type: application/json' -d "{\"job_id\":\"$id\",\"quality\":11}")
[ "$st" = 400 ] && grep -q quality "$work/body" && ok "orfeas bad_quality_details" ||
  bad "orfeas bad_quality_details" "$st $(cat "$work/body")"
st=$(status_of POST /api/upload-image -F "image=@tests/test_compat.sh;filename=x.png")
[ "$st" = 400 ] && [ -n "$(json "$work/body" "d['details']")" ] &&
  ok "orfeas bad_image_details" || bad "orfeas bad_image_details" "$st $(cat "$work/body")"
st=$(status_of POST /api/upload-image -F "other=1")
[ "$st" = 400 ] && [ "$(json "$work/body" "d['error']")" = "No image file provided" ] &&
  ok "orfeas no_image" || bad "orfeas no_image" "$st $(cat "$work/body")"
st=$(status_of GET "/api/download/$id/other.stl")
[ "$st" = 404 ] && ok "orfeas download_unknown_file" || bad "orfeas download_unknown_file" "$st"

# ---- 2. a client of the Hunyuan3D-2 API server's contract -----------------
# /generate first (it waits for its job), then /send of the same request
# (answered from the cache: its uid names no job), then /send at another
# octree_resolution (another request: a job, polled while it runs)
if out=$(python3 tests/hunyuan_client.py generate "$url" samples/heart.png "$work/gen.glb" 2>&1); then
  ok "hunyuan generate_file"
  gltf_check "hunyuan gltf_validator_generate" "$work/gen.glb"
else
  bad "hunyuan generate_file" "$out"
fi
if out=$(python3 tests/hunyuan_client.py send "$url" samples/heart.png "$work/send.glb" 2>&1); then
  cmp -s "$work/send.glb" "$work/gen.glb" && ok "hunyuan send_from_cache" ||
    bad "hunyuan send_from_cache" "/generate and /send gave different files"
else
  bad "hunyuan send_from_cache" "$out"
fi
if out=$(python3 tests/hunyuan_client.py send "$url" samples/heart.png "$work/send2.glb" 256 2>&1); then
  ok "hunyuan send_status_base64"
  gltf_check "hunyuan gltf_validator_send" "$work/send2.glb"
else
  bad "hunyuan send_status_base64" "$out"
fi
out=$(python3 tests/hunyuan_client.py bad "$url" samples/heart.png - 2>&1) && ok "hunyuan range_422" ||
  bad "hunyuan range_422" "$out"
st=$(status_of GET /status/nope)
[ "$st" = 404 ] && [ "$(json "$work/body" "d['error_code']")" = 1 ] && ok "hunyuan unknown_uid_404" ||
  bad "hunyuan unknown_uid_404" "$st $(cat "$work/body")"
st=$(status_of POST /send -H 'Content-Type: application/json' -d '{"image":"bm90IGFuIGltYWdl"}')
[ "$st" = 404 ] && [ "$(json "$work/body" "d['error_code']")" = 1 ] && [ -n "$(json "$work/body" "d['text']")" ] &&
  ok "hunyuan bad_image_404" || bad "hunyuan bad_image_404" "$st $(cat "$work/body")"

echo "[  PASSED  ] $passed test(s)."
[ "$failed" -gt 0 ] && echo "[  FAILED  ] $failed test(s)."
[ "$failed" -eq 0 ]
