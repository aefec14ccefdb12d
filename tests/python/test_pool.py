"""Python (PyGObject) tests for RtspSession.RTSPSessionPool.

Written against /work/shared/CONTRACT.md (section RsRTSPSessionPool, the extension
`cleanup_usec`, "Where we knowingly differ" 6-8) and
include/rtspsession/rs-rtsp-session-pool.h.

Time: expiry is asked with explicit monotonic `now` values (cleanup_usec,
is_expired_usec) wherever possible.  The watch necessarily uses the real clock: it is
examined without blocking by driving a private GMainContext by hand
(acquire / prepare / query / check / dispatch), where `query` reports the poll timeout
the source asked for.  Only one test (test_watch_dispatches_after_real_expiry) waits
for real, about 1 s.

PyGObject note: `source.set_callback(func, user_data)` on the watch calls
`func(user_data)`: the `pool` argument of the C RsRTSPSessionPoolFunc is swallowed by
PyGObject's generic GSourceFunc marshaller (the same happens with GstRtspServer).
"""
import gc
import time
from collections import Counter

import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import GLib, GObject, RtspSession  # noqa: E402

import pytest  # noqa: E402

from rs_testutil import (  # noqa: E402
    ALNUM, G_MAXUINT, RW_BITS, USEC, Finalized, Removed, Watch, last_access_is, last_access_of,
    poll_once, spin_until, touch_and_find_last_access)

R = RtspSession
Pool = R.RTSPSessionPool
S = R.RTSPSession
FR = R.RTSPFilterResult


# --------------------------------------------------------------------------- helpers

def ids_of(sessions):
    return [s.get_sessionid() for s in sessions]


def expired_at(sess, extra_usec=0):
    """Monotonic time at which `sess` (just touched, L recovered) first counts as expired."""
    L = touch_and_find_last_access(sess)
    return L + (sess.props.timeout + sess.props.extra_timeout) * USEC - 999 + extra_usec


# --------------------------------------------------------------------------- type, new

def test_type_and_new():
    assert Pool.__gtype__.name == "RsRTSPSessionPool"
    assert Pool.__gtype__.is_a(GObject.Object.__gtype__)
    p = Pool.new()
    assert isinstance(p, Pool)
    assert p.get_n_sessions() == 0
    assert p.get_max_sessions() == 0
    q = Pool()
    assert q.get_n_sessions() == 0 and q.props.max_sessions == 0
    assert p.filter(None) == []
    assert p.cleanup() == 0 and p.cleanup_usec(GLib.get_monotonic_time()) == 0


def test_max_sessions_pspec():
    ps = {p.name: p for p in Pool.list_properties()}
    assert sorted(ps) == ["max-sessions"]
    p = ps["max-sessions"]
    assert p.value_type == GObject.TYPE_UINT
    assert (p.minimum, p.maximum, p.default_value) == (0, G_MAXUINT, 0)
    assert int(p.flags & RW_BITS) == int(GObject.ParamFlags.READWRITE)


def test_max_sessions_roundtrip_and_notify_only_on_change():
    pool = Pool.new()
    notes = []
    pool.connect("notify::max-sessions", lambda p, ps: notes.append(p.props.max_sessions))
    pool.set_max_sessions(3)
    pool.set_max_sessions(3)
    assert notes == [3]
    pool.props.max_sessions = 3
    assert notes == [3]
    pool.props.max_sessions = 4
    assert notes == [3, 4] and pool.get_max_sessions() == 4
    pool.set_max_sessions(G_MAXUINT)
    assert pool.props.max_sessions == G_MAXUINT and notes == [3, 4, G_MAXUINT]
    pool.set_max_sessions(0)
    assert notes == [3, 4, G_MAXUINT, 0]
    c = Pool(max_sessions=7)
    assert c.get_max_sessions() == 7


# --------------------------------------------------------------------------- create

def test_create_ids_22_alnum_unique_unbiased():
    pool = Pool.new()
    sessions = [pool.create() for _ in range(10000)]
    ids = ids_of(sessions)
    assert pool.get_n_sessions() == 10000
    assert all(len(i) == 22 for i in ids)
    assert all(set(i) <= ALNUM for i in ids)
    assert len(set(ids)) == 10000
    # 220000 characters over 62 symbols: ~3548 each, sigma ~59.  A modulo bias
    # (256 % 62 = 8 over-represented symbols, +25 %) or a restricted alphabet shows up.
    counts = Counter("".join(ids))
    assert set(counts) == ALNUM
    expected = 220000 / 62
    assert all(abs(c - expected) < 0.15 * expected for c in counts.values()), counts
    s = sessions[0]
    assert type(s) is S
    assert s.get_timeout() == 60 and s.props.extra_timeout == 5
    assert s.get_header() == s.get_sessionid()


def test_create_fresh_session_is_touched():
    pool = Pool.new()
    t0 = GLib.get_monotonic_time()
    s = pool.create()
    t1 = GLib.get_monotonic_time()
    # last access inside [t0, t1]: not expired 65 s - 1 ms after t0, expired at t1 + 65 s
    assert s.is_expired_usec(t0 + 65 * USEC - 1000) is False
    assert s.is_expired_usec(t1 + 65 * USEC) is True


def test_create_none_at_max_sessions():
    pool = Pool.new()
    pool.set_max_sessions(2)
    a, b = pool.create(), pool.create()
    assert a is not None and b is not None
    assert pool.create() is None
    assert pool.get_n_sessions() == 2
    pool.set_max_sessions(1)                  # lowering never removes sessions
    assert pool.get_n_sessions() == 2 and pool.create() is None
    assert pool.remove(a) is True
    assert pool.create() is None              # 1 >= 1
    assert pool.remove(b) is True
    c = pool.create()
    assert c is not None and pool.get_n_sessions() == 1
    pool.set_max_sessions(0)                  # unlimited
    more = [pool.create() for _ in range(50)]
    assert all(m is not None for m in more) and pool.get_n_sessions() == 51


# --------------------------------------------------------------------------- find

def test_find_returns_same_object():
    pool = Pool.new()
    a, b = pool.create(), pool.create()
    assert pool.find(a.get_sessionid()) is a
    assert pool.find(b.get_sessionid()) is b
    assert pool.find(a.get_sessionid()) is pool.find(a.get_sessionid())


@pytest.mark.parametrize("sid", ["", "nope", "x" * 300, "a;timeout=60"])
def test_find_unknown(sid):
    pool = Pool.new()
    a = pool.create()
    assert pool.find(sid) is None
    assert pool.find(a.get_sessionid()[:-1]) is None
    assert pool.find(a.get_sessionid() + "x") is None
    assert pool.find(a.get_sessionid().swapcase()) is None
    assert pool.get_n_sessions() == 1


def test_find_touches_only_the_found_session():
    pool = Pool.new()
    s, other = pool.create(), pool.create()
    L0 = touch_and_find_last_access(s)
    O0 = touch_and_find_last_access(other)
    spin_until(max(L0, O0) + 5000)            # 5 ms later
    got = []
    L1 = last_access_of(s, lambda: got.append(pool.find(s.get_sessionid())))
    assert got == [s]
    assert L1 >= L0 + 5000
    assert last_access_is(other, O0)          # finding `s` does not touch `other`
    pool.find("unknown")
    assert last_access_is(s, L1) and last_access_is(other, O0)


def test_find_keeps_session_alive_after_remove():
    pool = Pool.new()
    sid = pool.create().get_sessionid()       # only the pool holds it now
    found = pool.find(sid)                    # transfer full
    fin = Finalized(found)
    assert pool.remove(found) is True
    assert not fin
    assert found.get_sessionid() == sid
    del found
    assert fin


# --------------------------------------------------------------------------- remove

def test_remove_twice_and_not_found():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    a, b = pool.create(), pool.create()
    sid = a.get_sessionid()
    assert pool.remove(a) is True
    assert rem.ids == [sid]
    assert pool.remove(a) is False
    assert rem.ids == [sid]                   # no second emission
    assert pool.find(sid) is None
    assert pool.get_n_sessions() == 1
    assert ids_of(pool.filter(None)) == [b.get_sessionid()]
    assert a.get_sessionid() == sid           # still a usable session
    assert rem.bad == []


def test_remove_foreign_session():
    pool, other = Pool.new(), Pool.new()
    a = pool.create()
    stranger = other.create()
    assert pool.remove(stranger) is False
    assert pool.remove(S.new("stranger")) is False
    assert pool.get_n_sessions() == 1 and other.get_n_sessions() == 1
    assert other.find(stranger.get_sessionid()) is stranger
    assert pool.find(a.get_sessionid()) is a


# --------------------------------------------------------------------------- cleanup_usec

def test_cleanup_usec_explicit_times():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    t1 = pool.create()                 # timeout 1, extra 5: due 6 s after last access
    t1.set_timeout(1)
    t1e0 = pool.create()               # timeout 1, extra 0: due after exactly 1 s
    t1e0.set_timeout(1)
    t1e0.props.extra_timeout = 0
    never = pool.create()
    never.set_timeout(0)
    held = pool.create()
    held.set_timeout(1)
    held.props.extra_timeout = 0
    default = pool.create()
    L = {s.get_sessionid(): touch_and_find_last_access(s) for s in (t1, t1e0, held, default)}
    held.prevent_expire()
    n = pool.get_n_sessions()
    assert n == 5

    Le0 = L[t1e0.get_sessionid()]
    assert pool.cleanup_usec(Le0 + USEC - 1000) == 0
    assert pool.cleanup_usec(0) == 0                       # a `now` long in the past
    assert pool.cleanup_usec(Le0 + USEC - 999) == 1        # exactly at its deadline
    assert rem.ids == [t1e0.get_sessionid()]
    assert pool.find(t1e0.get_sessionid()) is None

    L1 = L[t1.get_sessionid()]
    assert pool.cleanup_usec(L1 + 6 * USEC - 1000) == 0    # extra-timeout 5 counts
    assert pool.cleanup_usec(L1 + 6 * USEC - 999) == 1
    assert rem.ids[1:] == [t1.get_sessionid()]

    # far future: only the default session goes; timeout 0 and the prevented one stay
    assert pool.cleanup_usec(L1 + 10**12) == 1
    assert rem.ids[2:] == [default.get_sessionid()]
    assert sorted(ids_of(pool.filter(None))) == sorted(
        [never.get_sessionid(), held.get_sessionid()])
    assert pool.cleanup_usec(L1 + 10**15) == 0

    # allow_expire: counts as touched now, then it expires 1 s later
    t0 = GLib.get_monotonic_time()
    held.allow_expire()
    assert pool.cleanup_usec(t0 + USEC - 1000) == 0
    assert pool.cleanup_usec(GLib.get_monotonic_time() + USEC) == 1
    assert rem.ids[3:] == [held.get_sessionid()]
    assert ids_of(pool.filter(None)) == [never.get_sessionid()]
    assert pool.get_n_sessions() == 1
    assert pool.cleanup_usec(2**62) == 0
    assert rem.bad == []


def test_cleanup_usec_many_and_return_count():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    sess = [pool.create() for _ in range(40)]
    now = GLib.get_monotonic_time()
    for i, s in enumerate(sess):
        s.set_timeout(i % 4)           # 10 of them never expire
        s.props.extra_timeout = 0
    assert pool.cleanup_usec(now + 2 * USEC + 500_000) == 20     # timeouts 1 and 2
    assert pool.get_n_sessions() == 20
    assert sorted(rem.ids) == sorted(s.get_sessionid() for s in sess if s.props.timeout in (1, 2))
    assert pool.cleanup_usec(now + 10 * USEC) == 10              # timeout 3
    assert pool.cleanup_usec(now + 10**12) == 0
    assert pool.get_n_sessions() == 10
    assert len(rem.ids) == 30 and len(set(rem.ids)) == 30


def test_cleanup_usec_timeout_change_after_touch():
    pool = Pool.new()
    s = pool.create()
    L = touch_and_find_last_access(s)
    s.set_timeout(100)                 # lengthened: no longer due at the old deadline
    assert pool.cleanup_usec(L + 65 * USEC) == 0
    s.set_timeout(1)                   # shortened: due earlier than the default
    assert pool.cleanup_usec(L + 6 * USEC - 999) == 1


def test_cleanup_real_clock_nothing_due():
    pool = Pool.new()
    a, b, _ = pool.create(), pool.create(), pool.create()
    a.set_timeout(0)
    b.set_timeout(1)
    b.props.extra_timeout = 0
    assert pool.cleanup() == 0
    assert pool.get_n_sessions() == 3


# --------------------------------------------------------------------------- filter

def test_filter_none_refs_all():
    pool = Pool.new()
    sess = [pool.create() for _ in range(5)]
    got = pool.filter(None)
    assert sorted(ids_of(got)) == sorted(ids_of(sess))
    assert all(pool.find(g.get_sessionid()) is g for g in got)
    assert pool.get_n_sessions() == 5


def test_filter_ref_list_holds_references():
    pool = Pool.new()
    pool.create()
    (s,) = pool.filter(None)
    fin = Finalized(s)
    assert pool.remove(s) is True
    assert not fin and s.get_sessionid()
    del s
    assert fin


def test_filter_remove_keep_ref_each_once():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    sess = [pool.create() for _ in range(9)]
    visited = []
    verdict = {}

    def cb(p, s):
        assert p is pool
        sid = s.get_sessionid()
        visited.append(sid)
        verdict[sid] = (FR.REMOVE, FR.KEEP, FR.REF)[len(visited) % 3]
        assert p.find(sid) is s                 # still in the pool while visited
        return verdict[sid]

    res = pool.filter(cb)
    assert sorted(visited) == sorted(ids_of(sess))       # each exactly once
    want = {r: [sid for sid in visited if verdict[sid] == r] for r in FR.__enum_values__.values()}
    assert ids_of(res) == want[FR.REF][::-1]             # the reference's order: reversed visits
    assert rem.ids == want[FR.REMOVE]                    # one emission per REMOVE, in order
    assert sorted(ids_of(pool.filter(None))) == sorted(want[FR.KEEP] + want[FR.REF])
    assert pool.get_n_sessions() == 6
    assert rem.bad == []


def test_filter_all_keep_and_all_remove():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    sess = [pool.create() for _ in range(4)]
    assert pool.filter(lambda p, s: FR.KEEP) == []
    assert pool.get_n_sessions() == 4 and rem.ids == []
    assert pool.filter(lambda p, s: FR.REMOVE) == []
    assert pool.get_n_sessions() == 0
    assert sorted(rem.ids) == sorted(ids_of(sess))
    assert rem.bad == []


def test_filter_user_data_and_int_results():
    pool = Pool.new()
    sess = [pool.create() for _ in range(3)]
    seen = []

    def cb(p, s, data):
        seen.append(data)
        return 2 if s is sess[0] else 1           # plain ints: REF / KEEP

    assert pool.filter(cb, {"k": 1}) == [sess[0]]
    assert seen == [{"k": 1}] * 3


def test_filter_callback_creates_sessions():
    """Sessions created by the callback are visited, once each (as the reference does,
    and as the session filter does for medias managed by its callback)."""
    pool = Pool.new()
    sess = [pool.create() for _ in range(3)]
    created, visited = [], []

    def cb(p, s):
        visited.append(s.get_sessionid())
        if len(created) < 2:
            created.append(p.create().get_sessionid())
        return FR.REF

    res = pool.filter(cb)
    assert pool.get_n_sessions() == 5
    assert len(visited) == len(set(visited))
    assert sorted(visited) == sorted(ids_of(sess) + created)
    assert ids_of(res) == visited[::-1]


def test_filter_callback_removes_and_finds():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    sess = [pool.create() for _ in range(5)]
    order = []
    pool.filter(lambda p, s: order.append(s.get_sessionid()) or FR.KEEP)
    visited, notes = [], []

    def cb(p, s):
        sid = s.get_sessionid()
        visited.append(sid)
        i = order.index(sid)
        if i == 0:
            notes.append(p.remove(p.find(order[1])))      # not yet visited: skipped
            return FR.KEEP
        if i == 2:
            notes.append(p.remove(s))                     # itself, then REMOVE again
            return FR.REMOVE
        if i == 3:
            notes.append(p.remove(p.find(order[0])))      # already visited
            notes.append(p.find(order[4]) is not None)
        return FR.REF

    res = pool.filter(cb)
    assert visited == [order[0], order[2], order[3], order[4]]
    assert notes == [True, True, True, True]
    assert ids_of(res) == [order[4], order[3]]
    assert rem.ids == [order[1], order[2], order[0]]      # the self-removed one once
    assert sorted(ids_of(pool.filter(None))) == sorted([order[3], order[4]])
    assert len(sess) == 5 and rem.bad == []


def test_filter_nested():
    pool = Pool.new()
    for _ in range(3):
        pool.create()
    inner = []

    def cb(p, s):
        inner.append(len(p.filter(None)))
        return FR.KEEP

    assert pool.filter(cb) == []
    assert inner == [3, 3, 3]


# --------------------------------------------------------------------------- session-removed

def test_session_removed_signal_info():
    sid = GObject.signal_lookup("session-removed", Pool)
    q = GObject.signal_query(sid)
    assert q.signal_flags & GObject.SignalFlags.RUN_LAST
    assert q.return_type == GObject.TYPE_NONE
    assert [t.name for t in q.param_types] == ["RsRTSPSession"]


def test_session_removed_once_per_removal_each_way():
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    a, b, c, d = (pool.create() for _ in range(4))
    assert pool.remove(a) and rem.ids == [a.get_sessionid()]
    pool.remove(a)
    assert len(rem.ids) == 1
    b.set_timeout(1)
    b.props.extra_timeout = 0
    assert pool.cleanup_usec(GLib.get_monotonic_time() + 2 * USEC) == 1
    assert rem.ids[1:] == [b.get_sessionid()]
    assert pool.cleanup_usec(GLib.get_monotonic_time() + 2 * USEC) == 0
    pool.filter(lambda p, s: FR.REMOVE if s is c else FR.KEEP)
    assert rem.ids[2:] == [c.get_sessionid()]
    assert len(rem.ids) == 3 and pool.get_n_sessions() == 1
    assert rem.bad == []


def test_session_removed_handler_sees_usable_session():
    pool = Pool.new()
    a = pool.create()
    a.set_timeout(7)
    log = []

    def h(p, s):
        sid = s.get_sessionid()
        sm = s.manage_media("/x", GObject.Object())      # fully usable
        log.append((sid, s.get_header(), p.find(sid), p.get_n_sessions(),
                    s.get_media("/x/y") == (sm, 2), s.next_timeout_usec(
                        GLib.get_monotonic_time()) > 6000))

    pool.connect("session-removed", h)
    sid = a.get_sessionid()
    del a
    gc.collect()
    pool.filter(lambda p, s: FR.REMOVE)
    assert log == [(sid, sid + ";timeout=7", None, 0, True, True)]


def test_session_removed_handler_may_call_pool():
    pool = Pool.new()
    sess = [pool.create() for _ in range(3)]
    log = []

    def h(p, s):
        log.append(s.get_sessionid())
        if len(log) == 1:
            p.remove(sess[2])            # re-entrant removal from the handler
            p.create()

    pool.connect("session-removed", h)
    assert pool.remove(sess[0]) is True
    assert log == [sess[0].get_sessionid(), sess[2].get_sessionid()]
    assert pool.get_n_sessions() == 2


def test_session_removed_on_pool_dispose(expect_criticals):
    pool = Pool.new()
    kept = [pool.create() for _ in range(3)]
    # sessions only the pool holds
    unheld = [pool.create().get_sessionid() for _ in range(2)]
    got, bad = [], []

    def h(p, s):
        got.append(s.get_sessionid())
        if not (s.get_header() and s.get_timeout() == 60):
            bad.append(s)

    pool.connect("session-removed", h)
    pool.remove(kept[0])
    with expect_criticals("GLib-GObject") as gmsgs, expect_criticals() as msgs:
        del pool
        gc.collect()
    assert gmsgs == [] and msgs == []
    assert got[0] == kept[0].get_sessionid()
    assert sorted(got[1:]) == sorted(ids_of(kept[1:]) + unheld)   # every remaining one
    assert len(got) == 5 and bad == []
    assert all(k.get_sessionid() for k in kept)           # still usable afterwards


def test_pool_dispose_releases_sessions():
    pool = Pool.new()
    s = pool.create()
    fin_s = Finalized(s)
    fin_p = Finalized(pool)
    del s
    assert not fin_s                       # the pool holds it
    del pool
    assert fin_p and fin_s


# --------------------------------------------------------------------------- create_watch

def test_watch_is_a_source_and_holds_the_pool():
    pool = Pool.new()
    src = pool.create_watch()
    assert isinstance(src, GLib.Source)
    fin = Finalized(pool)
    w_ctx = GLib.MainContext.new()
    src.set_callback(lambda ud: True, None)
    src.attach(w_ctx)
    del pool
    assert not fin                         # the source keeps its pool
    src.destroy()
    del src
    assert fin


def test_watch_poll_timeouts_without_waiting():
    pool = Pool.new()
    w = Watch(pool)
    assert w.poll() == (False, -1, False)                  # empty pool: sleep forever
    z = pool.create()
    z.set_timeout(0)
    assert w.poll() == (False, -1, False)                  # only timeout 0: never dispatch
    assert w.ctx.iteration(False) is False
    s = pool.create()                                      # due in 65 s
    t0 = GLib.get_monotonic_time()
    ready, timeout, disp = w.poll()
    slack = (GLib.get_monotonic_time() - t0) // 1000 + 2
    assert (ready, disp) == (False, False)
    assert 65000 - slack <= timeout <= 65000, timeout      # difference 8: not -1
    s.set_timeout(2)
    s.props.extra_timeout = 0
    ready, timeout, disp = w.poll()
    assert (ready, disp) == (False, False) and 1500 <= timeout <= 2000, timeout
    for _ in range(5):                                     # more timeout-0 sessions
        pool.create().set_timeout(0)
    ready, timeout, disp = w.poll()
    assert (ready, disp) == (False, False) and 1500 <= timeout <= 2000, timeout
    pool.remove(s)
    assert w.poll() == (False, -1, False)
    assert w.calls == []
    w.close()


def test_watch_dispatches_after_real_expiry():
    """The only real wait of this file: a session with timeout 1 and extra-timeout 0."""
    pool = Pool.new()
    rem = Removed(pool, usable=S)
    for _ in range(3):
        pool.create().set_timeout(0)                       # must not disturb the watch
    keep = pool.create()
    w = Watch(pool, ret=True, user_data="ud")
    w_false = Watch(pool, ret=False, user_data=42)
    due = pool.create()
    t0 = time.monotonic()
    due.set_timeout(1)
    due.props.extra_timeout = 0
    ready, timeout, disp = w.poll()
    assert (ready, disp) == (False, False) and 500 <= timeout <= 1000, timeout
    assert pool.cleanup() == 0
    # block: wake-ups caused by pool changes may return without dispatching
    while not w.calls and time.monotonic() - t0 < 3.0:
        w.ctx.iteration(True)
    elapsed = time.monotonic() - t0
    assert w.calls == [("ud",)]
    assert 0.95 <= elapsed < 2.0, elapsed
    assert w_false.poll() == (True, 0, True)
    assert w_false.calls == [(42,)] and w_false.src.is_destroyed()
    # the callback does not clean up by itself: the session is still there, due
    # (not asked with find(), which would touch it)
    assert due in pool.filter(None) and due.is_expired_usec(GLib.get_monotonic_time())
    assert w.poll() == (True, 0, True) and len(w.calls) == 2
    # cleanup() with the real clock removes exactly the due session
    assert pool.cleanup() == 1
    assert rem.ids == [due.get_sessionid()] and rem.bad == []
    assert pool.get_n_sessions() == 4 and pool.find(keep.get_sessionid()) is keep
    ready, timeout, disp = w.poll()
    assert (ready, disp) == (False, False) and 63000 <= timeout <= 65000, timeout
    assert len(w.calls) == 2
    w.close()


def test_watch_without_user_data():
    pool = Pool.new()
    src = pool.create_watch()
    calls = []
    src.set_callback(lambda *a: calls.append(a) or True)
    ctx = GLib.MainContext.new()
    src.attach(ctx)
    assert poll_once(ctx)[2] is False and calls == []
    src.destroy()


# --------------------------------------------------------------------------- subclassing

class PySession(R.RTSPSession):
    __gtype_name__ = "RsPyTestPoolSession"

    made_by = GObject.Property(type=str, default="")


class PyPool(R.RTSPSessionPool):
    __gtype_name__ = "RsPyTestPool"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.counter = 0
        self.made = []
        self.removed_log = []

    def do_create_session_id(self):
        self.counter += 1
        return "py-%06d" % self.counter

    def do_create_session(self, sid):
        self.made.append(sid)
        return PySession(sessionid=sid, made_by="PyPool")

    def do_session_removed(self, sess):
        self.removed_log.append(sess.get_sessionid())


def test_subclass_create_uses_both_vfuncs():
    pool = PyPool()
    a, b = pool.create(), pool.create()
    assert (a.get_sessionid(), b.get_sessionid()) == ("py-000001", "py-000002")
    assert pool.made == ["py-000001", "py-000002"]
    assert isinstance(a, PySession) and a.props.made_by == "PyPool"
    assert pool.find("py-000002") is b
    assert type(pool.find("py-000002")) is PySession
    assert pool.get_n_sessions() == 2
    pool.set_max_sessions(2)
    n = pool.counter
    assert pool.create() is None
    assert pool.get_n_sessions() == 2 and pool.counter >= n
    for s in (a, b):
        pool.remove(s)


def test_subclass_session_removed_once_per_removal():
    pool = PyPool()
    signalled = []
    pool.connect("session-removed", lambda p, s: signalled.append(s.get_sessionid()))
    s = [pool.create() for _ in range(5)]
    pool.remove(s[0])
    pool.remove(s[0])
    s[1].set_timeout(1)
    pool.cleanup_usec(GLib.get_monotonic_time() + 10 * USEC)
    pool.filter(lambda p, x: FR.REMOVE if x is s[2] else FR.KEEP)
    assert pool.removed_log == ["py-000001", "py-000002", "py-000003"]
    assert signalled == pool.removed_log
    pool.filter(lambda p, x: FR.REMOVE)              # empty it before dropping
    assert sorted(pool.removed_log[3:]) == ["py-000004", "py-000005"]
    assert pool.get_n_sessions() == 0


def test_subclass_removed_on_dispose(expect_criticals):
    log = []

    class LogPool(R.RTSPSessionPool):
        def do_session_removed(self, sess):
            log.append(sess.get_sessionid())

    pool = LogPool()
    ids = ids_of([pool.create() for _ in range(3)])
    with expect_criticals("GLib-GObject") as gmsgs:
        del pool
        gc.collect()
    assert gmsgs == []
    assert sorted(log) == sorted(ids)


def test_subclass_chains_up_to_default_create_session():
    class ChainPool(R.RTSPSessionPool):
        def do_create_session_id(self):
            return "chain-1" if not self.get_n_sessions() else None

        def do_create_session(self, sid):
            sess = R.RTSPSessionPool.do_create_session(self, sid)
            sess.set_timeout(9)
            return sess

    pool = ChainPool()
    s = pool.create()
    assert type(s) is S and s.get_header() == "chain-1;timeout=9"
    assert pool.create() is None                    # NULL id: create fails
    assert pool.get_n_sessions() == 1
    pool.remove(s)


def test_subclass_default_id_from_parent():
    class Prefixed(R.RTSPSessionPool):
        def do_create_session_id(self):
            return "p" + R.RTSPSessionPool.do_create_session_id(self)

    pool = Prefixed()
    s = pool.create()
    sid = s.get_sessionid()
    assert sid.startswith("p") and len(sid) == 23 and set(sid[1:]) <= ALNUM
    pool.remove(s)


def test_subclass_duplicate_id_gives_up():
    calls = []

    class Const(R.RTSPSessionPool):
        def do_create_session_id(self):
            calls.append(1)
            return "same"

    pool = Const()
    first = pool.create()
    assert first.get_sessionid() == "same"
    assert pool.create() is None                    # never a duplicate, no endless loop
    assert pool.get_n_sessions() == 1 and len(calls) < 1000
    pool.remove(first)


def test_subclass_create_session_none():
    class NoSession(R.RTSPSessionPool):
        def do_create_session(self, sid):
            return None

    pool = NoSession()
    assert pool.create() is None
    assert pool.get_n_sessions() == 0
