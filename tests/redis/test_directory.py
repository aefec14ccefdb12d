"""RsRTSPSessionDirectory against a real redis-server (issue 10).

Each test starts its own redis-server on a unix socket in a temporary
directory (no TCP port, no persistence) and stops it. Everything waits with
a bounded poll, never a fixed sleep on a timeout that could be passed.

Run: GI_TYPELIB_PATH=build/gir LD_LIBRARY_PATH=build/src /usr/bin/python3 -m pytest tests/redis
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import gi

gi.require_version("GLib", "2.0")
gi.require_version("RtspSession", "1.0")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, RtspSession  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "common"))
from rs_redis import REDIS_CLI, REDIS_SERVER, Redis, wait_for  # noqa: E402

if REDIS_SERVER is None or REDIS_CLI is None:
    if os.environ.get("CI"):
        raise RuntimeError("redis-server and redis-cli are needed (Debian: redis-server)")
    pytest.skip("redis-server is not installed", allow_module_level=True)


@pytest.fixture(name="redis")
def fixture_redis():
    server = Redis()
    yield server
    server.close()


def key(session_id):
    return "rs:s:{" + session_id + "}"


def published(redis, pool, directory, node, margin_ms=500):
    directory.set_property("ttl-margin", margin_ms)
    assert pool.set_directory(directory, node)
    wait_for(directory.is_connected, what="the directory to connect")


def test_invalid_uris_and_node_names(redis):
    for uri in ["", "http://x", "redis://", "redis://host:0", "redis://host:70000", "redis://h/x", "unix://",
                "unix://relative", "redis://user:pw@host", "unix:///tmp/s?db=-1", "redis://[::1"]:
        with pytest.raises(GLib.Error) as error:
            RtspSession.RTSPSessionDirectory.new(uri)
        assert error.value.code == RtspSession.RTSPSessionDirectoryError.INVALID_URI, uri
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    assert directory.get_uri() == redis.uri
    pool = RtspSession.RTSPSessionPool()
    for node in ["", "a b", "x" * 129, "nodé", "a\nb"]:
        with pytest.raises(GLib.Error):
            pool.set_directory(directory, node)
    assert pool.set_directory(directory, "n1")
    with pytest.raises(GLib.Error):
        pool.set_directory(directory, "n2")


def test_publish_lookup_ttl_and_delete(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    before = pool.create()  # made before the pool publishes: published then
    published(redis, pool, directory, "node-a", margin_ms=2000)
    session = pool.create()
    session.set_property("owner", "alice")
    for s in (before, session):
        wait_for(lambda: redis.cli("EXISTS", key(s.get_sessionid())) == "1", what="the entry")
    assert directory.lookup_sync(session.get_sessionid()) == "node-a"
    assert directory.lookup_sync(before.get_sessionid()) == "node-a"
    node, timeout = redis.cli("GET", key(session.get_sessionid())).split("\n")[:2]
    assert (node, timeout) == ("node-a", "60")
    # TTL: the deadline (60 + 5 s) plus the margin (2 s), never less.
    ttl = int(redis.cli("PTTL", key(session.get_sessionid())))
    assert 65_000 < ttl <= 67_000, ttl
    assert directory.lookup_sync("NoSuchSessionAtAll12345") is None
    assert directory.lookup_sync("not a valid id") is None

    assert pool.remove(session)
    wait_for(lambda: redis.cli("EXISTS", key(session.get_sessionid())) == "0", what="the delete")
    assert directory.lookup_sync(session.get_sessionid()) is None
    assert directory.lookup_sync(before.get_sessionid()) == "node-a"


def run_async(start, finish, seconds=6):
    """Runs one asynchronous call on a main loop for at most `seconds`:
    `start(done)` starts it, `finish(source, result)` ends it. Returns the
    answers: [value] or [GLib.Error], or [] when none came in time."""
    loop = GLib.MainLoop()
    out = []

    def done(source, result):
        try:
            out.append(finish(source, result))
        except GLib.Error as error:
            out.append(error)
        loop.quit()

    start(done)
    GLib.timeout_add_seconds(seconds, loop.quit)
    loop.run()
    return out


def test_lookup_async(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "async-node")
    session = pool.create()
    wait_for(lambda: redis.cli("EXISTS", key(session.get_sessionid())) == "1", what="the entry")
    answers = run_async(lambda done: directory.lookup_async(session.get_sessionid(), None, done),
                        lambda source, result: source.lookup_finish(result))
    assert answers == ["async-node"]


def test_local_expiry_deletes_and_ttl_follows_the_deadline(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n", margin_ms=300)
    short = pool.create()
    short.set_property("extra-timeout", 0)
    short.set_timeout(1)
    sid = short.get_sessionid()
    wait_for(lambda: redis.cli("EXISTS", key(sid)) == "1", what="the entry")
    del short
    # Expired locally (at an explicit time): the entry goes at once, not at its TTL.
    assert pool.cleanup_usec(GLib.get_monotonic_time() + 2_000_000) == 1
    wait_for(lambda: redis.cli("EXISTS", key(sid)) == "0", timeout=1.0, what="the delete on expiry")


def test_a_kept_alive_session_outlives_its_first_ttl(redis):
    """Touches are invisible to Redis; the expiry index judges the session
    again at its deadline and rewrites the entry then. Without that, the
    entry would vanish 2.3 s after creation."""
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n", margin_ms=300)
    session = pool.create()
    session.set_property("extra-timeout", 0)
    session.set_timeout(2)
    sid = session.get_sessionid()
    wait_for(lambda: redis.cli("EXISTS", key(sid)) == "1", what="the entry")
    monitor = subprocess.Popen([REDIS_CLI, "-s", redis.socket, "MONITOR"], stdout=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        while time.monotonic() - start < 4.5:
            session.touch()
            assert pool.cleanup() == 0  # what the pool's watch runs; judges due sessions again
            assert redis.cli("EXISTS", key(sid)) == "1", f"entry gone after {time.monotonic() - start:.1f} s"
            time.sleep(0.1)
    finally:
        monitor.terminate()
        lines = monitor.communicate(timeout=10)[0].splitlines()
    # Rewritten about once per deadline (2 s), not once per touch (45).
    rewrites = [line for line in lines if '"SET"' in line and key(sid) in line]
    assert 1 <= len(rewrites) <= 3, rewrites


def test_nodes_and_their_counts(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    a, b = RtspSession.RTSPSessionPool(), RtspSession.RTSPSessionPool()
    published(redis, a, directory, "a")
    assert b.set_directory(directory, "b")
    keep = [a.create() for _ in range(3)] + [b.create()]

    def nodes():
        found = directory.list_nodes_sync().unpack()
        return found if found == {"a": 3, "b": 1} else None

    wait_for(nodes, timeout=3.0, what="both nodes with their counts")
    del keep


def test_redis_down_slow_and_back_empty(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n")
    early = pool.create()
    wait_for(lambda: redis.cli("EXISTS", key(early.get_sessionid())) == "1", what="the entry")

    # Slow: Redis sleeps 1.5 s; the pool does not wait for it.
    sleeper = subprocess.Popen([REDIS_CLI, "-s", redis.socket, "DEBUG", "SLEEP", "1.5"],
                               stdout=subprocess.DEVNULL)
    time.sleep(0.2)
    start = time.monotonic()
    during_sleep = [pool.create() for _ in range(2000)]
    for s in during_sleep:
        assert pool.find(s.get_sessionid()) is not None
    assert time.monotonic() - start < 1.0
    sleeper.wait(10)
    wait_for(lambda: all(redis.cli("EXISTS", key(s.get_sessionid())) == "1" for s in during_sleep[:20]),
             what="the entries queued while Redis slept")

    # Down: nothing blocks, lookups fail fast and say so.
    redis.stop()
    wait_for(lambda: not directory.is_connected(), what="the directory to notice")
    start = time.monotonic()
    while_down = [pool.create() for _ in range(2000)]
    assert time.monotonic() - start < 1.0
    with pytest.raises(GLib.Error) as error:
        directory.lookup_sync(early.get_sessionid())
    assert error.value.code == RtspSession.RTSPSessionDirectoryError.UNAVAILABLE
    assert pool.get_n_sessions() == 1 + 2000 + 2000

    # Back, empty: everything the pool holds is published again.
    redis.start()
    assert redis.cli("DBSIZE") == "0"
    wait_for(directory.is_connected, what="the reconnect")
    wait_for(lambda: redis.cli("EXISTS", key(while_down[-1].get_sessionid())) == "1", what="the republish")
    assert directory.lookup_sync(early.get_sessionid()) == "n"
    assert int(redis.cli("EVAL", "return #redis.call('keys', 'rs:s:*')", "0")) == 4001


CHILD = textwrap.dedent("""
    import sys, time, gi
    gi.require_version("RtspSession", "1.0")
    from gi.repository import RtspSession
    d = RtspSession.RTSPSessionDirectory.new(sys.argv[1])
    d.set_property("ttl-margin", 300)
    pool = RtspSession.RTSPSessionPool()
    pool.set_directory(d, "doomed")
    kept = []
    for _ in range(5):
        s = pool.create()
        s.set_property("extra-timeout", 0)
        s.set_timeout(1)
        kept.append(s)
    print(" ".join(s.get_sessionid() for s in kept), flush=True)
    time.sleep(60)
""")


def test_a_killed_nodes_sessions_leave_within_their_ttl(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "survivor")
    mine = pool.create()
    child = subprocess.Popen([sys.executable, "-c", CHILD, redis.uri], stdout=subprocess.PIPE, text=True,
                             env=os.environ)
    try:
        ids = child.stdout.readline().split()
        assert len(ids) == 5
        wait_for(lambda: all(directory.lookup_sync(i) == "doomed" for i in ids), what="the child's entries")
        wait_for(lambda: "doomed" in directory.list_nodes_sync().unpack(), what="the child's heartbeat")
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        child.wait(10)
        # Deadline 1 s after creation, margin 0.3 s; nothing deletes them.
        wait_for(lambda: all(directory.lookup_sync(i) is None for i in ids), timeout=3.0,
                 what="the dead node's entries to expire")
        assert time.monotonic() - killed < 3.0
        wait_for(lambda: "doomed" not in directory.list_nodes_sync().unpack(), timeout=5.0,
                 what="the dead node to leave the node list")
        assert directory.lookup_sync(mine.get_sessionid()) == "survivor"
        assert "survivor" in directory.list_nodes_sync().unpack()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_a_removal_while_redis_is_away_still_deletes_the_entry(redis):
    """Found by review: removals made while disconnected were dropped, and
    the entry stayed for its TTL."""
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n")
    session = pool.create()
    sid = session.get_sessionid()
    wait_for(lambda: redis.cli("EXISTS", key(sid)) == "1", what="the entry")
    redis.stop()
    wait_for(lambda: not directory.is_connected(), what="the directory to notice")
    assert pool.remove(session)
    redis.start()
    # Redis kept nothing (no persistence); put the stale entry back by hand,
    # as a Redis that only lost the connection would still have it.
    redis.cli("SET", key(sid), "n\n60\n", "PX", "60000")
    wait_for(directory.is_connected, what="the reconnect")
    wait_for(lambda: redis.cli("EXISTS", key(sid)) == "0", what="the delete kept while away")


def test_a_database_redis_refuses_is_not_used(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri + "?db=99")
    pool = RtspSession.RTSPSessionPool()
    assert pool.set_directory(directory, "n")
    pool.create()
    time.sleep(0.5)
    assert not directory.is_connected()
    assert redis.cli("DBSIZE") == "0"
    with pytest.raises(GLib.Error):
        directory.lookup_sync("AAAAAAAAAAAAAAAAAAAAAA")


def test_blocking_lookups_end_on_time_and_on_cancel(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    wait_for(directory.is_connected, what="the connection")
    redis.proc.send_signal(signal.SIGSTOP)  # connected, but never answers
    try:
        start = time.monotonic()
        with pytest.raises(GLib.Error) as error:
            directory.lookup_sync("AAAAAAAAAAAAAAAAAAAAAA")
        assert error.value.code == RtspSession.RTSPSessionDirectoryError.UNAVAILABLE
        assert 4.5 < time.monotonic() - start < 6.5
        cancellable = Gio.Cancellable()
        start = time.monotonic()
        timer = __import__("threading").Timer(0.2, cancellable.cancel)
        timer.start()
        with pytest.raises(GLib.Error) as error:
            directory.list_nodes_sync(cancellable)
        assert error.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
        assert time.monotonic() - start < 1.5
        # The asynchronous call answers at once on cancel too.
        cancellable = Gio.Cancellable()
        GLib.timeout_add(200, lambda: cancellable.cancel() or False)
        start = time.monotonic()
        answers = run_async(lambda done: directory.lookup_async("AAAAAAAAAAAAAAAAAAAAAA", cancellable, done),
                            lambda source, result: source.lookup_finish(result), seconds=5)
        assert time.monotonic() - start < 1.0
        assert len(answers) == 1 and answers[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
    finally:
        redis.proc.send_signal(signal.SIGCONT)


def reserve(directory, owner=None):
    return run_async(lambda done: directory.reserve_async(owner, None, done),
                     lambda source, result: source.reserve_finish(result))[0]


def test_cluster_limits_across_two_nodes(redis):
    nodes = []
    for name in ("a", "b"):
        directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
        directory.set_property("max-sessions", 5)
        directory.set_property("max-sessions-per-owner", 2)
        pool = RtspSession.RTSPSessionPool()
        published(redis, pool, directory, name)
        nodes.append((directory, pool))
    kept = []
    refused = []
    # Alternating nodes, each reserving before it creates.
    for i in range(8):
        directory, pool = nodes[i % 2]
        owner = f"user{i % 4}"
        answer = reserve(directory, owner)
        if answer is True:
            session = pool.create()
            session.set_property("owner", owner)
            kept.append(session)
        else:
            refused.append((owner, answer.code))
    assert len(kept) == 5
    assert all(code == RtspSession.RTSPSessionDirectoryError.LIMIT for _, code in refused)
    # The sessions took over their reservations: five places, not ten.
    wait_for(lambda: redis.cli("ZCARD", "rs:{limits}:all") == "5", what="five places")
    # Per owner: user0 has two (i = 0, 4) and may not have a third anywhere.
    answer = reserve(nodes[1][0], "user0")
    assert isinstance(answer, GLib.Error) and answer.code == RtspSession.RTSPSessionDirectoryError.LIMIT
    # A removal frees the place everywhere.
    first = kept.pop(0)
    owner = first.get_property("owner")
    assert nodes[0][1].remove(first) or nodes[1][1].remove(first)
    wait_for(lambda: redis.cli("ZCARD", "rs:{limits}:all") == "4", what="the freed place")
    assert reserve(nodes[1][0], owner) is True


RESERVER = textwrap.dedent("""
    import sys, gi
    gi.require_version("RtspSession", "1.0")
    from gi.repository import GLib, RtspSession
    d = RtspSession.RTSPSessionDirectory.new(sys.argv[1])
    d.set_property("max-sessions-per-owner", 7)
    pool = RtspSession.RTSPSessionPool()
    pool.set_directory(d, sys.argv[2])
    loop = GLib.MainLoop()
    while not d.is_connected():
        GLib.usleep(10000)
    print("ready", flush=True)
    sys.stdin.readline()  # both start at once
    answers, kept = [], []
    def done(source, result):
        try:
            source.reserve_finish(result)
            s = pool.create()
            s.set_property("owner", "bob")
            kept.append(s)
            answers.append(True)
        except GLib.Error:
            answers.append(False)
        if len(answers) == 30:
            loop.quit()
    for _ in range(30):
        d.reserve_async("bob", None, done)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    print(sum(answers), flush=True)
    sys.stdin.readline()
""")


def test_concurrent_reserves_from_two_processes_never_exceed_the_limit(redis):
    children = [subprocess.Popen([sys.executable, "-c", RESERVER, redis.uri, name], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, env=os.environ) for name in ("p1", "p2")]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        granted = [int(child.stdout.readline()) for child in children]
        assert sum(granted) == 7, granted
        wait_for(lambda: redis.cli("ZCARD", "rs:{limits}:o:bob") == "7", what="bob's seven places")
    finally:
        for child in children:
            child.kill()
            child.wait(10)


@pytest.mark.parametrize("policy", ["allow", "refuse"])
def test_reserving_while_redis_is_away_follows_the_policy(redis, policy):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    directory.set_property("max-sessions", 1)
    directory.set_property("unreachable-policy",
                           getattr(RtspSession.RTSPSessionDirectoryPolicy, policy.upper()))
    wait_for(directory.is_connected, what="the connection")
    redis.stop()
    wait_for(lambda: not directory.is_connected(), what="the directory to notice")
    start = time.monotonic()
    answer = reserve(directory, "anyone")
    assert time.monotonic() - start < 1.0
    if policy == "allow":
        assert answer is True
    else:
        assert isinstance(answer, GLib.Error)
        assert answer.code == RtspSession.RTSPSessionDirectoryError.UNAVAILABLE


def test_redis_killed_in_the_middle_of_a_flood(redis):
    """Found by review: with hiredis's GLib adapter, a write that found Redis
    gone freed the connection and the adapter read from it next (a
    use-after-free), and hiredis's write() raised SIGPIPE."""
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n")
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a C program has it
    try:
        for round_ in range(3):
            killer = __import__("threading").Timer(0.05, redis.stop)
            killer.start()
            sessions = [pool.create() for _ in range(30000)]
            killer.join()
            wait_for(lambda: not directory.is_connected(), what="the directory to notice")
            redis.start()
            wait_for(directory.is_connected, what="the reconnect")
            wait_for(lambda: redis.cli("EXISTS", key(sessions[-1].get_sessionid())) == "1", what="the republish")
            for s in sessions:
                pool.remove(s)
    finally:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def test_an_entry_of_a_session_that_never_expires(redis):
    directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
    pool = RtspSession.RTSPSessionPool()
    published(redis, pool, directory, "n")
    session = pool.create()
    session.set_timeout(0)
    sid = session.get_sessionid()
    # Rewritten with a TTL of an hour (and every 20 minutes after).
    wait_for(lambda: int(redis.cli("PTTL", key(sid)) or -2) > 3_500_000, what="the hour-long entry")
    assert redis.cli("GET", key(sid)).split("\n")[:2] == ["n", "0"]
