#!/usr/bin/env bash
# Installs what is needed, builds librtspsession and runs the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build
echo "== C example (build/examples/rs-session-demo)"
build/examples/rs-session-demo
echo "== Python example (examples/session-demo.py)"
meson devenv -C build /usr/bin/python3 "$PWD/examples/session-demo.py"
