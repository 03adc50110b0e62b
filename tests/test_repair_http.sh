#!/usr/bin/env bash
# test_repair_http.sh - `orfeas repair` and POST /api/v1/repair (issue 15)
# end to end: the CLI's exit codes, --json figures and output file; the
# endpoint's JSON answer, its cache (the same mesh again is a hit, in any
# format), download=1 giving the file, a raw body with its media type,
# and the errors (bad_mesh 400, an unknown parameter 422, no mesh 400).
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

echo "[==========] Running 8 test(s)."

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
url=""
for _ in $(seq 300); do
  url=$(sed -n 's/^orfeas listening on //p' "$tmp/srv.out" 2>/dev/null)
  [ -n "$url" ] && break
  sleep 0.1
done
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

report_end
