"""RsGstSessionPool through PyGObject, side by side with GStreamer's own
GstRTSPSessionPool.

Intended differences from the stock pool (everything else must match):
- ids are 22 characters of [A-Za-z0-9] from the OS's CSPRNG (stock: 16 of
  a 66-character alphabet from a Mersenne Twister);
- our own cleanup and watch only look at sessions whose indexed deadline has
  come; a timeout lowered after creation is seen within a second of the
  creation, while prevented, or at once with reschedule().
"""
import re
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("RtspSessionGst", "1.0")
from gi.repository import GLib, Gst, GstRtspServer, RtspSessionGst  # noqa: E402

import pytest  # noqa: E402

Gst.init(None)
SECOND = 1_000_000
EXTRA = 5 * SECOND  # GStreamer's default extra-timeout


def pools():
    return [GstRtspServer.RTSPSessionPool.new(), RtspSessionGst.SessionPool.new()]


def removals(pool):
    seen = []
    pool.connect("session-removed", lambda p, s: seen.append(s.get_sessionid()))
    return seen


def test_ids_are_22_alphanumerics_and_distinct():
    pool = RtspSessionGst.SessionPool.new()
    ids = {pool.create().get_sessionid() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9]{22}", i) for i in ids)
    assert pool.get_n_sessions() == 2000


def test_it_is_a_stock_session_pool():
    pool = RtspSessionGst.SessionPool.new()
    assert isinstance(pool, GstRtspServer.RTSPSessionPool)
    assert isinstance(pool.create(), GstRtspServer.RTSPSession)
    assert pool.get_owner(pool.create()) == ""  # made by the application: nobody's


def test_max_sessions_find_remove_and_the_signal_match_the_stock_pool():
    results = []
    for pool in pools():
        seen = removals(pool)
        pool.set_max_sessions(3)
        made = [pool.create() for _ in range(4)]
        found = pool.find(made[0].get_sessionid())
        results.append((
            [m is not None for m in made],
            pool.get_n_sessions(),
            found is made[0],
            pool.find("no-such-id") is None,
            pool.remove(made[1]),
            pool.remove(made[1]),
            len(seen),
            pool.get_max_sessions(),
            pool.get_property("max-sessions"),
        ))
    assert results[0] == results[1]
    assert results[1][0] == [True, True, True, False]


def test_filter_matches_the_stock_pool():
    results = []
    for pool in pools():
        seen = removals(pool)
        made = [pool.create() for _ in range(10)]
        odd = {m.get_sessionid() for m in made[1::2]}

        def decide(p, session, data):
            if session.get_sessionid() in odd:
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.REF

        kept = pool.filter(decide, None)
        results.append((len(kept), pool.get_n_sessions(), len(seen), sorted(seen) == sorted(odd)))
        # The index follows: nothing removed by the filter comes back.
        if isinstance(pool, RtspSessionGst.SessionPool):
            assert pool.cleanup_at(GLib.get_monotonic_time() + 1000 * SECOND) == 5
    assert results[0] == results[1] == [(5, 5, 5, True)][0]


def test_expires_at_gstreamers_deadline_with_an_explicit_now():
    pool = RtspSessionGst.SessionPool.new()
    seen = removals(pool)
    session = pool.create()
    session.set_timeout(2)
    pool.reschedule(session)
    start = GLib.get_monotonic_time()
    deadline = start + 2 * SECOND + EXTRA
    assert pool.cleanup_at(deadline - 20_000) == 0
    assert session.is_expired_usec(deadline + 20_000)
    assert pool.cleanup_at(deadline + 20_000) == 1
    assert seen == [session.get_sessionid()]
    assert pool.get_n_sessions() == 0
    assert pool.next_wakeup(start) == -1


def test_a_timeout_lowered_after_creation_is_seen_within_a_second():
    pool = RtspSessionGst.SessionPool.new()
    session = pool.create()
    created = GLib.get_monotonic_time()
    session.set_timeout(1)  # as apps do in GstRTSPClient::new-session, no reschedule
    wakeup = pool.next_wakeup(created)
    assert created < wakeup <= created + SECOND + 1000
    # Judged again a second after creation: now indexed at its real deadline.
    assert pool.cleanup_at(created + SECOND + 10_000) == 0
    assert pool.next_wakeup(created + SECOND + 10_000) <= created + SECOND + EXTRA
    assert pool.cleanup_at(created + SECOND + EXTRA + 10_000) == 1


def test_a_timeout_lowered_later_needs_reschedule():
    pool = RtspSessionGst.SessionPool.new()
    session = pool.create()
    created = GLib.get_monotonic_time()
    time.sleep(1.1)
    assert pool.cleanup() == 0  # the first-second look is over
    session.set_timeout(1)
    # Documented: lowered later, it is seen at the old deadline...
    assert pool.cleanup_at(created + 10 * SECOND) == 0
    # ... or at once after reschedule().
    pool.reschedule(session)
    assert pool.cleanup_at(created + 10 * SECOND) == 1


def test_timeout_zero_never_expires():
    for pool in pools():
        session = pool.create()
        session.set_timeout(0)
        if isinstance(pool, RtspSessionGst.SessionPool):
            pool.reschedule(session)
            assert pool.next_wakeup(GLib.get_monotonic_time()) == -1
            assert pool.cleanup_at(GLib.get_monotonic_time() + 10 ** 12) == 0
        else:
            assert pool.cleanup() == 0
        assert not session.is_expired_usec(GLib.get_monotonic_time() + 10 ** 12)
        assert pool.get_n_sessions() == 1


def short_session(pool):
    session = pool.create()
    session.set_timeout(1)
    session.set_property("extra-timeout", 0)
    if isinstance(pool, RtspSessionGst.SessionPool):
        pool.reschedule(session)
    return session


def ours_cleanup(pool):
    if isinstance(pool, RtspSessionGst.SessionPool):
        return pool.cleanup()
    return pool.cleanup()


def test_prevent_expire_is_respected_and_allow_expire_is_seen_like_the_stock_pool():
    # GStreamer judges prevention at the real time only: real sleeps here.
    both = pools()
    sessions = [short_session(p) for p in both]
    for s in sessions:
        s.prevent_expire()
    time.sleep(1.3)
    assert [ours_cleanup(p) for p in both] == [0, 0]
    assert [p.get_n_sessions() for p in both] == [1, 1]
    for s in sessions:
        s.allow_expire()
    # Allowed: gone within the timeout (1 s) and our one-second look again.
    gone_after = [None, None]
    start = time.monotonic()
    while None in gone_after and time.monotonic() - start < 4.0:
        for i, p in enumerate(both):
            if gone_after[i] is None and ours_cleanup(p) == 1:
                gone_after[i] = time.monotonic() - start
        time.sleep(0.05)
    assert gone_after[0] is not None and gone_after[1] is not None, gone_after
    assert abs(gone_after[0] - gone_after[1]) <= 1.1, gone_after


def test_the_stock_cleanup_and_remove_keep_the_index_consistent():
    pool = RtspSessionGst.SessionPool.new()
    seen = removals(pool)
    expired = short_session(pool)
    kept = pool.create()
    removed = pool.create()
    assert pool.remove(removed)
    time.sleep(1.1)
    # GStreamer's own full scan, as an app may still call it.
    assert GstRtspServer.RTSPSessionPool.cleanup(pool) == 1
    assert seen == [removed.get_sessionid(), expired.get_sessionid()]
    assert pool.cleanup_at(GLib.get_monotonic_time() + 1000 * SECOND) == 1
    assert pool.get_n_sessions() == 0
    assert pool.next_wakeup(GLib.get_monotonic_time()) == -1
    assert kept.get_sessionid() == seen[-1]


def test_touches_move_the_deadline_later():
    pool = RtspSessionGst.SessionPool.new()
    session = short_session(pool)
    start = GLib.get_monotonic_time()
    time.sleep(0.6)
    session.touch()
    # Due at start + 1 s by the index, but touched: judged again, kept.
    assert pool.cleanup_at(start + SECOND + 10_000) == 0
    assert pool.cleanup_at(start + 600_000 + SECOND + 10_000) == 1


# create_watch() calls a GstRTSPSessionPoolFunc (pool, user_data), which
# GLib.Source.set_callback cannot express: its wake-ups are tested in C
# (test-gst-pool.cc); attach() is the binding-friendly form.
def test_the_attached_watch_runs_cleanup():
    pool = RtspSessionGst.SessionPool.new()
    context = GLib.MainContext.new()
    seen = removals(pool)
    source_id = pool.attach(context)
    assert source_id > 0
    session = short_session(pool)
    start = time.monotonic()
    while not seen and time.monotonic() - start < 3.0:
        context.iteration(True)
    assert seen == [session.get_sessionid()]
    context.find_source_by_id(source_id).destroy()


def test_owner_policy_property():
    pool = RtspSessionGst.SessionPool.new()
    assert pool.get_owner_policy() == RtspSessionGst.OwnerPolicy.CONNECTION
    notified = []
    pool.connect("notify::owner-policy", lambda *a: notified.append(1))
    pool.set_owner_policy(RtspSessionGst.OwnerPolicy.PEER_ADDRESS)
    pool.set_owner_policy(RtspSessionGst.OwnerPolicy.PEER_ADDRESS)
    assert pool.props.owner_policy == RtspSessionGst.OwnerPolicy.PEER_ADDRESS
    assert notified == [1]
    pool.set_owner_func(lambda p, client: "key")
    assert pool.get_owner_policy() == RtspSessionGst.OwnerPolicy.CUSTOM


def test_bind_sessions_keeps_max_sessions_and_is_idempotent():
    server = GstRtspServer.RTSPServer.new()
    server.get_session_pool().set_max_sessions(7)
    pool = RtspSessionGst.server_bind_sessions(server)
    assert isinstance(pool, RtspSessionGst.SessionPool)
    assert server.get_session_pool() is pool
    assert pool.get_max_sessions() == 7
    assert RtspSessionGst.server_bind_sessions(server) is pool


# -- the custom owner policy, on an in-process GstRTSPServer --

def serve_in_thread(owner_func):
    """A GstRTSPServer on 127.0.0.1 bound with @owner_func, run by a thread;
    returns (port, stop)."""
    import threading

    context = GLib.MainContext.new()
    server = GstRtspServer.RTSPServer.new()
    server.set_address("127.0.0.1")
    server.set_service("0")
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch("( audiotestsrc is-live=true samplesperbuffer=160 ! mulawenc ! rtppcmupay name=pay0 )")
    server.get_mount_points().add_factory("/tone", factory)
    pool = RtspSessionGst.server_bind_sessions(server)
    pool.set_owner_func(owner_func)
    server.attach(context)
    loop = GLib.MainLoop.new(context, False)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()

    def stop():
        loop.quit()
        thread.join(timeout=5)

    return server.get_bound_port(), stop, pool


def setup_session(client, udp):
    resp = client.setup_udp(udp.rtp_port, udp.rtcp_port, path="/tone/stream=0")
    assert resp.status == 200, resp
    return resp.session_id()


def test_custom_owner_keys_decide_who_shares_a_session():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "server"))
    from rtsp_client import RtspClient, UdpPair

    # Every connection gets the same key: they share their sessions.
    port, stop, pool = serve_in_thread(lambda pool, client: "everyone")
    try:
        with RtspClient(port) as a, RtspClient(port) as b, UdpPair() as udp:
            session = setup_session(a, udp)
            assert b.request("GET_PARAMETER", session=session).status == 200
            assert pool.get_owner(pool.find(session)) == "custom:everyone"
    finally:
        stop()

    # A key of its own for each connection (None would mean the same).
    keys = iter(range(10 ** 6))
    port, stop, pool = serve_in_thread(lambda pool, client: f"k{next(keys)}")
    try:
        with RtspClient(port) as a, RtspClient(port) as b, UdpPair() as udp:
            session = setup_session(a, udp)
            assert b.request("GET_PARAMETER", session=session).status == 454
            assert a.request("GET_PARAMETER", session=session).status == 200
    finally:
        stop()


def test_user_policy_leaves_messages_the_application_sends_alone():
    import base64
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "server"))
    from rtsp_client import RtspClient, UdpPair
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GstRtsp

    context = GLib.MainContext.new()
    server = GstRtspServer.RTSPServer.new()
    server.set_address("127.0.0.1")
    server.set_service("0")
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch("( audiotestsrc is-live=true ! mulawenc ! rtppcmupay name=pay0 )")
    auth = GstRtspServer.RTSPAuth.new()
    token = GstRtspServer.RTSPToken.new()
    token.set_string("media.factory.role", "user")
    token.set_string(RtspSessionGst.TOKEN_USER, "alice")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic("alice", "pw"), token)
    factory.add_role_from_structure(Gst.Structure.from_string(
        "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0])
    server.set_auth(auth)
    server.get_mount_points().add_factory("/tone", factory)
    pool = RtspSessionGst.server_bind_sessions(server)
    pool.set_owner_policy(RtspSessionGst.OwnerPolicy.USER)
    clients = []
    server.connect("client-connected", lambda s, c: clients.append(c))
    server.attach(context)
    loop = GLib.MainLoop.new(context, False)
    import threading
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    alice = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    port = server.get_bound_port()
    try:
        with RtspClient(port) as first, RtspClient(port) as second, UdpPair() as udp:
            resp = first.request("SETUP", first.url("/tone/stream=0"),
                                 {"Transport": f"RTP/AVP;unicast;client_port={udp.rtp_port}-{udp.rtcp_port}", **alice})
            session_id = resp.session_id()
            # Her second connection watches the session after an authorized request...
            assert second.request("GET_PARAMETER", headers=alice, session=session_id).status == 200
            client = clients[-1]

            def watched():
                return len(client.session_filter(lambda c, s, d: GstRtspServer.RTSPFilterResult.REF, None))

            assert watched() == 1
            # ... and a message the server sends on its own keeps the session.
            _, message = GstRtsp.rtsp_message_new_request(GstRtsp.RTSPMethod.SET_PARAMETER, first.url())
            client.send_message(pool.find(session_id), message)
            second.sock.settimeout(2)
            head = second.sock.recv(4096).split(b"\r\n\r\n")[0].decode()
            assert f"Session: {session_id}" in head, head
            assert watched() == 1
    finally:
        loop.quit()
        thread.join(timeout=5)
