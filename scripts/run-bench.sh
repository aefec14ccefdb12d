#!/usr/bin/env bash
# Builds librtspsession and runs the pool benchmark side by side with
# GStreamer's gst-rtsp-server at 10k, 100k and 1M sessions (a few minutes).
# Writes bench/latest/pool.md (the table), pool.csv and pool.png (the plot).
# When librtspsession-gst is built too, also runs its expiry benchmark against
# the stock GstRTSPSessionPool: bench/latest/gst-pool.md, .json and .png.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dpkg-query -W python3-matplotlib >/dev/null 2>&1 || {
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-matplotlib
}
[ -d build ] || meson setup build >/dev/null
sizes="${RS_BENCH_SIZES:-10000,100000,1000000}"
ninja -C build bench/rs-bench-pool
mkdir -p bench/latest
build/bench/rs-bench-pool --sizes "$sizes" --csv bench/latest/pool.csv \
  | tee bench/latest/pool.md
/usr/bin/python3 bench/plot.py bench/latest/pool.csv bench/latest/pool.png
echo "plot: bench/latest/pool.png"

# The companion library is optional (-Dgst): run its benchmark if it is configured.
if ninja -C build -t query bench/rs-bench-gst-pool >/dev/null 2>&1; then
  ninja -C build bench/rs-bench-gst-pool
  build/bench/rs-bench-gst-pool --sizes "$sizes" --json bench/latest/gst-pool.json \
    | tee bench/latest/gst-pool.md
  /usr/bin/python3 bench/plot-gst.py bench/latest/gst-pool.json bench/latest/gst-pool.png
  echo "plot: bench/latest/gst-pool.png"
fi

# The session directory on Redis (-Dredis): what it costs a pool, with Redis
# up, asleep and gone.
if ninja -C build -t query bench/rs-bench-directory >/dev/null 2>&1; then
  ninja -C build bench/rs-bench-directory
  build/bench/rs-bench-directory --sessions "${RS_BENCH_DIRECTORY_SESSIONS:-100000}" \
    | tee bench/latest/directory.md
fi
