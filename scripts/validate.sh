#!/usr/bin/env bash
# validate.sh URL - the operator's check after deploying ORFEAS (issue 7):
# is the server at URL up and doing what docs/API.md says?
#   health       GET /health: 200, status "ok", version, engine cpu|cuda, gpu.available
#   ready        GET /ready: 200 (jobs accepted)
#   gpu_stats    GET /api/v1/gpu/stats: every key docs/API.md lists, with its type
#   generate     POST /api/v1/generate of the bundled sample image (a fresh
#                computation: size_mm gets a random value), a complete,
#                watertight, manifold mesh whose download_url serves a GLB
#   progressive  POST /api/v1/generate-progressive: four stage lines in order,
#                the last one complete; prints the first line's latency
#   cache_hit    the generate request again: cached, same hash; prints the
#                speed-up over the fresh computation (not judged: wall clock)
#   metrics      GET /metrics: the named series, and a counted cache hit
# With --cluster (nodes sharing Redis, docs/CLUSTER.md), URL may be followed
# by more nodes' URLs (or be a load balancer's), and two checks follow:
#   cluster_nodes  every URL's /health: Redis reachable, and every node
#                  listed (at least as many as URLs given) seen within 3 leases
#   cluster_stream a job submitted through the first URL (POST /api/v1/jobs)
#                  streamed from the last (its SSE events): four stages in
#                  order, each with an id, the last complete
# One line per check, "ok" or "FAIL" with its figures or reason, then a
# summary; the exit status is 0 when every check passed, 1 otherwise, 2 on
# bad usage.  Needs curl and jq.
#   scripts/validate.sh [--image FILE.png] [--timeout S] [--cluster] URL [URL...]
# The sample is samples/heart.png beside this script's folder (or heart.png
# beside the script); VALIDATE_IMAGE or --image names another PNG.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${VALIDATE_IMAGE:-}
timeout=${VALIDATE_TIMEOUT:-120}
url=""
cluster=0
urls=()
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    --cluster) cluster=1; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "validate: unknown option $1" >&2; exit 2 ;;
    *) urls+=("${1%/}"); shift ;;
  esac
done
[ ${#urls[@]} -gt 0 ] || { echo "usage: $0 [--image FILE.png] [--timeout S] [--cluster] URL [URL...]" >&2; exit 2; }
[ ${#urls[@]} -eq 1 ] || [ "$cluster" = 1 ] || { echo "validate: several URLs need --cluster" >&2; exit 2; }
url=${urls[0]}
if [ -z "$image" ]; then
  for f in "$here/../samples/heart.png" "$here/heart.png"; do
    [ -f "$f" ] && { image=$f; break; }
  done
fi

n_ok=0
n_bad=0
ok() { printf 'ok   %-12s %s\n' "$1" "${2:-}"; n_ok=$((n_ok + 1)); }
bad() { printf 'FAIL %-12s %s\n' "$1" "${2:-}"; n_bad=$((n_bad + 1)); }
finish() {
  echo "validate: $url: $n_ok ok, $n_bad failed"
  [ "$n_bad" -eq 0 ]
  exit $?
}
for tool in curl jq; do
  command -v "$tool" >/dev/null || { bad tools "$tool not found"; finish; }
done
[ -n "$image" ] && [ -f "$image" ] || { bad sample "no sample image (--image FILE.png)"; finish; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# get PATH NAME -> body in $tmp/NAME, prints the HTTP status ("000": no answer)
get() { curl -sS -o "$tmp/$2" -w '%{http_code}' --max-time "$timeout" "$url$1" 2>"$tmp/$2.err"; }
# why NAME CODE -> a reason for a failed request
why() {
  if [ "$2" = 000 ]; then
    echo "no answer: $(head -c 200 "$tmp/$1.err" | tr '\n' ' ')"
  else
    echo "HTTP $2: $(head -c 200 "$tmp/$1" | tr '\n' ' ')"
  fi
}
# problems NAME JQ -> the jq program's output on $tmp/NAME (one problem a
# line; empty when the body is right), or "not JSON"
problems() { jq -r "$2" "$tmp/$1" 2>/dev/null || echo "not JSON: $(head -c 120 "$tmp/$1" | tr '\n' ' ')"; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
nonce() { printf '%d.%03d' $((60 + RANDOM % 80)) $((RANDOM % 1000)); }

# --- health ---
code=$(get /health health)
if [ "$code" != 200 ]; then
  bad health "$(why health "$code")"
else
  p=$(problems health '
    [ (if .status != "ok" then "status is \(.status|tojson)" else empty end),
      (if (.version|type) != "string" then "no version" else empty end),
      (if (.engine|IN("cpu","cuda")|not) then "engine is \(.engine|tojson)" else empty end),
      (if (.gpu.available|type) != "boolean" then "gpu.available is not a boolean" else empty end)
    ] | .[]')
  if [ -z "$p" ]; then
    ok health "$(jq -r '"version=\(.version) engine=\(.engine) gpu=\(.gpu.available) uptime_s=\(.uptime_s|floor)"' "$tmp/health")"
  else
    bad health "$(echo "$p" | paste -sd';')"
  fi
fi

# --- ready ---
code=$(get /ready ready)
[ "$code" = 200 ] && ok ready "HTTP 200" || bad ready "$(why ready "$code")"

# --- gpu stats: every key of docs/API.md, with its type ---
code=$(get /api/v1/gpu/stats stats)
if [ "$code" != 200 ]; then
  bad gpu_stats "$(why stats "$code")"
else
  p=$(problems stats '
    def need(obj; path; keys): keys[] as $k
      | if (obj|type) != "object" or (obj|has($k)|not) then "missing \(path)\($k)" else empty end;
    def num(v; name): if (v|type) != "number" then "\(name) is not a number" else empty end;
    [ need(.; ""; ["timestamp","gpu","queue_depth","running_jobs","recommended_precision",
                   "optimal_batch_size","memory_budget","history"]),
      (if (.timestamp|type) == "string" and (.timestamp|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$"))
       then empty else "timestamp is not ISO-8601" end),
      num(.queue_depth; "queue_depth"), num(.running_jobs; "running_jobs"),
      (if (.recommended_precision|IN("fp32","fp16","int8")|not) then "recommended_precision is \(.recommended_precision|tojson)" else empty end),
      (if (.optimal_batch_size|type) == "number" and .optimal_batch_size >= 1 and .optimal_batch_size <= 32
       then empty else "optimal_batch_size is not 1..32" end),
      need(.gpu; "gpu."; ["available"]),
      (if (.gpu.available|type) != "boolean" then "gpu.available is not a boolean" else empty end),
      (if .gpu.available == true then
         need(.gpu; "gpu."; ["devices","total_vram_gb","allocated_gb","reserved_gb","available_gb",
                             "usage_percent","precision_mode"]),
         ((.gpu.devices // [])[] | need(.; "gpu.devices[]."; ["index","name","total_vram_gb","used_gb",
                                                             "free_gb","utilization_percent","temperature_c"]))
       else empty end),
      need(.memory_budget; "memory_budget."; ["device","total_gb","reserved_system_gb","reserved_cache_gb",
                                              "available_for_jobs_gb","in_use_gb"]),
      (if (.memory_budget.device|type) == "string" and (.memory_budget.device|test("^(cpu|cuda:[0-9]+)$"))
       then empty else "memory_budget.device is \(.memory_budget.device|tojson)" end),
      (if (.history|type) != "array" then "history is not an array" else
         (.history[] | need(.; "history[]."; ["t","in_use_gb","available_gb"])) end)
    ] | unique | .[]')
  if [ -z "$p" ]; then
    ok gpu_stats "$(jq -r '"device=\(.memory_budget.device) gpu=\(.gpu.available) available_for_jobs_gb=\(.memory_budget.available_for_jobs_gb*100|floor/100) queue_depth=\(.queue_depth) precision=\(.recommended_precision)"' "$tmp/stats")"
  else
    bad gpu_stats "$(echo "$p" | paste -sd';')"
  fi
fi

# --- generate (fresh), then the same request again (cache hit) ---
# post NAME SIZE_MM -> body in $tmp/NAME, prints "STATUS SECONDS"
post() {
  curl -sS -o "$tmp/$1" -w '%{http_code} %{time_total}' --max-time "$timeout" \
    -F "image=@$image;type=image/png" -F "size_mm=$2" "$url/api/v1/generate" 2>"$tmp/$1.err"
}
size=$(nonce)
read -r code secs <<<"$(post gen "$size")"
if [ "$code" = 200 ] && [ "$(jq -r .cached "$tmp/gen" 2>/dev/null)" = true ]; then
  size=$(nonce) # this size was asked for before: another one, so the first run computes
  read -r code secs <<<"$(post gen "$size")"
fi
fresh_s=""
hash=""
if [ "$code" != 200 ]; then
  bad generate "$(why gen "$code")"
else
  p=$(problems gen '
    [ (if .status != "complete" then "status is \(.status|tojson)" else empty end),
      (if .cached != false then "cached is \(.cached|tojson) for a fresh request" else empty end),
      (if (.request_hash|type) == "string" and (.request_hash|test("^[0-9a-f]{64}$")) then empty else "bad request_hash" end),
      (if .mesh.watertight != true then "mesh not watertight" else empty end),
      (if .mesh.manifold != true then "mesh not manifold" else empty end),
      (if (.mesh.faces|type) == "number" and .mesh.faces > 0 then empty else "no faces" end),
      (if ([.stages[]?.stage] != ["voxel_preview","rough_mesh","refined_mesh","final_optimized"])
       then "stages are \([.stages[]?.stage]|tojson)" else empty end),
      (if (.download_url|type) != "string" then "no download_url" else empty end)
    ] | .[]')
  if [ -z "$p" ]; then
    hash=$(jq -r .request_hash "$tmp/gen")
    dl=$(get "$(jq -r .download_url "$tmp/gen")" model)
    magic=$(head -c 4 "$tmp/model" 2>/dev/null)
    if [ "$dl" = 200 ] && [ "$magic" = glTF ]; then
      fresh_s=$secs
      ok generate "$(jq -r '"faces=\(.mesh.faces) vertices=\(.mesh.vertices) hash=\(.request_hash[0:12])"' "$tmp/gen") ms=$(ms "$secs") glb_bytes=$(stat -c %s "$tmp/model")"
    else
      bad generate "download_url: $(why model "$dl")"
    fi
  else
    bad generate "$(echo "$p" | paste -sd';')"
  fi
fi

# --- progressive: the stage lines as they come, timed ---
t0=$EPOCHREALTIME
first=""
last=""
: >"$tmp/lines"
while IFS= read -r line; do
  t=$EPOCHREALTIME
  [ -z "$first" ] && first=$t
  last=$t
  printf '%s\n' "$line" >>"$tmp/lines"
done < <(curl -sS -N --max-time "$timeout" -F "image=@$image;type=image/png" -F "size_mm=$(nonce)" \
  "$url/api/v1/generate-progressive" 2>"$tmp/prog.err")
p=$(jq -rs '
  [ (if [.[].stage] != ["voxel_preview","rough_mesh","refined_mesh","final_optimized"]
     then "stages are \([.[].stage]|tojson)" else empty end),
    (if [.[].progress] != [25,50,75,100] then "progress is \([.[].progress]|tojson)" else empty end),
    (if (.[-1].status // "") != "complete" then "last status is \(.[-1].status|tojson)" else empty end)
  ] | .[]' "$tmp/lines" 2>/dev/null || echo "not NDJSON: $(head -c 160 "$tmp/lines" "$tmp/prog.err" | tr '\n' ' ')")
if [ -z "$first" ]; then
  bad progressive "no line: $(head -c 200 "$tmp/prog.err" | tr '\n' ' ')"
elif [ -n "$p" ]; then
  bad progressive "$(echo "$p" | paste -sd';')"
else
  ok progressive "first_line_ms=$(awk -v a="$t0" -v b="$first" 'BEGIN {printf "%.1f", (b - a) * 1000}') last_line_ms=$(awk -v a="$t0" -v b="$last" 'BEGIN {printf "%.1f", (b - a) * 1000}')"
fi

# --- the generate request again: a cache hit ---
if [ -z "$fresh_s" ]; then
  bad cache_hit "no fresh generation to repeat"
else
  read -r code secs <<<"$(post hit "$size")"
  if [ "$code" != 200 ]; then
    bad cache_hit "$(why hit "$code")"
  elif [ "$(jq -r .cached "$tmp/hit" 2>/dev/null)" != true ]; then
    bad cache_hit "the repeated request was not answered from the cache"
  elif [ "$(jq -r .request_hash "$tmp/hit")" != "$hash" ]; then
    bad cache_hit "the repeated request has another hash"
  else
    ok cache_hit "ms=$(ms "$secs") fresh_ms=$(ms "$fresh_s") speedup=$(awk -v f="$fresh_s" -v h="$secs" 'BEGIN {printf "%.1f", (h > 0) ? f / h : 0}')x"
  fi
fi

# --- metrics ---
code=$(get /metrics metrics)
if [ "$code" != 200 ]; then
  bad metrics "$(why metrics "$code")"
else
  missing=()
  for series in orfeas_http_requests_total orfeas_jobs_total orfeas_stage_duration_seconds_bucket \
    orfeas_cache_hits_total orfeas_queue_depth orfeas_uptime_seconds; do
    grep -q "^${series}[{ ]" "$tmp/metrics" || missing+=("$series")
  done
  hits=$(awk '$1 == "orfeas_cache_hits_total" {print $2}' "$tmp/metrics")
  if [ ${#missing[@]} -gt 0 ]; then
    bad metrics "missing ${missing[*]}"
  elif [ -n "$fresh_s" ] && ! awk -v h="${hits:-0}" 'BEGIN {exit !(h >= 1)}'; then
    bad metrics "orfeas_cache_hits_total is ${hits:-absent} after a cache hit"
  else
    ok metrics "series=$(grep -c '^orfeas_' "$tmp/metrics") cache_hits_total=$hits"
  fi
fi

# --- a cluster: every node sees the others; a job streamed from another node ---
if [ "$cluster" = 1 ]; then
  p=""
  for u in "${urls[@]}"; do
    if ! curl -sS -o "$tmp/ch" --max-time "$timeout" "$u/health" 2>/dev/null; then
      p="$p $u: no answer;"
      continue
    fi
    p="$p$(jq -r --argjson n ${#urls[@]} --arg u "$u" '.cluster as $c |
      if $c == null then "\($u): not a cluster node (no --redis);"
      elif ($c.redis_reachable | not) then "\($u): Redis unreachable: \($c.error);"
      elif ($c.nodes | length) < $n then "\($u): sees \($c.nodes | length) nodes, fewer than the \($n) given;"
      else ($c.nodes[] | select(.last_seen_s > 3 * $c.job_lease_s) | "\($u): node \(.id) not seen for \(.last_seen_s) s;")
      end' "$tmp/ch" 2>/dev/null || echo "$u: /health is not JSON;")"
  done
  if [ -n "$p" ]; then
    bad cluster_nodes "$p"
  else
    ok cluster_nodes "nodes=$(jq -r '[.cluster.nodes[].id] | join(",")' "$tmp/ch") queue_depth=$(jq -r .cluster.queue_depth "$tmp/ch")"
  fi
  last=${urls[${#urls[@]} - 1]}
  code=$(curl -sS -o "$tmp/cj" -w '%{http_code}' --max-time "$timeout" -F "image=@$image;type=image/png" \
    -F "size_mm=$(nonce)" "$url/api/v1/jobs" 2>"$tmp/cj.err")
  id=$(jq -r '.job_id // empty' "$tmp/cj" 2>/dev/null)
  if [ "$code" != 202 ] || [ -z "$id" ]; then
    bad cluster_stream "$(why cj "$code")"
  else
    curl -sS -N --max-time "$timeout" "$last/api/v1/jobs/$id/events" >"$tmp/cs" 2>"$tmp/cs.err"
    stages=$(sed -n 's/^data: //p' "$tmp/cs" | jq -r .stage 2>/dev/null | paste -sd' ')
    ids=$(grep -c '^id: ' "$tmp/cs")
    if [ "$stages" != "voxel_preview rough_mesh refined_mesh final_optimized" ] || [ "$ids" != 4 ] ||
      ! sed -n 's/^data: //p' "$tmp/cs" | tail -n 1 | jq -e '.status == "complete"' >/dev/null 2>&1; then
      bad cluster_stream "job $id from $last: stages '$stages', $ids ids: $(head -c 200 "$tmp/cs" | tr '\n' ' ')"
    else
      ok cluster_stream "job=$id submitted_to=$url streamed_from=$last ran_on=$(curl -s --max-time "$timeout" "$last/api/v1/jobs/$id" | jq -r .node)"
    fi
  fi
fi

finish
