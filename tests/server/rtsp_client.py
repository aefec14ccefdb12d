"""Helpers for the example server's tests: run rs-example-server, talk RTSP
over raw sockets, receive RTP over UDP.

Everything is on 127.0.0.1 and every wait is bounded.
"""
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

SERVER = os.environ.get("RS_EXAMPLE_SERVER") or os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
    "build", "examples", "rtsp-server", "rs-example-server"))

HOST = "127.0.0.1"
START_LINE = re.compile(r"^rs-example-server: rtsp://127\.0\.0\.1:(\d+)/tone ")


class Server:
    """rs-example-server on a free port of 127.0.0.1, its stdout collected
    line by line."""

    def __init__(self, *args, wrapper=(), start_timeout=10.0, nofile=None):
        """@nofile: the server's descriptor limit, soft and hard (so that it
        cannot raise it)."""
        self.lines = []
        self.stderr_lines = []
        self._cond = threading.Condition()
        cmd = list(wrapper) + [SERVER, "--port", "0", "--address", HOST] + [str(a) for a in args]
        env = dict(os.environ)
        env.setdefault("G_DEBUG", "fatal-criticals")
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env, preexec_fn=preexec)
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines),
                                          daemon=True)]
        for t in self._threads:
            t.start()
        match = self.wait_for(START_LINE, timeout=start_timeout)
        self.port = int(match.group(1))
        self.url = f"rtsp://{HOST}:{self.port}/tone"

    def _pump(self, stream, sink):
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def log(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, pattern, timeout=10.0, start=0):
        """The first stdout line from index @start on that matches @pattern."""
        if isinstance(pattern, str):
            pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    m = pattern.search(line)
                    if m:
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self._threads)):
                    raise AssertionError(f"server never logged {pattern.pattern!r}; log:\n" + "\n".join(self.lines)
                                         + "\nstderr:\n" + "\n".join(self.stderr_lines))
                self._cond.wait(min(remaining, 0.2))

    def stop(self, sig=signal.SIGINT, timeout=15.0):
        """Stops the server with @sig and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def session_id(self):
        value = self.header("Session")
        return value.split(";")[0].strip() if value else None

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {self.headers}>"


class RtspClient:
    """One RTSP connection. Interleaved frames that arrive between responses
    are kept in self.frames as (channel, payload)."""

    def __init__(self, port, rcvbuf=None, timeout=5.0, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))  # another loopback address: another peer
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, port))
        self.port = port
        self.buf = b""
        self.cseq = 0
        self.frames = []
        self.session = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, path="/tone"):
        return f"rtsp://{HOST}:{self.port}{path}"

    def send(self, data):
        self.sock.sendall(data)

    def build(self, method, url, headers=None, body=b"", cseq=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def request(self, method, url=None, headers=None, body=b"", session=None):
        headers = dict(headers or {})
        if session:
            headers["Session"] = session
        self.send(self.build(method, url or self.url(), headers, body))
        resp = self.read_response()
        assert resp.header("CSeq") == str(self.cseq), resp
        return resp

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def read_frame_or_response(self):
        """The next message: ('frame', channel, payload) or ('response', Response)."""
        while True:
            if self.buf.startswith(b"$"):
                if len(self.buf) >= 4:
                    size = struct.unpack(">H", self.buf[2:4])[0]
                    if len(self.buf) >= 4 + size:
                        channel = self.buf[1]
                        payload = self.buf[4:4 + size]
                        self.buf = self.buf[4 + size:]
                        return ("frame", channel, payload)
            elif self.buf:
                end = self.buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = self.buf[:end].decode("latin-1").split("\r\n")
                    status_line = head[0].split(" ", 2)
                    assert status_line[0] == "RTSP/1.0", head
                    headers = {}
                    for line in head[1:]:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                    length = int(headers.get("content-length", "0"))
                    if len(self.buf) >= end + 4 + length:
                        body = self.buf[end + 4:end + 4 + length]
                        self.buf = self.buf[end + 4 + length:]
                        return ("response", Response(int(status_line[1]), status_line[2] if len(status_line) > 2
                                                     else "", headers, body))
            self._fill()

    def read_response(self):
        while True:
            msg = self.read_frame_or_response()
            if msg[0] == "response":
                return msg[1]
            self.frames.append((msg[1], msg[2]))

    def read_frames(self, count, timeout=5.0):
        """Reads until @count frames arrived (responses are an error)."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.frames)} interleaved frames in {timeout} s")
            msg = self.read_frame_or_response()
            assert msg[0] == "frame", msg
            self.frames.append((msg[1], msg[2]))
        return self.frames

    def is_closed_by_server(self, timeout=3.0):
        """True when the server closes the connection within @timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # -- the usual requests --

    def setup_udp(self, rtp_port, rtcp_port, path="/tone/streamid=0", session=None):
        return self.request("SETUP", self.url(path),
                            {"Transport": f"RTP/AVP;unicast;client_port={rtp_port}-{rtcp_port}"}, session=session)

    def setup_tcp(self, channels=None, path="/tone/streamid=0", session=None):
        transport = "RTP/AVP/TCP;unicast" + (f";interleaved={channels}" if channels else "")
        return self.request("SETUP", self.url(path), {"Transport": transport}, session=session)


class UdpPair:
    """A client's RTP and RTCP sockets on consecutive ports."""

    def __init__(self):
        for _ in range(100):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind((HOST, 0))
            port = rtp.getsockname()[1]
            if port % 2 == 0 and port < 65535:
                rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    rtcp.bind((HOST, port + 1))
                except OSError:
                    rtcp.close()
                    rtp.close()
                    continue
                self.rtp, self.rtcp = rtp, rtcp
                self.rtp_port, self.rtcp_port = port, port + 1
                return
            rtp.close()
        raise RuntimeError("no free pair of UDP ports")

    def close(self):
        self.rtp.close()
        self.rtcp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def receive_rtp(self, count, timeout=5.0):
        """@count RTP packets (bytes), or fewer if @timeout passes."""
        packets = []
        deadline = time.monotonic() + timeout
        while len(packets) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.rtp.settimeout(remaining)
            try:
                data, _ = self.rtp.recvfrom(2048)
            except socket.timeout:
                break
            packets.append(data)
        return packets

    def drain(self, quiet=0.3, timeout=3.0):
        """Reads until nothing arrives for @quiet seconds; returns the count."""
        n = 0
        deadline = time.monotonic() + timeout
        self.rtp.settimeout(quiet)
        while time.monotonic() < deadline:
            try:
                self.rtp.recvfrom(2048)
                n += 1
            except socket.timeout:
                return n
        raise AssertionError("RTP kept arriving")

    def send_rtcp_rr(self, server_port):
        """An empty RTCP receiver report to the server's RTCP port."""
        self.rtcp.sendto(rtcp_rr(0x12345678), (HOST, server_port + 1))


def rtcp_rr(ssrc):
    # V=2, RC=0, PT=201 (RR), length 1 (two words), reporter SSRC.
    return struct.pack(">BBHI", 0x80, 201, 1, ssrc)


def parse_rtp(packet):
    """(marker, payload type, seq, timestamp, ssrc, payload) of an RTP packet."""
    assert len(packet) >= 12, packet
    b0, b1, seq, ts, ssrc = struct.unpack(">BBHII", packet[:12])
    assert b0 >> 6 == 2, "not RTP version 2"
    assert b0 & 0x3F == 0, "padding, extension or CSRCs"
    return bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, packet[12:]


def transport_params(value):
    params = {}
    for part in value.split(";")[1:]:
        name, _, v = part.partition("=")
        params[name.strip()] = v.strip().strip('"')
    return params


def ulaw_to_linear(byte):
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def tone_frequency(samples, rate=8000):
    """The frequency of a sine from its rising zero crossings."""
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if a < 0 <= b)
    return crossings * rate / len(samples)
