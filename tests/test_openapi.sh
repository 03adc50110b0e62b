#!/usr/bin/env bash
# test_openapi.sh BUILD - the server against its OpenAPI document
# (docs/openapi.yaml, served at GET /api/v1/openapi.json):
#  1. the served document is docs/openapi.yaml (as JSON, anchors written out);
#  2. it is valid OpenAPI 3.1 (an npm validator pinned by
#     tools/openapi/package-lock.json, installed by the build into
#     BUILD/tools/openapi);
#  3. every answer of a round of requests this script sends itself (every
#     route, successes and the errors a client can get), and every answer the
#     C integration tests recorded in this run (tests/run.sh sets
#     ORFEAS_API_RECORD; the harness appends each answer), matches the
#     document: path, method, status, media type, and the JSON body against
#     its schema (tools/openapi/check.mjs, copied beside its node_modules).
#     So the two cannot drift apart.
# Prints cmocka's "[  PASSED  ] N" / "[  FAILED  ] N" lines for tests/run.sh.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
tools=$build/tools/openapi
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/report.sh
echo "[==========] Running 3 test(s)."

"$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --workers 1 --queue-max 4 \
  --admin-token openapi-token >"$tmp/out" 2>"$tmp/log" &
pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^orfeas listening on //p' "$tmp/out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start"; cat "$tmp/log"; exit 1; }

# 1. the served document is the repository's
curl -sf "$url/api/v1/openapi.json" -o "$tmp/doc.json"
/usr/bin/python3 - "$tmp/doc.json" >"$tmp/same" 2>&1 <<'EOF'
import json, sys, yaml
served = json.load(open(sys.argv[1]))
repo = yaml.safe_load(open("docs/openapi.yaml"))
sys.exit(0 if served == repo else 1)
EOF
check served_document_is_docs_openapi_yaml $? "$tmp/same"

# 2. + 3. a round of requests, recorded like the harness records them
rec=$tmp/records.jsonl
# req METHOD PATH [curl arguments...]: one request, appended to $rec
req() {
  local method=$1 path=$2
  shift 2
  local meta
  meta=$(curl -s -X "$method" -o "$tmp/body" -w '%{http_code} %{content_type}' "$@" "$url$path")
  local type=${meta#* } status=${meta%% *} body=""
  case "$type" in application/json* | application/x-ndjson*) body=$(cat "$tmp/body") ;; esac
  jq -cn --arg m "$method" --arg p "$path" --argjson s "$status" --arg t "$type" --arg b "$body" \
    '{method:$m, path:$p, status:$s, type:$t, body:$b}' >>"$rec"
}
# job_done PATH_PREFIX: the id of the job the recorded POST to PATH_PREFIX...
# queued, once it has completed (10 s at most)
job_done() {
  local id
  id=$(jq -r --arg p "$1" 'select(.path | startswith($p)) | .body | fromjson | .job_id' "$rec" | head -n1)
  for _ in $(seq 100); do
    curl -s "$url/api/v1/jobs/$id" | grep -q '"status":"complete"' && break
    sleep 0.1
  done
  echo "$id"
}
img=samples/heart.png
req GET /health
req GET /ready
req GET /api/v1/params
req GET /api/v1/gpu/stats
req GET /api/v1/cache/stats
req GET /api/v1/openapi.json
req POST /api/v1/generate -F image=@$img -F quality=2
hash=$(jq -r 'select(.path == "/api/v1/generate" and .status == 200) | .body | fromjson | .request_hash' "$rec" | head -n1)
req GET "/api/v1/results/$hash/final_optimized.stl"
req GET "/api/v1/results/$hash/rough_mesh.glb"
req GET "/api/v1/results/$hash/final_optimized.nope"
req GET "/api/v1/results/0000000000000000000000000000000000000000000000000000000000000000/final_optimized.glb"
req POST /api/v1/generate -F image=@$img -F quality=2 # cached
req POST /api/v1/generate-progressive -F image=@$img -F quality=3
req POST "/api/v1/jobs?quality=2&size_mm=31" -H 'Content-Type: image/png' --data-binary @$img
job=$(job_done "/api/v1/jobs?")
req GET "/api/v1/jobs/$job"
req DELETE "/api/v1/jobs/$job" # already finished: 409
req GET /api/v1/jobs/0123456789abcdef0123456789abcdef
req POST /api/v1/mask -F image=@$img
# a mesh to repair: the engine's own STL of the heart
"$bin" generate "$img" -o "$tmp/heart.stl" --quality 1 >/dev/null 2>&1
req POST /api/v1/repair -F mesh=@"$tmp/heart.stl" -F quality=2
req POST /api/v1/repair -F mesh=@"$tmp/heart.stl" -F quality=2 # cached
rhash=$(jq -r 'select(.path == "/api/v1/repair" and .status == 200) | .body | fromjson | .request_hash' "$rec" | head -n1)
req GET "/api/v1/results/$rhash/final_repaired.stl"
req POST /api/v1/repair-progressive -F mesh=@"$tmp/heart.stl" -F quality=3
req POST /api/v1/repair-progressive -F mesh=@"$tmp/heart.stl" -F quality=3 # cached
req POST "/api/v1/repair-jobs?quality=1" -H 'Content-Type: model/stl' --data-binary @"$tmp/heart.stl"
rjob=$(job_done "/api/v1/repair-jobs?")
req GET "/api/v1/jobs/$rjob"
printf 'solid nothing\nendsolid\n' >"$tmp/empty.stl"
req POST /api/v1/repair -F mesh=@"$tmp/empty.stl"              # bad_mesh
req POST /api/v1/repair -F quality=2                            # missing_mesh
# the errors a client can get
req POST /api/v1/generate -F quality=2                                       # missing_image
req POST /api/v1/generate -H 'Content-Type: image/png' --data-binary 'no image at all'
req POST /api/v1/generate -H 'Content-Type: image/gif' --data-binary 'GIF89a...'
req POST "/api/v1/generate?quality=11" -H 'Content-Type: image/png' --data-binary @$img
req POST "/api/v1/generate?cutout=true" -H 'Content-Type: image/png' --data-binary @$img
req POST "/api/v1/generate?quality=3&quality=4" -H 'Content-Type: image/png' --data-binary @$img
req POST /api/v1/generate -F image=@$img -F =1
req POST /api/v1/cache/clear
req POST /api/v1/cache/clear -H 'Authorization: Bearer wrong'
req POST /api/v1/cache/clear -H 'Authorization: Bearer openapi-token'
req PUT /health
req GET /api/v1/nothing-here

records=$tmp/all.jsonl
cat "$rec" >"$records"
[ -n "${ORFEAS_API_RECORD:-}" ] && [ -s "$ORFEAS_API_RECORD" ] && cat "$ORFEAS_API_RECORD" >>"$records"
echo "    $(wc -l <"$rec") answers of this script, $(($(wc -l <"$records") - $(wc -l <"$rec"))) recorded by the C tests"

node "$tools/check.mjs" "$tmp/doc.json" /dev/null >"$tmp/doc.out" 2>&1
# the document alone (no answers): its validity
grep -q '^openapi: document valid' "$tmp/doc.out"
check document_is_valid_openapi_3_1 $? "$tmp/doc.out"

node "$tools/check.mjs" "$tmp/doc.json" "$records" >"$tmp/check.out" 2>&1
rc=$?
tail -n 3 "$tmp/check.out" | sed 's/^/    /'
check every_answer_matches_the_document $rc "$tmp/check.out"
report_end
