#!/usr/bin/env bash
# test_validate.sh BUILD - scripts/validate.sh (issue 7), the operator's
# post-deployment check, run against:
#  1. the real server (BUILD/orfeas on 127.0.0.1, a free port, a temporary
#     data dir): every check passes and it exits 0;
#  2. a port with nothing listening: every check fails and it exits 1;
#  3. a stub (python3's http.server) that answers /health, /ready and
#     /metrics correctly but /api/v1/gpu/stats without two of docs/API.md's keys:
#     health passes, gpu_stats fails naming both keys, and it exits 1.
# Prints cmocka's "[  PASSED  ] N" / "[  FAILED  ] N" lines for tests/run.sh.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

. tests/report.sh

# waits for "orfeas listening on URL" (or the stub's same line) in FILE
listening_url() {
  for _ in $(seq 300); do
    url=$(sed -n 's/^orfeas listening on //p' "$1" 2>/dev/null)
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

echo "[==========] Running 3 test(s)."

# 1. the real server
ORFEAS_ALLOW_ROOT=1 "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --workers 2 \
  >"$tmp/srv.out" 2>"$tmp/srv.log" &
pids+=($!)
if url=$(listening_url "$tmp/srv.out" "${pids[-1]}"); then
  bash scripts/validate.sh "$url" >"$tmp/v1" 2>&1
  rc=$?
  sed 's/^/    /' "$tmp/v1"
  [ "$rc" -eq 0 ] && [ "$(grep -c '^ok ' "$tmp/v1")" -eq 7 ] && ! grep -q '^FAIL' "$tmp/v1"
  check validate_passes_against_a_running_server $? "$tmp/v1"
else
  tail -n 5 "$tmp/srv.log" >"$tmp/v1"
  check validate_passes_against_a_running_server 1 "$tmp/v1"
fi

# 2. nothing listening: a port that was free a moment ago
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
VALIDATE_TIMEOUT=5 bash scripts/validate.sh "http://127.0.0.1:$port" >"$tmp/v2" 2>&1
rc=$?
[ "$rc" -eq 1 ] && [ "$(grep -c '^FAIL ' "$tmp/v2")" -eq 7 ] && ! grep -q '^ok ' "$tmp/v2"
check validate_fails_with_nothing_listening $? "$tmp/v2"

# 3. a stub with a wrong /api/v1/gpu/stats
cat >"$tmp/stub.py" <<'EOF'
import json, http.server, sys
GOOD_STATS = {"timestamp": "2026-01-01T00:00:00Z", "gpu": {"available": False}, "queue_depth": 0,
              "running_jobs": 0, "recommended_precision": "fp32", "optimal_batch_size": 1,
              "memory_budget": {"device": "cpu", "total_gb": 8, "reserved_system_gb": 2,
                                "reserved_cache_gb": 1, "available_for_jobs_gb": 5, "in_use_gb": 0},
              "history": [{"t": 1, "in_use_gb": 0, "available_gb": 5}]}
BAD_STATS = dict(GOOD_STATS)
del BAD_STATS["optimal_batch_size"]
BAD_STATS["memory_budget"] = dict(GOOD_STATS["memory_budget"])
del BAD_STATS["memory_budget"]["in_use_gb"]
ROUTES = {"/health": {"status": "ok", "version": "stub", "uptime_s": 1, "engine": "cpu",
                      "gpu": {"available": False}},
          "/ready": {"status": "ready"}, "/api/v1/gpu/stats": BAD_STATS}
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/metrics":
            self.answer(200, b"orfeas_uptime_seconds 1\n", "text/plain")
        elif self.path in ROUTES:
            self.answer(200, json.dumps(ROUTES[self.path]).encode())
        else:
            self.answer(404, b'{"error":"not found","code":"not_found"}')
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(404, b'{"error":"not found","code":"not_found"}')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("orfeas listening on http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF
"$py" "$tmp/stub.py" >"$tmp/stub.out" 2>"$tmp/stub.log" &
pids+=($!)
if url=$(listening_url "$tmp/stub.out" "${pids[-1]}"); then
  VALIDATE_TIMEOUT=5 bash scripts/validate.sh "$url" >"$tmp/v3" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] && grep -q '^ok   health ' "$tmp/v3" && grep -q '^ok   ready ' "$tmp/v3" &&
    grep '^FAIL gpu_stats ' "$tmp/v3" | grep -q 'missing optimal_batch_size' &&
    grep '^FAIL gpu_stats ' "$tmp/v3" | grep -q 'missing memory_budget.in_use_gb'
  check validate_fails_on_a_wrong_gpu_stats_shape $? "$tmp/v3"
else
  cat "$tmp/stub.log" >"$tmp/v3"
  check validate_fails_on_a_wrong_gpu_stats_shape 1 "$tmp/v3"
fi

echo "[==========] 3 test(s) run."
report_end
