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

# librtspsession-gst, when it was built.
if gst_pc=$(find "$root" -name 'rtspsession-gst-1.0.pc' | head -n1) && [ -n "$gst_pc" ]; then
  sed "s|^prefix=.*|prefix=$root|" "$gst_pc" > "$prefix/pc/rtspsession-gst-1.0.pc"
  if nm -D --defined-only "$libdir/librtspsession-gst-1.0.so.0" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^rs_gst_' ; then
    echo "install: librtspsession-gst exports symbols outside rs_gst_"; exit 1
  fi
  cat > "$work/consumer-gst.c" <<'C'
#include <rtspsession-gst/rtspsession-gst.h>
#include <string.h>
int main (void) {
  GstRTSPServer *server = gst_rtsp_server_new ();
  RsGstSessionPool *pool = rs_gst_server_bind_sessions (server);
  GstRTSPSession *session = gst_rtsp_session_pool_create (GST_RTSP_SESSION_POOL (pool));
  int ok = strlen (gst_rtsp_session_get_sessionid (session)) == 22;
  g_object_unref (session);
  g_object_unref (server);
  return ok ? 0 : 1;
}
C
  cc -o "$work/consumer-gst" "$work/consumer-gst.c" $(pc --cflags --libs rtspsession-gst-1.0)
  "$work/consumer-gst"
  echo "C consumer of librtspsession-gst: ok"
  if gst_typelib=$(find "$root" -name 'RtspSessionGst-1.0.typelib' -printf '%h\n' | head -n1) && [ -n "$gst_typelib" ]; then
    GI_TYPELIB_PATH="$gst_typelib" /usr/bin/python3 -c '
import gi
gi.require_version("RtspSessionGst", "1.0")
from gi.repository import RtspSessionGst
assert len(RtspSessionGst.SessionPool.new().create().get_sessionid()) == 22
print("Python consumer of librtspsession-gst: ok")'
    [ -n "$(find "$root" -name 'rtspsession-gst-1.0.vapi')" ] || { echo "install: rtspsession-gst-1.0.vapi missing"; exit 1; }
  fi
fi
