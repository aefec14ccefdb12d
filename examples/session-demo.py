#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""librtspsession from Python: a pool makes a session, the session sets up a
media, a later request finds both again, and the pool expires the session."""
import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import GLib, GObject, RtspSession  # noqa: E402

pool = RtspSession.RTSPSessionPool.new()
pool.set_max_sessions(100)
removed = []
pool.connect("session-removed", lambda pool, session: removed.append(session.get_sessionid()))

# SETUP: a new session with an unguessable id, bound to its connection.
session = pool.create()
session.set_timeout(30)
session.props.extra_timeout = 0
session.props.owner = "connection-1"
session_id = session.get_sessionid()

tone = GObject.Object()  # the server's own media object
media = session.manage_media("/tone", tone)
print("Session:", session.get_header())

# PLAY rtsp://host/tone/stream=0 from the same connection.
ok, parsed_id, timeout = RtspSession.RTSPSession.header_parse(f"{session_id};timeout=30")
found = pool.find_owned(parsed_id, "connection-1")
assert found is session
assert pool.find_owned(parsed_id, "connection-2") is None  # someone else's id
found_media, matched = session.get_media("/tone/stream=0")
assert found_media == media
found_media.set_rtsp_state(RtspSession.RTSPState.PLAYING)
print(f"media {found_media.get_path()} matched {matched} characters of /tone/stream=0")

# Expiry, judged at explicit times: nothing at first, the session 31 s later.
now = GLib.get_monotonic_time()
print("expired now:", pool.cleanup_usec(now), "- 31 s later:", pool.cleanup_usec(now + 31 * GLib.USEC_PER_SEC))
assert removed == [session_id]
print("sessions left:", pool.get_n_sessions())
