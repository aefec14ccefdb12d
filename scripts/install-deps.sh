#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build librtspsession and run all
# of its tests, including the GStreamer reference the conformance tests use.
set -euo pipefail
packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev gobject-introspection libgirepository1.0-dev valac
  python3 python3-gi python3-pytest
  libgtest-dev
  clang libclang-rt-14-dev valgrind
  gjs gi-docgen
  ffmpeg gstreamer1.0-tools iproute2
  libhiredis-dev redis-server
  gir1.2-gst-rtsp-server-1.0 libgstrtspserver-1.0-dev gir1.2-gstreamer-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
)
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null | awk '$NF != "installed" {print $1}' || true)
# dpkg-query says nothing for packages it has never heard of: count those too.
for p in "${packages[@]}"; do
  dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "${missing// /}" ] || [ "${RS_FORCE_APT:-0}" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi
