#!/usr/bin/env bash
# test_deploy.sh BUILD - the deployment files (issue 7), checked as far as a
# machine without a Docker engine or a running systemd can:
#  1. Dockerfile: a Debian 12 build stage that runs scripts/setup.sh build
#     and make, a runtime stage that runs scripts/setup.sh runtime, a
#     non-root USER orfeas, a data VOLUME, EXPOSE 5000, ORFEAS_HOST=0.0.0.0
#     and a HEALTHCHECK on /health;
#  2. the runtime package set: every shared library BUILD/orfeas names
#     (NEEDED, less a sanitizer build's runtime) comes from a package in
#     `setup.sh runtime --list` (or libc6),
#     curl for the HEALTHCHECK is there, and each name is a real package
#     (installed here as a dependency of the build set);
#  3. every ORFEAS_* variable the Dockerfile, compose file and unit set is
#     one `orfeas serve --help` knows;
#  4. deploy/prometheus.yml passes `promtool check config` and scrapes
#     /metrics of the compose service orfeas on the port the image exposes;
#  5. docker-compose.yml is YAML naming the services orfeas (built from
#     this folder) and prometheus (prom/prometheus, with deploy/prometheus.yml);
#  6. deploy/orfeas.service passes `systemd-analyze verify` with the binary
#     path set to BUILD/orfeas, silently, has the sandbox directives, and a
#     copy pointing at a missing binary fails the same verify;
#  7. hadolint on the Dockerfile, only where hadolint is installed;
#  8. the Makefile's CUDA detection (`make cuda-config`): an nvcc whose
#     toolkit has no static cudart builds without CUDA instead of failing
#     to link (what broke CI once), and where a real toolkit is here, a
#     symlink to its nvcc and a wrapper script around it find the same
#     libcudart_static.a as nvcc itself.
# Prints cmocka's "[  PASSED  ] N" / "[  FAILED  ] N" lines for tests/run.sh.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
bin=${ORFEAS_BIN:-$build/orfeas}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tests/report.sh
echo "[==========] Running test_deploy.sh."

# 1. the Dockerfile's stages (continuation lines joined), by a small parser
"$py" - Dockerfile >"$tmp/1" 2>&1 <<'EOF'
import re, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
stages, bad = [], []
for line in text.splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "FROM":
        stages.append({"from": rest, "lines": []})
    elif stages:
        stages[-1]["lines"].append((word, rest))
def has(stage, word, pattern):
    return any(w == word and re.search(pattern, r) for w, r in stage["lines"])
if len(stages) < 2:
    bad.append("not multi-stage")
else:
    b, r = stages[0], stages[-1]
    for s in (b, r):
        if not s["from"].startswith("debian:bookworm-slim"):
            bad.append("stage not on debian:bookworm-slim: " + s["from"])
    if not has(b, "RUN", r"bash scripts/setup\.sh build\b"): bad.append("build stage: no setup.sh build")
    if not has(b, "RUN", r"(^|&& )make\b"): bad.append("build stage: no make")
    if not has(r, "RUN", r"setup\.sh runtime\b"): bad.append("runtime stage: no setup.sh runtime")
    if not has(r, "COPY", r"--from=build"): bad.append("runtime stage: nothing copied from build")
    users = [x for w, x in r["lines"] if w == "USER"]
    if users != ["orfeas"]: bad.append("runtime USER is %r, not orfeas" % users)
    if not has(r, "RUN", r"useradd .*\borfeas\b"): bad.append("user orfeas never created")
    if not has(r, "VOLUME", r"/var/lib/orfeas"): bad.append("no data VOLUME")
    if not has(r, "ENV", r"ORFEAS_DATA_DIR=/var/lib/orfeas"): bad.append("data dir not the volume")
    if not has(r, "EXPOSE", r"^5000$"): bad.append("no EXPOSE 5000")
    if not has(r, "ENV", r"ORFEAS_HOST=0\.0\.0\.0"): bad.append("not listening on 0.0.0.0")
    if not has(r, "HEALTHCHECK", r"CMD curl .*/health"): bad.append("no HEALTHCHECK on /health")
    if any(w == "RUN" and "setup.sh build" in x for w, x in r["lines"]):
        bad.append("runtime stage installs the build set")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
check dockerfile_stages_use_setup_sh $? "$tmp/1"

# 2. the runtime set against the binary's NEEDED libraries
: >"$tmp/2"
runtime=$(bash scripts/setup.sh runtime --list) || echo "setup.sh runtime --list failed" >>"$tmp/2"
for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  case "$lib" in
    lib[atl]san.so* | libubsan.so*) continue ;; # a sanitizer build's runtime
    ld-linux*) continue ;;                      # the dynamic loader, libc6's (a CUDA build names it)
  esac
  path=$(ldd "$bin" | awk -v l="$lib" '$1 == l {print $3}')
  pkg=$(dpkg -S "*/$(basename "$(dirname "$path")")/$lib" 2>/dev/null | head -n1 | cut -d: -f1)
  [ -n "$pkg" ] || { echo "$lib: no package found" >>"$tmp/2"; continue; }
  [ "$pkg" = libc6 ] || grep -qx "$pkg" <<<"$runtime" || echo "$lib comes from $pkg, not in the runtime set" >>"$tmp/2"
done
grep -qx curl <<<"$runtime" || echo "curl (HEALTHCHECK) not in the runtime set" >>"$tmp/2"
for p in $runtime; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p: not a package installed here" >>"$tmp/2"
done
[ ! -s "$tmp/2" ] && [ -n "$runtime" ]
check runtime_set_covers_the_binary $? "$tmp/2"

# 3. the ORFEAS_* variables the deployment files set exist
: >"$tmp/3"
ORFEAS_ALLOW_ROOT=1 "$bin" serve --help >"$tmp/help" 2>&1
for v in $(grep -ohE 'ORFEAS_[A-Z_]+' Dockerfile docker-compose.yml deploy/orfeas.service | sort -u); do
  grep -qw "$v" "$tmp/help" || echo "$v is not an option of orfeas serve" >>"$tmp/3"
done
[ ! -s "$tmp/3" ] && grep -qw ORFEAS_DATA_DIR "$tmp/help"
check deploy_variables_are_server_options $? "$tmp/3"

# 4. Prometheus configuration
if command -v promtool >/dev/null; then
  promtool check config deploy/prometheus.yml >"$tmp/4" 2>&1 &&
    grep -q 'metrics_path: /metrics' deploy/prometheus.yml &&
    grep -q '"orfeas:5000"' deploy/prometheus.yml
  check prometheus_config_is_valid $? "$tmp/4"
else
  echo "[  SKIPPED ] prometheus_config_is_valid: promtool not installed (scripts/setup.sh build)"
fi

# 5. the compose file
"$py" - docker-compose.yml >"$tmp/5" 2>&1 <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
s = doc.get("services", {})
bad = []
if set(s) != {"orfeas", "prometheus"}: bad.append("services are %s" % sorted(s))
o, p = s.get("orfeas", {}), s.get("prometheus", {})
if o.get("build") != ".": bad.append("orfeas is not built from this folder")
if not any(str(v).endswith(":/var/lib/orfeas") for v in o.get("volumes", [])): bad.append("no data volume")
if not any(str(x).endswith(":5000") for x in o.get("ports", [])): bad.append("port 5000 not published")
if not str(p.get("image", "")).startswith("prom/prometheus"): bad.append("prometheus image is %r" % p.get("image"))
if not any(str(v).startswith("./deploy/prometheus.yml:/etc/prometheus/prometheus.yml") for v in p.get("volumes", [])):
    bad.append("deploy/prometheus.yml not mounted")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
check compose_names_both_services $? "$tmp/5"

# 6. the systemd unit
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/ok" "$tmp/broken"
  sed "s#/usr/local/bin/orfeas#$(realpath "$bin")#" deploy/orfeas.service >"$tmp/ok/orfeas.service"
  sed "s#/usr/local/bin/orfeas#$tmp/missing/orfeas#" deploy/orfeas.service >"$tmp/broken/orfeas.service"
  systemd-analyze verify "$tmp/ok/orfeas.service" >"$tmp/6" 2>&1
  rc=$?
  for d in 'DynamicUser=yes' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'ProtectHome=yes' \
    'StateDirectory=orfeas' 'Environment=ORFEAS_DATA_DIR=/var/lib/orfeas' 'CapabilityBoundingSet=' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
    'MemoryDenyWriteExecute=yes' 'Restart=on-failure' 'KillSignal=SIGTERM'; do
    grep -qx "$d" deploy/orfeas.service || echo "missing $d" >>"$tmp/6"
  done
  grep -q '^TimeoutStopSec=' deploy/orfeas.service || echo "missing TimeoutStopSec" >>"$tmp/6"
  systemd-analyze verify "$tmp/broken/orfeas.service" >/dev/null 2>&1 && echo "a missing binary verifies" >>"$tmp/6"
  [ "$rc" -eq 0 ] && [ ! -s "$tmp/6" ]
  check systemd_unit_verifies $? "$tmp/6"
else
  echo "[  SKIPPED ] systemd_unit_verifies: systemd-analyze not installed"
fi

# 7. hadolint, where it exists (not a Debian 12 package)
if command -v hadolint >/dev/null; then
  hadolint Dockerfile >"$tmp/7" 2>&1
  check hadolint_dockerfile $? "$tmp/7"
else
  echo "[  SKIPPED ] hadolint_dockerfile: hadolint not installed"
fi

# 8. CUDA detection
cudacfg() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@" cuda-config 2>/dev/null; }
mkdir -p "$tmp/fake/bin" "$tmp/link/bin"
printf '#!/bin/sh\necho "#\\$ TOP=%s/fake/bin/.."\n' "$tmp" >"$tmp/fake/bin/nvcc"
chmod +x "$tmp/fake/bin/nvcc"
: >"$tmp/8"
cudacfg NVCC="$tmp/fake/bin/nvcc" | grep -qx 'gpu source: src/gpu/cuda_none.c' ||
  echo "an nvcc without a toolkit does not fall back to cuda_none.c" >>"$tmp/8"
PATH="$tmp/fake/bin:$PATH" cudacfg | grep -qx 'gpu source: src/gpu/cuda_none.c' ||
  echo "an nvcc on PATH without a toolkit does not fall back" >>"$tmp/8"
real=$(cudacfg | sed -n 's/^cudart: //p')
if [ -n "$real" ] && [ "$real" != none ]; then
  nv=$(cudacfg | sed -n 's/^nvcc: //p')
  ln -s "$nv" "$tmp/link/bin/nvcc"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$nv" >"$tmp/link/wrapper"
  chmod +x "$tmp/link/wrapper"
  for how in "PATH=$tmp/link/bin:$PATH" "NVCC=$tmp/link/wrapper"; do
    case $how in
      PATH=*) got=$(PATH="${how#PATH=}" cudacfg | sed -n 's/^cudart: //p') ;;
      *) got=$(cudacfg "$how" | sed -n 's/^cudart: //p') ;;
    esac
    [ -f "$got" ] && [ "$(realpath "$got")" = "$(realpath "$real")" ] ||
      echo "$how found cudart '$got', nvcc itself '$real'" >>"$tmp/8"
  done
fi
[ ! -s "$tmp/8" ]
check cuda_detection_falls_back_and_resolves $? "$tmp/8"

# 9. the engine boundary: the server (every one of its folders) and the
# CLI see include/ and the server's folder, never the engine's internals
# (a file of theirs that includes one fails to build)
(
  set -e
  for dir in $(find src/server -type d | sort) src/cli; do
    first=$(ls "$dir"/*.c 2>/dev/null | head -n 1)
    [ -n "$first" ] || continue # headers only: they are compiled as part of a .c file
    flags=$(make -s -n -B BUILD="$tmp/b" "$tmp/b/obj/${first%.c}.o" 2>/dev/null | grep -o -- ' -I[^ ]*' | tr -d ' ' | tr '\n' ' ')
    echo "$dir include path: $flags"
    case " $flags " in *" -Iinclude "*) ;; *) echo "no -Iinclude"; exit 1 ;; esac
    for d in $flags; do case "$d" in -Iinclude | -Isrc/server) ;; *) echo "unexpected $d"; exit 1 ;; esac; done
    mkdir -p "$tmp/$dir"
    printf '#include "mesh.h"\nint main(void) { return 0; }\n' >"$tmp/$dir/probe.c"
    if ${CC:-cc} -fsyntax-only $flags "$tmp/$dir/probe.c" 2>/dev/null; then
      echo "$dir: a file there can include an engine header (mesh.h)"
      exit 1
    fi
  done
) >"$tmp/9" 2>&1
check server_sees_only_the_public_header $? "$tmp/9"

report_end
