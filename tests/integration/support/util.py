"""Small helpers shared by the integration fixtures: bounded waits and ports."""

import socket
import time

_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that is free now and not handed out before by this process."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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
