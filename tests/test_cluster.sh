#!/usr/bin/env bash
# test_cluster.sh - several `orfeas serve` nodes as one service through
# Redis (issue 14, docs/CLUSTER.md), end to end: a real redis-server on a
# free loopback port and three nodes on 127.0.0.1 ephemeral ports, started
# and stopped here.  Ten identical requests spread over the nodes compute
# once; a result made on one node is downloaded identical from the others;
# a job's SSE stream read on every node shows every stage in order, with
# the entry ids as SSE ids and Last-Event-ID resuming; kill -9 of the node
# running a job: another takes it over (delivery count 2, one result);
# SIGSTOP past the lease then SIGCONT changes nothing clients see; a job
# that kills its worker every time ends in the dead letter stream after 3
# deliveries with an error to its client; the holder of a result gone:
# another node computes it again; Redis killed and restarted, with its
# append-only file and without: 503 cluster_unavailable meanwhile, then
# the nodes reconnect (the group recreated) and new jobs run.
# Every wait is bounded (no wall-clock assertion); nothing leaves loopback.
#   tests/test_cluster.sh BUILD
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
tmp=$(mktemp -d)
declare -A PID URL
redis_pid=""
cleanup() {
  for n in "${!PID[@]}"; do
    kill -CONT "${PID[$n]}" 2>/dev/null
    kill -KILL "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
  done
  [ -n "$redis_pid" ] && kill -KILL "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  if [ -n "${TEST_CLUSTER_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
. tests/report.sh

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "[==========] Running 0 test(s): redis-server and redis-cli are needed (Debian redis-server)"
  echo "[  FAILED  ] 1 test(s)."
  exit 1
fi

TOKEN=cluster-test-token-0123456789
LEASE=2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rcli() { redis-cli -p "$port" "$@"; }

# start_redis AOF(yes|no): redis-server on $port in $tmp/redis, waits for PING
start_redis() {
  mkdir -p "$tmp/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly "$1" --save "" \
    --maxmemory-policy noeviction >>"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do rcli ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  return 1
}
stop_redis_hard() { kill -KILL "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; redis_pid=""; }

# start_node NAME [ENV...]: a node with its own data dir, its URL in URL[NAME]
start_node() {
  local n=$1; shift
  rm -f "$tmp/$n.out"
  env ORFEAS_ALLOW_ROOT=1 "$@" "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data-$n" --workers 1 \
    --engine-threads 1 --redis "redis://127.0.0.1:$port/0" --cluster-token "$TOKEN" --node-id "$n" \
    --job-lease "$LEASE" --monitor-interval 0 ${NODE_EXTRA:-} >"$tmp/$n.out" 2>>"$tmp/$n.log" &
  PID[$n]=$!
  URL[$n]=""
  for _ in $(seq 300); do
    URL[$n]=$(sed -n 's/^orfeas listening on //p' "$tmp/$n.out" 2>/dev/null)
    [ -n "${URL[$n]}" ] && return 0
    sleep 0.1
  done
  return 1
}
kill_node() { kill -"$2" "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; unset "PID[$1]"; }

# nodes_seen URL: how many live nodes that node lists in /health
nodes_seen() { curl -s "$1/health" | jq '.cluster.nodes | length'; }
# metric_sum NAME: a counter summed over the running nodes
metric_sum() {
  local s=0 v
  for n in "${!PID[@]}"; do
    v=$(curl -s "${URL[$n]}/metrics" | sed -n "s/^$1 //p")
    s=$((s + ${v:-0}))
  done
  echo $s
}
# image N: heart.png with N trailing bytes (a distinct request hash and size)
image() { cp samples/heart.png "$tmp/img$1.png"; head -c "$1" /dev/zero | tr '\0' 'x' >>"$tmp/img$1.png"; echo "$tmp/img$1.png"; }
# wait_until N CMD...: runs CMD every 0.2 s until it succeeds, N tries at most
wait_until() { local t=$1; shift; for _ in $(seq "$t"); do "$@" && return 0; sleep 0.2; done; return 1; }
# runner_of HASH: the node running (or that ran) the job of HASH
runner_of() { rcli hget "orfeas:job:$1" node; }
is_running() { [ "$(rcli hget "orfeas:job:$1" state)" = running ]; }
hash_of_job() { rcli get "orfeas:jobid:$1"; }
# rec METHOD PATH STATUS FILE: records a JSON answer for test_openapi.sh
# (tests/run.sh sets ORFEAS_API_RECORD), which checks it against the document
rec() {
  [ -n "${ORFEAS_API_RECORD:-}" ] || return 0
  jq -nc --arg m "$1" --arg p "$2" --argjson s "$3" --rawfile b "$4" \
    '{method: $m, path: $p, status: $s, type: "application/json", body: $b}' >>"$ORFEAS_API_RECORD"
}
# long_job N: a quality-10 job of image N submitted through node a, waited
# for until a node runs it: its hash in $lh, its runner in $lr
long_job() {
  local f
  f=$(image "$1")
  curl -s -F image=@"$f" "${URL[a]}/api/v1/jobs?quality=10" >"$tmp/long$1.json"
  lh=$(hash_of_job "$(jq -r .job_id "$tmp/long$1.json")")
  wait_until 300 is_running "$lh"
  lr=$(runner_of "$lh")
}
all_ready() { for n in "${!PID[@]}"; do [ "$(curl -s -o /dev/null -w '%{http_code}' "${URL[$n]}/ready")" = 200 ] || return 1; done; }

echo "[==========] Running 20 test(s)."

# options refused before anything starts: exit 2 with a sentence (a bad URL, no token, a remote generator)
ok=0
ORFEAS_ALLOW_ROOT=1 "$bin" serve --port 0 --data-dir "$tmp/x" --redis "http://127.0.0.1:$port" \
  --cluster-token "$TOKEN" >/dev/null 2>"$tmp/opt1.txt"
[ $? -eq 2 ] && grep -q "redis://" "$tmp/opt1.txt" || ok=1
ORFEAS_ALLOW_ROOT=1 "$bin" serve --port 0 --data-dir "$tmp/x" --redis "redis://127.0.0.1:$port" \
  >/dev/null 2>"$tmp/opt2.txt"
[ $? -eq 2 ] && grep -q "cluster-token" "$tmp/opt2.txt" || ok=1
ORFEAS_ALLOW_ROOT=1 "$bin" serve --port 0 --data-dir "$tmp/x" --redis "redis://127.0.0.1:$port" \
  --cluster-token "$TOKEN" --generator "hy=http://127.0.0.1:9" >/dev/null 2>"$tmp/opt3.txt"
[ $? -eq 2 ] && grep -q "cannot be used with --redis" "$tmp/opt3.txt" || ok=1
cat "$tmp/opt1.txt" "$tmp/opt2.txt" "$tmp/opt3.txt" >"$tmp/opts.txt"
check bad_cluster_options_are_refused $ok "$tmp/opts.txt"

# a node started while Redis is down: it starts, is not ready, and joins when Redis comes
start_node a
not_ready=$(curl -s -o "$tmp/r0.json" -w '%{http_code}' "${URL[a]}/ready")
[ "$not_ready" = 503 ] && jq -e '.reason == "cluster_unavailable"' "$tmp/r0.json" >/dev/null &&
  curl -s "${URL[a]}/health" | jq -e '.status == "ok" and .cluster.redis_reachable == false' >/dev/null &&
  start_redis yes && wait_until 100 all_ready
check node_started_before_redis_joins_later $? "$tmp/r0.json"

start_node b && start_node c
wait_until 50 bash -c "[ \"\$(curl -s ${URL[a]}/health | jq '.cluster.nodes | length')\" = 3 ]" &&
  [ "$(nodes_seen "${URL[b]}")" = 3 ] && [ "$(nodes_seen "${URL[c]}")" = 3 ] &&
  curl -s "${URL[a]}/api/v1/gpu/stats" | jq -e '.cluster.redis_reachable and .cluster.node_id == "a"' >/dev/null
check three_nodes_see_each_other $? "$tmp/a.log"
curl -s -o "$tmp/health.json" "${URL[b]}/health" && rec GET /health 200 "$tmp/health.json"
curl -s -o "$tmp/gpu.json" "${URL[c]}/api/v1/gpu/stats" && rec GET /api/v1/gpu/stats 200 "$tmp/gpu.json"

# ten identical requests over the three nodes: one computation
img=$(image 1)
names=(a b c)
for i in $(seq 0 9); do
  n=${names[$((i % 3))]}
  curl -s -F image=@"$img" "${URL[$n]}/api/v1/generate?quality=4" >"$tmp/ten$i.json" &
done
wait_for_curls() { for j in $(jobs -p); do case " ${PID[*]} $redis_pid " in *" $j "*) ;; *) wait "$j" ;; esac; done; }
wait_for_curls
h1=$(jq -r .request_hash "$tmp/ten0.json")
ok=0
for i in $(seq 0 9); do
  jq -e --arg h "$h1" '.status == "complete" and .request_hash == $h' "$tmp/ten$i.json" >/dev/null || ok=1
done
[ $ok -eq 0 ] && [ "$(metric_sum orfeas_cluster_jobs_run_total)" = 1 ]
check ten_identical_requests_compute_once $? "$tmp/ten0.json"

# the result made on one node, downloaded identical from every node
holder=$(rcli hget "orfeas:job:$h1" holder)
ok=0
for n in a b c; do
  curl -s -o "$tmp/dl-$n.stl" -w '%{http_code}' "${URL[$n]}/api/v1/results/$h1/final_optimized.stl" | grep -q 200 || ok=1
done
[ $ok -eq 0 ] && [ -n "$holder" ] && cmp -s "$tmp/dl-a.stl" "$tmp/dl-b.stl" && cmp -s "$tmp/dl-a.stl" "$tmp/dl-c.stl" &&
  [ "$(metric_sum orfeas_cluster_fetched_total)" -ge 2 ]
check result_downloaded_identical_from_every_node $? "$tmp/a.log"

code1=$(curl -s -o /dev/null -w '%{http_code}' "${URL[b]}/internal/v1/files/$h1/meta.json")
code2=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Orfeas-Cluster-Token: not-the-token-at-all" \
  "${URL[b]}/internal/v1/files/$h1/meta.json")
curl -s -o "$tmp/meta.json" -H "X-Orfeas-Cluster-Token: $TOKEN" "${URL[$holder]}/internal/v1/files/$h1/meta.json"
[ "$code1" = 403 ] && [ "$code2" = 403 ] && jq -e --arg h "$h1" '.request_hash == $h' "$tmp/meta.json" >/dev/null &&
  [ "$(sha256sum <"$tmp/meta.json" | cut -d' ' -f1)" = "$(rcli hget "orfeas:job:$h1" sha:meta.json)" ]
check internal_route_needs_the_token $? "$tmp/meta.json"
curl -s -o "$tmp/forbidden.json" "${URL[b]}/internal/v1/files/$h1/meta.json"
rec GET "/internal/v1/files/$h1/meta.json" 403 "$tmp/forbidden.json"

# a job's SSE stream from every node: every stage in order, ids increasing
img=$(image 2)
curl -s -F image=@"$img" "${URL[a]}/api/v1/jobs?quality=5" >"$tmp/job.json"
jid=$(jq -r .job_id "$tmp/job.json")
rec POST /api/v1/jobs 202 "$tmp/job.json"
for n in a b c; do curl -s -N --max-time 120 "${URL[$n]}/api/v1/jobs/$jid/events" >"$tmp/sse-$n.txt" & done
wait_for_curls
h2=$(hash_of_job "$jid")
ran=$(runner_of "$h2")
ok=0
for n in a b c; do
  [ "$(grep '^data: ' "$tmp/sse-$n.txt" | sed 's/^data: //' | jq -r .stage | tr '\n' ' ')" = \
    "voxel_preview rough_mesh refined_mesh final_optimized " ] || ok=1
  [ "$(grep -c '^id: ' "$tmp/sse-$n.txt")" = 4 ] || ok=1
  grep '^id: ' "$tmp/sse-$n.txt" | sed 's/^id: //' | sort -t- -k1,1n -k2,2n -c 2>/dev/null || ok=1
done
others=0
for n in a b c; do [ "$n" != "$ran" ] && others=$((others + 1)); done
[ $ok -eq 0 ] && [ -n "$ran" ] && [ $others -ge 2 ]
check stream_on_any_node_shows_every_stage_in_order $? "$tmp/sse-b.txt"

id2=$(grep '^id: ' "$tmp/sse-b.txt" | sed -n 2p | sed 's/^id: //')
curl -s -N --max-time 60 -H "Last-Event-ID: $id2" "${URL[c]}/api/v1/jobs/$jid/events" >"$tmp/resume.txt"
[ "$(grep '^data: ' "$tmp/resume.txt" | sed 's/^data: //' | jq -r .stage | tr '\n' ' ')" = "refined_mesh final_optimized " ] &&
  curl -s -o "$tmp/status.json" "${URL[b]}/api/v1/jobs/$jid" &&
  jq -e '.status == "complete" and .result.request_hash != null and .deliveries == 1' "$tmp/status.json" >/dev/null &&
  [ "$(curl -s -o "$tmp/cancel.json" -w '%{http_code}' -X DELETE "${URL[c]}/api/v1/jobs/$jid")" = 409 ] &&
  jq -e '.code == "not_cancellable"' "$tmp/cancel.json" >/dev/null
check last_event_id_resumes_and_status_from_any_node $? "$tmp/resume.txt"
rec GET "/api/v1/jobs/$jid" 200 "$tmp/status.json"
rec DELETE "/api/v1/jobs/$jid" 409 "$tmp/cancel.json"

# kill -9 of the node running a job: taken over, delivery count 2, one result
long_job 3
img=$tmp/img3.png h3=$lh victim=$lr
survivor=a; [ "$victim" = a ] && survivor=b
curl -s --max-time 240 -F image=@"$img" "${URL[$survivor]}/api/v1/generate?quality=10" >"$tmp/k9.json" &
waiter=$!
kill_node "$victim" KILL
wait "$waiter"
finals=$(rcli xrange "orfeas:progress:$h3" - + | grep -c '"status":"complete"')
stages=$(rcli xrange "orfeas:progress:$h3" - + | grep -o '"stage":"[a-z_]*"' | tr '\n' ' ')
jq -e '.status == "complete"' "$tmp/k9.json" >/dev/null && [ "$(rcli hget "orfeas:job:$h3" deliveries)" = 2 ] &&
  [ "$finals" = 1 ] && [ "$(runner_of "$h3")" != "$victim" ] &&
  [ "$stages" = '"stage":"voxel_preview" "stage":"rough_mesh" "stage":"refined_mesh" "stage":"final_optimized" ' ]
check kill_9_of_the_runner_is_taken_over $? "$tmp/k9.json"
start_node "$victim"

# SIGSTOP of the runner past its lease, SIGCONT after the job finished elsewhere
long_job 4
img=$tmp/img4.png h4=$lh stopped=$lr
kill -STOP "${PID[$stopped]}"
other=a; [ "$stopped" = a ] && other=b
curl -s --max-time 240 -F image=@"$img" "${URL[$other]}/api/v1/generate?quality=10" >"$tmp/stop.json"
before=$(rcli xrange "orfeas:progress:$h4" - +; rcli hget "orfeas:job:$h4" holder; rcli hget "orfeas:job:$h4" finished_by)
kill -CONT "${PID[$stopped]}"
sleep $((3 * LEASE))
after=$(rcli xrange "orfeas:progress:$h4" - +; rcli hget "orfeas:job:$h4" holder; rcli hget "orfeas:job:$h4" finished_by)
curl -s -o "$tmp/s1.stl" "${URL[$stopped]}/api/v1/results/$h4/final_optimized.stl"
curl -s -o "$tmp/s2.stl" "${URL[$other]}/api/v1/results/$h4/final_optimized.stl"
jq -e '.status == "complete"' "$tmp/stop.json" >/dev/null && [ "$before" = "$after" ] && [ -s "$tmp/s1.stl" ] &&
  cmp -s "$tmp/s1.stl" "$tmp/s2.stl" && [ "$(rcli hget "orfeas:job:$h4" finished_by)" != "$stopped" ]
check sigstop_past_the_lease_then_sigcont_changes_nothing $? "$tmp/stop.json"

# a job that kills its worker every time: dead letter after 3 deliveries
for n in a b c; do kill_node $n TERM; done
img=$(image 5)
size=$(stat -c %s "$img")
for n in a b c; do start_node $n ORFEAS_TEST_CLUSTER_ABANDON_BYTES="$size"; done
code=$(curl -s --max-time 240 -o "$tmp/dead.json" -w '%{http_code}' -F image=@"$img" "${URL[b]}/api/v1/generate?quality=3")
[ "$code" = 500 ] && jq -e '.code == "job_dead_lettered" and (.error | test("dead letter"))' "$tmp/dead.json" >/dev/null &&
  [ "$(rcli xlen orfeas:dead)" = 1 ] && [ "$(metric_sum orfeas_cluster_dead_lettered_total)" = 1 ] &&
  rcli xrange orfeas:dead - + | grep -qx 4
check crash_every_time_goes_to_dead_letter_after_3 $? "$tmp/dead.json"
rec POST /api/v1/generate 500 "$tmp/dead.json"

# the holder of a result gone: another node computes it again
img=$(image 6)
curl -s -F image=@"$img" "${URL[a]}/api/v1/generate?quality=3" >"$tmp/h6.json"
h6=$(jq -r .request_hash "$tmp/h6.json")
gone=$(rcli hget "orfeas:job:$h6" holder)
kill_node "$gone" TERM
alive=a; [ "$gone" = a ] && alive=b
third=c; [ "$gone" = c ] && third=b
runs=$(metric_sum orfeas_cluster_jobs_run_total)
curl -s --max-time 120 -F image=@"$img" "${URL[$alive]}/api/v1/generate?quality=3" >"$tmp/re.json"
code=$(curl -s -o "$tmp/re503.json" -w '%{http_code}' "${URL[$third]}/api/v1/results/$h6/rough_mesh.stl")
jq -e --arg h "$h6" '.status == "complete" and .request_hash == $h' "$tmp/re.json" >/dev/null &&
  [ "$(metric_sum orfeas_cluster_jobs_run_total)" -gt "$runs" ] && [ "$(rcli hget "orfeas:job:$h6" holder)" != "$gone" ] &&
  { [ "$code" = 200 ] || jq -e '.code == "result_recomputing"' "$tmp/re503.json" >/dev/null; }
check holder_gone_another_node_recomputes $? "$tmp/re.json"
start_node "$gone"

# a result URL on a node without the files, its holder gone: 503 result_recomputing, then the file
img=$(image 9)
curl -s -F image=@"$img" "${URL[$alive]}/api/v1/generate?quality=3" >"$tmp/h9.json"
h9=$(jq -r .request_hash "$tmp/h9.json")
gone9=$(rcli hget "orfeas:job:$h9" holder)
asker=""
for n in a b c; do [ "$n" != "$alive" ] && [ "$n" != "$gone9" ] && asker=$n; done
kill_node "$gone9" TERM
code=$(curl -s -D "$tmp/rr.h" -o "$tmp/rr.json" -w '%{http_code}' "${URL[$asker]}/api/v1/results/$h9/final_optimized.stl")
file_back() { [ "$(curl -s -o "$tmp/rr.stl" -w '%{http_code}' "${URL[$asker]}/api/v1/results/$h9/final_optimized.stl")" = 200 ]; }
[ "$code" = 503 ] && jq -e '.code == "result_recomputing" and .retry_after_s > 0' "$tmp/rr.json" >/dev/null &&
  grep -qi '^Retry-After: [0-9]' "$tmp/rr.h" && wait_until 300 file_back && [ -s "$tmp/rr.stl" ] &&
  [ "$(metric_sum orfeas_cluster_recomputed_total)" -ge 1 ]
check result_url_with_holder_gone_is_recomputed $? "$tmp/rr.json"
rec GET "/api/v1/results/$h9/final_optimized.stl" 503 "$tmp/rr.json"
start_node "$gone9"

# Redis killed: 503 with a sentence meanwhile; restarted with its AOF: on again
stop_redis_hard
img=$(image 7)
code=$(curl -s -o "$tmp/down.json" -w '%{http_code}' -F image=@"$img" "${URL[a]}/api/v1/generate?quality=3")
rcode=$(curl -s -o "$tmp/ready.json" -w '%{http_code}' "${URL[b]}/ready")
[ "$code" = 503 ] && jq -e '.code == "cluster_unavailable" and (.error | test("Redis"))' "$tmp/down.json" >/dev/null &&
  [ "$rcode" = 503 ] && jq -e '.reason == "cluster_unavailable"' "$tmp/ready.json" >/dev/null &&
  curl -s "${URL[c]}/health" | jq -e '.cluster.redis_reachable == false' >/dev/null
check redis_down_answers_503_with_a_sentence $? "$tmp/down.json"
rec POST /api/v1/generate 503 "$tmp/down.json"
rec GET /ready 503 "$tmp/ready.json"

echo "redis restarted with its AOF: not started or nodes not ready" >"$tmp/aof.json"
start_redis yes && wait_until 100 all_ready &&
  curl -s --max-time 120 -o "$tmp/aof.json" -F image=@"$img" "${URL[b]}/api/v1/generate?quality=3" &&
  jq -e '.status == "complete"' "$tmp/aof.json" >/dev/null &&
  curl -s -o "$tmp/again.stl" "${URL[c]}/api/v1/results/$h1/final_optimized.stl" && cmp -s "$tmp/again.stl" "$tmp/dl-a.stl"
check redis_restarted_with_aof_nodes_go_on $? "$tmp/aof.json"

# restarted without its data: the group is recreated, new jobs run
stop_redis_hard
rm -rf "$tmp/redis"
img=$(image 8)
echo "redis restarted without data: not started or nodes not ready" >"$tmp/nodata.json"
start_redis no && wait_until 100 all_ready &&
  curl -s --max-time 120 -o "$tmp/nodata.json" -F image=@"$img" "${URL[a]}/api/v1/generate?quality=3" &&
  jq -e '.status == "complete"' "$tmp/nodata.json" >/dev/null && [ "$(rcli xinfo groups orfeas:jobs | sed -n 2p)" = workers ]
check redis_restarted_without_data_group_recreated $? "$tmp/nodata.json"

# scripts/validate.sh --cluster against two nodes
bash scripts/validate.sh --cluster --timeout 120 "${URL[a]}" "${URL[c]}" >"$tmp/validate.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q '^ok   cluster_nodes' "$tmp/validate.txt" && grep -q '^ok   cluster_stream' "$tmp/validate.txt"
check validate_sh_checks_a_cluster $? "$tmp/validate.txt"

# every node stopped cleanly: no sanitizer report in any log (the sanitizer build)
for n in a b c; do kill_node $n TERM; done
! grep -hE -A20 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$tmp"/*.log >"$tmp/san.txt" 2>&1
check no_sanitizer_report $? "$tmp/san.txt"

# --queue-max bounds the whole cluster's queue: 429 with Retry-After
for n in a b c; do NODE_EXTRA="--queue-max 0" start_node $n; done
busy=0
for i in 11 12 13; do
  img=$(image $i)
  curl -s -F image=@"$img" "${URL[a]}/api/v1/jobs?quality=10" >/dev/null
done
three_running() { [ "$(rcli xpending orfeas:jobs workers | head -1)" = 3 ] && [ "$(rcli xlen orfeas:jobs)" = 3 ]; }
wait_until 300 three_running || busy=1
img=$(image 14)
c1=$(curl -s -o "$tmp/q1.json" -w '%{http_code}' -F image=@"$img" "${URL[b]}/api/v1/jobs?quality=3")
img=$(image 15)
c2=$(curl -s -D "$tmp/q2.h" -o "$tmp/q2.json" -w '%{http_code}' -F image=@"$img" "${URL[c]}/api/v1/jobs?quality=3")
[ $busy -eq 0 ] && [ "$c1" = 202 ] && [ "$c2" = 429 ] && jq -e '.code == "queue_full"' "$tmp/q2.json" >/dev/null &&
  grep -qi '^Retry-After: [0-9]' "$tmp/q2.h"
check queue_max_bounds_the_cluster $? "$tmp/q2.json"
rec POST /api/v1/jobs 429 "$tmp/q2.json"
rec POST /api/v1/jobs 202 "$tmp/q1.json"

# deploy/compose.cluster.yml and what it mounts
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" - deploy/compose.cluster.yml >"$tmp/deploy.txt" 2>&1 <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
need = {"redis", "node1", "node2", "node3", "nginx", "prometheus", "grafana"}
assert need <= set(s), "services: %s" % sorted(s)
cmd = " ".join(s["redis"]["command"])
assert "--appendonly yes" in cmd and "--maxmemory-policy noeviction" in cmd, cmd
for n in ("node1", "node2", "node3"):
    e = s[n]["environment"]
    assert e["ORFEAS_REDIS"].startswith("redis://redis:6379") and e["ORFEAS_NODE_ID"] == n, e
    assert e["ORFEAS_ADVERTISE_URL"] == "http://%s:5000" % n and e["ORFEAS_CLUSTER_TOKEN"], e
prom = yaml.safe_load(open("deploy/prometheus.cluster.yml"))
targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
assert targets == ["node1:5000", "node2:5000", "node3:5000"], targets
d = json.load(open("deploy/grafana/dashboards/orfeas-cluster.json"))
exprs = " ".join(t["expr"] for p in d["panels"] for t in p["targets"])
for m in ("orfeas_cluster_queue_depth", "orfeas_running_jobs", "orfeas_stage_duration_seconds_bucket",
          "orfeas_cache_hits_total", "orfeas_memory_budget_bytes", "orfeas_cluster_dead_lettered_total"):
    assert m in exprs, m
conf = open("deploy/nginx.cluster.conf").read()
assert all("server %s:5000" % n in conf for n in ("node1", "node2", "node3")) and "location /internal/" in conf
PY
ok=$?
if [ $ok -eq 0 ] && command -v promtool >/dev/null; then promtool check config deploy/prometheus.cluster.yml >>"$tmp/deploy.txt" 2>&1; ok=$?; fi
# every dashboard series is one a node serves
for m in orfeas_cluster_queue_depth orfeas_cluster_dead_lettered_total orfeas_running_jobs orfeas_memory_budget_bytes; do
  curl -s "${URL[a]}/metrics" | grep -q "^$m " || { echo "no $m in /metrics" >>"$tmp/deploy.txt"; ok=1; }
done
check compose_cluster_files_are_consistent $ok "$tmp/deploy.txt"

report_end
