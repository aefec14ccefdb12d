#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The life of one RTSP session from Python: create it, set up a media, find
it again from a request URL and print the Session: header."""
import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import GLib, GObject, RtspSession  # noqa: E402

session = RtspSession.RTSPSession.new("K3yb0ardCat")
session.set_timeout(30)

tone = GObject.Object()  # the server's own media object
media = session.manage_media("/tone", tone)

found, matched = session.get_media("/tone/stream=0")
assert found == media
found.set_rtsp_state(RtspSession.RTSPState.PLAYING)

print("Session:", session.get_header())
print(f"media {found.get_path()} matched {matched} characters of /tone/stream=0")

now = GLib.get_monotonic_time()
session.touch()
expired = session.is_expired_usec(now + 40 * GLib.USEC_PER_SEC)
print(f"expires in {session.next_timeout_usec(now)} ms; expired 40 s from now: {'yes' if expired else 'no'}")

more = session.release_media(media)
print("medias left after TEARDOWN:", "yes" if more else "no")
