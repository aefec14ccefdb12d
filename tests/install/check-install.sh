#!/usr/bin/env bash
# Installs the build into a scratch prefix and checks that pkg-config, C,
# PyGObject and valac find everything there, and that `meson devenv` runs
# the Python example from the build tree.
set -euo pipefail
build_dir=$(realpath "$1")
source_dir=$(realpath "$(dirname "$0")/../..")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

meson install -C "$build_dir" --destdir "$prefix" --quiet >/dev/null
root="$prefix$(meson introspect "$build_dir" --buildoptions | /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')"
libdir=$(find "$root" -name 'librtspsession-1.0.so.0' -printf '%h\n' | head -n1)
pcdir=$(find "$root" -name 'rtspsession-1.0.pc' -printf '%h\n' | head -n1)
typelibdir=$(find "$root" -name 'RtspSession-1.0.typelib' -printf '%h\n' | head -n1)
vapidir=$(find "$root" -name 'rtspsession-1.0.vapi' -printf '%h\n' | head -n1)
girfile=$(find "$root" -name 'RtspSession-1.0.gir' | head -n1)
for what in libdir pcdir typelibdir vapidir girfile; do
  [ -n "${!what}" ] || { echo "install: $what missing"; exit 1; }
done

# The .pc file names the final prefix; point a copy of it at the scratch one.
mkdir -p "$prefix/pc"
sed "s|^prefix=.*|prefix=$root|" "$pcdir/rtspsession-1.0.pc" > "$prefix/pc/rtspsession-1.0.pc"
export PKG_CONFIG_PATH="$prefix/pc" LD_LIBRARY_PATH="$libdir"
pc() { pkg-config "$@"; }
[ "$(pc --modversion rtspsession-1.0)" = "$(meson introspect "$build_dir" --projectinfo | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ]
# Only the public API is exported.
if nm -D --defined-only "$libdir/librtspsession-1.0.so.0" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^rs_' ; then
  echo "install: symbols outside rs_ are exported"; exit 1
fi

work=$(mktemp -d -p "$prefix")
cc -o "$work/consumer-c" "$source_dir/tests/install/consumer.c" $(pc --cflags --libs rtspsession-1.0)
"$work/consumer-c"
echo "C consumer: ok"

GI_TYPELIB_PATH="$typelibdir" /usr/bin/python3 -c '
import gi
gi.require_version("RtspSession", "1.0")
from gi.repository import RtspSession
assert RtspSession.RTSPSession.new("py").get_header() == "py"
print("Python consumer: ok")'

valac --vapidir="$vapidir" --pkg rtspsession-1.0 -X -w \
  $(for flag in $(pc --cflags rtspsession-1.0); do printf -- '-X %s ' "$flag"; done) \
  -X -L"$libdir" -X -lrtspsession-1.0 \
  -o "$work/consumer-vala" "$source_dir/tests/install/consumer.vala"
"$work/consumer-vala"
echo "Vala consumer: ok"

# Read all of the output first: grep -q would close the pipe early.
devenv_output=$(meson devenv -C "$build_dir" /usr/bin/python3 "$source_dir/examples/session-demo.py")
grep -q '^Session: ' <<<"$devenv_output"
echo "meson devenv: ok"
