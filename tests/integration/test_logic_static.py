"""logic serves the demo page and the JavaScript client (logic/http_static.c) from its binary.

The browser tests (tests/browser) use them in Chromium; here: the HTTP answers themselves.
"""

import http.client


def request(cluster, method, path):
    connection = http.client.HTTPConnection("127.0.0.1", cluster.logic_http_port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


FILES = [
    ("/demo/", "text/html; charset=utf-8", b"<title>goim-c demo</title>"),
    ("/demo/demo.js", "text/javascript; charset=utf-8", b"from '/client/goim.js'"),
    ("/demo/demo.css", "text/css; charset=utf-8", b"#messages"),
    ("/client/goim.js", "text/javascript; charset=utf-8", b"export class GoimClient"),
]


def test_files_are_served_with_their_type(cluster):
    for path, content_type, needle in FILES:
        status, headers, body = request(cluster, "GET", path)
        assert status == 200, path
        assert headers["Content-Type"] == content_type, path
        assert headers["Cache-Control"] == "no-cache"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert int(headers["Content-Length"]) == len(body)
        assert needle in body, path
        assert ("Content-Security-Policy" in headers) == path.endswith("/"), path
        # The client may be imported by a page of another origin (module scripts use CORS).
        assert (headers.get("Access-Control-Allow-Origin") == "*") == path.endswith("goim.js")
        # HEAD: the same headers, no body.
        status, head_headers, head_body = request(cluster, "HEAD", path)
        assert (status, head_body) == (200, b""), path
        assert head_headers["Content-Length"] == headers["Content-Length"]
    policy = request(cluster, "GET", "/demo/")[1]["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' ws: wss:" in policy
    # The API still answers beside the pages.
    status, reply = cluster.http("GET", "/goim/online/total")
    assert status == 200 and reply["code"] == 0


def test_redirect_404_and_405(cluster):
    status, headers, _ = request(cluster, "GET", "/demo")
    assert status == 301
    assert headers["Location"] == "/demo/"
    for path in ["/demo/index.html", "/demo/nothing.js", "/client/", "/client/../demo/demo.js",
                 "/demo/../../etc/passwd"]:
        status, _, body = request(cluster, "GET", path)
        assert status == 404, path
        assert b"goim" not in body
    for method in ["POST", "PUT", "DELETE"]:
        status, headers, _ = request(cluster, method, "/client/goim.js")
        assert status == 405, method
        assert headers["Allow"] == "GET, HEAD"
