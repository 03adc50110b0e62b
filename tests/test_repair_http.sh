#!/usr/bin/env bash
# test_repair_http.sh - `orfeas repair` and POST /api/v1/repair (issue 15)
# end to end: the CLI's exit codes, --json figures and output file; the
# endpoint's JSON answer, its cache (the same mesh again is a hit, in any
# format), download=1 giving the file, a raw body with its media type,
# and the errors (bad_mesh 400, an unknown parameter 422, no mesh 400).
# Repairs are jobs of the job manager: a job of /api/v1/repair-jobs polled
# to completion, the stages of /api/v1/repair-progressive in order (and
# from the cache), a bad mesh failing the job and the stream, two
# identical repairs in flight computed once, and a repair larger than the
# whole memory budget refused with 507 on every route.
#   tests/test_repair_http.sh BUILD
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/report.sh

# a unit cube with its top missing (two triangles), as OBJ
{
  printf 'v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n'
  printf 'f 1 3 2\nf 1 4 3\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n'
} >"$tmp/open.obj"
printf 'not a mesh at all' >"$tmp/junk.obj"

echo "[==========] Running 13 test(s)."

# CLI
"$bin" repair "$tmp/open.obj" -o "$tmp/out.stl" --quality 3 --size-mm 40 --json >"$tmp/cli.json" 2>"$tmp/cli.err"
rc=$?
[ $rc -eq 0 ] && jq -e '.mesh.watertight and .mesh.manifold and .done.remeshed and .input.open_edges == 4
   and (.mesh.volume_mm3 > 62000) and (.mesh.volume_mm3 < 66000)' "$tmp/cli.json" >/dev/null &&
  n=$(od -An -tu4 -j80 -N4 "$tmp/out.stl" | tr -d ' ') && [ "$(stat -c %s "$tmp/out.stl")" -eq $((84 + 50 * n)) ]
check cli_repairs_an_open_cube $? "$tmp/cli.err"
"$bin" repair "$tmp/junk.obj" -o "$tmp/x.stl" 2>"$tmp/e1"
[ $? -eq 3 ] && grep -q "cannot be read" "$tmp/e1"
check cli_bad_mesh_exits_3 $? "$tmp/e1"
"$bin" repair "$tmp/open.obj" -o "$tmp/x.stl" --param remesh=sometimes 2>"$tmp/e2"
[ $? -eq 2 ] && grep -q "remesh" "$tmp/e2"
check cli_bad_parameter_exits_2 $? "$tmp/e2"

# HTTP
ORFEAS_ALLOW_ROOT=1 "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --workers 1 \
  >"$tmp/srv.out" 2>"$tmp/srv.log" &
pids+=($!)
# url_of OUT: the address a server started with --port 0 printed
url_of() {
  local u=""
  for _ in $(seq 300); do
    u=$(sed -n 's/^orfeas listening on //p' "$1" 2>/dev/null)
    [ -n "$u" ] && break
    sleep 0.1
  done
  echo "$u"
}
url=$(url_of "$tmp/srv.out")
[ -n "$url" ]
check server_starts $? "$tmp/srv.log"

curl -s -F mesh=@"$tmp/open.obj" -F quality=3 -F size_mm=40 "$url/api/v1/repair" >"$tmp/a.json"
curl -s -F mesh=@"$tmp/open.obj" -F quality=3 -F size_mm=40 -F format=stl "$url/api/v1/repair" >"$tmp/b.json"
jq -e '.cached == false and .mesh.watertight and .done.remeshed and (.request_hash | length) == 64' "$tmp/a.json" >/dev/null &&
  jq -e '.cached == true and .format == "stl"' "$tmp/b.json" >/dev/null &&
  [ "$(jq -r .request_hash "$tmp/a.json")" = "$(jq -r .request_hash "$tmp/b.json")" ]
check http_repairs_and_caches $? "$tmp/a.json"

code=$(curl -s -o "$tmp/d.stl" -w '%{http_code} %{content_type}' -F mesh=@"$tmp/open.obj" -F quality=3 -F size_mm=40 \
  "$url/api/v1/repair?download=1&format=stl")
n=$(od -An -tu4 -j80 -N4 "$tmp/d.stl" | tr -d ' ')
[ "$code" = "200 model/stl" ] && [ "$(stat -c %s "$tmp/d.stl")" -eq $((84 + 50 * n)) ] &&
  [ "$n" -eq "$(jq .mesh.faces "$tmp/a.json")" ]
check http_download_gives_the_file $? "$tmp/a.json"

curl -s --data-binary @"$tmp/open.obj" -H 'Content-Type: model/obj' "$url/api/v1/repair?quality=2" >"$tmp/raw.json"
jq -e '.mesh.watertight and .input.triangles == 10' "$tmp/raw.json" >/dev/null
check http_raw_body $? "$tmp/raw.json"

s1=$(curl -s -o "$tmp/e1.json" -w '%{http_code}' -F mesh=@"$tmp/junk.obj" "$url/api/v1/repair")
s2=$(curl -s -o "$tmp/e2.json" -w '%{http_code}' -F mesh=@"$tmp/open.obj" -F bogus=1 "$url/api/v1/repair")
s3=$(curl -s -o "$tmp/e3.json" -w '%{http_code}' -F quality=3 "$url/api/v1/repair")
[ "$s1" = 400 ] && jq -e '.code == "bad_mesh"' "$tmp/e1.json" >/dev/null &&
  [ "$s2" = 422 ] && jq -e '.code == "invalid_param" and .param == "bogus"' "$tmp/e2.json" >/dev/null &&
  [ "$s3" = 400 ] && jq -e '.code == "missing_mesh"' "$tmp/e3.json" >/dev/null
check http_errors $? "$tmp/e1.json"

# metric NAME: a series' value in /metrics (0 when absent)
metric() { curl -s "$url/metrics" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'; }
coalesced() { curl -s "$url/api/v1/cache/stats" | jq .coalesced; }
# poll_job ID: waits (60 s at most) for the job to finish; prints its status JSON
poll_job() {
  for _ in $(seq 600); do
    curl -s "$url/api/v1/jobs/$1" >"$tmp/job.json"
    jq -e '.status | test("complete|failed|cancelled")' "$tmp/job.json" >/dev/null && break
    sleep 0.1
  done
  cat "$tmp/job.json"
}

# a job of /api/v1/repair-jobs, polled to completion
code=$(curl -s -o "$tmp/j.json" -D "$tmp/j.hdr" -w '%{http_code}' -F mesh=@"$tmp/open.obj" -F quality=3 \
  -F size_mm=30 -F format=stl "$url/api/v1/repair-jobs")
id=$(jq -r .job_id "$tmp/j.json")
poll_job "$id" >"$tmp/jdone.json"
[ "$code" = 202 ] && grep -qi "^location: /api/v1/jobs/$id" "$tmp/j.hdr" &&
  jq -e '.kind == "repair" and .status == "complete" and .progress == 100 and .stage == "final_repaired"
    and .result.mesh.watertight and .result.input.open_edges == 4 and .result.format == "stl"
    and ([.result.stages[].stage] == ["imported", "rough_solid", "final_repaired"])
    and (.result.download_url | endswith("/final_repaired.stl"))' "$tmp/jdone.json" >/dev/null &&
  [ "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url$(jq -r .result.download_url "$tmp/jdone.json")")" = "200 model/stl" ]
check http_repair_job_polled_to_completion $? "$tmp/jdone.json"

# the progressive stream: its stages in order, then the same from the cache
# (rough_solid, on a 64 grid, comes when the final grid is finer: quality >= 3)
curl -s -F mesh=@"$tmp/open.obj" -F quality=3 -F size_mm=35 "$url/api/v1/repair-progressive" >"$tmp/p1.ndjson"
curl -s -F mesh=@"$tmp/open.obj" -F quality=3 -F size_mm=35 "$url/api/v1/repair-progressive?format=obj" >"$tmp/p2.ndjson"
jq -se '[.[].stage] == ["imported", "rough_solid", "final_repaired"] and [.[].progress] == [33, 66, 100]
    and (map(.cached) | all(. == null)) and .[2].status == "complete" and .[2].mesh.watertight
    and .[2].input.open_edges == 4 and .[2].done.remeshed and (.[0].data.url | endswith("/imported.glb"))' \
  "$tmp/p1.ndjson" >/dev/null &&
  jq -se '[.[].stage] == ["imported", "rough_solid", "final_repaired"] and (map(.cached) | all(. == true))
    and (.[2].data.url | endswith("/final_repaired.obj")) and .[2].mesh.faces > 0' "$tmp/p2.ndjson" >/dev/null &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url$(jq -rs '.[2].data.url' "$tmp/p2.ndjson")")" = 200 ] &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url$(jq -rs '.[0].data.url | sub("glb$"; "3mf")' "$tmp/p1.ndjson")")" = 200 ]
check http_repair_progressive_stages_in_order $? "$tmp/p1.ndjson"

# a bad mesh fails the job with bad_mesh and ends the stream with its error line
id=$(curl -s -F mesh=@"$tmp/junk.obj" -F quality=2 "$url/api/v1/repair-jobs" | jq -r .job_id)
poll_job "$id" >"$tmp/jbad.json"
curl -s -F mesh=@"$tmp/junk.obj" -F quality=2 "$url/api/v1/repair-progressive" >"$tmp/pbad.ndjson"
jq -e '.status == "failed" and .code == "bad_mesh" and (.error | test("importer"))' "$tmp/jbad.json" >/dev/null &&
  jq -se 'length == 1 and .[0].status == "error" and .[0].code == "bad_mesh"' "$tmp/pbad.ndjson" >/dev/null
check http_repair_bad_mesh_through_the_job $? "$tmp/jbad.json"

# two identical repairs in flight are computed once: a longer repair holds
# the one worker while both are submitted (the second joins the first's
# job), then is cancelled
done0=$(metric 'orfeas_jobs_total{status="complete"}')
coal0=$(coalesced)
blocker=$(curl -s -F mesh=@"$tmp/open.obj" -F quality=9 -F remesh=always "$url/api/v1/repair-jobs" | jq -r .job_id)
for i in 1 2; do
  curl -s -o "$tmp/c$i.json" -F mesh=@"$tmp/open.obj" -F quality=2 -F size_mm=25 "$url/api/v1/repair" &
  pids+=($!)
done
for _ in $(seq 300); do
  [ "$(coalesced)" -ge $((coal0 + 1)) ] && break
  sleep 0.1
done
coal1=$(coalesced)
curl -s -X DELETE "$url/api/v1/jobs/$blocker" >/dev/null
wait "${pids[-1]}" "${pids[-2]}"
# both curls by index: "unset 'pids[-1]' 'pids[-2]'" counted -2 from the
# array already shortened, dropped the server's pid, and left it running
n=${#pids[@]}
unset "pids[$((n - 1))]" "pids[$((n - 2))]"
for _ in $(seq 50); do
  [ "$(metric 'orfeas_jobs_total{status="complete"}')" != "$done0" ] && break
  sleep 0.1
done
sleep 0.3
done1=$(metric 'orfeas_jobs_total{status="complete"}')
# the blocker is cancelled, unless it had finished first (then it counts)
blocked=$(poll_job "$blocker" | jq -r '.status == "complete" | if . then 1 else 0 end')
[ "$coal1" -eq $((coal0 + 1)) ] &&
  jq -e '.cached == false and .mesh.watertight' "$tmp/c1.json" >/dev/null &&
  jq -e '.cached == false and .mesh.watertight' "$tmp/c2.json" >/dev/null &&
  [ "$(jq -r .request_hash "$tmp/c1.json")" = "$(jq -r .request_hash "$tmp/c2.json")" ] &&
  awk -v a="$done0" -v b="$done1" -v k="$blocked" 'BEGIN { exit !(b - a == 1 + k) }'
check http_identical_repairs_computed_once $? "$tmp/c2.json"
echo "    coalesced $coal0 -> $coal1, complete jobs $done0 -> $done1 (blocker complete: $blocked)" >&2

# a repair larger than the whole budget: 507 on every route, nothing queued
ORFEAS_ALLOW_ROOT=1 "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data2" --workers 1 \
  --memory-budget-gb 0.001 >"$tmp/srv2.out" 2>"$tmp/srv2.log" &
pids+=($!)
url2=$(url_of "$tmp/srv2.out")
s1=$(curl -s -o "$tmp/b1.json" -w '%{http_code}' -F mesh=@"$tmp/open.obj" -F quality=3 "$url2/api/v1/repair")
s2=$(curl -s -o "$tmp/b2.json" -w '%{http_code}' -F mesh=@"$tmp/open.obj" -F quality=3 "$url2/api/v1/repair-progressive")
s3=$(curl -s -o "$tmp/b3.json" -w '%{http_code}' -F mesh=@"$tmp/open.obj" -F quality=3 "$url2/api/v1/repair-jobs")
[ -n "$url2" ] && [ "$s1 $s2 $s3" = "507 507 507" ] &&
  jq -e '.code == "insufficient_memory"' "$tmp/b1.json" >/dev/null &&
  [ "$(curl -s "$url2/metrics" | awk '$1 ~ /^orfeas_jobs_total/ { n += $2 } END { print n + 0 }')" = 0 ]
check http_repair_too_big_for_the_budget_507 $? "$tmp/b1.json"

report_end
