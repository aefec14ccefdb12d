#!/usr/bin/env bash
# Installs what is needed, builds librtspsession and starts the example RTSP
# server, which serves a tone on rtsp://127.0.0.1:8554/tone until Ctrl-C.
# Arguments go to the server: --port, --timeout, --extra-timeout, --max-sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build
echo "== the session layer, step by step (build/examples/rs-session-demo)"
build/examples/rs-session-demo
echo "== the example RTSP server; play it with: ffplay rtsp://127.0.0.1:8554/tone"
exec build/examples/rtsp-server/rs-example-server "$@"
