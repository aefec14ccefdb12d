"""Runs rs-gst-tone-server (examples/gst-server), a real GstRTSPServer, stock
or hardened by librtspsession-gst, and collects its stdout with arrival
times."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "server"))
from rtsp_client import HOST, RtspClient, UdpPair  # noqa: E402,F401

SERVER = os.environ.get("RS_GST_TONE_SERVER") or os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
    "build", "examples", "gst-server", "rs-gst-tone-server"))
START_LINE = re.compile(r"^rs-gst-tone-server: rtsp://127\.0\.0\.1:(\d+)/tone \((stock|hardened), (.*)\)")


class GstServer:
    def __init__(self, *args, program=None, start_timeout=15.0):
        self.lines = []  # (monotonic arrival time, line)
        self.stderr = []
        self._cond = threading.Condition()
        cmd = list(program or [SERVER]) + ["--port", "0", "--address", HOST] + [str(a) for a in args]
        env = dict(os.environ)
        env.setdefault("G_DEBUG", "fatal-criticals")  # a critical fails the test
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True)]
        for t in self._threads:
            t.start()
        _, match = self.wait_for(START_LINE, timeout=start_timeout)
        self.port = int(match.group(1))
        self.mode = match.group(2)
        self.version = match.group(3)
        self.url = f"rtsp://{HOST}:{self.port}/tone"

    def _pump(self, stream, is_stdout):
        for line in stream:
            with self._cond:
                if is_stdout:
                    self.lines.append((time.monotonic(), line.rstrip("\n")))
                else:
                    self.stderr.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern, timeout=10.0):
        """(arrival time, match) of the first stdout line matching @pattern;
        None if none arrives within @timeout."""
        if isinstance(pattern, str):
            pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for when, line in self.lines:
                    m = pattern.search(line)
                    if m:
                        return when, m
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if self.proc.poll() is not None:
                    raise AssertionError("server exited %s; stderr:\n%s" % (self.proc.returncode,
                                                                          "\n".join(self.stderr)))
                self._cond.wait(min(remaining, 0.1))

    def removed(self, session_id, timeout=0.0):
        """Arrival time of the session-removed line for @session_id, or None."""
        found = self.wait_for(r"^session-removed " + re.escape(session_id) + "$", timeout=timeout)
        return found[0] if found else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode
