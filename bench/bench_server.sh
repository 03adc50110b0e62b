#!/usr/bin/env bash
# bench_server.sh - the HTTP server's figures for BENCHMARKS.md (issue 4),
# all on loopback, in one run:
#  - cache-hit GETs of the final GLB: requests/s and latency percentiles
#    with wrk, and nginx (Debian nginx-light) serving the same file from
#    disk with the same wrk settings, with the ratio of the two;
#  - the speed-up of a cache hit (the same POST /api/v1/generate again) over
#    a fresh generation (a new size_mm, so it recomputes), medians;
#  - for /api/v1/generate-progressive: time from the request to the first
#    NDJSON line (voxel_preview) and to the last (final_optimized).
# The input is a synthetic 1024x1024 photo-like PNG (numpy + zlib), like the
# engine benchmark's; ORFEAS_BENCH_IMAGE=FILE.png uses another image.
# Prints name=value lines.  Wall-clock figures: nothing is asserted.
#   bench/bench_server.sh BUILD   (WRK_SECONDS, WRK_CONNECTIONS, WRK_THREADS)
set -euo pipefail
build=${1:-build}
bin="$build/orfeas"
secs=${WRK_SECONDS:-10}
conns=${WRK_CONNECTIONS:-8}
threads=${WRK_THREADS:-2}
py=${PYTHON:-/usr/bin/python3} # Debian's, with numpy (scripts/setup.sh bench)
[ -x "$py" ] || py=python3
for tool in curl wrk nginx "$py"; do
  command -v "$tool" >/dev/null || { echo "bench_server: $tool not found (scripts/setup.sh bench)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench_server: $bin not built" >&2; exit 1; }

tmp=$(mktemp -d /tmp/orfeas-bench-XXXXXX)
chmod 755 "$tmp"
srv_pid=""
ngx_pid=""
cleanup() {
  [ -n "$srv_pid" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  [ -n "$ngx_pid" ] && kill -QUIT "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- the input image ---
img=${ORFEAS_BENCH_IMAGE:-}
if [ -z "$img" ]; then
  img="$tmp/photo.png"
  "$py" - "$img" <<'EOF'
import sys, zlib, struct
import numpy as np
n = 1024
y, x = np.mgrid[0:n, 0:n].astype(np.float64) / n - 0.5
r, a = np.hypot(x, y), np.arctan2(y, x)
inside = r < 0.30 + 0.07 * np.cos(5 * a)              # a five-lobed subject
shade = np.clip(1.0 - r / 0.4, 0, 1)
rng = np.random.default_rng(7)
noise = rng.normal(0, 6, (n, n, 1))
subj = np.stack([60 + 150 * shade, 90 + 80 * shade, 40 + 60 * shade], -1) + 10 * np.sin(40 * x)[..., None]
back = np.full((n, n, 3), 235.0)
rgb = np.where(inside[..., None], subj, back) + noise
rgb = np.clip(rgb, 0, 255).astype(np.uint8)
raw = b"".join(b"\0" + rgb[i].tobytes() for i in range(n))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
fi
ctype=image/png
case "$img" in *.jpg | *.jpeg) ctype=image/jpeg ;; *.webp) ctype=image/webp ;; esac

# --- the server ---
"$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --workers 2 >"$tmp/srv.out" 2>"$tmp/srv.log" &
srv_pid=$!
port=""
for _ in $(seq 300); do
  line=$(head -n1 "$tmp/srv.out" 2>/dev/null || true)
  if [[ "$line" =~ ^orfeas\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
    port=${BASH_REMATCH[1]}
    break
  fi
  kill -0 "$srv_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "bench_server: the server did not start" >&2; tail -n 20 "$tmp/srv.log" >&2; exit 1; }
base="http://127.0.0.1:$port"
echo "server=orfeas port=$port workers=2 image=$(basename "$img") image_bytes=$(stat -c %s "$img")"

post() { # post QUERY -> writes the response to $tmp/resp.json, prints seconds
  curl -sS -o "$tmp/resp.json" -w '%{time_total}' -X POST -H "Content-Type: $ctype" \
    --data-binary @"$img" "$base/api/v1/generate?$1"
}
json_field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/resp.json" "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# --- one final GLB, then cache-hit GETs of it under wrk ---
post "quality=7" >/dev/null
url=$(json_field download_url)
curl -sS -o "$tmp/final.glb" "$base$url"
glb_bytes=$(stat -c %s "$tmp/final.glb")
echo "final_glb_bytes=$glb_bytes"

wrk_run() { # wrk_run NAME URL
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$2")
  local rps p50 p90 p99 errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p90=$(awk '$1=="90%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print "socket:" $0}' <<<"$out" | xargs)
  echo "${1}_requests_per_s=$rps"
  echo "${1}_latency_p50=$p50"
  echo "${1}_latency_p90=$p90"
  echo "${1}_latency_p99=$p99"
  [ -n "$errs" ] && echo "${1}_errors=$errs"
  echo "$rps" >"$tmp/$1.rps"
}
echo "wrk_threads=$threads wrk_connections=$conns wrk_seconds=$secs"
wrk_run orfeas_glb "$base$url"

# --- nginx serving the same file ---
nport=$(free_port)
mkdir -p "$tmp/www" "$tmp/nginx"
cp "$tmp/final.glb" "$tmp/www/final.glb"
chmod -R a+rX "$tmp/www"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { model/gltf-binary glb; }
  default_type application/octet-stream;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nport;
    root $tmp/www;
    location / { add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
ngx_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$nport/final.glb" && break
  sleep 0.05
done
cmp -s <(curl -sS "http://127.0.0.1:$nport/final.glb") "$tmp/final.glb" || {
  echo "bench_server: nginx does not serve the file" >&2; cat "$tmp/nginx/error.log" >&2; exit 1; }
wrk_run nginx_glb "http://127.0.0.1:$nport/final.glb"
echo "orfeas_over_nginx_ratio=$(awk -v a="$(cat "$tmp/orfeas_glb.rps")" -v b="$(cat "$tmp/nginx_glb.rps")" \
  'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')"
kill -QUIT "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null || true
ngx_pid=""

# --- a cache hit against a fresh generation (quality 7) ---
fresh=()
hit=()
for i in 1 2 3 4 5; do
  fresh+=("$(post "quality=7&size_mm=$((100 + i))")")
  [ "$(json_field cached)" = False ] || echo "warning: fresh run $i was cached" >&2
  for _ in 1 2 3 4; do
    hit+=("$(post "quality=7&size_mm=$((100 + i))")")
    [ "$(json_field cached)" = True ] || echo "warning: repeated run $i was not cached" >&2
  done
done
fresh_med=$(printf '%s\n' "${fresh[@]}" | median)
hit_med=$(printf '%s\n' "${hit[@]}" | median)
echo "generate_fresh_median_ms=$(awk -v s="$fresh_med" 'BEGIN {printf "%.2f", s * 1000}')"
echo "generate_cached_median_ms=$(awk -v s="$hit_med" 'BEGIN {printf "%.3f", s * 1000}')"
echo "cache_hit_speedup=$(awk -v f="$fresh_med" -v h="$hit_med" 'BEGIN {printf "%.1f", (h > 0) ? f / h : 0}')"

# --- progressive: first and last NDJSON line (fresh jobs, quality 7) ---
firsts=()
lasts=()
for i in 1 2 3 4 5; do
  t0=$EPOCHREALTIME
  first=""
  last=""
  n=0
  while IFS= read -r line; do
    t=$EPOCHREALTIME
    [ -z "$first" ] && first=$t
    last=$t
    n=$((n + 1))
  done < <(curl -sS -N -X POST -H "Content-Type: $ctype" --data-binary @"$img" \
    "$base/api/v1/generate-progressive?quality=7&size_mm=$((200 + i))")
  [ "$n" -eq 4 ] || echo "warning: progressive run $i gave $n lines" >&2
  firsts+=("$(awk -v a="$t0" -v b="$first" 'BEGIN {printf "%.3f", (b - a) * 1000}')")
  lasts+=("$(awk -v a="$t0" -v b="$last" 'BEGIN {printf "%.3f", (b - a) * 1000}')")
done
echo "progressive_first_line_median_ms=$(printf '%s\n' "${firsts[@]}" | median)"
echo "progressive_last_line_median_ms=$(printf '%s\n' "${lasts[@]}" | median)"
