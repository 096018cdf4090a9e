"""comet's WSS with several certificates (goim: comma-separated websocket.certFile /
websocket.privateFile lists paired by position, the certificate picked by the client's SNI name,
the first pair when SNI is absent or names no certificate), and the start-up errors of those lists.

Two self-signed certificates are made with the openssl command line: A has only a subject CN
(alpha.test), B has CN beta-cn.test and subjectAltName DNS beta.test, *.wild.test (and an EC key,
A an RSA one). Which certificate comet presented is read from the handshake
(getpeercert(binary_form=True)) and compared with each file's DER form (`openssl x509 -outform
der`); every connection then speaks goim over the WebSocket (auth op 7 -> op 8, heartbeat)."""

import socket
import ssl
import subprocess

import pytest

from support.cluster import SANITIZER_RE, daemon_env
from support.goim_ws import WsClient, read_http_head, upgrade_request
from support.util import free_port


class Certificate:
    def __init__(self, label, cert, key, der):
        self.label, self.cert, self.key, self.der = label, cert, key, der


def make_certificate(directory, label, key_options, extra_options):
    cert, key = directory / ("%s.pem" % label), directory / ("%s.key" % label)
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "1", *key_options,
                    "-keyout", str(key), "-out", str(cert), *extra_options],
                   check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "der"],
                         check=True, capture_output=True, timeout=60).stdout
    return Certificate(label, str(cert), str(key), der)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    directory = tmp_path_factory.mktemp("wss-sni-certificates")
    a = make_certificate(directory, "A", ["-newkey", "rsa:2048"], ["-subj", "/CN=alpha.test"])
    b = make_certificate(directory, "B", ["-newkey", "ec", "-pkeyopt",
                                          "ec_paramgen_curve:prime256v1"],
                         ["-subj", "/CN=beta-cn.test",
                          "-addext", "subjectAltName=DNS:beta.test,DNS:*.wild.test"])
    assert a.der != b.der
    return {"A": a, "B": b}


def start_wss_cluster(make_cluster, pairs):
    """A cluster whose comet serves WSS with these certificates, in this order."""
    port = free_port()
    c = make_cluster(extra_args={"comet": [
        "-websocket.tlsOpen", "true",
        "-websocket.tlsBind", "127.0.0.1:%d" % port,
        "-websocket.certFile", ",".join(p.cert for p in pairs),
        "-websocket.privateFile", ",".join(p.key for p in pairs)]})
    c.comet.wss_port = port
    return c


def connect_wss(cluster, server_name):
    """A WSS client on the cluster's comet sending server_name as SNI (None: no SNI extension).

    Returns (WsClient after the upgrade, the DER certificate the server presented)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed; which one it is, is what we check
    raw = socket.create_connection(("127.0.0.1", cluster.comet.wss_port), timeout=10)
    try:
        sock = context.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise
    try:
        der = sock.getpeercert(binary_form=True)
        sock.sendall(upgrade_request(server_name or "127.0.0.1", cluster.comet.wss_port))
        status, _, rest = read_http_head(sock)
        assert status == 101, "upgrade answered %d" % status
    except BaseException:
        sock.close()
        raise
    client = WsClient(sock, rest)
    cluster.clients.append(client)
    return client, der


def check_server_names(cluster, certificates, expected, first_mid):
    """For each (server_name, label): the handshake presents that certificate and goim works."""
    by_der = {c.der: c.label for c in certificates.values()}
    for offset, (server_name, label) in enumerate(expected):
        client, der = connect_wss(cluster, server_name)
        got = by_der.get(der, "an unknown certificate")
        assert got == label, "SNI %r: got certificate %s, want %s" % (server_name, got, label)
        mid = first_mid + offset
        reply = client.auth(mid=mid, key="k-sni-%d" % mid, room_id="live://sni", accepts=[1000])
        assert reply.op == 8 and reply.body == b"", "SNI %r: auth reply %r" % (server_name, reply)
        assert client.heartbeat() >= 1, "SNI %r: heartbeat" % server_name
        client.close()


def test_each_sni_name_gets_the_certificate_that_names_it(make_cluster, certificates):
    cluster = start_wss_cluster(make_cluster, [certificates["A"], certificates["B"]])
    check_server_names(cluster, certificates, [
        ("alpha.test", "A"),     # A's subject CN (A has no subjectAltName)
        ("beta.test", "B"),      # B's subjectAltName DNS name
        ("beta-cn.test", "B"),   # B's subject CN, next to its subjectAltName
        ("x.wild.test", "B"),    # B's *.wild.test stands for one label
        ("alpha.test", "A"),     # and back: nothing sticks from the previous handshake
    ], first_mid=600)


def test_no_sni_or_a_name_no_certificate_has_gets_the_first_pair(make_cluster, certificates):
    cluster = start_wss_cluster(make_cluster, [certificates["A"], certificates["B"]])
    check_server_names(cluster, certificates, [
        (None, "A"),             # no SNI extension at all
        ("unknown.test", "A"),
        ("wild.test", "A"),      # *.wild.test needs one more label
        ("a.b.wild.test", "A"),  # ... and only one
        ("beta.test", "B"),
    ], first_mid=610)


def test_default_is_the_first_pair_in_list_order(make_cluster, certificates):
    cluster = start_wss_cluster(make_cluster, [certificates["B"], certificates["A"]])
    check_server_names(cluster, certificates, [
        (None, "B"),
        ("unknown.test", "B"),
        ("alpha.test", "A"),
        ("beta.test", "B"),
    ], first_mid=620)


# ---- lists that stop comet at start -------------------------------------------------------------

def run_comet_expecting_failure(bin_dir, cert_files, key_files):
    """Starts comet alone (every address a free local port, no logic or Redis needed: the
    certificates are loaded before anything is contacted) and returns its finished process."""
    logic_port, redis_port, rpc_port = free_port(), free_port(), free_port()
    arguments = [
        "-host", "comet-sni-bad",
        "-tcp.bind", "127.0.0.1:%d" % free_port(),
        "-websocket.bind", "127.0.0.1:%d" % free_port(),
        "-websocket.tlsOpen", "true",
        "-websocket.tlsBind", "127.0.0.1:%d" % free_port(),
        "-websocket.certFile", cert_files,
        "-websocket.privateFile", key_files,
        "-rpcServer.addr", "127.0.0.1:%d" % rpc_port,
        "-rpcServer.advertise", "tcp://127.0.0.1:%d" % rpc_port,
        "-rpcClient.logic", "127.0.0.1:%d" % logic_port,
        "-redis.addr", "127.0.0.1:%d" % redis_port,
    ]
    # a comet that wrongly starts runs until the timeout, which fails the test
    return subprocess.run([str(bin_dir) + "/comet", *arguments], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, env=daemon_env())


@pytest.mark.parametrize("case", ["more certificates than keys", "more keys than certificates",
                                  "empty entry", "missing file", "key of another certificate",
                                  "not a certificate"])
def test_bad_certificate_lists_stop_comet_with_a_message(bin_dir, certificates, tmp_path, case):
    a, b = certificates["A"], certificates["B"]
    not_pem = tmp_path / "not-a-certificate.pem"
    not_pem.write_text("hello\n")
    missing = str(tmp_path / "missing.pem")
    cert_files, key_files, message = {
        "more certificates than keys": (
            "%s,%s" % (a.cert, b.cert), a.key,
            "websocket.certFile lists 2 certificate file(s) but websocket.privateFile lists 1"),
        "more keys than certificates": (
            a.cert, "%s,%s" % (a.key, b.key),
            "websocket.certFile lists 1 certificate file(s) but websocket.privateFile lists 2"),
        "empty entry": (
            "%s,,%s" % (a.cert, b.cert), "%s,%s,%s" % (a.key, b.key, b.key),
            "websocket.certFile: entry 2 of"),
        "missing file": (
            "%s,%s" % (a.cert, missing), "%s,%s" % (a.key, b.key),
            "websocket.certFile: entry 2: cannot read %s: No such file or directory" % missing),
        "key of another certificate": (
            "%s,%s" % (a.cert, b.cert), "%s,%s" % (a.key, a.key),
            "websocket.privateFile: entry 2: the key in %s does not match the certificate in %s"
            % (a.key, b.cert)),
        "not a certificate": (
            "%s,%s" % (a.cert, not_pem), "%s,%s" % (a.key, b.key),
            "websocket.certFile: entry 2: %s is not a PEM certificate chain" % not_pem),
    }[case]
    result = run_comet_expecting_failure(bin_dir, cert_files, key_files)
    assert result.returncode != 0, result.stderr
    assert message in result.stderr, result.stderr
    assert "comet ready" not in result.stderr, result.stderr
    assert not SANITIZER_RE.search(result.stderr), result.stderr
