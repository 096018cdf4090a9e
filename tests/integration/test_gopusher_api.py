"""logic's gopusher API (gopusher v2's private API on its own listener).

Apps, paging, HTTP Basic (super admin, app admins), push records on Kafka,
listonlineuser from the comets' presence keys (written here as a comet
will), the SQLite import and -hash-password. The client is
support/gopusher.py (http.client, bcrypt, sqlite3): nothing here shares
code with logic.
"""

import os
import re
import subprocess

import bcrypt
import pytest

from support import gopusher
from support.gopusher import SUPER, basic, call, push_msg_fields

GO_JSON_HEADERS = {"content-type": "text/plain; charset=utf-8",
                   "www-authenicate": 'Basic realm="Restricted'}


@pytest.fixture
def gp(make_cluster):
    """A cluster whose logic has the super admin root/root-secret."""
    return make_cluster(extra_args={"logic": gopusher.super_admin_args()})


def api(cluster, method, path, **kwargs):
    return call(cluster.gopusher_port, method, path, **kwargs)


def register(cluster, app_key, account="admin", password="pw", hook=None, auth=SUPER):
    form = {"app_key": app_key, "auth_account": account, "auth_password": password}
    if hook is not None:
        form["connect_hook"] = hook
    return api(cluster, "POST", "/api/register", form=form, auth=auth)


def assert_headers(answer):
    for name, value in GO_JSON_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.headers)


def test_register_list_unregister_with_gopusher_bodies(gp):
    answer = register(gp, "app-one", "alice", "pa55", hook="http://127.0.0.1:1/hook")
    assert answer.status == 200, answer
    assert_headers(answer)
    assert re.fullmatch(rb'\{"app_name":"","app_key":"app-one","connect_hook":'
                        rb'"http://127.0.0.1:1/hook","request_ip":"127\.0\.0\.1:\d+"\}\n',
                        answer.body), answer.body
    assert register(gp, "app-two", "bob", "b0b").status == 200

    again = register(gp, "app-one", "x", "y")
    assert (again.status, again.body) == (500, b"app_key repeat\n")
    assert again.headers.get("x-content-type-options") == "nosniff"
    missing = api(gp, "POST", "/api/register", form={"app_key": "k", "auth_account": "a"})
    assert (missing.status, missing.body) == (404, b"app_name || request_op empty\n")

    listed = api(gp, "GET", "/api/app-list")
    assert listed.status == 200
    assert_headers(listed)
    assert listed.body.endswith(b"}\n") and b'"Total":2' in listed.body
    data = listed.json()
    assert list(data) == ["Total", "data"]
    assert [app["app_key"] for app in data["data"]] == ["app-one", "app-two"]
    first = data["data"][0]
    assert list(first) == ["app_key", "auth_account", "auth_password", "connect_hook",
                           "request_ip", "date", "timestamp"]
    assert first["auth_account"] == "alice"
    assert bcrypt.checkpw(b"alicepa55", first["auth_password"].encode())
    assert first["auth_password"].startswith("$2b$05$")
    assert re.fullmatch(r"\d{13}", first["timestamp"])
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", first["date"])

    # Apps live in Redis, so a restarted logic (or any other) has them.
    assert gp.redis.hget("gopusher/app/app-two", "auth_account") == "bob"
    gp.restart("logic")
    assert api(gp, "GET", "/api/app-list").json()["Total"] == 2

    gone = api(gp, "DELETE", "/api/app-one/unregister")
    assert (gone.status, gone.body) == (200, b'{"message":"Scuess"}\n')
    assert_headers(gone)
    # It produced the record that makes the comets close the app's sockets.
    closes = gopusher.read_records(gp.kafka, gp.topic, 1)
    assert closes == [(b"gopusher/app-one", gopusher.encode_close("gopusher/app-one"))]
    assert [a["app_key"] for a in api(gp, "GET", "/api/app-list").json()["data"]] == ["app-two"]
    twice = api(gp, "DELETE", "/api/app-one/unregister")
    assert (twice.status, twice.body) == (404, b"app_key does not exist\n")
    api(gp, "DELETE", "/api/app-two/unregister")
    empty = api(gp, "GET", "/api/app-list")
    assert empty.body == b'{"Total":0,"data":null}\n'


def test_app_list_paging_as_gopusher_v0(gp):
    keys = ["k%d" % n for n in range(5)]
    for key in keys:
        assert register(gp, key).status == 200

    def page(limit, number):
        answer = api(gp, "GET", "/api/app-list/%s/%s" % (limit, number))
        assert answer.status == 200, answer
        data = answer.json()
        assert list(data) == ["limit", "page", "Total", "data"]
        assert (data["limit"], data["page"], data["Total"]) == (int(limit), int(number), 5)
        return None if data["data"] is None else [a["app_key"] for a in data["data"]]

    assert page(2, 1) == keys[0:2]
    assert page(2, 2) == keys[2:4]
    assert page(2, 3) == keys[4:5]
    assert page(2, 4) is None            # past the end
    assert page(3, 2) == keys[3:5]
    assert page(0, 0) == keys            # limit 0: no limit
    assert page(0, 7) == keys            # offset (7-1)*0 = 0
    assert page(2, 0) == keys[0:2]       # page 0: a negative offset starts at 0
    assert page(10, 1) == keys
    assert api(gp, "GET", "/api/app-list/x/1").status == 404
    assert api(gp, "GET", "/api/app-list/1").status == 404


def test_basic_auth_super_admin_and_app_admins(gp):
    assert register(gp, "mine", "alice", "pa55").status == 200
    assert register(gp, "theirs", "bob", "b0b").status == 200
    alice = basic("alice", "pa55")
    content = {"content": "hi"}

    refused = api(gp, "GET", "/api/app-list", auth=None)
    assert (refused.status, refused.body) == (401, b"Not authorized\n")
    assert_headers(refused)
    assert api(gp, "GET", "/api/app-list", auth=basic("root", "wrong")).status == 401
    assert api(gp, "GET", "/api/app-list", auth="Basic").status == 401   # no space
    nocolon = api(gp, "GET", "/api/app-list", auth="Basic cm9vdA==")     # "root"
    assert (nocolon.status, nocolon.body) == (401, b"Not authorized\n")
    bad = api(gp, "GET", "/api/app-list", auth="Basic ***")
    assert (bad.status, bad.body) == (401, b"illegal base64 data at input byte 0\n")
    unpadded = api(gp, "GET", "/api/app-list", auth="Basic cm9vdDp")  # padding missing
    assert unpadded.status == 401 and unpadded.body.startswith(b"illegal base64 data")
    # The scheme is not checked, as gopusher.
    assert api(gp, "GET", "/api/app-list", auth=SUPER.replace("Basic", "Whatever")).status == 200

    # An app admin: its own app's routes only.
    assert api(gp, "POST", "/api/push/mine", form=content, auth=alice).status == 200
    assert api(gp, "GET", "/api/mine/listonlineuser", auth=alice).status == 200
    assert api(gp, "GET", "/api/mine/listonlineuser/1/1", auth=alice).status == 200
    assert api(gp, "POST", "/api/push/theirs", form=content, auth=alice).status == 401
    assert api(gp, "GET", "/api/theirs/listonlineuser", auth=alice).status == 401
    assert api(gp, "DELETE", "/api/theirs/unregister", auth=alice).status == 401
    assert api(gp, "GET", "/api/app-list", auth=alice).status == 401
    assert register(gp, "new", auth=alice).status == 401
    assert api(gp, "POST", "/api/push/mine", form=content, auth=basic("alice", "x")).status == 401
    assert api(gp, "POST", "/api/push/mine", form=content, auth=basic("bob", "b0b")).status == 401

    # A missing app: 404 for the super admin, 401 for anyone else (BasicAuth runs first).
    missing = api(gp, "POST", "/api/push/nope", form=content)
    assert (missing.status, missing.body) == (404, b"app_key does not exist\n")
    assert api(gp, "POST", "/api/push/nope", form=content, auth=alice).status == 401

    # The owner may unregister its app; then its credentials are worth nothing.
    assert api(gp, "DELETE", "/api/mine/unregister", auth=alice).status == 200
    assert api(gp, "POST", "/api/push/mine", form=content, auth=alice).status == 401

    # Unknown paths and methods.
    assert api(gp, "GET", "/api/nothing/here/at/all").status == 404
    assert api(gp, "GET", "/goim/push/all").status == 404
    wrong = api(gp, "GET", "/api/register")
    assert wrong.status == 405 and wrong.headers.get("allow") == "POST"


def test_push_is_a_room_record_with_pattern_and_text(gp):
    assert register(gp, "chat", "alice", "pa55").status == 200
    alice = basic("alice", "pa55")
    one = api(gp, "POST", "/api/push/chat", form={"content": "hi <b>&", "user_tag": "A:1"},
              auth=alice)
    assert one.status == 200, one
    assert_headers(one)
    assert one.body == (b'{"app_key":"chat","content":"hi \\u003cb\\u003e\\u0026",'
                        b'"user_tag":"A:1","Total":0}\n')
    # Query string, multipart body: Go's FormValue reads both (the body first).
    two = api(gp, "POST", "/api/push/chat", query={"content": "to all"}, auth=alice)
    assert two.status == 200 and two.json()["user_tag"] == ""
    three = api(gp, "POST", "/api/push/chat", form={"content": "from the body"},
                query={"content": "from the query"}, multipart=True, auth=alice)
    assert three.json()["content"] == "from the body"
    # A last value ending in an escape is complete too.
    four = api(gp, "POST", "/api/push/chat", form=[("user_tag", "^B$"), ("content", "x&")],
               auth=alice)
    assert (four.json()["content"], four.json()["user_tag"]) == ("x&", "^B$")

    records = gopusher.read_records(gp.kafka, gp.topic, 4)
    assert [key for key, _ in records] == [b"gopusher/chat"] * 4
    fields = [push_msg_fields(value) for _, value in records]
    by_msg = {f[7]: f for f in fields}
    first = by_msg[b"hi <b>&"]
    assert first == {1: 1, 5: b"gopusher/chat", 7: b"hi <b>&", 8: b"A:1", 9: 1}
    assert by_msg[b"to all"] == {1: 1, 5: b"gopusher/chat", 7: b"to all", 9: 1}
    assert b"from the body" in by_msg


def test_push_refuses_invalid_regex_empty_content_and_non_utf8(gp):
    assert register(gp, "chat").status == 200
    bad = api(gp, "POST", "/api/push/chat", form={"content": "x", "user_tag": "A(:1"})
    assert bad.status == 400
    assert bad.body.startswith(b"user_tag: invalid regex: offset 4: missing closing parenthesis")
    assert api(gp, "POST", "/api/push/chat", form={"content": "x", "user_tag": "a{2,1}"}
               ).status == 400
    empty = api(gp, "POST", "/api/push/chat", form={"user_tag": "A"})
    assert (empty.status, empty.body) == (400, b"app_key || content empty\n")
    binary = api(gp, "POST", "/api/push/chat", query=[("content", b"\xff\xfe")])
    assert binary.status == 400 and b"not UTF-8" in binary.body
    # Nothing of that reached Kafka: the only record is the positive control after it.
    assert api(gp, "POST", "/api/push/chat", form={"content": "ok"}).status == 200
    records = gopusher.read_records(gp.kafka, gp.topic, 2, timeout=15)
    assert [push_msg_fields(v)[7] for _, v in records] == [b"ok"]


PRESENCE = {
    "comet-a": ({"A:1": 2, "A:10": 1, "B:1": 1}, None),
    "comet-b": ({"A:1": 1, "C": 3}, None),
    "comet-dead": ({"A:1": 100, "Z": 5}, -1000),   # its deadline has passed
}


def test_push_total_is_the_sockets_presence_says_the_pattern_reaches(gp):
    assert register(gp, "chat").status == 200
    gopusher.write_presence(gp.redis, "chat", PRESENCE)

    def total(pattern=None):
        form = {"content": "x"}
        if pattern is not None:
            form["user_tag"] = pattern
        answer = api(gp, "POST", "/api/push/chat", form=form)
        assert answer.status == 200, answer
        return answer.json()["Total"]

    assert total() == 8                 # every socket of the live comets
    assert total("A:1") == 4            # unanchored: A:1 (2 + 1) and A:10
    assert total("^A:1$") == 3
    assert total("^(B|C)") == 4
    assert total("nobody") == 0
    # The dead comet's entry was removed from the index by the reads.
    assert gp.redis.zscore("gopusher/online/chat", "comet-dead") is None


def test_listonlineuser_reads_presence_across_comets(gp):
    assert register(gp, "chat").status == 200
    none = api(gp, "GET", "/api/chat/listonlineuser")
    assert none.body == b'{"app_key":"chat","total":0,"user_tags":{}}\n'
    gopusher.write_presence(gp.redis, "chat", PRESENCE)

    answer = api(gp, "GET", "/api/chat/listonlineuser")
    assert answer.status == 200
    assert_headers(answer)
    assert answer.body == (b'{"app_key":"chat","total":4,"user_tags":'
                           b'{"A:1":null,"A:10":null,"B:1":null,"C":null}}\n')

    def page(limit, number):
        data = api(gp, "GET", "/api/chat/listonlineuser/%d/%d" % (limit, number)).json()
        assert list(data) == ["app_key", "total", "limit", "page", "user_tags"]
        assert (data["total"], data["limit"], data["page"]) == (4, limit, number)
        return data["user_tags"]

    assert page(2, 1) == ["A:1", "A:10"]
    assert page(2, 2) == ["B:1", "C"]
    assert page(2, 3) is None
    assert page(0, 0) == ["A:1", "A:10", "B:1", "C"]
    assert page(3, 0) == ["A:1", "A:10", "B:1"]

    # A comet that leaves takes its tags along (here: its hash expires with its deadline).
    gopusher.write_presence(gp.redis, "chat", {"comet-b": ({}, -1)})
    after = api(gp, "GET", "/api/chat/listonlineuser").json()
    assert after["user_tags"] == {"A:1": None, "A:10": None, "B:1": None}


def test_import_of_a_gopusher_sqlite_file_then_its_app_admin_pushes(gp, bin_dir, tmp_path):
    path = str(tmp_path / "appdata.sqlite")
    carol_hash = gopusher.go_hash("carol", "c4rol")
    gopusher.make_gopusher_db(path, [
        ("legacy-1", "carol", carol_hash, "", "127.0.0.1:50040", 1440473952104,
         "2015/08/25 11:39:12"),
        ("legacy-2", "dave", gopusher.go_hash("dave", "d"), "http://hook.example/x",
         "10.0.0.2:1234", 1440562254686, "2015/08/26 12:10:54"),
    ])
    command = [os.path.join(bin_dir, "logic"), "-import-gopusher", path,
               "-redis.addr", gp.redis_addr]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert "imported 2 apps" in done.stdout

    apps = api(gp, "GET", "/api/app-list").json()["data"]
    assert apps == [
        {"app_key": "legacy-1", "auth_account": "carol", "auth_password": carol_hash,
         "connect_hook": "", "request_ip": "127.0.0.1:50040", "date": "2015/08/25 11:39:12",
         "timestamp": "1440473952104"},
        {"app_key": "legacy-2", "auth_account": "dave", "auth_password": apps[1]["auth_password"],
         "connect_hook": "http://hook.example/x", "request_ip": "10.0.0.2:1234",
         "date": "2015/08/26 12:10:54", "timestamp": "1440562254686"},
    ]
    # The Go-made "$2a$" hash verifies in logic: carol pushes to her app, not to dave's.
    carol = basic("carol", "c4rol")
    pushed = api(gp, "POST", "/api/push/legacy-1", form={"content": "imported"}, auth=carol)
    assert pushed.status == 200, pushed
    assert api(gp, "POST", "/api/push/legacy-2", form={"content": "x"}, auth=carol).status == 401
    records = gopusher.read_records(gp.kafka, gp.topic, 1)
    assert records[0][0] == b"gopusher/legacy-1"
    assert push_msg_fields(records[0][1])[7] == b"imported"

    # A second import keeps what is there.
    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "imported 0 apps" in again.stdout and "skipped 2" in again.stdout
    missing = subprocess.run([os.path.join(bin_dir, "logic"), "-import-gopusher",
                              str(tmp_path / "nope.sqlite"), "-redis.addr", gp.redis_addr],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "nope.sqlite" in missing.stderr


def test_hash_password_makes_a_hash_the_super_admin_logs_in_with(make_cluster, bin_dir):
    made = subprocess.run([os.path.join(bin_dir, "logic"), "-hash-password", "boss"],
                          input="t0p secret\n", capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made
    hashed = made.stdout.strip()
    assert bcrypt.checkpw(b"bosst0p secret", hashed.encode())
    cluster = make_cluster(extra_args={"logic": ["-gopusher.authAccount", "boss",
                                                 "-gopusher.authPassword", hashed]})
    assert call(cluster.gopusher_port, "GET", "/api/app-list",
                auth=basic("boss", "t0p secret")).status == 200
    assert call(cluster.gopusher_port, "GET", "/api/app-list",
                auth=basic("boss", "t0p")).status == 401
    # A plain-text password in the configuration is refused at start.
    checked = subprocess.run([os.path.join(bin_dir, "logic"), "-t", "-gopusher.authAccount",
                              "boss", "-gopusher.authPassword", "plain"],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 2 and "gopusher.authPassword" in checked.stderr


def test_body_over_max_body_is_413(make_cluster):
    cluster = make_cluster(extra_args={"logic": gopusher.super_admin_args() +
                                       ["-gopusher.maxBody", "64"]})
    assert register(cluster, "chat").status == 200
    big = api(cluster, "POST", "/api/push/chat", form={"content": "x" * 200})
    assert big.status == 413
    # Chunked, so no Content-Length tells in advance: refused once the bytes pass the bound.
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", cluster.gopusher_port, timeout=10)
    try:
        connection.request("POST", "/api/push/chat", body=iter([b"content=", b"y" * 100]),
                           headers={"Authorization": SUPER, "Transfer-Encoding": "chunked",
                                    "Content-Type": "application/x-www-form-urlencoded"},
                           encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        response.read()
    finally:
        connection.close()
    small = api(cluster, "POST", "/api/push/chat", form={"content": "z"})
    assert small.status == 200, small


def probe(cluster):
    assert api(cluster, "POST", "/api/push/chat", form={"content": "probe"}).status == 200


def test_job_passes_pattern_and_text_to_comets_and_merges_only_equal_ones(gp):
    """job hands BroadcastRoomReq{userTagPattern, text} to every comet; pushes with
    different patterns keep their order in the app's lane and never share a body."""
    from support.recording_comet import RecordingComet
    from support.util import free_port

    comet = RecordingComet(gp.redis, "recording-%s" % gp.id, free_port(), delay=0.2)
    try:
        assert register(gp, "chat").status == 200
        # A positive control first: job has found the recording comet once it gets this one.
        first = comet.found_by_job(lambda: probe(gp))
        assert (first["room"], first["text"], first["pattern"]) == ("gopusher/chat", True, "")

        patterns = ["A:1", "", "^B$", "A:1", "A:1", "", "", "^B$", "A:1", ""]
        sent = []
        for number, pattern in enumerate(patterns):
            content = "m%d" % number
            form = {"content": content}
            if pattern:
                form["user_tag"] = pattern
            assert api(gp, "POST", "/api/push/chat", form=form).status == 200
            sent.append((pattern, content))
        received = []
        while len(received) < len(sent):
            request = comet.next_room()
            assert request["room"] == "gopusher/chat" and request["text"] is True
            assert request["close"] is False
            for _op, body in request["frames"]:
                received.append((request["pattern"], body.decode()))
        assert received == sent

        # Unregister asks every comet to close the app's sockets, after its pushes.
        assert api(gp, "DELETE", "/api/chat/unregister").status == 200
        close = comet.next_room()
        assert (close["room"], close["close"], close["text"], close["pattern"]) == \
            ("gopusher/chat", True, False, "")
        assert [body for _op, body in close["frames"]] == [b""]
    finally:
        comet.close()


def test_measure_push_latency_at_rest_to_kafka_and_to_a_comet(gp, capsys):
    """Prints (asserts nothing about time): gopusher's push, HTTP request -> 200 (Kafka has
    the record), and HTTP request -> job's BroadcastRoom at a recording comet."""
    from support.recording_comet import RecordingComet
    from support.util import free_port

    comet = RecordingComet(gp.redis, "recording-%s" % gp.id, free_port())
    try:
        assert register(gp, "chat").status == 200
        comet.found_by_job(lambda: probe(gp))  # positive control: job has found the comet
        summary = comet.time_room_pushes_at_rest(
            lambda number: api(gp, "POST", "/api/push/chat",
                               form={"content": "latency-%d" % number}),
            lambda number, _answer: [(0, b"latency-%d" % number)])
    finally:
        comet.close()
    with capsys.disabled():
        print("\ngopusher push at rest, " + summary)
