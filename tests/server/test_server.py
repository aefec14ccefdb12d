"""Real clients against the example RTSP server (examples/rtsp-server).

Run through meson (`meson test -C build --suite server`), which passes the
path of the built server in RS_EXAMPLE_SERVER, or directly:
  RS_EXAMPLE_SERVER=build/examples/rtsp-server/rs-example-server /usr/bin/python3 -m pytest tests/server

Clients: ffprobe and ffmpeg (Debian's ffmpeg), gst-launch-1.0 with rtspsrc
(gstreamer1.0-tools, gstreamer1.0-plugins-good), and raw sockets. Each test
starts its own server on a free port of 127.0.0.1.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from rtsp_client import (HOST, SERVER, RtspClient, Server, UdpPair, parse_rtp, rtcp_rr, tone_frequency,
                         transport_params, ulaw_to_linear)

ID = r"[A-Za-z0-9]{22}"


def need(program):
    path = shutil.which(program)
    if path is None:
        # scripts/install-deps.sh installs every client: in CI a missing one is a failure.
        if os.environ.get("CI"):
            pytest.fail(f"{program} is not installed")
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture(name="start_server")
def fixture_start_server():
    if not os.access(SERVER, os.X_OK):
        pytest.fail(f"no server at {SERVER}: build it first (ninja -C build)")
    servers = []

    def start(*args, **kwargs):
        server = Server(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        status = server.stop()
        assert status == 0, f"server exited with {status}; stderr:\n" + "\n".join(server.stderr_lines)
        bad = [line for line in server.stderr_lines if "CRITICAL" in line or "WARNING" in line]
        assert not bad, "\n".join(bad)
        assert "rs-example-server: shutting down" in server.log()


def setup_and_play_udp(client, pair, path="/tone/streamid=0"):
    resp = client.setup_udp(pair.rtp_port, pair.rtcp_port, path=path)
    assert resp.status == 200, resp
    session = resp.session_id()
    assert re.fullmatch(ID, session), session
    params = transport_params(resp.header("Transport"))
    assert params["client_port"] == f"{pair.rtp_port}-{pair.rtcp_port}"
    play = client.request("PLAY", client.url("/tone"), session=session)
    assert play.status == 200, play
    return session, params


def check_rtp_sequence(packets, ssrc=None):
    """Consecutive PCMU packets of one source: seq +1, timestamp +160."""
    parsed = [parse_rtp(p) for p in packets]
    for marker, pt, seq, ts, pssrc, payload in parsed:
        assert pt == 0 and len(payload) == 160
        if ssrc is not None:
            assert pssrc == ssrc
    for a, b in zip(parsed, parsed[1:]):
        assert b[2] == (a[2] + 1) & 0xFFFF
        assert b[3] == (a[3] + 160) & 0xFFFFFFFF
        assert b[4] == a[4]
    return parsed


# -- real clients --------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_ffprobe_reads_pcmu(start_server, transport):
    ffprobe = need("ffprobe")
    server = start_server()
    out = subprocess.run([ffprobe, "-v", "error", "-rtsp_transport", transport,
                          "-show_entries", "stream=codec_name,codec_type,sample_rate,channels", "-of", "json",
                          server.url], capture_output=True, text=True, timeout=60, check=True)
    streams = json.loads(out.stdout)["streams"]
    assert len(streams) == 1
    assert streams[0]["codec_name"] == "pcm_mulaw"
    assert streams[0]["codec_type"] == "audio"
    assert streams[0]["sample_rate"] == "8000"
    assert streams[0]["channels"] == 1
    server.wait_for(rf"session {ID} setup /tone {transport} ")
    server.wait_for(r"removed \(n_sessions=0\)")


@pytest.mark.parametrize("transport,path,frequency", [("tcp", "/tone", 440), ("udp", "/tone880", 880)])
def test_ffmpeg_decodes_the_tone(start_server, transport, path, frequency):
    ffmpeg = need("ffmpeg")
    server = start_server()
    url = f"rtsp://{HOST}:{server.port}{path}"
    out = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-rtsp_transport", transport, "-i", url,
                          "-t", "2", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
                         capture_output=True, timeout=60, check=True)
    samples = struct.unpack(f"<{len(out.stdout) // 2}h", out.stdout)
    assert len(samples) >= 8000
    assert abs(tone_frequency(samples) - frequency) < 5
    assert max(samples) > 5000


GST_ERROR = re.compile(r"^ERROR: from element .*\n(?:Additional debug info:\n.*\n)?(.*)$", re.MULTILINE)
# rtspsrc over TCP races its own PAUSE and TEARDOWN at shutdown: now and then
# the PAUSE, interrupted, reports the connection that TEARDOWN closed.
GST_SHUTDOWN_RACE = "Could not send message. (Received end-of-file)"


def check_gst_launch_output(output, returncode, context):
    context = output + context
    playing, interrupted, shutdown = output.partition("handling interrupt")
    assert interrupted, context
    assert "ERROR" not in playing, context
    errors = GST_ERROR.findall(shutdown)
    assert all(e.strip() == GST_SHUTDOWN_RACE for e in errors), context
    if errors:
        assert returncode == 1, context
    elif "Interrupt while waiting for EOS" in shutdown:
        assert returncode == 2, context
    else:
        assert returncode == 0, context
        assert "EOS received" in shutdown, context


def test_gstreamer_plays_longer_than_the_timeout(start_server):
    """rtspsrc keeps its sessions alive (keep-alive requests and RTCP) for
    14 s against a 5 s timeout, over UDP and over TCP at once."""
    gst_launch = need("gst-launch-1.0")
    server = start_server("--timeout", "5", "--extra-timeout", "1")
    env = dict(os.environ, GST_DEBUG="0")
    pipelines = []
    for protocols in ("udp", "tcp"):
        pipelines.append(subprocess.Popen(
            [gst_launch, "-e", "rtspsrc", f"location={server.url}", f"protocols={protocols}", "latency=100",
             "!", "rtppcmudepay", "!", "mulawdec", "!", "fakesink", "sync=true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    try:
        server.wait_for(rf"session {ID} setup /tone udp ", timeout=15)
        server.wait_for(rf"session {ID} setup /tone tcp ", timeout=15)
        time.sleep(14)
        for p in pipelines:
            assert p.poll() is None, p.communicate()[0]
            p.send_signal(signal.SIGINT)
        outputs = []
        for p in pipelines:
            try:
                outputs.append(p.communicate(timeout=8)[0])
            except subprocess.TimeoutExpired:
                # rtspsrc over TCP sometimes never delivers the EOS that -e
                # waits for (GStreamer 1.22, also against gst-rtsp-server);
                # a second interrupt stops the pipeline without it.
                p.send_signal(signal.SIGINT)
                outputs.append(p.communicate(timeout=15)[0])
    finally:
        for p in pipelines:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, output in zip(pipelines, outputs):
        check_gst_launch_output(output, p.returncode, "\nserver:\n" + "\n".join(server.log()))

    # The clients have exited; the server may still be reading the last
    # TEARDOWN or the close of a connection.
    deadline = time.monotonic() + 5
    while True:
        log = server.log()
        ended = [line for line in log if re.search(r" (torn down|closed with conn-\d+)$", line)]
        if len(ended) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(ended) == 2, "\n".join(log)
    assert not [line for line in log if "expired" in line], "\n".join(log)
    assert sum(1 for line in log if line.endswith(" playing")) == 2
    server.wait_for(r"removed \(n_sessions=0\)")
    log = server.log()
    sent = [int(m.group(1)) for m in (re.search(r"stream /tone stopped after (\d+) packets", line) for line in log)
            if m]
    assert len(sent) == 2, "\n".join(log)
    # 14 s is 700 packets; allow for start-up.
    assert all(n > 550 for n in sent), sent
    assert any("touched by RTCP" in line for line in log), "\n".join(log)


# -- session life, with raw clients --------------------------------------------------------

def test_udp_stream_and_teardown(start_server):
    server = start_server()
    with RtspClient(server.port) as client, UdpPair() as pair:
        options = client.request("OPTIONS", "*")
        assert options.status == 200
        assert "SETUP" in options.header("Public")
        describe = client.request("DESCRIBE", client.url("/tone"), {"Accept": "application/sdp"})
        assert describe.status == 200
        assert describe.header("Content-Type") == "application/sdp"
        assert describe.header("Content-Base") == client.url("/tone/")
        sdp = describe.body.decode()
        assert "m=audio 0 RTP/AVP 0" in sdp and "a=rtpmap:0 PCMU/8000" in sdp
        assert "a=control:streamid=0" in sdp

        session, params = setup_and_play_udp(client, pair)
        server.wait_for(rf"session {session} created \(owner conn-1, timeout 60\)")
        server.wait_for(rf"session {session} setup /tone udp client 127\.0\.0\.1:{pair.rtp_port}-{pair.rtcp_port}")
        server.wait_for(rf"session {session} playing")
        ssrc = int(params["ssrc"], 16)
        packets = pair.receive_rtp(25)
        assert len(packets) == 25
        parsed = check_rtp_sequence(packets, ssrc)
        assert parsed[0][0], "no marker on the first packet"
        freq = tone_frequency([ulaw_to_linear(b) for p in parsed for b in p[5]])
        assert abs(freq - 440) < 10

        teardown = client.request("TEARDOWN", client.url("/tone"), session=session)
        assert teardown.status == 200
        server.wait_for(rf"session {session} torn down")
        server.wait_for(rf"session {session} removed \(n_sessions=0\)")
        pair.drain()
        assert pair.receive_rtp(1, timeout=0.5) == []
        assert client.request("OPTIONS", "*", session=session).status == 454


def test_play_info_and_pause(start_server):
    server = start_server()
    with RtspClient(server.port) as client, UdpPair() as pair:
        session, params = setup_and_play_udp(client, pair)
        first = parse_rtp(pair.receive_rtp(1)[0])
        info = client.request("PLAY", client.url("/tone"), session=session)  # again: no harm
        assert info.status == 200
        assert info.header("Range") == "npt=now-"
        assert info.header("Session").split(";")[0] == session

        pause = client.request("PAUSE", client.url("/tone"), session=session)
        assert pause.status == 200
        server.wait_for(rf"session {session} paused")
        pair.drain()
        assert pair.receive_rtp(1, timeout=0.5) == []

        play = client.request("PLAY", client.url("/tone"), session=session)
        assert play.status == 200
        rtp_info = dict(kv.split("=", 1) for kv in play.header("RTP-Info").split(";"))
        assert rtp_info["url"] == client.url("/tone/streamid=0")
        packet = parse_rtp(pair.receive_rtp(1)[0])
        assert packet[0], "no marker after PLAY"
        assert packet[2] == int(rtp_info["seq"])
        assert packet[3] == int(rtp_info["rtptime"])
        assert packet[4] == first[4]
        # The timestamps follow real time across the pause.
        assert (packet[3] - first[3]) & 0xFFFFFFFF > 160 * 10


def test_session_expires_without_keepalive(start_server):
    """Keep-alive requests, then RTCP, keep the session; when both stop it
    expires after timeout + extra-timeout and is gone for good."""
    server = start_server("--timeout", "2", "--extra-timeout", "1")
    with RtspClient(server.port) as client, UdpPair() as pair:
        session, params = setup_and_play_udp(client, pair)
        assert client.request("OPTIONS", "*", session=session).header("Session") == f"{session};timeout=2"
        server_port = int(params["server_port"].split("-")[0])
        for _ in range(4):
            time.sleep(1)
            assert client.request("GET_PARAMETER", client.url("/tone"), session=session).status == 200
        for _ in range(4):
            time.sleep(1)
            pair.send_rtcp_rr(server_port)
        last_touch = time.monotonic()
        server.wait_for(rf"session {session} touched by RTCP")
        assert pair.receive_rtp(5, timeout=2)  # still streaming

        server.wait_for(rf"session {session} expired", timeout=10)
        elapsed = time.monotonic() - last_touch
        assert elapsed > 2.8, f"expired {elapsed:.2f} s after the last RTCP"
        server.wait_for(rf"session {session} removed \(n_sessions=0\)")
        assert client.request("OPTIONS", "*", session=session).status == 454
        assert client.request("PLAY", client.url("/tone"), session=session).status == 454
        pair.drain()
        assert pair.receive_rtp(1, timeout=0.5) == []
        # The connection itself still works.
        assert client.request("OPTIONS", "*").status == 200


def test_twenty_concurrent_clients(start_server):
    server = start_server()
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            with RtspClient(server.port, timeout=10) as client, UdpPair() as pair:
                barrier.wait(timeout=10)
                session, params = setup_and_play_udp(client, pair)
                packets = pair.receive_rtp(10, timeout=10)
                assert len(packets) == 10, f"client {i}: {len(packets)} packets"
                check_rtp_sequence(packets, int(params["ssrc"], 16))
                results[i] = (session, pair.rtp_port, params["server_port"])
                barrier.wait(timeout=20)  # everyone streams at once
                assert client.request("TEARDOWN", client.url("/tone"), session=session).status == 200
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(f"client {i}: {e!r}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len({r[0] for r in results}) == n, "session ids are not distinct"
    assert len({r[1] for r in results}) == n
    assert len({r[2] for r in results}) == n
    deadline = time.monotonic() + 10
    while sum("removed (n_sessions=" in line for line in server.log()) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    removed = [line for line in server.log() if "removed (n_sessions=" in line]
    assert len(removed) == n
    assert removed[-1].endswith("(n_sessions=0)")


def test_session_is_bound_to_its_connection(start_server):
    """Another connection that knows the id gets 454 for everything, and its
    requests do not keep the session alive."""
    server = start_server("--timeout", "2", "--extra-timeout", "1")
    with RtspClient(server.port) as owner, RtspClient(server.port) as thief, UdpPair() as pair:
        session, _ = setup_and_play_udp(owner, pair)
        start = time.monotonic()
        for method in ("OPTIONS", "GET_PARAMETER", "SET_PARAMETER", "PLAY", "PAUSE", "TEARDOWN"):
            assert thief.request(method, thief.url("/tone"), session=session).status == 454, method
        thief_setup = thief.setup_udp(pair.rtp_port, pair.rtcp_port, session=session)
        assert thief_setup.status == 454
        assert owner.request("OPTIONS", "*", session=session).status == 200
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            assert thief.request("GET_PARAMETER", thief.url("/tone"), session=session).status == 454
            time.sleep(0.25)
        server.wait_for(rf"session {session} expired", timeout=5)
        assert time.monotonic() - start < 4.5


def test_full_pool_answers_503(start_server):
    server = start_server("--max-sessions", "2")
    clients = [RtspClient(server.port) for _ in range(3)]
    try:
        sessions = []
        for client in clients[:2]:
            resp = client.setup_tcp()
            assert resp.status == 200
            sessions.append(resp.session_id())
        assert clients[2].setup_tcp().status == 503
        server.wait_for(r"limit: max-sessions 2 reached: conn-3 SETUP refused with 503")
        assert clients[0].request("TEARDOWN", clients[0].url("/tone"), session=sessions[0]).status == 200
        server.wait_for(r"removed \(n_sessions=1\)")
        assert clients[2].setup_tcp().status == 200
    finally:
        for client in clients:
            client.close()


def test_one_presentation_per_session(start_server):
    server = start_server()
    with RtspClient(server.port) as client:
        setup = client.setup_tcp(channels="0-1")
        assert setup.status == 200
        session = setup.session_id()
        other = client.setup_tcp(channels="2-3", path="/tone880/streamid=0", session=session)
        assert other.status == 459
        again = client.setup_tcp(channels="4-5", session=session)  # a new transport for the same stream
        assert again.status == 200 and again.session_id() == session
        assert transport_params(again.header("Transport"))["interleaved"] == "4-5"
        assert client.request("PLAY", client.url("/tone"), session=session).status == 200
        assert client.setup_tcp(channels="0-1", session=session).status == 455
        assert client.request("PLAY", client.url("/tone880"), session=session).status == 404
        frame = client.read_frames(1)[0]
        assert frame[0] == 4
        server.wait_for(rf"session {session} setup /tone tcp interleaved 4-5")


def test_tcp_interleaved_with_pipelined_requests(start_server):
    server = start_server()
    with RtspClient(server.port) as client:
        setup = client.setup_tcp()  # no interleaved=: the server allocates 0-1
        assert setup.status == 200
        session = setup.session_id()
        params = transport_params(setup.header("Transport"))
        assert setup.header("Transport").startswith("RTP/AVP/TCP;unicast")
        assert params["interleaved"] == "0-1"
        ssrc = int(params["ssrc"], 16)
        play = client.request("PLAY", client.url("/tone"), session=session)
        assert play.status == 200
        frames = client.read_frames(20)
        rtp = [payload for channel, payload in frames if channel == 0]
        assert len(rtp) >= 15
        check_rtp_sequence(rtp, ssrc)

        # Two requests in one write, with an interleaved RTCP frame between
        # them and a Content-Length body on the second.
        rr = rtcp_rr(0xCAFEBABE)
        data = (client.build("OPTIONS", "*", {"Session": session}, cseq=100)
                + b"$\x01" + struct.pack(">H", len(rr)) + rr
                + client.build("GET_PARAMETER", client.url("/tone"), {"Session": session}, b"\r\n", cseq=101)
                + b"$\x00\x00\x04abcd")  # client RTP on the even channel is ignored
        client.send(data)
        first = client.read_response()
        second = client.read_response()
        assert (first.status, first.header("CSeq")) == (200, "100")
        assert (second.status, second.header("CSeq")) == (200, "101")
        server.wait_for(rf"session {session} touched by RTCP")

        client.cseq = 101
        teardown = client.request("TEARDOWN", client.url("/tone/streamid=0"), session=session)
        assert teardown.status == 200
        server.wait_for(rf"session {session} removed \(n_sessions=0\)")


def test_playing_over_tcp_keeps_the_session(start_server):
    """While a stream plays on the connection the session does not expire
    (as in GStreamer's server); paused, it expires as usual."""
    server = start_server("--timeout", "1", "--extra-timeout", "0")
    with RtspClient(server.port) as client:
        session = client.setup_tcp().session_id()
        assert client.request("PLAY", client.url("/tone"), session=session).status == 200
        end = time.monotonic() + 3
        while time.monotonic() < end:
            client.read_frame_or_response()
        assert not [line for line in server.log() if "expired" in line]
        assert client.request("PAUSE", client.url("/tone"), session=session).status == 200
        paused = time.monotonic()
        server.wait_for(rf"session {session} expired", timeout=5)
        assert time.monotonic() - paused > 0.9
        assert client.request("OPTIONS", "*", session=session).status == 454


def test_closing_the_connection_removes_its_sessions(start_server):
    server = start_server()
    client = RtspClient(server.port)
    session = client.setup_tcp().session_id()
    assert client.request("PLAY", client.url("/tone"), session=session).status == 200
    client.read_frames(5)
    client.close()
    server.wait_for(rf"session {session} closed with conn-1")
    server.wait_for(rf"session {session} removed \(n_sessions=0\)")


def test_slow_tcp_reader_costs_bounded_memory(start_server):
    server = start_server("--tcp-queue-limit", "4096")
    with RtspClient(server.port, rcvbuf=2048) as client:
        session = client.setup_tcp().session_id()
        assert client.request("PLAY", client.url("/tone"), session=session).status == 200
        # Read nothing: the kernel's buffers fill, then the server's queue.
        server.wait_for(r"conn-1 slow reader: dropped \d+ RTP packets", timeout=20)
        # The connection still works once the client reads again.
        client.send(client.build("OPTIONS", "*", {"Session": session}, cseq=77))
        resp = client.read_response()
        assert (resp.status, resp.header("CSeq")) == (200, "77")
    server.wait_for(r"removed \(n_sessions=0\)")


# -- bad input -------------------------------------------------------------------------------

def raw_exchange(port, data, count, expect_close=False):
    """Sends @data on a new connection and reads @count responses; returns
    their statuses. Then the server must close the connection, or else say
    nothing more for a moment."""
    with RtspClient(port, timeout=5) as client:
        client.send(data)
        statuses = [client.read_response().status for _ in range(count)]
        if expect_close:
            assert client.is_closed_by_server(), data[:60]
        else:
            client.sock.settimeout(0.05)
            with pytest.raises(socket.timeout):
                client.read_frame_or_response()
    return statuses


def test_bad_requests(start_server):
    server = start_server()
    url = f"rtsp://{HOST}:{server.port}/tone"
    cases = [
        (b"OPTIONS * RTSP/1.0\r\n\r\n", [400]),  # no CSeq
        (b"OPTIONS * RTSP/1.0\r\nCSeq: x1\r\n\r\n", [400]),
        (b"FROBNICATE * RTSP/1.0\r\nCSeq: 1\r\n\r\n", [501]),
        (f"ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), [405]),
        (f"RECORD {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), [405]),
        (b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", [505]),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", [400]),
        (f"DESCRIBE rtsp://{HOST}/nothing RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), [404]),
        (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: text/html\r\n\r\n".encode(), [406]),
        (f"PLAY {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), [454]),
        (f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nSession: bad id!\r\n\r\n".encode(), [400]),
        (f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nSession: abc;timeout=x\r\n\r\n".encode(), [400]),
        (f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nSession: {'A' * 22}\r\n\r\n".encode(), [454]),
        (f"SETUP {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), [461]),
        (f"SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;multicast\r\n\r\n".encode(), [461]),
        (f"SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=70000-70001\r\n\r\n"
         .encode(), [461]),
        (f"SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=255-256\r\n\r\n".encode(), [461]),
        (f"SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RAW/RAW/UDP;unicast\r\n\r\n".encode(), [461]),
        (f"SETUP {url}/streamid=1 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP\r\n\r\n".encode(), [404]),
        # Bodies are skipped by Content-Length, also when pipelined.
        (f"SET_PARAMETER {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\nfoo: bar\r\n"
         f"GET_PARAMETER {url} RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 2\r\n\r\n\r\n"
         f"OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n".encode(), [451, 200, 200]),
        # Extra line breaks between requests and folded headers are fine.
        (b"\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: a\r\n  b\r\n\r\n\r\n", [200]),
        (b"OPTIONS * RTSP/1.0\nCSeq: 4\n\n", [200]),
    ]
    for data, expected in cases:
        assert raw_exchange(server.port, data, len(expected)) == expected, data

    fatal = [
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n", [400]),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", [413]),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", [400]),
        (b"GARBAGE\r\n\r\n", [400]),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: " + b"a" * 20000, [400]),
        (b"\x00\x01\x02\xff\xfe" * 10, [400]),
    ]
    for data, expected in fatal:
        assert raw_exchange(server.port, data, len(expected), expect_close=True) == expected, data[:60]

    with RtspClient(server.port) as client:
        assert client.request("OPTIONS", "*").status == 200


def test_garbage_never_crashes_the_server(start_server):
    server = start_server("--timeout", "3")
    url = f"rtsp://{HOST}:{server.port}/tone"
    rng = random.Random(20240601)
    valid = [
        f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
        f"SETUP {url}/streamid=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
        f"SETUP {url}/streamid=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=9-10\r\n\r\n",
        f"PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: abc\r\nRange: npt=0-\r\n\r\n",
        f"SET_PARAMETER {url} RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 4\r\n\r\nab\r\n",
    ]
    for _ in range(300):
        kind = rng.random()
        if kind < 0.4:
            data = bytearray("".join(rng.choice(valid) for _ in range(rng.randint(1, 4))).encode())
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(data))
                op = rng.random()
                if op < 0.4:
                    data[pos] = rng.randrange(256)
                elif op < 0.7:
                    del data[pos:pos + rng.randint(1, 8)]
                else:
                    data[pos:pos] = rng.choice([b"$", b"\r\n", b":", b";", b"-", b"\x00", b"9999999999", b"="])
        elif kind < 0.6:
            data = b"$" + bytes([rng.randrange(256)]) + struct.pack(">H", rng.randrange(200)) + rng.randbytes(
                rng.randrange(300))
        else:
            data = rng.randbytes(rng.randint(1, 3000))
        try:
            with socket.create_connection((HOST, server.port), timeout=2) as sock:
                sock.sendall(bytes(data))
                sock.settimeout(0.05)
                try:
                    sock.recv(65536)
                except (socket.timeout, ConnectionError):
                    pass
        except ConnectionError:
            pass
        assert server.proc.poll() is None, "the server died"
    with RtspClient(server.port) as client:
        assert client.request("OPTIONS", "*").status == 200
    server.wait_for(r"removed \(n_sessions=0\)", timeout=10)  # garbage SETUPs closed with their connections


# -- memory checking ---------------------------------------------------------------------------

def test_valgrind_clean_exit(start_server):
    """Sessions over UDP and TCP, torn down, expired and left open at
    SIGTERM, under memcheck: no invalid accesses and no definite leaks."""
    valgrind = need("valgrind")
    if os.environ.get("RS_SANITIZE", "none") != "none":
        pytest.skip("a sanitizer build does not run under valgrind")
    server = start_server("--timeout", "1", "--extra-timeout", "0", wrapper=[
        valgrind, "-q", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=9",
        "--show-leak-kinds=definite"], start_timeout=60)
    with RtspClient(server.port, timeout=20) as a, RtspClient(server.port, timeout=20) as b, UdpPair() as pair:
        session, params = setup_and_play_udp(a, pair)
        assert len(pair.receive_rtp(5, timeout=10)) == 5
        pair.send_rtcp_rr(int(params["server_port"].split("-")[0]))
        assert a.request("TEARDOWN", a.url("/tone"), session=session).status == 200
        expiring = a.setup_tcp(path="/tone880").session_id()
        server.wait_for(rf"session {expiring} expired", timeout=20)
        tcp = b.setup_tcp().session_id()
        assert b.request("PLAY", b.url("/tone"), session=tcp).status == 200
        b.read_frames(5, timeout=10)
        assert raw_exchange(server.port, b"GARBAGE\r\n\r\n", 1, expect_close=True) == [400]
        status = server.stop(signal.SIGTERM, timeout=60)
    assert status == 0, "\n".join(server.stderr_lines)
    assert not server.stderr_lines, "\n".join(server.stderr_lines)
    log = server.log()
    assert f"session {tcp} closed with conn-2" in log
