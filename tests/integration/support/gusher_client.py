"""gusher.cluster's clients of comet for the integration tests: an RSA key pair and JWTs made in
the test (PyJWT), plain HTTP to comet's gusher routes, and WebSocket sockets through the
independent `websockets` client (text messages; it answers the server's pings itself). (logic's
side of gusher has its own client.)"""

import json
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.sync.client import connect as ws_connect

from support.gopusher import call

PREFIX = "/gusher/"


class KeyPair:
    """A fresh 2048-bit RSA key pair (PEM)."""

    def __init__(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claim, algorithm="RS256", **standard):
        """A JWT of {"gusher": claim, **standard} signed with the private key."""
        return jwt.encode(dict(standard, gusher=claim), self.private_pem, algorithm=algorithm)


def claim(user_id="Test_User", channels=("AA", "BB"), app_key="TEST", remotes=None):
    """The gusher claim of the reference's jwt.example (remotes added when given)."""
    out = {"channels": list(channels), "user_id": user_id, "app_key": app_key}
    if remotes is not None:
        out["remotes"] = dict(remotes)
    return out


def request(port, method, path, form=None, timeout=10.0):
    """One HTTP/1.1 request to comet's WebSocket listener (form urlencoded as the body); an
    Answer (status, headers by lower-case name, body bytes)."""
    return call(port, method, path, form=form, auth=None, timeout=timeout)


def auth(port, token_jwt):
    """POST {prefix}auth jwt=...; the Answer."""
    return request(port, "POST", PREFIX + "auth", form={"jwt": token_jwt})


def token_for(port, keys, the_claim):
    """The opaque token comet answers for a JWT of the_claim."""
    answer = auth(port, keys.sign(the_claim))
    assert answer.status == 200, answer
    return json.loads(answer.body)["token"]


def open_socket(port, app_key, token, timeout=10.0):
    """A gusher socket ({prefix}ws/{app_key}?token=), or the InvalidStatus of a refusal."""
    query = urllib.parse.urlencode({"token": token})
    return ws_connect("ws://127.0.0.1:%d%sws/%s?%s" % (port, PREFIX, app_key, query),
                      open_timeout=timeout, close_timeout=2, max_size=None)


def send(socket, event, data, **extra):
    """Sends one command; returns the bytes sent."""
    text = json.dumps(dict({"event": event, "data": data}, **extra), separators=(",", ":"))
    socket.send(text)
    return text


def receive(socket, timeout=10.0):
    """The next text message."""
    message = socket.recv(timeout=timeout)
    assert isinstance(message, str), message
    return message


def socket_id_of(socket):
    """Learns the socket's id from a querychannel reply."""
    send(socket, "gusher.querychannel", {})
    return json.loads(receive(socket))["socket_id"]


def closed_within(socket, timeout=10.0):
    """True when the server closes the socket within timeout (messages before are skipped)."""
    deadline = time.monotonic() + timeout
    from websockets.exceptions import ConnectionClosed
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False
    return False
