#!/usr/bin/env bash
# bench_mixed.sh BUILD - sustained mixed load (issue 7): wrk with
# bench/bench_mixed.lua against a local server (127.0.0.1, a free port, a
# temporary data dir, --queue-max 64 so 64 connections never fill the queue,
# --cache-mem-mb MIXED_CACHE_MB (64) so the warm-up fills the memory tier
# and the RSS that follows is the steady state's).  The mix: cache hits (the
# same POST again, GETs of its GLB), fresh generations (a new size_mm each),
# bad images (400), bytes that are no image (400 too: issue 12) and bad
# parameters (422).
# After a short warm-up, MIXED_ROUNDS (2) rounds of MIXED_CONNECTIONS (64)
# connections for MIXED_SECONDS (60).  It prints (name=value) the status
# counts of each round, and the server's RSS, open descriptors and
# memory-tier cache bytes before the first round, right after each, and
# MIXED_SETTLE (10) s after each - or once the jobs still queued when wrk
# stopped have finished, if that takes longer (their connections hold
# descriptors until then; "before" waits for the warm-up's jobs likewise).
# Then SIGTERM: the server must drain and exit 0 (under ASan, a leak fails).
# Exit status 1 when the server died, answered a status outside 200, 400,
# 415, 422 and 429 (429 is allowed: a rate limit or a full queue says so),
# gave more 400, 415 or 422 answers than such requests were sent, wrk had
# socket errors, or the stop was not clean.  The figures themselves are
# never judged (wall clock).
#   bench/bench_mixed.sh BUILD   (MIXED_SECONDS, MIXED_CONNECTIONS, MIXED_THREADS,
#                                 MIXED_SETTLE, MIXED_QUALITY, MIXED_CACHE_MB, MIXED_ROUNDS,
#                                 ORFEAS_BENCH_IMAGE)
set -euo pipefail
build=${1:-build}
bin=${ORFEAS_BIN:-$build/orfeas}
secs=${MIXED_SECONDS:-60}
conns=${MIXED_CONNECTIONS:-64}
threads=${MIXED_THREADS:-2}
settle=${MIXED_SETTLE:-10}
quality=${MIXED_QUALITY:-4}
cache_mb=${MIXED_CACHE_MB:-64}
rounds=${MIXED_ROUNDS:-2}
here=$(cd "$(dirname "$0")" && pwd)
img=${ORFEAS_BENCH_IMAGE:-$here/../samples/heart.png}
for tool in curl wrk; do
  command -v "$tool" >/dev/null || { echo "bench_mixed: $tool not found (scripts/setup.sh build)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench_mixed: $bin not built" >&2; exit 1; }

tmp=$(mktemp -d /tmp/orfeas-mixed-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ORFEAS_ALLOW_ROOT=1 "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --workers 2 \
  --queue-max 64 --cache-mem-mb "$cache_mb" >"$tmp/srv.out" 2>"$tmp/srv.log" &
pid=$!
url=""
for _ in $(seq 300); do
  url=$(sed -n 's/^orfeas listening on //p' "$tmp/srv.out")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "bench_mixed: the server did not start" >&2; tail -n 20 "$tmp/srv.log" >&2; exit 1; }

# sample LABEL: RSS (KiB), open descriptors and memory-tier cache bytes of the server
sample() {
  local rss fds cache
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" | wc -l)
  cache=$(curl -sS --max-time 10 "$url/metrics" | awk '$1 == "orfeas_cache_bytes" {print $2}')
  echo "${1}_rss_kib=$rss ${1}_fds=$fds ${1}_cache_bytes=$cache"
}

# wait_idle: until no job is queued or running (at most 120 s), so a sample
# sees the server between requests, not jobs the last run left queued
wait_idle() {
  for _ in $(seq 600); do
    curl -sS --max-time 10 "$url/metrics" |
      awk '$1 == "orfeas_queue_depth" || $1 == "orfeas_running_jobs" {s += $2} END {exit s != 0}' && return 0
    sleep 0.2
  done
  echo "bench_mixed: jobs still queued or running after 120 s" >&2
}

# The request the cache hits repeat, and its result's GLB.
curl -sS --max-time 120 -o "$tmp/first.json" -X POST -H 'Content-Type: image/png' --data-binary @"$img" \
  "$url/api/v1/generate?quality=$quality"
result=$(sed -n 's/.*"download_url": *"\([^"]*\)".*/\1/p' "$tmp/first.json")
[ -n "$result" ] || { echo "bench_mixed: no download_url in $(head -c 300 "$tmp/first.json")" >&2; exit 1; }
echo "server=$url image=$(basename "$img") quality=$quality cache_mem_mb=$cache_mb connections=$conns threads=$threads seconds=$secs"

# Warm-up (a fifth of the run, at most 10 s), so "before" is a server that has served this mix.
warm=$((secs / 5 > 10 ? 10 : (secs / 5 < 2 ? 2 : secs / 5)))
wrk -t"$threads" -c"$conns" -d"${warm}s" --timeout 60s -s "$here/bench_mixed.lua" "$url" -- \
  "$img" "$result" "$quality" >/dev/null
wait_idle
sleep 1
sample before
# Each round: the run, a sample right after it, one MIXED_SETTLE s later;
# a second round shows whether what the first left behind keeps growing.
alive=1
unexpected=0
over=0
sock=0
for round in $(seq "$rounds"); do
  wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 60s -s "$here/bench_mixed.lua" "$url" -- \
    "$img" "$result" "$quality" >"$tmp/wrk.out"
  kill -0 "$pid" 2>/dev/null || { alive=0; break; }
  echo "round=$round $(sample after)"
  sed -n '/^sent_\|^status_\|^requests=\|^socket_errors=\|^latency_/p' "$tmp/wrk.out" | sort | sed "s/^/round=$round /"
  value() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$tmp/wrk.out" | head -n1; }
  n=$(awk -F'[_=]' '/^status_/ && $2 != 200 && $2 != 400 && $2 != 415 && $2 != 422 && $2 != 429 {s += $3} END {print s + 0}' "$tmp/wrk.out")
  unexpected=$((unexpected + n))
  for pair in 400:bad_image 400:bad_type 415:bad_type 422:bad_param; do
    got=$(value "status_${pair%%:*}")
    sent=$(value "sent_${pair#*:}")
    # no image at all is a bad image (400) since issue 12: 400s may be both kinds
    [ "$pair" = 400:bad_image ] && sent=$((sent + $(value sent_bad_type)))
    [ "$pair" = 400:bad_type ] && continue
    [ -n "$got" ] && [ "$got" -gt "$sent" ] && over=1
  done
  e=$(value socket_errors)
  sock=$((sock + ${e:-1}))
  t_end=$EPOCHSECONDS
  sleep "$settle"
  wait_idle
  kill -0 "$pid" 2>/dev/null || { alive=0; break; }
  echo "round=$round $(sample settled) settled_after_s=$((EPOCHSECONDS - t_end))"
done

health=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$url/health" || true)
# A clean stop: SIGTERM drains and exits 0 (under ASan, a leak makes it non-zero).
stop_status=dead
if [ "$alive" = 1 ]; then
  kill -TERM "$pid"
  stop_status=0
  wait "$pid" || stop_status=$?
  pid=""
fi
echo "server_alive=$alive health_status=$health unexpected_statuses=$unexpected" \
  "bad_answers_over_sent=$over socket_errors=$sock stop_status=$stop_status"
[ "$alive" = 1 ] && [ "$health" = 200 ] && [ "$unexpected" -eq 0 ] && [ "$over" -eq 0 ] && [ "$sock" -eq 0 ] &&
  [ "$stop_status" = 0 ] || {
  echo "bench_mixed: FAILED (server log tail follows)" >&2
  tail -n 20 "$tmp/srv.log" >&2
  exit 1
}
echo "bench_mixed: ok"
