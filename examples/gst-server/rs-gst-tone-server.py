#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rs-gst-tone-server in Python: a GstRtspServer application serving a test
tone at rtsp://ADDRESS:PORT/tone, stock (--stock) or hardened by
librtspsession-gst through its typelib (the default).

The hardening is the lines marked "librtspsession-gst": the import, the
bind_sessions call, and the cleanup timer that is no longer needed."""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("RtspSessionGst", "1.0")  # librtspsession-gst (1 of 3)
from gi.repository import GLib, Gst, GstRtspServer, RtspSessionGst  # noqa: E402

LAUNCH = ("( audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160"
          " ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay0 )")


def main():
    parser = argparse.ArgumentParser(description="serve a test tone over RTSP")
    parser.add_argument("--port", type=int, default=8554, help="TCP port (0: any free port)")
    parser.add_argument("--address", default=None, help="address to listen on")
    parser.add_argument("--timeout", type=int, default=0, help="session timeout in seconds")
    parser.add_argument("--stock", action="store_true", help="run without librtspsession-gst")
    parser.add_argument("--owner", choices=["connection", "peer-address"], default="connection")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535 or args.timeout < 0:
        parser.error("--port and --timeout take non-negative numbers")

    Gst.init(None)
    server = GstRtspServer.RTSPServer.new()
    server.set_service(str(args.port))
    if args.address:
        server.set_address(args.address)
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(LAUNCH)
    server.get_mount_points().add_factory("/tone", factory)

    if args.stock:
        # What upstream examples do: scan the whole pool every two seconds.
        GLib.timeout_add_seconds(2, lambda: server.get_session_pool().cleanup() or True)
    else:
        pool = RtspSessionGst.server_bind_sessions(server)  # librtspsession-gst (2 of 3)
        # (3 of 3): no cleanup timer: the binding drives expiry.
        if args.owner == "peer-address":
            pool.set_owner_policy(RtspSessionGst.OwnerPolicy.PEER_ADDRESS)

    def on_new_session(client, session):
        if args.timeout > 0:
            session.set_timeout(args.timeout)
        print("session-created", session.get_sessionid(), flush=True)

    server.connect("client-connected", lambda srv, client: client.connect("new-session", on_new_session))
    server.get_session_pool().connect(
        "session-removed", lambda pool, session: print("session-removed", session.get_sessionid(), flush=True))

    if server.attach(None) == 0:
        sys.exit(f"rs-gst-tone-server: cannot listen on port {args.port}")
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f"rs-gst-tone-server: rtsp://{args.address or '0.0.0.0'}:{server.get_bound_port()}/tone "
          f"({'stock' if args.stock else 'hardened'}, {Gst.version_string()})", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
