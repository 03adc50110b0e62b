#!/usr/bin/env bash
# run.sh - what `make run` does: starts the ORFEAS server on its embedded
# defaults (127.0.0.1:5000), keeping its cache under BUILD/data.  Any
# ORFEAS_* environment variable or extra argument changes a default.
set -euo pipefail
build=${1:-build}
shift || true
# `make run` is the developer's command, often run as root in a container:
# allowed, and the server logs a warning when it is
export ORFEAS_ALLOW_ROOT=${ORFEAS_ALLOW_ROOT:-1}
exec "$build/orfeas" serve --data-dir "${ORFEAS_DATA_DIR:-$build/data}" "$@"
