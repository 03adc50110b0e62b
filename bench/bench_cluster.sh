#!/usr/bin/env bash
# bench_cluster.sh - the cost of running as a cluster (issue 14,
# docs/CLUSTER.md), on this machine, in one run: a real redis-server on a
# free loopback port and nodes on 127.0.0.1.
#   1. jobs per second at quality 7: JOBS distinct jobs (heart.png with
#      distinct trailing bytes) submitted at once to a plain node, then to
#      a cluster of 1, 2 and 3 nodes (requests spread over the nodes); every
#      node has the same --workers and --engine-threads, so on one machine
#      the point is the overhead of the shared queue, not a speed-up;
#   2. the latency of a cache hit answered by a node that does not hold the
#      files (fetched from the holder, SHA-256 checked, stored) against a hit
#      on the holder, over HITS results;
#   3. the time from kill -9 of the node running a quality-10 job to its
#      completion on another node, with --job-lease LEASE.
#   bench/bench_cluster.sh [BUILD]   (JOBS=12 HITS=6 LEASE=5 in the environment)
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
bin=$build/orfeas
JOBS=${JOBS:-12}
HITS=${HITS:-6}
LEASE=${LEASE:-5}
WORKERS=${WORKERS:-2}
command -v redis-server >/dev/null || { echo "bench_cluster: redis-server is needed"; exit 1; }
tmp=$(mktemp -d)
pids=()
redis_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$redis_pid" ] && kill -KILL "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }

start_redis() {
  redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --appendonly no --save "" >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  return 1
}
# node NAME [OPTIONS...]: starts a node (its URL in $tmp/NAME.url)
node() {
  local n=$1; shift
  ORFEAS_ALLOW_ROOT=1 "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data-$n" --workers "$WORKERS" \
    --engine-threads 1 --monitor-interval 0 "$@" >"$tmp/$n.out" 2>"$tmp/$n.log" &
  pids+=($!)
  echo $! >"$tmp/$n.pid"
  for _ in $(seq 300); do
    sed -n 's/^orfeas listening on //p' "$tmp/$n.out" >"$tmp/$n.url"
    [ -s "$tmp/$n.url" ] && return 0
    sleep 0.1
  done
  return 1
}
cnode() { local n=$1; shift; node "$n" --redis "redis://127.0.0.1:$port/0" --cluster-token bench-cluster-token-0123 \
  --node-id "$n" --job-lease "$LEASE" "$@"; }
url() { cat "$tmp/$1.url"; }
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  redis-cli -p "$port" flushall >/dev/null
}
img() { cp samples/heart.png "$tmp/i$1.png"; printf '%s' "bench-$1-$RANDOM" >>"$tmp/i$1.png"; echo "$tmp/i$1.png"; }

# throughput LABEL NODE...: JOBS distinct quality-7 jobs over the nodes, jobs/s
throughput() {
  local label=$1; shift
  local nodes=("$@") t0 i
  for i in $(seq "$JOBS"); do img "$label$i" >/dev/null; done
  t0=$(now)
  local curls=()
  for i in $(seq "$JOBS"); do
    curl -s -o "$tmp/r$label$i.json" -F image=@"$tmp/i$label$i.png" \
      "$(url "${nodes[$((i % ${#nodes[@]}))]}")/api/v1/generate?quality=7" &
    curls+=($!)
  done
  wait "${curls[@]}" || true
  local s ok
  s=$(since "$t0")
  ok=$(cat "$tmp"/r"$label"*.json | grep -c '"status":"complete"' || true)
  printf '%-22s %3d jobs  %7.2f s  %6.3f jobs/s  (%d complete)\n' "$label" "$JOBS" "$s" \
    "$(awk -v n="$JOBS" -v s="$s" 'BEGIN {print n / s}')" "$ok"
}

echo "machine: $(nproc) cores; $JOBS jobs at quality 7, --workers $WORKERS --engine-threads 1 per node"
start_redis
node plain
throughput plain_node plain
stop_all
cnode n1
throughput cluster_1_node n1
stop_all
cnode n1 && cnode n2
throughput cluster_2_nodes n1 n2
stop_all
cnode n1 && cnode n2 && cnode n3
throughput cluster_3_nodes n1 n2 n3

# 2. cache hits: on the holder, then on a node that does not hold the files
holder_ms=0
remote_ms=0
for i in $(seq "$HITS"); do
  f=$(img hit$i)
  hash=$(curl -s -F image=@"$f" "$(url n1)/api/v1/generate?quality=7" | jq -r .request_hash)
  holder=$(redis-cli -p "$port" hget "orfeas:job:$hash" holder)
  other=n1
  for n in n1 n2 n3; do [ "$n" != "$holder" ] && other=$n && break; done
  t=$(curl -s -o /dev/null -w '%{time_total}' -F image=@"$f" "$(url "$holder")/api/v1/generate?quality=7")
  holder_ms=$(awk -v a="$holder_ms" -v t="$t" 'BEGIN {print a + t * 1000}')
  t=$(curl -s -o /dev/null -w '%{time_total}' -F image=@"$f" "$(url "$other")/api/v1/generate?quality=7")
  remote_ms=$(awk -v a="$remote_ms" -v t="$t" 'BEGIN {print a + t * 1000}')
done
printf 'cache hit, mean of %d: on the holder %.1f ms, on a node without the files (first time: fetched) %.1f ms\n' \
  "$HITS" "$(awk -v a="$holder_ms" -v n="$HITS" 'BEGIN {print a / n}')" \
  "$(awk -v a="$remote_ms" -v n="$HITS" 'BEGIN {print a / n}')"

# 3. death to completion
f=$(img death)
curl -s -o "$tmp/job.json" -F image=@"$f" "$(url n1)/api/v1/jobs?quality=10"
h=$(redis-cli -p "$port" get "orfeas:jobid:$(jq -r .job_id "$tmp/job.json")")
for _ in $(seq 600); do [ "$(redis-cli -p "$port" hget "orfeas:job:$h" state)" = running ] && break; sleep 0.05; done
runner=$(redis-cli -p "$port" hget "orfeas:job:$h" node)
waiter=n1
[ "$runner" = n1 ] && waiter=n2
curl -s -o "$tmp/done.json" -F image=@"$f" "$(url $waiter)/api/v1/generate?quality=10" &
w=$!
sleep 0.2
t0=$(now)
kill -KILL "$(cat "$tmp/$runner.pid")"
wait "$w" || true
printf 'kill -9 of the runner to completion elsewhere: %.2f s (--job-lease %s; deliveries %s; %s)\n' "$(since "$t0")" \
  "$LEASE" "$(redis-cli -p "$port" hget "orfeas:job:$h" deliveries)" \
  "$(grep -o '"status":"complete"' "$tmp/done.json" | head -1)"
