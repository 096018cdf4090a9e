"""Small helpers shared by the integration fixtures: bounded waits and ports."""

import collections
import fcntl
import os
import random
import socket
import tempfile
import threading
import time

_handed_out = set()
_pick_lock = threading.Lock()

# Ports are reserved across processes (every test run on this machine, in any worktree) with a
# one-byte POSIX record lock at offset = port in one shared file, held by this process: another
# run's free_port skips a reserved port even though nothing listens on it yet. The locks go with
# the process. The reservation only has to cover the time from the pick to the daemon's bind
# (after which the port is in use and the bind check refuses it), so only the last
# _RESERVATIONS_KEPT picks stay reserved.
_RESERVATION_FILE = os.path.join(tempfile.gettempdir(), "goim-c-test-ports.lock")
_RESERVATIONS_KEPT = 512
_reservations = collections.deque()
_reservation_fd = None


def _ephemeral_range():
    """The kernel's range for outgoing connections' local ports (ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _reserve(port):
    """True if this process now holds port's reservation (False: another process holds it)."""
    global _reservation_fd
    if _reservation_fd is None:
        _reservation_fd = os.open(_RESERVATION_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(_reservation_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port, os.SEEK_SET)
    except OSError:
        return False
    _reservations.append(port)
    while len(_reservations) > _RESERVATIONS_KEPT:
        _release(_reservations.popleft())
    return True


def _release(port):
    fcntl.lockf(_reservation_fd, fcntl.LOCK_UN, 1, port, os.SEEK_SET)


def free_port():
    """A TCP port on 127.0.0.1 that is free now, not handed out before by this process, and not
    reserved by another test process of this machine (see _RESERVATION_FILE).

    Chosen below the kernel's ephemeral range: a port the kernel hands out by itself (bind to 0)
    may be taken again at once by any outgoing connection on the machine (a daemon's own dial to
    Redis, Kafka or logic) between this call and the daemon's bind, and the daemon then fails to
    start with "Address already in use". The reservation closes the same window against other
    test runs picking at random in the same range at the same time (comet2 of one run could not
    bind the RPC port another run had picked and bound first)."""
    low, _ = _ephemeral_range()
    first, last = 10000, max(10001, low - 1)
    with _pick_lock:
        while True:
            port = random.randint(first, last)
            if port in _handed_out:
                continue
            if not _reserve(port):
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    _reservations.remove(port)
                    _release(port)
                    continue
            _handed_out.add(port)
            return port


def port_listening(port):
    """True if a TCP socket of this network namespace listens on port (any address).

    Read from /proc/net/tcp and tcp6 (state 0A is LISTEN), so that asking makes no connection:
    a probe by connect() is a connection the daemon accepts and counts, perhaps only after the
    test has read its counters (comet's comet_connections_accepted_total was one too many)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)  # the header line
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            continue
    return False


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Abort(Exception):
    """Raised by a wait_for predicate to stop waiting at once (e.g. the process died)."""


def wait_for(predicate, timeout=30.0, interval=0.05, message=None):
    """Call predicate() until it returns a truthy value; return that value.

    Raises AssertionError (with message and the last exception or value)
    after timeout seconds. Exceptions from predicate count as "not yet",
    except Abort, which propagates at once.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Abort:
            raise
        except Exception as e:  # noqa: BLE001 - a failed probe means "not yet"
            last = e
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def tail(path, lines=60):
    """Last lines of a text file ('' if unreadable)."""
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""
