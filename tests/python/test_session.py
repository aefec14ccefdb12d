"""Python (PyGObject) tests for RtspSession.RTSPSession and RTSPSessionMedia.

Written against /work/shared/CONTRACT.md (sections Names, RsRTSPSession,
RsRTSPSessionMedia, the enums, the boxed range, "Where we knowingly differ" 1-5).
Time is never slept on: every expiry question is asked with an explicit `now`
derived from GLib.get_monotonic_time() / GLib.get_real_time().
"""
import gc
import warnings

import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import GLib, GObject, RtspSession  # noqa: E402

import pytest  # noqa: E402

from rs_testutil import (  # noqa: E402
    G_MAXINT, G_MAXUINT, PF, RW_BITS, USEC, Finalized, first_true, touch_and_find_last_access,
    tv)

R = RtspSession
S = R.RTSPSession
SM = R.RTSPSessionMedia
FR = R.RTSPFilterResult
ST = R.RTSPState

deprecated_ok = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --------------------------------------------------------------------------- helpers

def paths(sms):
    return [sm.get_path() for sm in sms]


# --------------------------------------------------------------------------- names, types

def test_namespace_and_types():
    assert S.__gtype__.name == "RsRTSPSession"
    assert SM.__gtype__.name == "RsRTSPSessionMedia"
    assert S.__gtype__.is_a(GObject.Object.__gtype__)
    assert SM.__gtype__.is_a(GObject.Object.__gtype__)
    assert R.RTSPFilterResult.__gtype__.name == "RsRTSPFilterResult"
    assert R.RTSPState.__gtype__.name == "RsRTSPState"
    assert R.RTSPFilterResult.__gtype__.is_a(GObject.TYPE_ENUM)
    assert R.RTSPState.__gtype__.is_a(GObject.TYPE_ENUM)
    assert R.RTSPRange.__gtype__.name == "RsRTSPRange"
    assert R.RTSPRange.__gtype__.is_a(GObject.TYPE_BOXED)


def test_filter_result_enum():
    assert (int(FR.REMOVE), int(FR.KEEP), int(FR.REF)) == (0, 1, 2)
    vals = {int(v): v.value_nick for v in FR.__enum_values__.values()}
    assert vals == {0: "remove", 1: "keep", 2: "ref"}


def test_rtsp_state_enum():
    expected = ["invalid", "init", "ready", "seeking", "playing", "recording"]
    for i, name in enumerate(expected):
        assert int(getattr(ST, name.upper())) == i
    vals = {int(v): v.value_nick for v in ST.__enum_values__.values()}
    assert vals == dict(enumerate(expected))


def test_rtsp_range_boxed():
    r = R.RTSPRange()
    assert (r.min, r.max) == (0, 0)
    r.min, r.max = 7, 9
    c = r.copy()
    assert isinstance(c, R.RTSPRange)
    assert (c.min, c.max) == (7, 9)
    c.min = 1
    assert r.min == 7  # a real copy
    v = GObject.Value(R.RTSPRange)
    v.set_boxed(r)
    assert v.get_boxed().max == 9


# --------------------------------------------------------------------------- construction, id, header

def test_new_and_sessionid():
    s = S.new("abc123")
    assert isinstance(s, S)
    assert s.get_sessionid() == "abc123"
    assert s.props.sessionid == "abc123"
    assert s.get_timeout() == 60


def test_new_none_rejected():
    # sessionid is not nullable in the GIR: NULL is a programmer error.
    with pytest.raises(TypeError):
        S.new(None)


def test_constructed_with_property():
    s = S(sessionid="prop-id", timeout=30)
    assert s.get_sessionid() == "prop-id"
    assert s.get_timeout() == 30
    assert s.get_header() == "prop-id;timeout=30"


def test_no_id_session():
    s = S()
    assert s.get_sessionid() is None
    assert s.props.sessionid is None
    assert s.get_header() is None          # contract difference 5
    s.set_timeout(10)
    assert s.get_header() is None
    s.props.timeout_always_visible = True
    assert s.get_header() is None


def test_sessionid_construct_only():
    s = S.new("fixed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.props.sessionid = "other"  # GObject refuses (a g_warning, not an exception)
    assert s.get_sessionid() == "fixed"


@pytest.mark.parametrize("timeout, visible, extra, header", [
    (60, False, 5, "abc"),
    (60, True, 5, "abc;timeout=60"),
    (30, False, 5, "abc;timeout=30"),
    (61, False, 5, "abc;timeout=61"),
    (0, False, 5, "abc;timeout=0"),
    (1, True, 5, "abc;timeout=1"),
    (60, False, 100, "abc"),                     # extra-timeout never shown
    (2147483647, False, 5, "abc;timeout=2147483647"),
    (2147483648, False, 5, "abc;timeout=2147483648"),   # unsigned (difference 2)
    (4294967295, False, 5, "abc;timeout=4294967295"),   # unsigned (difference 2)
])
def test_get_header(timeout, visible, extra, header):
    s = S.new("abc")
    s.set_timeout(timeout)
    s.props.timeout_always_visible = visible
    s.props.extra_timeout = extra
    assert s.get_header() == header


def test_header_follows_changes():
    s = S.new("h")
    assert s.get_header() == "h"
    s.set_timeout(5)
    assert s.get_header() == "h;timeout=5"
    s.set_timeout(60)
    assert s.get_header() == "h"
    s.props.timeout_always_visible = True
    assert s.get_header() == "h;timeout=60"
    s.props.timeout_always_visible = False
    assert s.get_header() == "h"


# --------------------------------------------------------------------------- properties

@pytest.mark.parametrize("name, vtype, default, flags, rng", [
    ("sessionid", GObject.TYPE_STRING, None, PF.READABLE | PF.WRITABLE | PF.CONSTRUCT_ONLY, None),
    ("timeout", GObject.TYPE_UINT, 60, PF.READABLE | PF.WRITABLE, (0, G_MAXUINT)),
    ("timeout-always-visible", GObject.TYPE_BOOLEAN, False, PF.READABLE | PF.WRITABLE, None),
    ("extra-timeout", GObject.TYPE_UINT, 5, PF.READABLE | PF.WRITABLE, (0, G_MAXUINT)),
])
def test_pspec(name, vtype, default, flags, rng):
    pspec = S.find_property(name)
    assert pspec is not None
    assert pspec.name == name
    assert pspec.value_type == vtype
    assert pspec.default_value == default
    assert int(pspec.flags & RW_BITS) == int(flags)
    if rng is not None:
        assert (pspec.minimum, pspec.maximum) == rng
    if name != "sessionid":
        # "setters notify only on change"
        assert pspec.flags & PF.EXPLICIT_NOTIFY
    assert pspec.owner_type == S.__gtype__


def test_property_list():
    assert sorted(p.name for p in S.list_properties()) == sorted(
        ["sessionid", "timeout", "timeout-always-visible", "extra-timeout", "owner"])


def test_property_defaults_and_roundtrip():
    s = S.new("p")
    assert s.props.timeout == 60
    assert s.props.timeout_always_visible is False
    assert s.props.extra_timeout == 5
    s.props.timeout = 4294967295
    assert s.get_timeout() == 4294967295
    s.set_timeout(0)
    assert s.props.timeout == 0
    s.props.extra_timeout = 4294967295
    assert s.props.extra_timeout == 4294967295
    s.set_property("timeout-always-visible", True)
    assert s.get_property("timeout-always-visible") is True
    with pytest.raises((OverflowError, TypeError, ValueError)):
        s.props.timeout = -1
    with pytest.raises((OverflowError, TypeError, ValueError)):
        s.props.timeout = 2**32


@pytest.mark.parametrize("prop, first, second", [
    ("timeout", 60, 30),
    ("timeout-always-visible", False, True),
    ("extra-timeout", 5, 9),
])
def test_notify_only_on_change_props(prop, first, second):
    s = S.new("n")
    seen = []
    s.connect("notify::" + prop, lambda obj, pspec: seen.append(pspec.name))
    s.set_property(prop, first)          # same as the default: no notify
    assert seen == []
    s.set_property(prop, second)
    assert seen == [prop]
    s.set_property(prop, second)
    assert seen == [prop]
    s.set_property(prop, first)
    assert seen == [prop, prop]


def test_notify_set_timeout():
    s = S.new("n")
    seen = []
    s.connect("notify::timeout", lambda obj, pspec: seen.append(obj.get_timeout()))
    other = []
    s.connect("notify", lambda obj, pspec: other.append(pspec.name))
    s.set_timeout(60)
    assert seen == []
    s.set_timeout(0)
    assert seen == [0]
    s.set_timeout(0)
    assert seen == [0]
    s.set_timeout(4294967295)
    assert seen == [0, 4294967295]
    assert other == ["timeout", "timeout"]


def test_notify_frozen_and_touch_silent():
    s = S.new("n")
    seen = []
    s.connect("notify", lambda obj, pspec: seen.append(pspec.name))
    s.touch()
    s.prevent_expire()
    s.allow_expire()
    s.next_timeout_usec(GLib.get_monotonic_time())
    assert seen == []


# --------------------------------------------------------------------------- timeouts

def test_next_timeout_usec_arithmetic():
    s = S.new("t")
    L = touch_and_find_last_access(s)
    assert s.next_timeout_usec(L) == 65000
    assert s.next_timeout_usec(L - 1) == 65000          # floor((65e6 + 1) / 1000)
    assert s.next_timeout_usec(L + 1) == 64999          # floor((65e6 - 1) / 1000)
    assert s.next_timeout_usec(L + 1 * USEC) == 64000
    assert s.next_timeout_usec(L + 60 * USEC) == 5000   # extra-timeout counts
    assert s.next_timeout_usec(L + 65 * USEC - 1000) == 1
    assert s.next_timeout_usec(L + 65 * USEC - 999) == 0
    assert s.next_timeout_usec(L + 65 * USEC) == 0
    assert s.next_timeout_usec(L + 66 * USEC) == 0
    assert s.next_timeout_usec(L + 10**12) == 0
    assert s.next_timeout_usec(L - 1 * USEC) == 66000
    assert s.is_expired_usec(L) is False
    assert s.is_expired_usec(L + 65 * USEC - 1000) is False
    assert s.is_expired_usec(L + 65 * USEC - 999) is True
    assert s.is_expired_usec(L + 65 * USEC) is True


def test_next_timeout_usec_saturates_low_side():
    s = S.new("t")
    L = touch_and_find_last_access(s)
    # far in the past: (65 s + 10^7 s) in ms > G_MAXINT -> clamped
    assert s.next_timeout_usec(L - 10**13) == G_MAXINT
    assert s.next_timeout_usec(L - (G_MAXINT * 1000 - 65 * USEC)) == G_MAXINT
    assert s.next_timeout_usec(L - (G_MAXINT * 1000 - 65 * USEC) + 1000) == G_MAXINT - 1


def test_timeout_extra_changes():
    s = S.new("t")
    s.set_timeout(10)
    s.props.extra_timeout = 0
    L = touch_and_find_last_access(s)
    assert s.next_timeout_usec(L) == 10000
    assert s.next_timeout_usec(L + 10 * USEC - 999) == 0
    s.props.extra_timeout = 2
    assert s.next_timeout_usec(L) == 12000


def test_timeout_zero_never_expires():
    s = S.new("z")
    s.set_timeout(0)
    now = GLib.get_monotonic_time()
    s.touch()
    for d in (0, USEC, 10**12, -10**12):
        assert s.next_timeout_usec(now + d) == -1
        assert s.is_expired_usec(now + d) is False


def test_huge_timeout_saturates():
    # difference 1: 64-bit arithmetic, saturation at G_MAXINT
    s = S.new("big")
    s.set_timeout(4294967295)
    now = GLib.get_monotonic_time()
    s.touch()
    assert s.next_timeout_usec(now) == G_MAXINT
    assert s.is_expired_usec(now + 10**12) is False
    # just below the saturation point
    s2 = S.new("edge")
    s2.set_timeout(2147478)  # (2147478 + 5) s = 2147483000 ms < G_MAXINT
    L = touch_and_find_last_access(s2)
    assert s2.next_timeout_usec(L) == 2147483000
    s2.set_timeout(2147479)  # 2147484000 ms > G_MAXINT
    assert s2.next_timeout_usec(L) == G_MAXINT
    # the huge total is still honoured for expiry (no wrap)
    s3 = S.new("huge")
    s3.set_timeout(4294967295)
    s3.props.extra_timeout = 4294967295
    L3 = touch_and_find_last_access(s3)
    assert s3.is_expired_usec(L3 + 8589934590 * USEC - 1000) is False
    assert s3.is_expired_usec(L3 + 8589934590 * USEC - 999) is True


def test_touch_moves_last_access():
    s = S.new("t")
    L1 = touch_and_find_last_access(s)
    L2 = touch_and_find_last_access(s)
    assert L2 >= L1


# --------------------------------------------------------------------------- prevent / allow expire

def test_prevent_expire_holds_for_any_now():
    s = S.new("p")
    now = GLib.get_monotonic_time()
    s.touch()
    s.prevent_expire()
    for d in (0, 65 * USEC, 10**9, 10**13, -10**9):
        assert s.next_timeout_usec(now + d) == 65000
        assert s.is_expired_usec(now + d) is False
    s.set_timeout(10)
    assert s.next_timeout_usec(now + 10**9) == 15000
    s.set_timeout(4294967295)
    assert s.next_timeout_usec(now + 10**9) == G_MAXINT
    s.allow_expire()


def test_prevent_expire_nesting_and_retouch():
    s = S.new("p")
    now = GLib.get_monotonic_time()
    s.touch()
    s.prevent_expire()
    s.prevent_expire()
    s.allow_expire()
    assert s.is_expired_usec(now + 10**9) is False          # still one level
    assert s.next_timeout_usec(now + 10**9) == 65000
    a0 = GLib.get_monotonic_time()
    s.allow_expire()                                          # back to zero: touched now
    a1 = GLib.get_monotonic_time()
    assert s.is_expired_usec(now + 10**9) is True
    off = 65 * USEC - 999
    L = first_true(s.is_expired_usec, a0 + off - 2000, a1 + off) - off
    assert a0 <= L <= a1, "allow_expire back to zero must count as a touch"


def test_unbalanced_allow_expire_is_refused(expect_criticals):
    s = S.new("u")
    with expect_criticals() as msgs:
        s.allow_expire()
    assert len(msgs) == 1, msgs
    now = GLib.get_monotonic_time()
    s.touch()
    # counter stayed at 0: the session is not prevented ...
    assert s.is_expired_usec(now + 10**9) is True
    # ... and a single prevent_expire is enough to hold it (not -1 + 1 = 0)
    s.prevent_expire()
    assert s.is_expired_usec(now + 10**9) is False
    assert s.next_timeout_usec(now + 10**9) == 65000
    with expect_criticals() as msgs:
        s.allow_expire()
    assert msgs == []
    assert s.is_expired_usec(now + 10**9) is True


def test_prevent_with_timeout_zero():
    s = S.new("p0")
    s.set_timeout(0)
    s.prevent_expire()
    now = GLib.get_monotonic_time()
    assert s.is_expired_usec(now + 10**9) is False
    # reference (gst-rtsp-server 1.22) answers -1 here: timeout 0 is checked first
    assert s.next_timeout_usec(now) == -1
    s.allow_expire()


# --------------------------------------------------------------------------- deprecated GTimeVal API

@deprecated_ok
def test_deprecated_next_timeout_and_is_expired():
    s = S.new("d")
    r0 = GLib.get_real_time()
    s.touch()
    r1 = GLib.get_real_time()
    off = 65 * USEC - 999
    thr = first_true(lambda x: s.is_expired(tv(x)), r0 + off - 2000, r1 + off)
    L = thr - off
    assert r0 <= L <= r1
    # The wall-clock last access is derived from the monotonic one through the
    # clocks' offset, read at each call: allow a millisecond of that jitter.
    assert abs(s.next_timeout(tv(L)) - 65000) <= 1
    assert abs(s.next_timeout(tv(L + USEC)) - 64000) <= 1
    assert abs(s.next_timeout(tv(L - USEC)) - 66000) <= 1
    assert s.next_timeout(tv(L + 100 * USEC)) == 0
    assert s.is_expired(tv(L)) is False
    assert s.is_expired(tv(L + 100 * USEC)) is True      # difference 4
    s.set_timeout(0)
    assert s.next_timeout(tv(L + 100 * USEC)) == -1
    assert s.is_expired(tv(L + 100 * USEC)) is False


@deprecated_ok
def test_deprecated_prevent_expire():
    s = S.new("d")
    r = GLib.get_real_time()
    s.touch()
    s.prevent_expire()
    assert s.is_expired(tv(r + 10**9)) is False
    assert s.next_timeout(tv(r + 10**9)) == 65000
    s.allow_expire()
    assert s.is_expired(tv(r + 10**9)) is True


# --------------------------------------------------------------------------- medias

def test_manage_media_basic():
    s = S.new("m")
    media = GObject.Object()
    sm = s.manage_media("/test", media)
    assert isinstance(sm, SM)
    assert sm.get_path() == "/test"
    assert sm.get_media() is media
    assert sm.get_rtsp_state() == ST.INIT
    got, matched = s.get_media("/test")
    assert got is sm and matched == 5
    dup, matched = s.dup_media("/test/stream=0")
    assert dup is sm and matched == 5
    assert s.get_media("/other") == (None, 0)
    assert s.dup_media("/other") == (None, 0)
    assert s.filter(None) == [sm]


def test_manage_media_any_gobject():
    s = S.new("m")
    sm = s.manage_media("/x", Gio_like_object())
    assert sm.get_media().get_property("name") == "custom"


class Gio_like_object(GObject.Object):
    __gtype_name__ = "RsPyTestCustomMedia"
    name = GObject.Property(type=str, default="custom")


def test_get_media_longest_match_and_tie():
    s = S.new("m")
    m_a1 = s.manage_media("/a", GObject.Object())
    m_ab = s.manage_media("/a/b", GObject.Object())
    m_a2 = s.manage_media("/a", GObject.Object())      # tie with m_a1, newer
    m_root = s.manage_media("/", GObject.Object())
    assert s.get_media("/a/b/c") == (m_ab, 4)
    assert s.get_media("/a/b") == (m_ab, 4)
    assert s.get_media("/a/bc") == (m_a2, 2)
    assert s.get_media("/a") == (m_a2, 2)
    assert s.get_media("/a/") == (m_a2, 2)
    assert s.get_media("/ab") == (m_root, 1)
    assert s.get_media("/zzz") == (m_root, 1)
    assert s.get_media("zzz") == (None, 0)
    assert s.get_media("") == (None, 0)
    assert s.dup_media("/a/x") == (m_a2, 2)
    assert s.release_media(m_a2) is True
    assert s.get_media("/a") == (m_a1, 2)


def test_newest_wins_for_root_tie():
    s = S.new("m")
    first = s.manage_media("/", GObject.Object())
    second = s.manage_media("/", GObject.Object())
    assert s.get_media("/x") == (second, 1)
    s.release_media(second)
    assert s.get_media("/x") == (first, 1)


def test_release_media_return_values():
    s = S.new("r")
    a = s.manage_media("/a", GObject.Object())
    b = s.manage_media("/b", GObject.Object())
    stranger = SM.new("/c", GObject.Object())
    assert s.release_media(stranger) is True     # not in it, still has medias
    assert s.release_media(a) is True            # b remains
    assert s.release_media(a) is True            # already gone, b remains
    assert s.release_media(b) is False           # now empty
    assert s.release_media(b) is False
    assert s.release_media(stranger) is False
    assert s.filter(None) == []
    assert s.get_media("/a") == (None, 0)


def test_release_media_drops_reference():
    s = S.new("life")
    media = GObject.Object()
    fin = Finalized(media)
    sm = s.manage_media("/a", media)
    del media
    assert not fin, "the session must keep the media alive"
    assert s.release_media(sm) is False
    assert not fin, "the Python wrapper of sm still holds the session media"
    del sm
    assert fin, "release_media must drop the library's reference"


def test_dup_media_holds_reference():
    s = S.new("life")
    media = GObject.Object()
    fin = Finalized(media)
    s.manage_media("/a", media)
    del media
    dup, _ = s.dup_media("/a")
    assert s.release_media(dup) is False
    assert not fin
    del dup
    assert fin


def test_session_finalize_drops_medias():
    s = S.new("life")
    media = GObject.Object()
    fin_media = Finalized(media)
    fin_sess = Finalized(s)
    s.manage_media("/a", media)
    del media
    assert not fin_media
    del s
    assert fin_sess
    assert fin_media


def test_filter_remove_drops_reference():
    s = S.new("life")
    media = GObject.Object()
    fin = Finalized(media)
    s.manage_media("/a", media)
    del media
    assert s.filter(lambda sess, sm: FR.REMOVE) == []
    assert fin
    assert s.filter(None) == []


# --------------------------------------------------------------------------- filter

def _three(s):
    a = s.manage_media("/a", GObject.Object())
    b = s.manage_media("/b", GObject.Object())
    c = s.manage_media("/c", GObject.Object())
    return a, b, c


def test_filter_none_refs_all():
    s = S.new("f")
    a, b, c = _three(s)
    res = s.filter(None)
    assert set(res) == {a, b, c} and len(res) == 3
    # as gst-rtsp-server: visited newest first, list returned in reverse visit order
    assert res == [a, b, c]
    assert s.filter(None) == [a, b, c]   # nothing removed


def test_filter_visit_order_and_results():
    s = S.new("f")
    a, b, c = _three(s)
    visited = []
    verdict = {"/a": FR.REMOVE, "/b": FR.KEEP, "/c": FR.REF}

    def cb(sess, sm):
        assert sess is s
        visited.append(sm.get_path())
        return verdict[sm.get_path()]

    res = s.filter(cb)
    assert visited == ["/c", "/b", "/a"]          # newest first
    assert res == [c]
    assert paths(s.filter(None)) == ["/b", "/c"]


def test_filter_keep_returns_empty_list():
    s = S.new("f")
    _three(s)
    assert s.filter(lambda sess, sm: FR.KEEP) == []
    assert len(s.filter(None)) == 3


def test_filter_user_data_and_int_results():
    s = S.new("f")
    _three(s)
    seen = []

    def cb(sess, sm, data):
        seen.append(data)
        return 2  # plain int == REF

    res = s.filter(cb, "payload")
    assert seen == ["payload"] * 3
    assert len(res) == 3


def test_filter_callback_mutates_session():
    s = S.new("f")
    a, b, c = _three(s)
    visited = []
    added = []

    def cb(sess, sm):
        visited.append(sm.get_path())
        if sm is c:
            added.append(sess.manage_media("/d", GObject.Object()))  # no deadlock
            assert sess.release_media(b) is True
            got, matched = sess.get_media("/a/x")
            assert got is a and matched == 2
            assert sess.dup_media("/d") == (added[0], 2)
            sess.set_timeout(30)
            assert sess.get_header() == "f;timeout=30"
        return FR.REF

    res = s.filter(cb)
    # same as gst-rtsp-server: the media added during the walk is visited,
    # the one released before its turn is not; each media visited at most once
    assert visited == ["/c", "/d", "/a"]
    assert paths(res) == ["/a", "/d", "/c"]
    assert paths(s.filter(None)) == ["/a", "/c", "/d"]


def test_filter_callback_releases_current_and_others():
    s = S.new("f")
    a, b, c = _three(s)
    visited = []

    def cb(sess, sm):
        visited.append(sm.get_path())
        sess.release_media(sm)
        return FR.KEEP

    assert s.filter(cb) == []
    assert visited == ["/c", "/b", "/a"]
    assert s.filter(None) == []


def test_filter_nested_filter():
    s = S.new("f")
    _three(s)
    inner = []

    def cb(sess, sm):
        inner.append(len(sess.filter(None)))
        return FR.KEEP

    s.filter(cb)
    assert inner == [3, 3, 3]


def test_filter_ref_list_outlives_session():
    s = S.new("f")
    media = GObject.Object()
    fin = Finalized(media)
    s.manage_media("/a", media)
    del media
    res = s.filter(None)
    del s
    gc.collect()
    assert not fin
    assert res[0].get_path() == "/a"
    del res
    assert fin


# --------------------------------------------------------------------------- RTSPSessionMedia

def test_session_media_new_and_accessors():
    media = GObject.Object()
    sm = SM.new("/stream", media)
    assert sm.get_path() == "/stream"
    assert sm.get_media() is media
    assert sm.get_rtsp_state() == ST.INIT
    for st in (ST.INVALID, ST.READY, ST.SEEKING, ST.PLAYING, ST.RECORDING, ST.INIT):
        sm.set_rtsp_state(st)
        assert sm.get_rtsp_state() == st


def test_session_media_new_lifetime():
    media = GObject.Object()
    fin = Finalized(media)
    sm = SM.new("/x", media)
    del media
    assert not fin
    del sm
    assert fin


MATCH_TABLE = [
    # media path, request path, expected (result, matched) -- matched only meaningful when True
    ("/test", "/test", True, 5),
    ("/test", "/testX", False, 0),
    ("/test", "/test/", True, 5),
    ("/test", "/test/x", True, 5),
    ("/test", "/tes", False, 0),
    ("/test", "", False, 0),
    ("/test", "x", False, 0),
    ("/test/", "/test/", True, 6),
    ("/test/", "/test/x", False, 0),
    ("/test/", "/test", False, 0),
    ("/", "/", True, 1),
    ("/", "/a", True, 1),
    ("/", "/a/b", True, 1),
    ("/", "x", False, 0),
    ("/", "", False, 0),
    ("/a", "/a", True, 2),
    ("/a", "/ab", False, 0),
    ("/a", "/a/b", True, 2),
    ("/a/b", "/a", False, 0),
    ("/a/b", "/a/b/c", True, 4),
    ("/a/b", "/a/bc", False, 0),
    ("", "", True, 0),
    ("", "/x", True, 0),
]


@pytest.mark.parametrize("mpath, path, ok, matched", MATCH_TABLE)
def test_matches(mpath, path, ok, matched):
    sm = SM.new(mpath, GObject.Object())
    assert tuple(sm.matches(path)) == (ok, matched)


def test_alloc_channels():
    sm = SM.new("/a", GObject.Object())
    got = []
    for _ in range(4):
        ok, rng = sm.alloc_channels()
        assert ok is True
        assert isinstance(rng, R.RTSPRange)
        got.append((rng.min, rng.max))
    assert got == [(0, 1), (2, 3), (4, 5), (6, 7)]
    other = SM.new("/b", GObject.Object())
    ok, rng = other.alloc_channels()
    assert (ok, rng.min, rng.max) == (True, 0, 1)     # per session media


# --------------------------------------------------------------------------- Python subclass

class MySession(R.RTSPSession):
    __gtype_name__ = "RsPyTestMySession"

    owner_name = GObject.Property(type=str, default="nobody")

    def describe(self):
        return "%s@%s" % (self.get_sessionid(), self.owner_name)


def test_python_subclass():
    s = MySession(sessionid="sub-1", owner_name="alice")
    assert isinstance(s, S)
    assert s.__gtype__.is_a(S.__gtype__)
    assert s.describe() == "sub-1@alice"
    assert s.get_sessionid() == "sub-1"
    assert s.get_header() == "sub-1"
    assert s.props.owner_name == "alice"
    assert s.props.timeout == 60
    s.set_timeout(9)
    assert s.get_header() == "sub-1;timeout=9"
    media = GObject.Object()
    sm = s.manage_media("/sub", media)
    assert s.get_media("/sub/x") == (sm, 4)
    seen = []

    def cb(sess, m):
        seen.append(sess)
        return FR.REF

    assert s.filter(cb) == [sm]
    assert seen[0] is s and isinstance(seen[0], MySession)
    now = GLib.get_monotonic_time()
    s.touch()
    assert s.is_expired_usec(now) is False
    assert s.release_media(sm) is False
    names = [p.name for p in MySession.list_properties()]
    assert "owner-name" in names and "sessionid" in names


def test_python_subclass_default_construct():
    s = MySession()
    assert s.get_sessionid() is None
    assert s.get_header() is None
    assert s.describe() == "None@nobody"
