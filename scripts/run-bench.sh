#!/usr/bin/env bash
# Builds librtspsession and runs the pool benchmark side by side with
# GStreamer's gst-rtsp-server at 10k, 100k and 1M sessions (a few minutes).
# Writes bench/latest/pool.md (the table), pool.csv and pool.png (the plot).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dpkg-query -W python3-matplotlib >/dev/null 2>&1 || {
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-matplotlib
}
[ -d build ] || meson setup build >/dev/null
ninja -C build bench/rs-bench-pool
mkdir -p bench/latest
build/bench/rs-bench-pool --sizes "${RS_BENCH_SIZES:-10000,100000,1000000}" --csv bench/latest/pool.csv \
  | tee bench/latest/pool.md
/usr/bin/python3 bench/plot.py bench/latest/pool.csv bench/latest/pool.png
echo "plot: bench/latest/pool.png"
