"""A small real cluster (issue 10): redis-server, two rs-example-server
nodes publishing to the session directory, and rs-rtsp-router in front.

Clients talk to the router only. Everything is on 127.0.0.1; every wait is
bounded; each test starts and stops its own processes.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import gi

gi.require_version("RtspSession", "1.0")
from gi.repository import RtspSession  # noqa: E402

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "common"))
sys.path.insert(0, os.path.join(HERE, os.pardir, "server"))
from rs_redis import REDIS_SERVER, Redis, wait_for  # noqa: E402
from rtsp_client import HOST, RtspClient, Server  # noqa: E402

ROUTER = os.environ.get("RS_RTSP_ROUTER") or os.path.normpath(os.path.join(
    HERE, os.pardir, os.pardir, "build", "examples", "rtsp-router", "rs-rtsp-router"))
ID = r"[A-Za-z0-9]{22}"

if REDIS_SERVER is None:
    if os.environ.get("CI"):
        raise RuntimeError("redis-server is needed (Debian: redis-server)")
    pytest.skip("redis-server is not installed", allow_module_level=True)


class Router:
    """rs-rtsp-router on a free port, its stdout collected."""

    def __init__(self, redis_uri, nodes):
        args = [ROUTER, "--port", "0", "--redis", redis_uri, "--proxy-protocol"]
        for name, port in nodes:
            args += ["--node", f"{name}={HOST}:{port}"]
        self.lines = []
        self.cond = threading.Condition()
        env = dict(os.environ, G_DEBUG="fatal-criticals")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     env=env)
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = int(self.wait_for(r"^rs-rtsp-router: rtsp://127\.0\.0\.1:(\d+)/").group(1))
        self.url = f"rtsp://{HOST}:{self.port}/tone"

    def _pump(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern, timeout=10.0):
        pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = pattern.search(line)
                    if m:
                        return m
                if time.monotonic() > deadline:
                    raise AssertionError(f"router never logged {pattern.pattern!r}:\n" + "\n".join(self.lines))
                self.cond.wait(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(name="cluster")
def fixture_cluster():
    redis = Redis()
    nodes = {}
    router = None
    try:
        for name in ("a", "b"):
            nodes[name] = Server("--redis", redis.uri, "--node", name, "--proxy-protocol",
                                 "--session-binding", "address", "--timeout", "5", "--extra-timeout", "1")
        directory = RtspSession.RTSPSessionDirectory.new(redis.uri)
        wait_for(directory.is_connected, what="the test's directory to connect")
        wait_for(lambda: set(directory.list_nodes_sync().unpack()) == {"a", "b"}, what="both nodes' heartbeats")
        router = Router(redis.uri, [(name, node.port) for name, node in nodes.items()])
        yield redis, nodes, router, directory
    finally:
        if router:
            assert router.stop() == 0
        for node in nodes.values():
            node.stop()
        redis.close()


def ffprobe(url, transport):
    ffprobe_bin = shutil.which("ffprobe")
    if ffprobe_bin is None:
        pytest.fail("ffprobe is not installed")
    out = subprocess.run([ffprobe_bin, "-v", "error", "-rtsp_transport", transport, "-timeout", "10000000",
                          "-show_entries", "stream=codec_name", "-of", "csv=p=0", url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_ffprobe_through_the_router(cluster, transport):
    redis, nodes, router, directory = cluster
    assert ffprobe(router.url, transport) == "pcm_mulaw"
    served = [name for name, node in nodes.items() if any(re.search(rf"session {ID} created", l) for l in node.log())]
    assert len(served) == 1, served
    router.wait_for(r"new client, fewest sessions \(0\) -> node [ab]")
    # The node saw the client, not the router, through the PROXY line.
    nodes[served[0]].wait_for(r"conn-\d+ is 127\.0\.0\.1:\d+ \(PROXY\)")


def udp_pair():
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((HOST, 0))
    port = rtp.getsockname()[1]
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rtcp.bind((HOST, port + 1))
    except OSError:
        rtp.close()
        rtcp.close()
        return udp_pair()
    return rtp, rtcp, port


def test_keep_alives_and_teardown_on_new_connections_reach_the_right_node(cluster):
    redis, nodes, router, directory = cluster
    rtp, rtcp, port = udp_pair()
    try:
        with RtspClient(router.port) as first:
            setup = first.request("SETUP", first.url("/tone/streamid=0"),
                                  {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"})
            assert setup.status == 200
            sid = setup.header("Session").split(";")[0]
        holder = wait_for(lambda: directory.lookup_sync(sid), what="the session in the directory")
        other = "b" if holder == "a" else "a"
        nodes[holder].wait_for(rf"session {sid} created")
        # Each later request on a connection of its own, as UDP clients do.
        for method in ("PLAY", "GET_PARAMETER", "OPTIONS", "GET_PARAMETER"):
            with RtspClient(router.port) as again:
                answer = again.request(method, again.url("/tone"), {"Session": sid})
                assert answer.status == 200, (method, answer.status)
        router.wait_for(rf"session {sid} -> node {holder} ")
        # The RTP comes from the node that holds the session.
        rtp.settimeout(5)
        data, _ = rtp.recvfrom(2048)
        assert len(data) == 172
        # The other node would not have known it.
        with RtspClient(nodes[other].port) as wrong:
            wrong.send(b"PROXY TCP4 127.0.0.1 127.0.0.1 40000 554\r\n")
            assert wrong.request("GET_PARAMETER", wrong.url("/tone"), {"Session": sid}).status == 454
        with RtspClient(router.port) as last:
            assert last.request("TEARDOWN", last.url("/tone"), {"Session": sid}).status == 200
        nodes[holder].wait_for(rf"session {sid} removed")
        wait_for(lambda: directory.lookup_sync(sid) is None, what="the entry to go")
    finally:
        rtp.close()
        rtcp.close()


def test_new_clients_go_to_the_node_with_fewer_sessions(cluster):
    redis, nodes, router, directory = cluster
    rtp, rtcp, port = udp_pair()
    clients = []
    try:
        for _ in range(6):
            c = RtspClient(router.port)
            clients.append(c)
            assert c.request("SETUP", c.url("/tone/streamid=0"),
                             {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}).status == 200
            # Let the node's heartbeat carry its new count (one a second).
            time.sleep(1.1)
        counts = wait_for(lambda: (lambda n: n if sum(n.values()) == 6 else None)(directory.list_nodes_sync().unpack()),
                          what="six sessions counted")
        assert sorted(counts.values()) == [3, 3], counts
    finally:
        for c in clients:
            c.close()
        rtp.close()
        rtcp.close()


def test_a_killed_node_leaves_and_clients_go_to_the_other(cluster):
    redis, nodes, router, directory = cluster
    rtp, rtcp, port = udp_pair()
    try:
        with RtspClient(nodes["a"].port) as direct:
            direct.send(b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 554\r\n")
            setup = direct.request("SETUP", direct.url("/tone/streamid=0"),
                                   {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"})
            assert setup.status == 200
            sid = setup.header("Session").split(";")[0]
            wait_for(lambda: directory.lookup_sync(sid) == "a", what="a's session in the directory")
            nodes["a"].proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
        # Its entry lives for its deadline (5 + 1 s) plus the margin (5 s) at most.
        wait_for(lambda: "a" not in directory.list_nodes_sync().unpack(), timeout=5,
                 what="the dead node to leave the node list")
        assert ffprobe(router.url, "tcp") == "pcm_mulaw"
        router.wait_for(r"new client, fewest sessions \(\d+\) -> node b ")
        wait_for(lambda: directory.lookup_sync(sid) is None, timeout=14, what="the dead node's session to expire")
        assert time.monotonic() - killed < 13
    finally:
        rtp.close()
        rtcp.close()


def raw_answer(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_only_a_trusted_proxy_names_the_client(cluster):
    """Found by review: a node believed any PROXY line, so a client that
    reached it directly could claim another address (its sessions, its
    limits, where RTP goes). Only 127.0.0.1 and ::1 are trusted by default."""
    redis, nodes, router, directory = cluster
    node = nodes["a"]
    # From an untrusted address, a PROXY line is just a bad request.
    forged = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    forged.bind(("127.0.0.3", 0))
    forged.connect((HOST, node.port))
    forged.sendall(b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 554\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert raw_answer(forged).startswith(b"RTSP/1.0 400 "), "a forged PROXY line was believed"
    forged.close()
    assert not any("is 127.0.0.9:" in line for line in node.log())
    # From the trusted address: malformed lines close the connection.
    for line in [b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 554junk\r\n",
                 b"PROXY TCP4 127.0.0.9 127.0.0.1 0 554\r\n",
                 b"PROXY TCP6 127.0.0.9 127.0.0.1 40000 554\r\n",
                 b"PROXY TCP4 127.0.0.9 nowhere 40000 554\r\n",
                 b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 " + b"5" * 70 + b"\r\n"]:
        s = socket.create_connection((HOST, node.port))
        s.sendall(line + b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        s.settimeout(5)
        assert s.recv(4096) == b"", line
        s.close()
    # UNKNOWN: the connection stays the proxy's own.
    with RtspClient(node.port) as unknown:
        unknown.send(b"PROXY UNKNOWN\r\n")
        assert unknown.request("OPTIONS", "*").status == 200


def test_one_address_gets_a_share_of_the_router(cluster):
    """Found by review: 1000 idle connections from one address locked
    everyone out of the router."""
    redis, nodes, router, directory = cluster
    idle = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.66", 0))
            s.connect((HOST, router.port))
            idle.append(s)
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        extra.bind(("127.0.0.66", 0))
        extra.connect((HOST, router.port))
        assert raw_answer(extra).startswith(b"RTSP/1.0 503 ")
        extra.close()
        assert ffprobe(router.url, "tcp") == "pcm_mulaw"
    finally:
        for s in idle:
            s.close()


def test_the_router_does_not_wait_for_a_redis_that_hangs(cluster):
    redis, nodes, router, directory = cluster
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        with RtspClient(router.port, timeout=10) as client:
            assert client.request("OPTIONS", "*").status == 200
        assert time.monotonic() - start < 4.0
        router.wait_for(r"new client, directory unreachable: in turn -> node")
    finally:
        redis.proc.send_signal(signal.SIGCONT)


def test_a_new_client_is_not_sent_to_a_dead_node(cluster):
    """Found by review: a node killed a moment ago stays listed (with few
    sessions) and new clients got 503 until its heartbeat lapsed."""
    redis, nodes, router, directory = cluster
    nodes["b"].proc.send_signal(signal.SIGKILL)
    nodes["b"].proc.wait(10)
    for _ in range(4):
        assert ffprobe(router.url, "tcp") == "pcm_mulaw"
