#!/usr/bin/env bash
# bench_load.sh BUILD - throughput and latency of fresh generations (quality
# 7, 1024x1024 JPEG) at 1, 2, 4 and 8 concurrent clients against a local
# server with its default memory budget.  Every request differs by one
# parameter so none is a cache hit.  Loopback only; stops what it starts.
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/photo.jpg" <<'PY'
import sys, numpy as np
from PIL import Image
n = 1024; y, x = np.mgrid[0:n, 0:n]
u, v = (x - n / 2) / (n * .3), (y - n * .55) / (n * .35)
d = u * u + v * v + .3 * np.sin(5 * np.arctan2(v, u)) * (u * u + v * v)
img = np.full((n, n, 3), 235, np.uint8)
shade = np.clip(.5 + .5 * (1 - d) - .2 * v, 0, 1)
img[d < 1] = np.stack([60 + 150 * shade, 90 + 80 * shade, 40 + 60 * shade], -1)[d < 1].astype(np.uint8)
Image.fromarray(img).save(sys.argv[1], quality=90)
PY
"$build/orfeas" serve --port 0 --data-dir "$tmp/data" --workers 2 --queue-max 64 > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^orfeas listening on //p' "$tmp/out")
for clients in 1 2 4 8; do
  n=$((clients * 4))
  start=$(date +%s.%N)
  # detail=0.CNNN makes every request of every level a fresh computation
  for i in $(seq $n); do printf '0.%d%03d\n' "$clients" "$i"; done |
    xargs -P "$clients" -I{} curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 120 \
      -F image=@"$tmp/photo.jpg" -F quality=7 -F detail={} "$url/api/v1/generate" > "$tmp/lat"
  end=$(date +%s.%N)
  bad=$(awk '$1 != 200' "$tmp/lat" | wc -l)
  awk '{print $2}' "$tmp/lat" | sort -n | awk -v c="$clients" -v n="$n" -v s="$start" -v e="$end" -v bad="$bad" '
    { a[NR] = $1 } END {
      t = e - s;
      p50 = a[int((NR + 1) * 0.5)]; p99 = a[NR < 100 ? NR : int(NR * 0.99)];
      printf "clients=%d jobs=%d failed=%d jobs_per_s=%.2f p50_ms=%.0f p99_ms=%.0f\n", c, n, bad, n / t, p50 * 1000, p99 * 1000 }'
done
