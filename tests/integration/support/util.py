"""Small helpers shared by the integration fixtures: bounded waits and ports."""

import random
import socket
import time

_handed_out = set()


def _ephemeral_range():
    """The kernel's range for outgoing connections' local ports (ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A TCP port on 127.0.0.1 that is free now and not handed out before by this process.

    Chosen below the kernel's ephemeral range: a port the kernel hands out by itself (bind to 0)
    may be taken again at once by any outgoing connection on the machine (a daemon's own dial to
    Redis, Kafka or logic) between this call and the daemon's bind, and the daemon then fails to
    start with "Address already in use"."""
    low, _ = _ephemeral_range()
    first, last = 10000, max(10001, low - 1)
    while True:
        port = random.randint(first, last)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
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
