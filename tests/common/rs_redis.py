"""A private redis-server for tests: on a unix socket in a temporary
directory, no TCP port, no persistence. Shared by tests/redis and
tests/cluster."""
import os
import shutil
import subprocess
import tempfile
import time

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


class Redis:
    """A private redis-server on a unix socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rs-redis-")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.proc = None
        self.start()

    @property
    def uri(self):
        return "unix://" + self.socket

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--enable-debug-command", "local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(self.socket) and self.cli("PING") == "PONG":
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def cli(self, *args):
        out = subprocess.run([REDIS_CLI, "-s", self.socket, "--raw", *args], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.rstrip("\n")

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout=5.0, what="condition"):
    """Polls @predicate until it returns something true (which it returns),
    at most @timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
