"""A throw-away redis-server on 127.0.0.1 for the integration tests."""

import os
import shutil
import subprocess
import tempfile

from .util import Abort, free_port, tail, wait_for


class RedisServer:
    def __init__(self, exe="redis-server", port=None, data_dir=None):
        self.exe = shutil.which(exe) or exe
        self.port = port
        self._own_dir = data_dir is None
        self.data_dir = data_dir
        self.proc = None
        self.log_path = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def client(self, **kw):
        import redis
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def start(self, timeout=20):
        if not os.path.exists(self.exe):
            raise RuntimeError("redis-server not found (%s): run deploy/install-deps.sh" % self.exe)
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix="goim-redis-")
        if self.port is None:
            self.port = free_port()
        self.log_path = os.path.join(self.data_dir, "redis.log")
        self.proc = subprocess.Popen(
            [self.exe, "--save", "", "--appendonly", "no", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", self.data_dir, "--logfile", self.log_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = self.client(socket_timeout=1)

        def up():
            if self.proc.poll() is not None:
                raise Abort("redis-server exited with %s:\n%s"
                                   % (self.proc.returncode, tail(self.log_path)))
            return client.ping()

        try:
            wait_for(up, timeout, message="redis-server on %s" % self.addr)
        except (AssertionError, Abort):
            self.stop()
            raise
        finally:
            client.close()
        return self

    def stop(self, timeout=10):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._own_dir and self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
