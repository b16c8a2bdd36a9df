#!/bin/sh
# The image's entry point: the service baked in at build time, on port 8000, all interfaces;
# arguments pass through (--role api|worker|all, --no-migrate, --migrate-only).
set -eu
exec python -m copa_runtime.serve "${COPA_SERVICE:?COPA_SERVICE is not set}" \
    --host 0.0.0.0 --port 8000 "$@"
