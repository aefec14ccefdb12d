"""Python (PyGObject) tests for the security extensions of librtspsession.

Written against /work/shared/CONTRACT.md section "Extensions" and the API docs of
rs_rtsp_session_id_is_valid, rs_rtsp_session_header_parse, RsRTSPSession:owner,
rs_rtsp_session_pool_find / find_owned and rs_rtsp_session_pool_create (id validation).

Byte-level input.  PyGObject passes a Python str as UTF-8, so a str can neither carry a
single byte >= 0x80 (chr(0xE9) becomes b"\\xc3\\xa9") nor a non-UTF-8 sequence.  Those
cases are tested both through PyGObject (the multi-byte UTF-8 form) and through ctypes,
calling the same already loaded librtspsession-1.0.so.0 with raw bytes.

Timing.  PyGObject converts a str argument to UTF-8 (and copies it) on every call:
about 20 ms for 16 MiB, far more than the C function itself.  The contract ("refused
after reading at most 257 bytes") is therefore measured on the C side through ctypes,
where a prebuilt bytes object is passed by pointer without any conversion.  Through
PyGObject, find() on a huge string is only compared with GLib.str_has_prefix() on the
same string, which pays the same conversion and does O(1) work in C.

Time for expiry/touch questions is asked with explicit monotonic `now` values by
bisection (helpers in tests/common/rs_testutil.py).
"""
import contextlib
import ctypes
import statistics
import string
import time

import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import GLib, GObject, RtspSession  # noqa: E402

import pytest  # noqa: E402

from rs_testutil import (  # noqa: E402
    G_MAXUINT, RW_BITS, last_access_is, last_access_of, spin_until, touch_and_find_last_access)

R = RtspSession
S = R.RTSPSession
Pool = R.RTSPSessionPool
E = R.RTSPSessionError

MIB = 1 << 20

ALLOWED = set(string.ascii_letters + string.digits + "$-_.+")
assert len(ALLOWED) == 67      # 52 letters + 10 digits + "$-_.+"

id_is_valid = S.id_is_valid
header_parse = S.header_parse


# --------------------------------------------------------------------------- helpers

@pytest.fixture(name="no_criticals")
def _no_criticals_fixture(expect_criticals):
    """A context manager asserting that nothing CRITICAL/WARNING is logged in the
    library's domain, GLib-GObject or GLib inside the block."""

    @contextlib.contextmanager
    def cm():
        with expect_criticals() as a, expect_criticals("GLib-GObject") as b, \
                expect_criticals("GLib") as c:
            yield
        assert (a, b, c) == ([], [], []), (a, b, c)

    return cm


def parse_error(value):
    """header_parse(value) must raise a GLib.Error of our domain; return it."""
    with pytest.raises(GLib.Error) as ei:
        header_parse(value)
    err = ei.value
    assert err.domain == GLib.quark_to_string(R.rtsp_session_error_quark()), err.domain
    return err


def assert_parse_error(value, code):
    err = parse_error(value)
    assert err.code == int(code), (value[:80], err.code, err.message)
    assert err.matches(R.rtsp_session_error_quark(), code)
    assert err.message


def parsed(value):
    ok, sid, timeout = header_parse(value)
    assert ok is True
    return sid, timeout


# ctypes access to the same library, for raw bytes and for timing the C side.
_lib = ctypes.CDLL("librtspsession-1.0.so.0")
_lib.rs_rtsp_session_pool_find.restype = ctypes.c_void_p
_lib.rs_rtsp_session_pool_find.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.rs_rtsp_session_pool_find_owned.restype = ctypes.c_void_p
_lib.rs_rtsp_session_pool_find_owned.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                 ctypes.c_char_p]
_lib.rs_rtsp_session_id_is_valid.restype = ctypes.c_int
_lib.rs_rtsp_session_id_is_valid.argtypes = [ctypes.c_char_p]
_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gobject.g_object_unref.argtypes = [ctypes.c_void_p]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def gptr(obj):
    return _capsule_pointer(obj.__gpointer__, None)


def c_find(pool, raw):
    """rs_rtsp_session_pool_find with raw bytes; returns the GObject address or None
    (dropping the transfer-full reference it returned)."""
    p = _lib.rs_rtsp_session_pool_find(gptr(pool), raw)
    if p:
        _gobject.g_object_unref(p)
    return p


def c_find_owned(pool, raw, owner):
    p = _lib.rs_rtsp_session_pool_find_owned(gptr(pool), raw, owner)
    if p:
        _gobject.g_object_unref(p)
    return p


def per_call_medians(funcs, batch, rounds):
    """Interleaved timing: for each round run every func `batch` times; return the
    median per-call time in seconds of each func."""
    samples = [[] for _ in funcs]
    for _ in range(rounds):
        for i, f in enumerate(funcs):
            t0 = time.perf_counter()
            for _ in range(batch):
                f()
            samples[i].append((time.perf_counter() - t0) / batch)
    return [statistics.median(s) for s in samples]


class IdPool(R.RTSPSessionPool):
    """A pool whose create_session_id hands out the ids queued in `ids`."""
    __gtype_name__ = "RsPyTestSecurityIdPool"

    def __init__(self, ids=(), **kw):
        super().__init__(**kw)
        self.ids = list(ids)
        self.asked = 0
        self.made = []

    def do_create_session_id(self):
        self.asked += 1
        return self.ids.pop(0)

    def do_create_session(self, sid):
        self.made.append(sid)
        return R.RTSPSessionPool.do_create_session(self, sid)


class OwnedSession(R.RTSPSession):
    __gtype_name__ = "RsPyTestSecurityOwnedSession"

    role = GObject.Property(type=str, default="")


class OwnerPool(R.RTSPSessionPool):
    """Makes OwnedSession objects already bound to `next_owner`."""
    __gtype_name__ = "RsPyTestSecurityOwnerPool"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.next_owner = None

    def do_create_session(self, sid):
        return OwnedSession(sessionid=sid, owner=self.next_owner, role="sub")


# --------------------------------------------------------------------------- 1. id_is_valid

def test_id_is_valid_accepts():
    assert id_is_valid("a") is True
    for c in sorted(ALLOWED):
        assert id_is_valid(c) is True, c
    assert id_is_valid("$-_.+") is True
    assert id_is_valid("Ab0$-_.+z9") is True
    all66 = "".join(sorted(ALLOWED))
    assert id_is_valid(all66) is True
    assert id_is_valid((all66 * 4)[:256]) is True
    assert id_is_valid("a" * 255) is True
    assert id_is_valid("a" * 256) is True
    assert id_is_valid("+" * 256) is True


def test_id_is_valid_rejects_length_and_none():
    assert id_is_valid(None) is False
    assert id_is_valid("") is False
    assert id_is_valid("a" * 257) is False
    assert id_is_valid("a" * 256 + "!") is False
    assert id_is_valid("a" * 300) is False
    assert id_is_valid("a" * MIB) is False
    assert id_is_valid("a" * (MIB - 1) + " ") is False


@pytest.mark.parametrize("sid", [
    " ", "a b", " ab", "ab ", "\tab", "ab\t", "ab;", "ab;timeout=5", "a=b", "ab=",
    '"ab"', "'ab'", 'a"b', "a'b", "a,b", "a:b", "a/b", "a\\b", "a\r\nb", "ab\n",
    "a%20b", "a*b", "a~b", "a!b", "a#b", "é", "abé", "a\u20acb", "a\U0001F600",
])
def test_id_is_valid_rejects_chars(sid):
    assert id_is_valid(sid) is False


def test_id_is_valid_every_byte_value_as_str():
    # chr(c) for c >= 0x80 reaches C as 2 UTF-8 bytes: never valid.
    for c in range(1, 256):
        ch = chr(c)
        want = ch in ALLOWED
        assert id_is_valid(ch) is want, hex(c)
        assert id_is_valid("abc" + ch + "def") is want, hex(c)
        assert id_is_valid(ch + "abcdef") is want, hex(c)
        assert id_is_valid("abcdef" + ch) is want, hex(c)
        assert id_is_valid("a" * 255 + ch) is want, hex(c)       # 256th char
        assert id_is_valid("a" * 256 + ch) is False, hex(c)      # 257th char


def test_id_is_valid_every_byte_value_raw_c():
    # The real single bytes, including 0x80..0xFF and non-UTF-8, through ctypes.
    assert _lib.rs_rtsp_session_id_is_valid(None) == 0
    assert _lib.rs_rtsp_session_id_is_valid(b"") == 0
    assert _lib.rs_rtsp_session_id_is_valid(b"a" * 256) == 1
    assert _lib.rs_rtsp_session_id_is_valid(b"a" * 257) == 0
    for c in range(1, 256):
        b = bytes([c])
        want = int(chr(c) in ALLOWED)
        assert _lib.rs_rtsp_session_id_is_valid(b) == want, hex(c)
        assert _lib.rs_rtsp_session_id_is_valid(b"abc" + b + b"def") == want, hex(c)
        assert _lib.rs_rtsp_session_id_is_valid(b"a" * 255 + b) == want, hex(c)


# --------------------------------------------------------------------------- 2. header_parse

def test_error_domain_and_enum():
    q = R.rtsp_session_error_quark()
    assert isinstance(q, int) and q != 0
    assert R.rtsp_session_error_quark() == q
    assert E.__gtype__.name == "RsRTSPSessionError"
    assert E.__gtype__.is_a(GObject.TYPE_ENUM)
    assert (int(E.INVALID_ID), int(E.INVALID_TIMEOUT), int(E.MALFORMED)) == (0, 1, 2)
    assert sorted(int(v) for v in E.__enum_values__) == [0, 1, 2]


@pytest.mark.parametrize("value, sid, timeout", [
    ("abc", "abc", 60),
    (" abc ", "abc", 60),
    ("\tabc\t", "abc", 60),
    ("abc;timeout=30", "abc", 30),
    ("abc ; timeout = 30", "abc", 30),
    ("abc\t;\ttimeout\t=\t30\t", "abc", 30),
    ("  abc;timeout=30  ", "abc", 30),
    ("abc;TIMEOUT=30", "abc", 30),
    ("abc;Timeout=30", "abc", 30),
    ("abc;tImEoUt=31", "abc", 31),
    ("abc;foo=bar;timeout=5", "abc", 5),
    ("abc;timeout=5;foo=bar", "abc", 5),
    ("abc;foo;timeout=5", "abc", 5),
    ("abc;foo", "abc", 60),
    ("abc;", "abc", 60),
    ("abc;;timeout=5", "abc", 5),
    ("abc;timeout=5;", "abc", 5),
    ("abc; ;timeout=5; ;", "abc", 5),
    ('abc;foo="x;y";timeout=7', "abc", 7),
    ('abc;foo="timeout=9";timeout=7', "abc", 7),
    ('abc;foo="a\\"b;c";timeout=7', "abc", 7),
    ('abc;foo=""', "abc", 60),
    ("abc;timeout=0", "abc", 0),
    ("abc;timeout=4294967295", "abc", G_MAXUINT),
    ("Ab0$-_.+", "Ab0$-_.+", 60),
    ("a" * 256 + ";timeout=9", "a" * 256, 9),
])
def test_header_parse_tolerant(value, sid, timeout):
    assert parsed(value) == (sid, timeout)


def test_header_parse_result_shape():
    res = header_parse("xyz;timeout=12")
    assert tuple(res) == (True, "xyz", 12)
    assert res.sessionid == "xyz" and res.timeout == 12


@pytest.mark.parametrize("value", [
    "", "   ", "\t", ";timeout=5", " ;timeout=5", "=abc",
    "abc def", "abc,def", 'ab"c', '"abc"', "abc\r\n", "abc\r\nX-Evil: 1",
    "abc\n;timeout=5", "abé", "é", "abc/def", "a" * 257, "a" * 257 + ";timeout=5",
])
def test_header_parse_invalid_id(value):
    assert_parse_error(value, E.INVALID_ID)


@pytest.mark.parametrize("value", [
    "abc;timeout=", "abc;timeout= ", "abc;timeout", "abc;timeout;foo=1",
    "abc;timeout=-1", "abc;timeout=+1", "abc;timeout=4294967296",
    "abc;timeout=99999999999999999999999", "abc;timeout=1.5", "abc;timeout=0x10",
    "abc;timeout=1e3", "abc;timeout=5;timeout=6", "abc;timeout=5;TIMEOUT=5",
    "abc;timeout=5 6", 'abc;timeout="5"', "abc;timeout=5,6", "abc;timeout=٣",
])
def test_header_parse_invalid_timeout(value):
    assert_parse_error(value, E.INVALID_TIMEOUT)


@pytest.mark.parametrize("value", [
    "abc;=5", "abc; =5", 'abc;foo="unterminated', 'abc;foo="x\\"', "abc;foo=bar baz",
    'abc;foo="x"y', "abc;(=1", "abc;foo=a,b",
])
def test_header_parse_malformed(value):
    assert_parse_error(value, E.MALFORMED)


def test_header_parse_every_byte_after_id():
    # A character outside the id's charset right after the id is refused unless it is
    # white space (then only ';' may follow) or ';'.
    for c in range(1, 256):
        ch = chr(c)
        value = "abc" + ch + "def"
        if ch in ALLOWED:
            assert parsed(value) == (value, 60), hex(c)
        elif ch == ";":
            assert parsed(value) == ("abc", 60)     # "def": a parameter without value
        else:
            assert_parse_error(value, E.INVALID_ID)


@pytest.mark.parametrize("value, code", [
    ("a" * MIB, E.INVALID_ID),
    (" " * MIB, E.INVALID_ID),
    ("abc" + " " * MIB + "x", E.INVALID_ID),
    ("a" * MIB + ";timeout=5", E.INVALID_ID),
    ("abc;timeout=" + "9" * MIB, E.INVALID_TIMEOUT),
    ("abc;timeout=" + "1" * MIB, E.INVALID_TIMEOUT),
    ('abc;foo="' + "x" * MIB, E.MALFORMED),
    ('abc;foo="' + "\\\"" * (MIB // 2), E.MALFORMED),
    ("abc;" + "foo=1;" * (MIB // 6) + "=", E.MALFORMED),
])
def test_header_parse_huge_rejected_quickly(value, code):
    t0 = time.perf_counter()
    assert_parse_error(value, code)
    assert time.perf_counter() - t0 < 0.5


@pytest.mark.parametrize("value, timeout", [
    ("abc;foo=" + "x" * MIB + ";timeout=9", 9),
    ('abc;foo="' + "y; " * (MIB // 3) + '";timeout=9', 9),
    ("abc;" + ";" * MIB, 60),
    ("abc;" + "foo=1;" * (MIB // 6) + "timeout=3", 3),
    ("abc" + " " * MIB + ";timeout=4", 4),
])
def test_header_parse_huge_valid_looking_parses(value, timeout):
    t0 = time.perf_counter()
    assert parsed(value) == ("abc", timeout)
    assert time.perf_counter() - t0 < 0.5


def test_header_parse_sessionid_roundtrips_into_find():
    pool = Pool.new()
    s = pool.create()
    sid = s.get_sessionid()
    for value in (sid, s.get_header(), " %s ; timeout = 30 ; foo" % sid,
                  "%s;TIMEOUT=5" % sid, '%s;x="%s";timeout=1' % (sid, sid)):
        got, _ = parsed(value)
        assert got == sid
        assert pool.find(got) is s
    s.set_timeout(77)
    assert parsed(s.get_header()) == (sid, 77)
    s.set_timeout(G_MAXUINT)
    assert parsed(s.get_header()) == (sid, G_MAXUINT)
    # a 256-char id from a subclass round-trips too
    long_id = ("Ab0$-_.+" * 32)[:256]
    p2 = IdPool([long_id])
    ls = p2.create()
    assert ls is not None
    got, timeout = parsed(ls.get_header() + ";timeout=8")
    assert (got, timeout) == (long_id, 8)
    assert p2.find(got) is ls


# --------------------------------------------------------------------------- 3. hostile find

def test_find_hostile_ids_return_none_without_criticals(no_criticals):
    pool = Pool.new()
    s, other = pool.create(), pool.create()
    sid = s.get_sessionid()
    hostile = ["", " ", "a" * MIB, "a" * 257, sid * 12, sid + "x", sid + ";timeout=5",
               sid + " ", " " + sid, "\t" + sid, sid + "\r\n", sid[:-1], sid[:1], sid[1:],
               sid.swapcase(), sid + "é"]
    for c in range(1, 256):
        ch = chr(c)
        hostile += [ch, sid + ch, ch + sid, sid[:5] + ch + sid[6:]]
    hostile = [h for h in hostile if h != sid]
    L0 = touch_and_find_last_access(s)
    O0 = touch_and_find_last_access(other)
    spin_until(max(L0, O0) + 3000)
    with no_criticals():
        for h in hostile:
            assert pool.find(h) is None, repr(h[:300])
            assert pool.find_owned(h, None) is None, repr(h[:300])
    # no hostile id touched any session
    assert last_access_is(s, L0) and last_access_is(other, O0)
    assert pool.get_n_sessions() == 2
    assert pool.find(sid) is s


def test_find_hostile_raw_bytes_without_criticals(no_criticals):
    pool = Pool.new()
    s = pool.create()
    sid = s.get_sessionid().encode()
    with no_criticals():
        assert c_find(pool, sid) == gptr(s)            # positive control: same object
        assert c_find_owned(pool, sid, None) == gptr(s)
        for c in range(1, 256):
            b = bytes([c])
            for raw in (b, sid + b, b + sid, sid[:5] + b + sid[6:], sid[:-1] + b):
                if raw == sid:
                    continue
                assert c_find(pool, raw) is None, raw
                assert c_find_owned(pool, raw, None) is None, raw
        assert c_find(pool, b"\xff" * MIB) is None
        assert c_find(pool, sid + b"\xc3") is None     # truncated UTF-8
    assert pool.find(s.get_sessionid()) is s


def test_find_long_pooled_id_boundaries(no_criticals):
    long_id = "x" * 256
    pool = IdPool([long_id])
    s = pool.create()
    assert s is not None and s.get_sessionid() == long_id
    with no_criticals():
        assert pool.find(long_id) is s
        assert pool.find(long_id + "x") is None
        assert pool.find(long_id + "!") is None
        assert pool.find(long_id[:-1]) is None
        assert pool.find("x" * MIB) is None
        assert c_find(pool, long_id.encode() + b"\x80") is None


C_ROUNDS, C_BATCH = 21, 200


def _c_timing(func_small, func_big):
    small, big = per_call_medians([func_small, func_big], C_BATCH, C_ROUNDS)
    return small, big


def test_find_refuses_huge_id_in_bounded_time_c_side():
    """16 MiB of 'a' plus an invalid char vs 300 bytes, measured on the C side (ctypes,
    no string conversion): both must cost the same ~257 bytes of reading."""
    pool = Pool.new()
    for _ in range(100):
        pool.create()
    big = b"a" * (16 * MIB) + b"!"
    small = b"a" * 299 + b"!"
    pp = gptr(pool)
    f = _lib.rs_rtsp_session_pool_find
    assert f(pp, big) is None and f(pp, small) is None
    small_t, big_t = _c_timing(lambda: f(pp, small), lambda: f(pp, big))
    # a scan of 16 MiB (even a SIMD strlen, ~1 ms) is hundreds of times the small case
    assert big_t < 20 * max(small_t, 1e-6), (small_t, big_t)
    assert big_t < 5e-3, big_t
    # same for find_owned and id_is_valid
    fo = _lib.rs_rtsp_session_pool_find_owned
    small_t, big_t = _c_timing(lambda: fo(pp, small, b"o"), lambda: fo(pp, big, b"o"))
    assert big_t < 20 * max(small_t, 1e-6) and big_t < 5e-3, (small_t, big_t)
    v = _lib.rs_rtsp_session_id_is_valid
    small_t, big_t = _c_timing(lambda: v(small), lambda: v(big))
    assert big_t < 20 * max(small_t, 1e-6) and big_t < 5e-3, (small_t, big_t)


def test_find_huge_id_through_pygobject_costs_only_the_conversion():
    """Through PyGObject each call converts the 16 MiB str (~20 ms); find() must cost
    about what GLib.str_has_prefix() costs on the same str (O(1) in C)."""
    pool = Pool.new()
    pool.create()
    big = "a" * (16 * MIB) + "!"
    assert pool.find(big) is None
    base, find_t, valid_t = per_call_medians(
        [lambda: GLib.str_has_prefix(big, "b"), lambda: pool.find(big),
         lambda: id_is_valid(big)], 2, 7)
    # a byte-wise scan of 16 MiB in C would add >= ~10 ms
    assert find_t < 1.5 * base + 5e-3, (base, find_t)
    assert valid_t < 1.5 * base + 5e-3, (base, valid_t)


# --------------------------------------------------------------------------- 4. owner

def test_owner_pspec_and_default():
    ps = {p.name: p for p in S.list_properties()}
    p = ps["owner"]
    assert p.value_type == GObject.TYPE_STRING
    assert p.default_value is None
    assert int(p.flags & RW_BITS) == int(GObject.ParamFlags.READWRITE)
    s = S.new("o")
    assert s.props.owner is None
    assert s.get_property("owner") is None
    pool = Pool.new()
    assert pool.create().props.owner is None
    c = S(sessionid="c", owner="carol")
    assert c.props.owner == "carol"


def test_owner_notify_only_on_change():
    s = S.new("n")
    notes = []
    s.connect("notify::owner", lambda o, ps: notes.append(o.props.owner))
    s.props.owner = None                  # None -> None
    assert notes == []
    s.props.owner = "alice"
    s.props.owner = "alice"
    assert notes == ["alice"]
    s.set_property("owner", "alice")
    assert notes == ["alice"]
    s.props.owner = "alice2"
    s.props.owner = "alicf"
    assert notes == ["alice", "alice2", "alicf"]
    s.props.owner = None
    s.props.owner = None
    assert notes == ["alice", "alice2", "alicf", None]
    s.props.owner = ""                    # "" is not None
    s.props.owner = ""
    assert notes == ["alice", "alice2", "alicf", None, ""]
    s.props.owner = None
    assert notes[-1] is None and len(notes) == 6
    s.props.owner = "J\u00f6rg"
    assert s.props.owner == "J\u00f6rg" and notes[-1] == "J\u00f6rg"


def _spaced(s):
    L0 = touch_and_find_last_access(s)
    spin_until(L0 + 5000)
    return L0


def test_find_owned_right_owner_touches():
    pool = Pool.new()
    s, other = pool.create(), pool.create()
    s.props.owner = "alice"
    sid = s.get_sessionid()
    L0 = _spaced(s)
    O0 = touch_and_find_last_access(other)
    got = []
    L1 = last_access_of(s, lambda: got.append(pool.find_owned(sid, "alice")))
    assert got == [s]
    assert L1 >= L0 + 5000
    assert last_access_is(other, O0)


@pytest.mark.parametrize("owner, asked", [
    ("alice", "bob"),
    ("alice", "alicf"),          # differs only in the last char
    ("alice", "blice"),          # differs only in the first char
    ("alice", "alic"),           # prefix
    ("alice", "alice "),
    ("alice", "alicex"),
    ("alice", "ALICE"),
    ("alice", None),             # set vs None
    (None, "alice"),             # None vs set
    ("", None),                  # empty string vs None
    (None, ""),
    ("a" * 1000, "a" * 999 + "b"),
    ("a" * 1000, "a" * 1001),
    ("J\u00f6rg", "Jorg"),
])
def test_find_owned_wrong_owner_is_none_and_does_not_touch(owner, asked):
    pool = Pool.new()
    s = pool.create()
    s.props.owner = owner
    sid = s.get_sessionid()
    L0 = _spaced(s)
    now = GLib.get_monotonic_time()
    before = s.next_timeout_usec(now)
    assert pool.find_owned(sid, asked) is None
    assert s.next_timeout_usec(now) == before
    assert last_access_is(s, L0)
    assert pool.get_n_sessions() == 1
    # the right owner still works and does touch
    got = []
    L1 = last_access_of(s, lambda: got.append(pool.find_owned(sid, owner)))
    assert got == [s] and L1 >= L0 + 5000


@pytest.mark.parametrize("owner", [None, "", "alice", "a" * 1000, "J\u00f6rg"])
def test_find_owned_equal_owners(owner):
    pool = Pool.new()
    s = pool.create()
    s.props.owner = owner
    L0 = _spaced(s)
    got = []
    L1 = last_access_of(s, lambda: got.append(pool.find_owned(s.get_sessionid(), owner)))
    assert got == [s] and L1 >= L0 + 5000


def test_find_owned_both_none_on_fresh_session():
    pool = Pool.new()
    s = pool.create()                     # owner never set
    assert pool.find_owned(s.get_sessionid(), None) is s
    assert pool.find_owned(s.get_sessionid(), "") is None
    assert pool.find_owned(s.get_sessionid(), "x") is None


def test_find_without_owner_finds_owned_sessions():
    pool = Pool.new()
    s = pool.create()
    s.props.owner = "alice"
    L0 = _spaced(s)
    got = []
    L1 = last_access_of(s, lambda: got.append(pool.find(s.get_sessionid())))
    assert got == [s] and L1 >= L0 + 5000


def test_owner_change_rebinds():
    pool = Pool.new()
    s = pool.create()
    sid = s.get_sessionid()
    s.props.owner = "alice"
    assert pool.find_owned(sid, "alice") is s
    s.props.owner = "bob"
    assert pool.find_owned(sid, "alice") is None
    assert pool.find_owned(sid, "bob") is s
    s.props.owner = None
    assert pool.find_owned(sid, "bob") is None
    assert pool.find_owned(sid, None) is s


def test_find_owned_unknown_or_removed():
    pool = Pool.new()
    s = pool.create()
    s.props.owner = "alice"
    sid = s.get_sessionid()
    assert pool.find_owned("nope", "alice") is None
    assert pool.find_owned(sid[:-1], "alice") is None
    assert pool.remove(s) is True
    assert pool.find_owned(sid, "alice") is None


def test_find_owned_owner_isolation_between_sessions():
    pool = Pool.new()
    a, b = pool.create(), pool.create()
    a.props.owner, b.props.owner = "alice", "bob"
    assert pool.find_owned(a.get_sessionid(), "alice") is a
    assert pool.find_owned(b.get_sessionid(), "bob") is b
    assert pool.find_owned(a.get_sessionid(), "bob") is None
    assert pool.find_owned(b.get_sessionid(), "alice") is None


def test_session_subclass_with_owner():
    pool = OwnerPool()
    pool.next_owner = "bob"
    s = pool.create()
    assert type(s) is OwnedSession and s.props.role == "sub"
    assert s.props.owner == "bob"
    pool.next_owner = None
    t = pool.create()
    assert type(t) is OwnedSession and t.props.owner is None
    sid, tid = s.get_sessionid(), t.get_sessionid()
    got = pool.find_owned(sid, "bob")
    assert got is s and type(got) is OwnedSession
    assert pool.find_owned(sid, "alice") is None
    assert pool.find_owned(sid, None) is None
    assert pool.find_owned(tid, None) is t
    assert pool.find_owned(tid, "bob") is None
    L0 = _spaced(s)
    assert pool.find_owned(sid, "bobby") is None
    assert last_access_is(s, L0)
    assert pool.find(sid) is s
    # a standalone subclass instance binds the same way
    u = OwnedSession(sessionid="u", owner="x")
    assert u.props.owner == "x"
    u.props.owner = "y"
    assert u.get_property("owner") == "y"
    for x in (s, t):
        pool.remove(x)


# --------------------------------------------------------------------------- 5. create id validation

@pytest.mark.parametrize("bad", ["bad id", "", "x" * 300, "x" * 257, "abc;timeout=5",
                                 "ab\u00e9", "a\tb", 'a"b'])
def test_create_with_invalid_id_is_refused(bad, expect_criticals):
    pool = IdPool([bad, "good-1", bad, "good-2"])
    with expect_criticals() as msgs:
        assert pool.create() is None
    assert len(msgs) == 1, msgs
    assert pool.made == []                # create_session never asked for the bad id
    assert pool.get_n_sessions() == 0
    assert pool.find_owned("good-1", None) is None
    # the pool stays usable
    with expect_criticals() as msgs:
        g = pool.create()
    assert msgs == []
    assert g is not None and g.get_sessionid() == "good-1"
    assert pool.find("good-1") is g and pool.get_n_sessions() == 1
    with expect_criticals() as msgs:
        assert pool.create() is None
    assert len(msgs) == 1, msgs
    g2 = pool.create()
    assert g2.get_sessionid() == "good-2" and pool.get_n_sessions() == 2
    assert pool.made == ["good-1", "good-2"]
    assert ids_sorted(pool) == ["good-1", "good-2"]
    for x in (g, g2):
        pool.remove(x)


def ids_sorted(pool):
    return sorted(s.get_sessionid() for s in pool.filter(None))


def test_create_with_boundary_valid_ids(no_criticals):
    ids = ["x" * 256, "$-_.+", "A", "".join(sorted(ALLOWED))]
    pool = IdPool(list(ids))
    with no_criticals():
        made = [pool.create() for _ in ids]
    assert [m.get_sessionid() for m in made] == ids
    assert all(pool.find(i) is m for i, m in zip(ids, made))
    for m in made:
        pool.remove(m)
