"""Helpers shared by the librtspsession Python suites (tests/python, tests/conformance).

Each suite's conftest.py puts this directory on sys.path and registers this module
for pytest's assertion rewriting, so a failing assert in a helper is reported with
the same detail as one written in the test itself.

Time.  The library is asked about expiry with explicit monotonic `now` values
(is_expired_usec, next_timeout_usec, cleanup_usec) wherever possible, never by
sleeping.  The last-access time L that touch() records is not readable, so it is
recovered exactly by bisection: by the contract a session is expired at `now` iff
floor((L + total*1e6 - now) / 1000) <= 0, i.e. iff now >= L + total*1e6 - 999,
with total = timeout + extra-timeout in seconds.

Every helper works on both implementations (RtspSession and GstRtspServer) unless
its docstring says otherwise.
"""
import contextlib
import gc
import string

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi._gi import FunctionInfo  # noqa: E402

USEC = 1_000_000
G_MAXINT = 2**31 - 1
G_MAXUINT = 2**32 - 1
#: The characters of the ids our pool makes (22 of them, CONTRACT difference 6).
ALNUM = frozenset(string.ascii_letters + string.digits)
#: The library's log domain.
LOG_DOMAIN = "RtspSession"

PF = GObject.ParamFlags
#: The pspec flag bits compared between implementations (the reference lacks
#: G_PARAM_EXPLICIT_NOTIFY, so only these are meaningful everywhere).
RW_BITS = PF.READABLE | PF.WRITABLE | PF.CONSTRUCT | PF.CONSTRUCT_ONLY


# --------------------------------------------------------------------------- time

def first_true(pred, lo, hi):
    """Smallest x in [lo, hi] with pred(x) True, for a monotonic predicate.

    Asserts pred(hi) is True, so a bracket that does not contain the switch
    point fails loudly instead of returning `hi` as if it were the answer."""
    assert pred(hi), "predicate not true at the upper bound %d" % hi
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def last_access_of(sess, action):
    """Run action() (which must touch `sess`) and recover the exact monotonic last
    access L it recorded, by bisecting on is_expired_usec.

    Proves that the action touched the session *during* the call: L is asserted to
    fall between monotonic readings taken just before and just after action()."""
    total = sess.props.timeout + sess.props.extra_timeout
    t0 = GLib.get_monotonic_time()
    action()
    t1 = GLib.get_monotonic_time()
    off = total * USEC - 999
    last = first_true(sess.is_expired_usec, t0 + off - 2000, t1 + off) - off
    assert t0 <= last <= t1, (t0, last, t1)
    return last


def touch_and_find_last_access(sess):
    """touch() the session and recover the exact monotonic last-access time L
    (see last_access_of: L is checked to lie within the touch() call)."""
    return last_access_of(sess, sess.touch)


def last_access_is(sess, last):
    """True iff the session's last access is exactly `last`: expired at its deadline
    for `last` and not one microsecond before.  Used to prove a call did NOT touch
    a session (its L is unchanged)."""
    off = (sess.props.timeout + sess.props.extra_timeout) * USEC - 999
    return sess.is_expired_usec(last + off) and not sess.is_expired_usec(last + off - 1)


def spin_until(t_usec):
    """Busy-wait until the monotonic clock reaches t_usec.  Guarantees that a later
    touch records a strictly later L, at a resolution sleep() does not promise."""
    while GLib.get_monotonic_time() < t_usec:
        pass


def tv(usec):
    """A GLib.TimeVal for a real-time value in microseconds (for the deprecated
    GTimeVal API)."""
    t = GLib.TimeVal()
    t.tv_sec = usec // USEC
    t.tv_usec = usec % USEC
    return t


# --------------------------------------------------------------------------- main context / watch

def poll_once(ctx):
    """One non-blocking main-context iteration, by hand (acquire / prepare / query /
    check / dispatch).

    Returns (ready after prepare, poll timeout in ms the sources asked for,
    dispatched).  `query` exposes the timeout the sources asked for, so "sleeps
    until the earliest deadline" and "sleeps forever" (-1) are observable without
    waiting."""
    assert ctx.acquire()
    try:
        ready, prio = ctx.prepare()
        timeout = tuple(ctx.query(prio))[1]
        dispatched = ctx.check(prio, [])
        if dispatched:
            ctx.dispatch()
        return ready, timeout, dispatched
    finally:
        ctx.release()


class Watch:
    """pool.create_watch() attached to a private main context, recording the
    arguments of every dispatch in `calls` and returning `ret` from the callback.

    PyGObject passes only `user_data` to the callback (the `pool` argument of the C
    RTSPSessionPoolFunc is swallowed by its generic GSourceFunc marshaller), on both
    implementations."""

    def __init__(self, pool, ret=True, user_data="ud"):
        self.ctx = GLib.MainContext.new()
        self.src = pool.create_watch()
        self.calls = []
        self.ret = ret
        self.src.set_callback(self._cb, user_data)
        self.src.attach(self.ctx)

    def _cb(self, *args):
        self.calls.append(args)
        return self.ret

    def poll(self):
        """poll_once() on the watch's own context."""
        return poll_once(self.ctx)

    def close(self):
        if not self.src.is_destroyed():
            self.src.destroy()


# --------------------------------------------------------------------------- object life

class Removed:
    """Records the session-removed emissions of `pool`.

    `ids`: the session id of every emission, in order (proves "exactly once per
    removal").  `got`: the same emissions as labels looked up in `names`
    ("?" for an id not in it), when `names` is given.  When `usable` (a session
    class) is given, the handler also checks that the removed session is still a
    valid, usable instance of it and already out of the pool; the ids failing that
    go to `bad`.  The check calls back into the pool, so it is opt-in."""

    def __init__(self, pool, names=None, usable=None):
        self.names = names
        self.usable = usable
        self.ids = []
        self.got = []
        self.bad = []
        self.hid = pool.connect("session-removed", self._cb)

    def _cb(self, pool, sess):
        sid = sess.get_sessionid()
        self.ids.append(sid)
        if self.names is not None:
            self.got.append(self.names.get(sid, "?"))
        if self.usable is not None:
            # still a valid, usable session inside the handler; already out of the pool
            if not (isinstance(sess, self.usable) and sid and sess.get_header().startswith(sid)
                    and sess.get_timeout() >= 0 and pool.find(sid) is None):
                self.bad.append(sid)


class Finalized:
    """Watch a GObject's finalization with a GObject weak reference; true once the
    object has been finalized (a gc.collect() runs first).

    Proves reference ownership: "the library dropped its last reference" is
    `fin` becoming true right after Python drops its own.  A Python weakref.ref on
    the wrapper is not enough: PyGObject frees the wrapper as soon as Python drops
    it even while C code still holds the GObject, whereas GObject.Object.weak_ref
    fires on finalize."""

    def __init__(self, obj):
        self.done = False
        self._ref = obj.weak_ref(self._cb)

    def _cb(self, *args):
        self.done = True

    def __bool__(self):
        gc.collect()
        return self.done


# --------------------------------------------------------------------------- log messages

@contextlib.contextmanager
def capture_criticals(domain=LOG_DOMAIN):
    """Collect the CRITICAL/WARNING messages logged in `domain` inside the block;
    yields the list of messages.

    Lets a test assert that a programmer error is reported (exactly one message) or
    that nothing is (an empty list).  Criticals are not fatal by default (GLib's
    always-fatal mask is left at its defaults for the whole run); inside the block
    the CRITICAL/WARNING bits of the always-fatal and the domain's fatal masks are
    also cleared so that an expected message cannot abort the interpreter, and both
    masks are restored afterwards."""
    got = []

    def handler(log_domain, level, message, *user_data):
        got.append(message)

    levels = (GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
              | GLib.LogLevelFlags.FLAG_FATAL | GLib.LogLevelFlags.FLAG_RECURSION)
    keep = GLib.LogLevelFlags.LEVEL_ERROR | GLib.LogLevelFlags.FLAG_RECURSION
    old_always = GLib.log_set_always_fatal(keep)
    old_domain = GLib.log_set_fatal_mask(domain, keep)
    hid = GLib.log_set_handler(domain, levels, handler, None)
    try:
        yield got
    finally:
        GLib.log_remove_handler(domain, hid)
        GLib.log_set_fatal_mask(domain, old_domain)
        GLib.log_set_always_fatal(old_always)


# --------------------------------------------------------------------------- conformance

def public_methods(cls):
    """Sorted names of the introspected methods `cls` adds to GObject.Object."""
    names = sorted(set(dir(cls)) - set(dir(GObject.Object)))
    return [n for n in names if isinstance(getattr(cls, n), FunctionInfo)]


def signature(fi):
    """What a caller relies on in a FunctionInfo: names, directions, types, nullability,
    ownership transfer and caller-allocation of every argument, and the return.

    `is_optional()` is not compared: ours marks the `matched` out-arguments optional
    (callers may pass NULL), a compatible superset of the reference's annotation."""
    return {
        "method": fi.is_method(),
        "constructor": fi.is_constructor(),
        "deprecated": fi.is_deprecated(),
        "return": (fi.get_return_type().get_tag(), fi.may_return_null(), int(fi.get_caller_owns())),
        "args": [(a.get_name(), int(a.get_direction()), a.get_type().get_tag(),
                  a.may_be_null(), int(a.get_ownership_transfer()), a.is_caller_allocates())
                 for a in fi.get_arguments()],
    }


def assert_same_method(ref_cls, our_cls, method):
    """Ours has `method` with the reference's signature (see signature()).

    Argument names and directions are checked first so that their mismatch is
    reported as such, before the full comparison."""
    ref = getattr(ref_cls, method)
    ours = getattr(our_cls, method, None)
    assert isinstance(ours, FunctionInfo), "%s.%s.%s missing" % (
        our_cls.__module__.rpartition(".")[2], our_cls.__name__, method)
    rs, os_ = signature(ref), signature(ours)
    assert [(a[0], a[1]) for a in os_["args"]] == [(a[0], a[1]) for a in rs["args"]], \
        "argument names/directions differ"
    assert os_ == rs


def pspec_info(p):
    """The comparable part of a GParamSpec (flags reduced to RW_BITS)."""
    return (p.name, p.value_type.name, getattr(p, "minimum", None), getattr(p, "maximum", None),
            p.default_value, int(p.flags & RW_BITS))


class Scenarios(dict):
    """Scenario name -> function(impl) returning comparable results; `add` is the
    decorator that registers a function under its name."""

    def add(self, fn):
        self[fn.__name__] = fn
        return fn


def assert_same_behaviour(name, fn, ref_impl, our_impl):
    """Run scenario `fn` against the reference and against ours and require equal
    results.  gc.collect() afterwards, so objects of one scenario cannot be
    finalized in the middle of the next one."""
    ref = fn(ref_impl)
    ours = fn(our_impl)
    gc.collect()
    assert ours == ref, "%s: ours=%r reference=%r" % (name, ours, ref)
