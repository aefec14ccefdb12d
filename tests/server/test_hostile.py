"""One hostile connection against the example server (issue 11): while it
attacks, a legitimate ffprobe must be served within a few seconds and the
server must still stop on SIGINT.

Run like test_server.py (`meson test -C build --suite server`). Everything
is on 127.0.0.1; every count and wait is bounded.
"""
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import threading
import time

import pytest

from rtsp_client import HOST, RtspClient, Server

ID = r"[A-Za-z0-9]{22}"
LEGIT_DEADLINE = 5.0  # seconds for a whole ffprobe run while under attack
STOP_DEADLINE = 5.0   # seconds from SIGINT to exit


def need(program):
    path = shutil.which(program)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is not installed")
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture(name="start_server")
def fixture_start_server():
    servers = []

    def start(*args, **kwargs):
        server = Server(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        start = time.monotonic()
        status = server.stop(timeout=STOP_DEADLINE + 5)
        took = time.monotonic() - start
        assert status == 0, f"server exited with {status}; stderr:\n" + "\n".join(server.stderr_lines[-30:])
        assert took < STOP_DEADLINE, f"SIGINT took {took:.1f} s"
        bad = [line for line in server.stderr_lines if "CRITICAL" in line or "WARNING" in line]
        assert not bad, "\n".join(bad[:20])


def legit_ffprobe(server, transport="udp"):
    """Runs ffprobe against @server; returns how long it took (it must
    succeed)."""
    ffprobe = need("ffprobe")
    start = time.monotonic()
    out = subprocess.run([ffprobe, "-v", "error", "-rtsp_transport", transport, "-timeout", "20000000",
                          "-show_entries", "stream=codec_name", "-of", "json", server.url],
                         capture_output=True, text=True, timeout=30)
    took = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["streams"][0]["codec_name"] == "pcm_mulaw"
    return took


class Pipeliner:
    """Sends many requests on one connection in batches, reading the
    responses of each batch before the next (a client that reads)."""

    def __init__(self, port, timeout=30.0, source=None):
        self.client = RtspClient(port, timeout=timeout, source=source)

    def run(self, requests, batch=200):
        responses = []
        for i in range(0, len(requests), batch):
            chunk = requests[i:i + batch]
            self.client.send(b"".join(self.client.build(*r) for r in chunk))
            for _ in chunk:
                responses.append(self.client.read_response())
        return responses

    def close(self):
        self.client.close()


def dead_udp_port():
    """A UDP port nobody listens on."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stream_budget(per_session=2, reserve=300):
    """How many UDP sessions this machine's descriptor limit allows the
    server (which raises its soft limit to the hard one)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 4000
    return max(0, min(4000, (hard - reserve) // per_session))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- 1. streaming cannot starve the main loop ---------------------------------------------------

def test_thousands_of_playing_streams_do_not_freeze_the_server(start_server):
    """One connection sets up and plays 4000 UDP streams (the limits raised
    to allow it). Before, every stream had its own high-priority timer and
    the main loop never ran default-priority sources again."""
    n = stream_budget()
    if n < 1000:
        pytest.fail(f"the descriptor limit allows only {n} streams")
    server = start_server("--max-sessions", n + 10, "--max-sessions-per-connection", n, "--timeout", "60",
                          "--max-sessions-per-peer", "0")
    attacker = Pipeliner(server.port)
    try:
        port = dead_udp_port()
        setups = attacker.run([("SETUP", attacker.client.url("/tone/streamid=0"),
                                {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"})
                               for _ in range(n)])
        assert all(r.status == 200 for r in setups), [r for r in setups if r.status != 200][:3]
        sessions = [r.session_id() for r in setups]
        plays = attacker.run([("PLAY", attacker.client.url("/tone"), {"Session": s}) for s in sessions])
        assert all(r.status == 200 for r in plays)
        time.sleep(1)  # every stream is due at once now
        took = legit_ffprobe(server)
        assert took < LEGIT_DEADLINE, f"a legitimate ffprobe took {took:.1f} s under {n} playing streams"
        # Control still runs on the attacker's own connection too.
        start = time.monotonic()
        assert attacker.client.request("OPTIONS", "*").status == 200
        assert time.monotonic() - start < 1.0
    finally:
        attacker.close()
    server.wait_for(r"conn-1 closed$", timeout=10)


def test_one_connection_gets_its_share_of_sessions(start_server):
    """With the defaults, the same flood gets 16 sessions and 453 with
    Retry-After for the rest, logged once per interval, not per request."""
    server = start_server()
    attacker = Pipeliner(server.port)
    try:
        port = dead_udp_port()
        setups = attacker.run([("SETUP", attacker.client.url("/tone/streamid=0"),
                                {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"})
                               for _ in range(4000)])
        ok = [r for r in setups if r.status == 200]
        refused = [r for r in setups if r.status == 453]
        assert len(ok) == 16 and len(refused) == 4000 - 16
        assert all(r.header("Retry-After") == "5" for r in refused)
        assert "Not Enough Bandwidth" in refused[0].reason
        server.wait_for(r"^limit: max-sessions-per-connection 16 reached: conn-1 SETUP refused with 453 \(1 times\)")
        assert len([line for line in server.log() if line.startswith("limit:")]) <= 3
        plays = attacker.run([("PLAY", attacker.client.url("/tone"), {"Session": r.session_id()}) for r in ok])
        assert all(r.status == 200 for r in plays)
        took = legit_ffprobe(server)
        assert took < LEGIT_DEADLINE
        # Another connection still gets sessions of its own.
        with RtspClient(server.port) as other:
            assert other.setup_tcp().status == 200
    finally:
        attacker.close()


# -- 2. interleaved frames: one lookup each ----------------------------------------------------

def test_interleaved_frame_flood_costs_one_lookup_per_frame(start_server):
    """3000 TCP SETUPs on one connection (the caps raised) and 256 KiB of
    4-byte frames. Before, each frame walked every session of the
    connection: 3000 sessions and 64 KiB of frames kept a legitimate
    ffprobe waiting about 19 s."""
    server = start_server("--max-sessions", "3000", "--max-sessions-per-connection", "3000", "--max-sessions-per-peer", "0")
    attacker = Pipeliner(server.port)
    try:
        setups = attacker.run([("SETUP", attacker.client.url("/tone/streamid=0"),
                                {"Transport": "RTP/AVP/TCP;unicast"}) for _ in range(3000)])
        ok = [r for r in setups if r.status == 200]
        # A connection has 256 channels: 128 streams, then 461.
        assert len(ok) == 128
        assert all(r.status == 461 for r in setups if r.status != 200)
        channels = {r.header("Transport").split("interleaved=")[1].split(";")[0] for r in ok}
        assert len(channels) == 128
        # A stream may not take another stream's channels.
        again = attacker.client.request("SETUP", attacker.client.url("/tone/streamid=0"),
                                        {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        assert again.status == 461

        flood = b"$\xff\x00\x00" * (64 * 1024)
        sender = threading.Thread(target=attacker.client.send, args=(flood,))
        start = time.monotonic()
        sender.start()
        took = legit_ffprobe(server, "tcp")
        sender.join(timeout=20)
        assert not sender.is_alive()
        # The server is through the flood when it answers what follows it.
        assert attacker.client.request("OPTIONS", "*").status == 200
        flood_done = time.monotonic() - start
        assert took < LEGIT_DEADLINE, f"a legitimate ffprobe took {took:.1f} s"
        assert flood_done < LEGIT_DEADLINE, f"256 KiB of frames took {flood_done:.1f} s"
    finally:
        attacker.close()


# -- 3. exhaustion -------------------------------------------------------------------------------

def test_default_max_sessions_is_finite(start_server):
    """63 connections of 16 UDP sessions each: 1000 succeed, the rest get
    503 with Retry-After. Before, the default was unlimited and one
    connection filled the descriptor table."""
    if stream_budget() < 1000:
        pytest.fail("the descriptor limit allows fewer than 1000 streams")
    server = start_server("--max-sessions-per-peer", "0")
    line = server.wait_for(r"^limits: max-sessions (\d+), max-sessions-per-connection (\d+), max-connections (\d+)")
    assert line.groups() == ("1000", "16", "1000")
    port = dead_udp_port()
    statuses = []
    clients = [Pipeliner(server.port) for _ in range(63)]
    try:
        for c in clients:
            statuses += [(r.status, r.header("Retry-After")) for r in c.run(
                [("SETUP", c.client.url("/tone/streamid=0"),
                  {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}) for _ in range(16)])]
        assert sum(1 for s, _ in statuses if s == 200) == 1000
        assert [s for s in statuses if s[0] != 200] == [(503, "5")] * 8
        server.wait_for(r"^limit: max-sessions 1000 reached: conn-63 SETUP refused with 503")
    finally:
        for c in clients:
            c.close()
    server.wait_for(r"removed \(n_sessions=0\)", timeout=20)


def test_one_address_gets_a_quarter_of_the_sessions(start_server):
    """Found by review: 63 connections from one address took all 1000
    sessions (each within its per-connection cap) and every other client
    got 503. Now an address holds at most 250 by default (453 with
    Retry-After), and a client from another address is served."""
    server = start_server()
    line = server.wait_for(r"max-sessions-per-peer (\d+), max-connections-per-peer (\d+)$")
    assert line.groups() == ("250", "250")
    port = dead_udp_port()
    statuses = []
    clients = [Pipeliner(server.port, source="127.0.0.2") for _ in range(17)]
    try:
        for c in clients:
            statuses += [(r.status, r.header("Retry-After")) for r in c.run(
                [("SETUP", c.client.url("/tone/streamid=0"),
                  {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}) for _ in range(16)])]
        assert sum(1 for s, _ in statuses if s == 200) == 250
        assert [s for s in statuses if s[0] != 200] == [(453, "5")] * (17 * 16 - 250)
        server.wait_for(r"^limit: max-sessions-per-peer 250 reached: conn-16 \(127\.0\.0\.2\) SETUP refused with 453")
        assert legit_ffprobe(server) < LEGIT_DEADLINE
    finally:
        for c in clients:
            c.close()
    server.wait_for(r"removed \(n_sessions=0\)", timeout=20)
    # The address's count went back to zero with its sessions.
    with RtspClient(server.port, source="127.0.0.2") as again:
        assert again.request("SETUP", again.url("/tone/streamid=0"),
                             {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}).status == 200


def test_one_address_gets_a_quarter_of_the_connections(start_server):
    """Found by review: one address could hold all 1000 connections, one
    request a minute each. Now at most 250 by default; the next gets 503."""
    server = start_server()
    idle = []
    try:
        for _ in range(250):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.2", 0))
            s.connect((HOST, server.port))
            idle.append(s)
        server.wait_for(r"conn-250 opened")
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        extra.settimeout(5)
        extra.bind(("127.0.0.2", 0))
        extra.connect((HOST, server.port))
        answer = extra.recv(4096)
        extra.close()
        assert answer.startswith(b"RTSP/1.0 503 Service Unavailable\r\n"), answer
        server.wait_for(r"^limit: max-connections-per-peer 250 reached: connection from 127\.0\.0\.2 refused with 503")
        assert legit_ffprobe(server) < LEGIT_DEADLINE
        # A closed connection frees its place.
        idle.pop().close()
        server.wait_for(r"conn-250 closed$")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.2", 0))
        s.connect((HOST, server.port))
        idle.append(s)
        server.wait_for(r"conn-251 opened")
    finally:
        for s in idle:
            s.close()


def test_connection_cap(start_server):
    server = start_server("--max-connections", "50")
    idle = [socket.create_connection((HOST, server.port)) for _ in range(50)]
    try:
        server.wait_for(r"conn-50 opened")
        extra = socket.create_connection((HOST, server.port))
        extra.settimeout(5)
        answer = b""
        while True:
            data = extra.recv(4096)
            if not data:
                break
            answer += data
        extra.close()
        assert answer.startswith(b"RTSP/1.0 503 Service Unavailable\r\n"), answer
        assert b"\r\nRetry-After: 5\r\n" in answer
        server.wait_for(r"^limit: max-connections 50 reached: connection refused with 503")
        for s in idle[:5]:
            s.close()
        server.wait_for(r"conn-5 closed$")
        assert legit_ffprobe(server) < LEGIT_DEADLINE
    finally:
        for s in idle:
            s.close()


def test_out_of_descriptors_backs_off(start_server):
    """With 128 descriptors and the default caps, 300 idle connections run
    the server out of descriptors. Before, GLib retried accept() in a busy
    loop (100 % CPU, a warning per try); now accepting backs off, a waiting
    client gets 503, and once the attacker leaves, clients are served."""
    server = start_server("--idle-timeout", "0", "--max-connections-per-peer", "0", nofile=128)
    server.wait_for(r"^file descriptors: 128 available, the limits need 3032")
    conns = []
    try:
        for _ in range(300):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((HOST, server.port))
            conns.append(s)
        server.wait_for(r"^limit: out of file descriptors \(\d+ connections\); not accepting for \d+ ms")
        time.sleep(0.5)
        before = cpu_seconds(server.proc.pid)
        time.sleep(3)
        used = cpu_seconds(server.proc.pid) - before
        assert used < 0.5, f"the server used {used:.2f} s of CPU in 3 s while out of descriptors"
        # Some waiting clients were answered 503 through the reserve descriptor.
        answered = 0
        for s in conns:
            try:
                if s.recv(4096).startswith(b"RTSP/1.0 503"):
                    answered += 1
            except (BlockingIOError, ConnectionError):
                pass
        assert answered > 0
    finally:
        for s in conns:
            s.close()
    time.sleep(1.5)  # the back-off is at most 1 s
    assert legit_ffprobe(server) < LEGIT_DEADLINE


@pytest.mark.parametrize("backlog", [None, 512])
def test_listen_backlog(start_server, backlog):
    ss = need("ss")
    server = start_server(*(["--listen-backlog", backlog] if backlog else []))
    out = subprocess.run([ss, "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, check=True).stdout
    fields = out.split()
    assert fields[0] == "LISTEN", out
    assert int(fields[2]) == min(backlog or 128, int(open("/proc/sys/net/core/somaxconn").read()))


# -- 4. a client that stops reading --------------------------------------------------------------

def test_client_that_never_reads_loses_its_tcp_sessions(start_server):
    """A TCP client plays and never reads. Playing over TCP holds its
    session (as in GStreamer), so before, it kept it forever and with
    --max-sessions 1 everyone else got 503. Now its connection is closed
    once it has not read for the session timeout, and the slot frees."""
    server = start_server("--timeout", "2", "--extra-timeout", "1", "--max-sessions", "1",
                          "--tcp-queue-limit", "4096")
    stuck = RtspClient(server.port, rcvbuf=2048)
    try:
        session = stuck.setup_tcp().session_id()
        assert stuck.request("PLAY", stuck.url("/tone"), session=session).status == 200
        with RtspClient(server.port) as other:
            assert other.setup_tcp().status == 503
        server.wait_for(r"conn-1 slow reader: dropped \d+ RTP packets", timeout=20)
        dropping = time.monotonic()
        server.wait_for(r"^conn-1 has not read for \d+ s: treating the client as gone", timeout=10)
        assert time.monotonic() - dropping < 5
        server.wait_for(rf"session {session} closed with conn-1")
        server.wait_for(r"removed \(n_sessions=0\)")
        assert legit_ffprobe(server) < LEGIT_DEADLINE
    finally:
        stuck.close()


def test_slow_but_steady_reader_keeps_its_session(start_server):
    """A reader that drains, however slowly, is not a stalled one."""
    server = start_server("--timeout", "2", "--extra-timeout", "0", "--tcp-queue-limit", "4096")
    with RtspClient(server.port, rcvbuf=2048) as client:
        session = client.setup_tcp().session_id()
        assert client.request("PLAY", client.url("/tone"), session=session).status == 200
        end = time.monotonic() + 6
        while time.monotonic() < end:
            client.sock.recv(512)
            time.sleep(0.05)
        assert not [line for line in server.log() if "has not read" in line]
        assert not [line for line in server.log() if "removed" in line]


def test_a_body_sent_a_byte_at_a_time_does_not_reparse_the_head(start_server):
    """Found by review: every read of a request's body scanned and parsed
    its head again (a 15 KB head: about 41 us per one-byte read)."""
    server = start_server()
    client = socket.create_connection((HOST, server.port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        head = (b"SET_PARAMETER rtsp://127.0.0.1/tone RTSP/1.0\r\nCSeq: 1\r\n"
                + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 200) for i in range(60))
                + b"Content-Type: text/parameters\r\nContent-Length: 3000\r\n\r\n")
        assert 12000 < len(head) < 16000
        client.sendall(head)
        time.sleep(0.2)
        before = cpu_seconds(server.proc.pid)
        for _ in range(2999):
            client.send(b"a")
            time.sleep(0.0003)
        used = cpu_seconds(server.proc.pid) - before
        client.send(b"a")
        client.settimeout(5)
        answer = client.recv(4096)
        assert answer.startswith(b"RTSP/1.0 "), answer
        # 0.09 s before the fix, 0.01 to 0.02 s after; sanitizers slow every read.
        limit = 0.06 if os.environ.get("RS_SANITIZE", "none") == "none" else 0.2
        assert used < limit, f"{used:.2f} s of CPU for 3000 one-byte reads"
    finally:
        client.close()
