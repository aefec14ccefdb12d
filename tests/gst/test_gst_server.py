"""A real GstRTSPServer (rs-gst-tone-server) on 127.0.0.1, as GStreamer ships
it and hardened by librtspsession-gst: the hijack matrix, real clients, and
expiry timing."""
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from gst_server import HOST, GstServer, RtspClient, UdpPair

ID = re.compile(r"^[A-Za-z0-9]{22}$")


@pytest.fixture(scope="module")
def stock():
    server = GstServer("--stock")
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def hardened():
    server = GstServer()
    yield server
    assert server.stop() == 0


class Victim:
    """A client playing the tone over UDP on its own connection."""

    def __init__(self, server, auth=None):
        self.server = server
        self.auth = dict(auth or {})
        self.udp = UdpPair()
        self.conn = RtspClient(server.port)
        resp = self.conn.request("DESCRIBE", headers={"Accept": "application/sdp", **self.auth})
        assert resp.status == 200, resp
        resp = self.conn.request("SETUP", self.conn.url("/tone/stream=0"),
                                 {"Transport": f"RTP/AVP;unicast;client_port={self.udp.rtp_port}-{self.udp.rtcp_port}",
                                  **self.auth})
        assert resp.status == 200, resp
        self.session = resp.session_id()
        resp = self.conn.request("PLAY", headers=self.auth, session=self.session)
        self.last_request = time.monotonic()
        assert resp.status == 200, resp
        assert len(self.udp.receive_rtp(5, timeout=5.0)) == 5, "the victim's tone never arrived"

    def rtp_bytes(self, seconds=1.0):
        """RTP bytes that arrive within @seconds."""
        return sum(len(p) for p in self.udp.receive_rtp(10 ** 6, timeout=seconds))

    def alive(self):
        return self.conn.request("GET_PARAMETER", headers=self.auth, session=self.session).status == 200

    def close(self):
        self.conn.close()
        self.udp.close()


def attack(server, method, session, auth=None, answers=None):
    """One foreign request on a new connection; returns its status (and
    appends the response to @answers)."""
    auth = dict(auth or {})
    with RtspClient(server.port) as other, UdpPair() as udp:
        if method == "SETUP":
            resp = other.request("SETUP", other.url("/tone/stream=0"),
                                 {"Transport": f"RTP/AVP;unicast;client_port={udp.rtp_port}-{udp.rtcp_port}", **auth},
                                 session=session)
        elif method == "OPTIONS":
            # OPTIONS *, then the connection closes: GStreamer's close cleanup
            # tears down what the connection watched.
            resp = other.request("OPTIONS", url="*", headers=auth, session=session)
            other.close()
            time.sleep(0.5)
        elif method in ERROR_ATTACKS:
            # Requests GStreamer answers with an error after its session
            # lookup but before any pre-request signal; then the close.
            url, verb, extra = ERROR_ATTACKS[method]
            resp = other.request(verb, url=url if url == "*" else other.url(url), headers={**extra, **auth},
                                 session=session)
            other.close()
            time.sleep(0.5)
        else:
            resp = other.request(method, headers=auth, session=session)
        if answers is not None:
            answers.append(resp)
        return resp.status


def stops_victim(victim):
    victim.udp.drain(quiet=0.3, timeout=3.0)
    return victim.rtp_bytes(1.0) == 0


ATTACKS = ["PAUSE", "PLAY", "TEARDOWN", "GET_PARAMETER", "OPTIONS", "SETUP"]
# name: (url, method, headers)
ERROR_ATTACKS = {
    "PLAY-404": ("/no-such-path", "PLAY", {}),
    "TEARDOWN-*": ("*", "TEARDOWN", {}),
    "UNKNOWN-METHOD": ("/tone", "FROBNICATE", {}),
    "REQUIRE": ("/tone", "PLAY", {"Require": "no-such-feature"}),
}


@pytest.mark.parametrize("method", ATTACKS)
def test_stock_server_lets_another_connection_use_a_session(stock, method):
    victim = Victim(stock)
    try:
        status = attack(stock, method, victim.session)
        if method in ("PAUSE", "TEARDOWN", "OPTIONS"):
            hijacked = stops_victim(victim)
        else:
            hijacked = status == 200
        if not hijacked:
            pytest.skip(f"{stock.version}: a foreign {method} got {status} and did not affect the session")
        assert status == 200
    finally:
        victim.close()


@pytest.mark.parametrize("method", ATTACKS)
def test_hardened_server_refuses_another_connection(hardened, method):
    victim = Victim(hardened)
    try:
        status = attack(hardened, method, victim.session)
        assert status == 454
        # The victim's tone keeps flowing (50 packets of 172 bytes a second)
        # and its session is still there.
        assert victim.rtp_bytes(1.0) > 20 * 172
        assert hardened.removed(victim.session) is None
        assert victim.alive()
    finally:
        victim.close()


def test_hardened_server_ignores_a_foreign_session_in_a_response(hardened):
    victim = Victim(hardened)
    try:
        with RtspClient(hardened.port) as other:
            other.send(f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: {victim.session}\r\n\r\n".encode())
            time.sleep(0.3)
            other.close()
        time.sleep(0.5)
        assert victim.rtp_bytes(1.0) > 20 * 172
        assert victim.alive()
    finally:
        victim.close()


def test_owner_keeps_full_control(hardened):
    victim = Victim(hardened)
    try:
        assert ID.match(victim.session), victim.session
        assert victim.conn.request("PAUSE", session=victim.session).status == 200
        assert stops_victim(victim)
        assert victim.conn.request("PLAY", session=victim.session).status == 200
        assert victim.rtp_bytes(1.0) > 0
        assert victim.conn.request("TEARDOWN", session=victim.session).status == 200
        assert hardened.removed(victim.session, timeout=2.0) is not None
    finally:
        victim.close()


def test_peer_address_policy_shares_sessions_between_connections_of_a_peer():
    server = GstServer("--owner", "peer-address")
    try:
        victim = Victim(server)
        with RtspClient(server.port) as other:
            # Same address: the same owner, as the policy says.
            assert other.request("GET_PARAMETER", session=victim.session).status == 200
            assert other.request("TEARDOWN", session=victim.session).status == 200
        assert server.removed(victim.session, timeout=2.0) is not None
        victim.close()
    finally:
        assert server.stop() == 0


def basic(user, password):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ALICE = basic("alice", "alice-pw")
BOB = basic("bob", "bob-pw")


@pytest.fixture(scope="module")
def by_user():
    server = GstServer("--owner", "user", "--users", "alice:alice-pw,bob:bob-pw")
    yield server
    assert server.stop() == 0


@pytest.mark.parametrize("method", sorted(ERROR_ATTACKS))
@pytest.mark.parametrize("policy", ["connection", "user"])
def test_foreign_requests_answered_with_errors_have_no_effect(hardened, by_user, policy, method):
    server, auth, other = (hardened, None, None) if policy == "connection" else (by_user, ALICE, BOB)
    victim = Victim(server, auth=auth)
    try:
        status = attack(server, method, victim.session, auth=other)
        assert status >= 400
        assert victim.rtp_bytes(1.0) > 20 * 172
        assert server.removed(victim.session) is None
        assert victim.alive()
    finally:
        victim.close()


def test_user_policy_lets_the_creating_connection_go_without_credentials(by_user):
    victim = Victim(by_user, auth=ALICE)
    try:
        assert victim.conn.request("GET_PARAMETER", session=victim.session).status == 200
        assert victim.conn.request("PAUSE", session=victim.session).status == 200
    finally:
        victim.close()


def test_user_policy_ignores_a_response_message_naming_a_session(by_user):
    victim = Victim(by_user, auth=ALICE)
    try:
        with RtspClient(by_user.port) as other:
            other.send(f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: {victim.session}\r\n\r\n".encode())
            time.sleep(0.3)
        time.sleep(0.5)
        assert victim.rtp_bytes(1.0) > 20 * 172
        assert victim.alive()
        assert by_user.proc.poll() is None  # no critical aborted it
    finally:
        victim.close()


@pytest.mark.parametrize("method", ATTACKS)
def test_user_policy_refuses_another_user(by_user, method):
    victim = Victim(by_user, auth=ALICE)
    try:
        answers = []
        status = attack(by_user, method, victim.session, auth=BOB, answers=answers)
        if method == "OPTIONS":
            # Answered, but without the session (rejecting OPTIONS aborts
            # GStreamer 1.22).
            assert status == 200
            assert answers[0].header("Session") is None
        else:
            assert status == 454
        assert victim.rtp_bytes(1.0) > 20 * 172
        assert by_user.removed(victim.session) is None
        assert victim.alive()
    finally:
        victim.close()


def test_user_policy_shares_a_session_between_connections_of_its_user(by_user):
    victim = Victim(by_user, auth=ALICE)
    try:
        assert attack(by_user, "GET_PARAMETER", victim.session, auth=ALICE) == 200
        # Without credentials: nobody's request, not alice's.
        assert attack(by_user, "GET_PARAMETER", victim.session) == 454
        # (alice's other connection watched the session, so its close stopped
        # the media, as GStreamer does for any connection of the owner; the
        # session itself stays, and is still hers.)
        assert attack(by_user, "GET_PARAMETER", victim.session, auth=ALICE) == 200
        assert attack(by_user, "GET_PARAMETER", victim.session, auth=BOB) == 454
        assert by_user.removed(victim.session) is None
    finally:
        victim.close()


def test_max_sessions_answers_503_and_keeps_the_pool_consistent():
    server = GstServer("--max-sessions", "1")
    try:
        first = Victim(server)
        with RtspClient(server.port) as other, UdpPair() as udp:
            assert other.setup_udp(udp.rtp_port, udp.rtcp_port, path="/tone/stream=0").status == 503
        assert first.conn.request("TEARDOWN", session=first.session).status == 200
        assert server.removed(first.session, timeout=2.0) is not None
        first.close()
        second = Victim(server)  # the slot is free again
        second.close()
    finally:
        assert server.stop() == 0


# -- real clients --

def created_ids(server, since):
    return [line.split()[1] for when, line in list(server.lines)
            if when >= since and line.startswith("session-created ")]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_ffprobe(hardened, transport):
    if not shutil.which("ffprobe"):
        pytest.skip("no ffprobe")
    started = time.monotonic()
    out = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
                          "stream=codec_name", "-of", "csv=p=0", hardened.url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pcm_mulaw"
    ids = created_ids(hardened, started)
    assert len(ids) == 1 and ID.match(ids[0]), ids
    # ffprobe's TEARDOWN leaves no session behind.
    assert hardened.removed(ids[0], timeout=3.0) is not None


def test_rtspsrc_keeps_a_short_session_alive():
    if not shutil.which("gst-launch-1.0"):
        pytest.skip("no gst-launch-1.0")
    # Timeout 3 s: GStreamer allows 5 s more, so 8 s without a keep-alive
    # ends the session; rtspsrc sends one a second before the 3 s.
    server = GstServer("--timeout", "3")
    try:
        started = time.monotonic()
        player = subprocess.Popen(["gst-launch-1.0", "-q", "rtspsrc", f"location={server.url}", "protocols=udp",
                                   "!", "fakesink"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(12)
            assert player.poll() is None, player.stderr.read()
            ids = created_ids(server, started)
            assert len(ids) == 1, ids
            assert server.removed(ids[0]) is None
        finally:
            player.terminate()
            player.wait(timeout=10)
    finally:
        assert server.stop() == 0


def test_a_silent_udp_client_expires_about_a_second_after_its_deadline():
    # The application lowers the timeout to 1 s in new-session; GStreamer
    # adds 5 s: the deadline is 6 s after the last request.
    server = GstServer("--timeout", "1")
    try:
        victim = Victim(server)
        removed = server.removed(victim.session, timeout=12.0)
        assert removed is not None, "the silent session never expired"
        waited = removed - victim.last_request
        assert 5.9 <= waited <= 7.0, waited
        victim.close()
    finally:
        assert server.stop() == 0


# -- the Python example, through the typelib --

PY_EXAMPLE = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                                           "examples", "gst-server", "rs-gst-tone-server.py")]


@pytest.mark.skipif(not os.path.exists(os.path.join(os.environ.get("GI_TYPELIB_PATH", ""),
                                                    "RtspSessionGst-1.0.typelib")),
                    reason="needs the built typelib")
@pytest.mark.parametrize("mode", ["stock", "hardened"])
def test_python_example(mode):
    server = GstServer(*(["--stock"] if mode == "stock" else []), program=PY_EXAMPLE)
    try:
        assert server.mode == mode
        victim = Victim(server)
        if mode == "stock":
            # Its close tears the victim's media down: nothing more to check.
            assert attack(server, "GET_PARAMETER", victim.session) == 200
        else:
            assert attack(server, "GET_PARAMETER", victim.session) == 454
            assert ID.match(victim.session)
            assert victim.conn.request("TEARDOWN", session=victim.session).status == 200
            assert server.removed(victim.session, timeout=2.0) is not None
        victim.close()
    finally:
        assert server.stop() == 0


# -- RTSP over HTTP under the user policy --

class Tunnel:
    """An RTSP-over-HTTP tunnel: a GET connection for answers, a POST one
    for base64-encoded requests, joined by a cookie."""

    def __init__(self, port, cookie):
        self.port, self.cookie = port, cookie
        self.get = socket.create_connection((HOST, port), timeout=3)
        self.get.sendall(f"GET /tone HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                         "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode())
        assert self.get.recv(4096).startswith(b"HTTP/1.0 200")
        self.post = self.open_post()

    def open_post(self):
        post = socket.create_connection((HOST, self.port), timeout=3)
        post.sendall(f"POST /tone HTTP/1.0\r\nx-sessioncookie: {self.cookie}\r\n"
                     "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n".encode())
        return post

    def request(self, text, post=None):
        (post or self.post).sendall(base64.b64encode(text.encode()))
        time.sleep(0.4)
        return self.get.recv(65536).decode("latin-1")

    def close(self):
        self.get.close()
        self.post.close()


def test_user_policy_a_tunnel_cookie_is_not_a_credential(by_user):
    url = f"rtsp://{HOST}:{by_user.port}/tone"
    auth = "Authorization: " + ALICE["Authorization"] + "\r\n"
    tunnel = Tunnel(by_user.port, "alice-tunnel-cookie")
    try:
        with UdpPair() as udp:
            answer = tunnel.request(f"SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\n"
                                    f"Transport: RTP/AVP;unicast;client_port={udp.rtp_port}-{udp.rtcp_port}\r\n"
                                    f"{auth}\r\n")
            session = re.search(r"Session: ([A-Za-z0-9]+)", answer).group(1)
            assert tunnel.request(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n{auth}\r\n") \
                .startswith("RTSP/1.0 200")
            assert len(udp.receive_rtp(20, timeout=2.0)) == 20
            # Alice's POST half goes; someone else posts with her cookie and
            # no credentials.
            tunnel.post.close()
            time.sleep(0.3)
            stranger = tunnel.open_post()
            answer = tunnel.request(f"PAUSE {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n\r\n", post=stranger)
            stranger.close()
            assert answer.startswith("RTSP/1.0 454"), answer
            udp.receive_rtp(1000, timeout=0.3)
            assert len(udp.receive_rtp(20, timeout=2.0)) == 20
    finally:
        tunnel.close()
