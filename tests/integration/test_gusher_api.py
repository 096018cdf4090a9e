"""logic's gusher.cluster master API (gusher.apiPrefix, default /api/, on the API listener).

Every endpoint's exact status, Content-Type and body bytes as gusher v1.13.8 writes them, and
the PushMsg records each push leaves on Kafka (docs/internals.md, "gusher"). Presence keys are
written here as a comet writes them; sessions come from the admission RPC (GusherAuth +
GusherConnect) with JWTs signed here by openssl. The HTTP client is support/gopusher.call
(http.client: exact bytes and headers).
"""

import json
import re
import time

import pytest

from support import gusher
from support.gopusher import call

APP = "TEST"


@pytest.fixture
def keys(tmp_path):
    private = str(tmp_path / "gusher.pem")
    return private, gusher.make_key(private)


@pytest.fixture
def gu(make_cluster, keys):
    cluster = make_cluster(extra_args={"logic": ["-gusher.publicKey", keys[1],
                                                 "-kafka.timeout", "10s"]})
    cluster.records = gusher.RecordReader(cluster.kafka, cluster.topic)
    yield cluster
    cluster.records.close()


def api(cluster, method, path, form=None, query=None, multipart=False):
    return call(cluster.logic_http_port, method, "/api/" + path, form=form, query=query,
                auth=None, multipart=multipart)


def assert_answer(answer, status, body, content_type):
    assert (answer.status, answer.body) == (status, body), answer
    assert answer.headers.get("content-type") == content_type, answer.headers


def bad(answer, text):
    assert_answer(answer, 400, text.encode(), gusher.TEXT_TYPE)


def test_channel_push_answers_the_envelope_and_produces_it(gu):
    data = '{"b": 1, "a": [1e21, 0.0000001, 12345678901234567890, 1.50, -0, "<&>"]}'
    answer = api(gu, "POST", "push/%s/room-1/chat" % APP, form={"data": data})
    envelope = (b'{"channel":"room-1","event":"chat","data":{"a":[1e+21,1e-07,'
                b'12345678901234567000,1.5,-0,"\\u003c\\u0026\\u003e"],"b":1}}')
    assert_answer(answer, 200, envelope, gusher.JSON_TYPE)
    (key, record), = gu.records.take(1)
    assert key == b"gusher/TEST/room-1"
    assert record == {"type": 1, "operation": 2000, "server": "", "room": "gusher/TEST/room-1",
                      "keys": [], "msg": envelope, "text": True}

    # JsonCheck: text that is not JSON is a string; a number a number; the query and multipart
    # bodies are read too (Go's FormValue)
    for form, query, multipart, value in (
            ({"data": "hello"}, None, False, b'"hello"'),
            ({"data": "123"}, None, False, b"123"),
            (None, {"data": "[true,null]"}, False, b"[true,null]"),
            ({"data": '"quoted"'}, None, True, b'"quoted"'),
            ({"data": "1e400"}, None, False, b'"1e400"'),
            ({"data": "{\"k\":1} x"}, None, False, b'"{\\"k\\":1} x"')):
        answer = api(gu, "POST", "push/%s/c/e" % APP, form=form, query=query,
                     multipart=multipart)
        assert_answer(answer, 200, b'{"channel":"c","event":"e","data":' + value + b"}",
                      gusher.JSON_TYPE)
    bodies = [record["msg"] for _, record in gu.records.take(6)]
    assert sorted(bodies) == sorted(b'{"channel":"c","event":"e","data":' + value + b"}"
                                    for value in (b'"hello"', b"123", b"[true,null]",
                                                  b'"quoted"', b'"1e400"',
                                                  b'"{\\"k\\":1} x"'))

    bad(api(gu, "POST", "push/%s/c/e" % APP, form={"data": ""}), "empty data")
    bad(api(gu, "POST", "push/%s/c/e" % APP), "empty data")
    # a channel name needing percent-escapes is decoded, as gorilla/mux does
    answer = api(gu, "POST", "push/%s/%%E9%%A0%%BB%%E9%%81%%93/e" % APP, form={"data": "1"})
    assert_answer(answer, 200, '{"channel":"頻道","event":"e","data":1}'.encode(),
                  gusher.JSON_TYPE)


def test_batch_push_counts_items_and_bytes(gu):
    batch = json.dumps([{"channel": "a", "event": "e1", "data": {"z": 1, "y": [2]}},
                        {"channel": "b", "event": "e2", "data": "text"},
                        {"Channel": "c", "EVENT": "e3"}])
    answer = api(gu, "POST", "push_batch/%s" % APP, form={"batch_data": batch})
    assert_answer(answer, 200, ('{"total":3,"cap":%d}' % len(batch.encode())).encode(),
                  gusher.JSON_TYPE)
    records = {key: record["msg"] for key, record in gu.records.take(3)}
    assert records == {
        b"gusher/TEST/a": b'{"channel":"a","event":"e1","data":{"y":[2],"z":1}}',
        b"gusher/TEST/b": b'{"channel":"b","event":"e2","data":"text"}',
        b"gusher/TEST/c": b'{"channel":"c","event":"e3","data":null}',
    }
    assert_answer(api(gu, "POST", "push_batch/%s" % APP, form={"batch_data": "[]"}), 200,
                  b'{"total":0,"cap":2}', gusher.JSON_TYPE)
    bad(api(gu, "POST", "push_batch/%s" % APP), "empty batch data")
    bad(api(gu, "POST", "push_batch/%s" % APP, form={"batch_data": "{"}), "data error")
    bad(api(gu, "POST", "push_batch/%s" % APP,
            form={"batch_data": '[{"channel": 5, "event": "e"}]'}), "data error")


def test_pattern_push_reaches_live_channels_only(gu):
    gusher.write_presence(gu.redis, APP, "comet-a", channels={"room-1": 2, "room-22": 1,
                                                              "lobby": 1})
    gusher.write_presence(gu.redis, APP, "comet-b", channels={"room-1": 1, "xroom-3": 1})
    gusher.write_presence(gu.redis, APP, "comet-gone", channels={"room-9": 1}, valid_ms=-1000)
    gusher.write_presence(gu.redis, "OTHER", "comet-a", channels={"room-5": 1})

    answer = api(gu, "POST", "push/%s" % APP,
                 form={"channel_pattern": "room-[0-9]", "event": "ev", "data": "hi"})
    assert_answer(answer, 200, b'{"total":3,"pattern":"room-[0-9]"}', gusher.JSON_TYPE)
    # the positive control: a later push, after which nothing else may have come
    assert api(gu, "POST", "push/%s/marker/e" % APP, form={"data": "1"}).status == 200
    records = gu.records.until(lambda seen: any(k == b"gusher/TEST/marker" for k, _ in seen))
    pushed = {key: record["msg"] for key, record in records if key != b"gusher/TEST/marker"}
    assert pushed == {
        b"gusher/TEST/room-1": b'{"channel":"room-1","event":"ev","data":"hi"}',
        b"gusher/TEST/room-22": b'{"channel":"room-22","event":"ev","data":"hi"}',
        b"gusher/TEST/xroom-3": b'{"channel":"xroom-3","event":"ev","data":"hi"}',
    }
    assert all(record["operation"] == 2000 and record["text"] for _, record in records)
    # the comet past its deadline was dropped from the index
    assert gu.redis.zscore("gusher/presence/%s" % APP, "comet-gone") is None

    anchored = api(gu, "POST", "push/%s" % APP,
                   form={"channel_pattern": "^room-1$", "event": "ev", "data": "x"})
    assert_answer(anchored, 200, b'{"total":1,"pattern":"^room-1$"}', gusher.JSON_TYPE)
    none = api(gu, "POST", "push/%s" % APP, form={"channel_pattern": "nothing", "event": "e",
                                                   "data": "x"})
    assert_answer(none, 200, b'{"total":0,"pattern":"nothing"}', gusher.JSON_TYPE)
    bad(api(gu, "POST", "push/%s" % APP, form={"event": "e", "data": "x"}), "empty param")
    bad(api(gu, "POST", "push/%s" % APP, form={"channel_pattern": "a", "data": "x"}),
        "empty param")
    bad(api(gu, "POST", "push/%s" % APP, form={"channel_pattern": "(", "event": "e",
                                                "data": "x"}), "channel_pattern cant regex")
    bad(api(gu, "POST", "push/%s" % APP, form={"channel_pattern": "a", "event": "e"}),
        "empty data")


def open_sockets(cluster, private, user_id, sockets):
    """Sessions as comet opens them: sockets {socket_id: server} of user_id in APP."""
    token = gusher.auth(cluster.logic_rpc_port,
                        gusher.rs(private, gusher.claim(APP, user_id, ["AA"])))
    for socket_id, server in sockets.items():
        answer = gusher.connect(cluster.logic_rpc_port, server, APP, token, socket_id)
        assert answer["status"] == gusher.OK, answer
    return token


def test_user_socket_reload_and_add_reach_the_comets_holding_them(gu, keys):
    s1, s2, s3 = "1" * 32, "2" * 32, "3" * 32
    token = open_sockets(gu, keys[0], "u1", {s1: "comet-a", s2: "comet-b"})
    assert 50000 < gu.redis.pttl("gusher/token/" + token) <= 60000  # gusher.tokenTTL's 60 s
    open_sockets(gu, keys[0], "u2", {s3: "comet-a"})

    answer = api(gu, "POST", "push/user/%s/u1" % APP, form={"data": '{"n": 1.0}'})
    assert_answer(answer, 200, b'{"user_id":"u1","data":"{\\"n\\": 1.0}"}', gusher.JSON_TYPE)
    records = gu.records.take(2)
    assert sorted((r["server"], r["keys"], r["operation"], r["type"], r["msg"])
                  for _, r in records) == [
        ("comet-a", ["gusher/TEST/" + s1], 2000, 0, b'{"n":1}'),
        ("comet-b", ["gusher/TEST/" + s2], 2000, 0, b'{"n":1}')]
    assert sorted(key for key, _ in records) == sorted(
        [("gusher/TEST/" + s1).encode(), ("gusher/TEST/" + s2).encode()])

    answer = api(gu, "POST", "push/socket/%s/%s" % (APP, s3), form={"data": "plain"})
    assert_answer(answer, 200, ('{"socket_id":"%s","data":"plain"}' % s3).encode(),
                  gusher.JSON_TYPE)
    (_, record), = gu.records.take(1)
    assert (record["server"], record["keys"], record["operation"], record["msg"]) == \
        ("comet-a", ["gusher/TEST/" + s3], 2000, b'"plain"')

    # empty data is allowed: the sockets get ""
    answer = api(gu, "POST", "push/socket/%s/%s" % (APP, s3))
    assert_answer(answer, 200, ('{"socket_id":"%s","data":""}' % s3).encode(), gusher.JSON_TYPE)
    assert gu.records.take(1)[0][1]["msg"] == b'""'

    answer = api(gu, "POST", "reload/channel/user/%s/u1" % APP, form={"data": '["AA", "C<C"]'})
    assert_answer(answer, 200, b'{"user_id":"u1","data":"[\\"AA\\", \\"C\\u003cC\\"]"}',
                  gusher.JSON_TYPE)
    assert sorted((r["keys"][0], r["operation"], r["msg"]) for _, r in gu.records.take(2)) == [
        ("gusher/TEST/" + s1, 2001, b'["AA","C\\u003cC"]'),
        ("gusher/TEST/" + s2, 2001, b'["AA","C\\u003cC"]')]
    bad(api(gu, "POST", "reload/channel/user/%s/u1" % APP, form={"data": '"AA"'}),
        "data unmarshal error")
    bad(api(gu, "POST", "reload/channel/user/%s/u1" % APP, form={"data": "[1]"}),
        "data unmarshal error")

    answer = api(gu, "POST", "add/channel/user/%s/u2" % APP, form={"data": "DD"})
    assert_answer(answer, 200, b'{"user_id":"u2","data":"DD"}', gusher.JSON_TYPE)
    (_, record), = gu.records.take(1)
    assert (record["keys"], record["operation"], record["msg"]) == \
        (["gusher/TEST/" + s3], 2002, b"DD")
    bad(api(gu, "POST", "add/channel/user/%s/u2" % APP, form={"data": ""}), "data empty error")

    # nobody there: answered, nothing produced (the marker comes next)
    answer = api(gu, "POST", "push/user/%s/nobody" % APP, form={"data": "1"})
    assert_answer(answer, 200, b'{"user_id":"nobody","data":"1"}', gusher.JSON_TYPE)
    assert api(gu, "POST", "push/%s/marker/e" % APP, form={"data": "1"}).status == 200
    (key, _), = gu.records.take(1)
    assert key == b"gusher/TEST/marker"


def test_presence_endpoints(gu):
    gusher.write_presence(gu.redis, APP, "comet-a", users={"u1": 2, "u2": 1},
                          channels={"b-ch": 2, "a-ch": 1},
                          members={"b-ch": {"u1": 1, "": 1}, "a-ch": {"u2": 1}})
    gusher.write_presence(gu.redis, APP, "comet-b", users={"u3": 1, "u1": 1},
                          channels={"b-ch": 1}, members={"b-ch": {"u3": 1}})
    gusher.write_presence(gu.redis, APP, "comet-old", users={"u9": 1}, channels={"z": 1},
                          members={"z": {"u9": 1}}, valid_ms=-1)

    def get(path):
        return api(gu, "GET", "%s/%s" % (APP, path))

    assert_answer(get("channels"), 200, b'["a-ch","b-ch"]', gusher.JSON_TYPE)
    assert_answer(get("channels/count"), 200, b'{"count":2}', gusher.JSON_TYPE)
    assert_answer(get("online"), 200, b'["u1","u2","u3"]', gusher.JSON_TYPE)
    assert_answer(get("online/count"), 200, b'{"count":3}', gusher.JSON_TYPE)
    assert_answer(get("online/bychannel/b-ch"), 200, b'["","u1","u3"]', gusher.JSON_TYPE)
    assert_answer(get("online/bychannel/b-ch/count"), 200, b'{"count":3}', gusher.JSON_TYPE)
    assert_answer(get("online/bychannel/z"), 200, b"[]", gusher.JSON_TYPE)
    assert_answer(api(gu, "GET", "EMPTY/online"), 200, b"[]", gusher.JSON_TYPE)
    assert_answer(api(gu, "GET", "EMPTY/channels/count"), 200, b'{"count":0}',
                  gusher.JSON_TYPE)


def test_decode_ping_and_unknown_paths(gu, keys, tmp_path):
    token = gusher.rs(keys[0], gusher.claim("TEST", "Test_User", ["AA", "BB"]))
    answer = api(gu, "POST", "decode", form={"data": token})
    # the reference's jwt.example payload; json.Encoder's newline; Go sniffs text/plain
    assert_answer(answer, 200, b'{"gusher":{"channels":["AA","BB"],"user_id":"Test_User",'
                  b'"app_key":"TEST","remotes":null}}\n', gusher.TEXT_TYPE)
    now = int(time.time())
    token = gusher.rs(keys[0], gusher.claim("A", "", ["*"], {"z": True, "a": False},
                                            sub="s", exp=now + 600, iat=now - 5, iss="me"),
                      bits=512)
    answer = api(gu, "POST", "decode", query={"data": token})
    assert_answer(answer, 200, ('{"gusher":{"channels":["*"],"user_id":"","app_key":"A",'
                                '"remotes":{"a":false,"z":true}},"exp":%d,"iat":%d,'
                                '"iss":"me","sub":"s"}\n' % (now + 600, now - 5)).encode(),
                  gusher.TEXT_TYPE)
    other = gusher.make_key(str(tmp_path / "other.pem"))
    assert other
    forged = gusher.rs(str(tmp_path / "other.pem"), gusher.claim("TEST"))
    bad(api(gu, "POST", "decode", form={"data": forged}), "data error")
    bad(api(gu, "POST", "decode", form={"data": "x.y.z"}), "data error")
    bad(api(gu, "POST", "decode"), "data error")

    assert_answer(api(gu, "GET", "ping"), 200, b"pong", gusher.TEXT_TYPE)
    assert_answer(api(gu, "GET", "no/such/path"), 404, b"404 page not found\n",
                  gusher.TEXT_TYPE)
    wrong = api(gu, "GET", "push/%s/c/e" % APP)
    assert (wrong.status, wrong.body) == (405, b"")
    # push/user and push/socket shadow a channel push of app "user" (gorilla/mux order)
    shadowed = api(gu, "POST", "push/user/x/y", form={"data": "1"})
    assert_answer(shadowed, 200, b'{"user_id":"y","data":"1"}', gusher.JSON_TYPE)

    # counted under one endpoint label, by HTTP status (deferred answers too)
    metrics = call(gu.logic_http_port, "GET", "/metrics", auth=None).text
    def counted(code):
        found = re.search(r'^logic_http_requests_total\{code="%s",endpoint="gusher"\} (\d+)$'
                          % code, metrics, re.M)
        return int(found.group(1)) if found else 0
    lines = [line for line in metrics.splitlines() if "gusher" in line]
    assert counted("0") >= 4 and counted("-400") == 3 and counted("-404") == 1, lines
    assert counted("-405") == 1, lines


def test_kafka_failure_answers_data_error(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-kafka.brokers", "127.0.0.1:1",
                                                 "-kafka.timeout", "1s"]})
    answer = api(cluster, "POST", "push/%s/c/e" % APP, form={"data": "1"})
    bad(answer, "data error")
    # a presence read needs only Redis
    assert_answer(api(cluster, "GET", "%s/channels" % APP), 200, b"[]", gusher.JSON_TYPE)


def test_prefix_is_configurable_and_can_be_off(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-gusher.apiPrefix", "/gm/"]})
    assert call(cluster.logic_http_port, "GET", "/gm/ping", auth=None).body == b"pong"
    # no gusher.publicKey: decode refuses everything
    no_key = call(cluster.logic_http_port, "POST", "/gm/decode", form={"data": "a.b.c"},
                  auth=None)
    assert (no_key.status, no_key.body) == (400, b"data error")
    assert call(cluster.logic_http_port, "GET", "/api/ping", auth=None).status == 404
    cluster.stop("logic")
    cluster.logic.args = [a for a in cluster.logic.args if a not in ("-gusher.apiPrefix", "/gm/")]
    cluster.logic.args += ["-gusher.apiPrefix", ""]
    cluster.start("logic")
    assert call(cluster.logic_http_port, "GET", "/gm/ping", auth=None).status == 404
    assert call(cluster.logic_http_port, "GET", "/api/ping", auth=None).status == 404


def test_job_hands_gusher_pushes_to_the_comets_as_the_contract_says(gu, keys, capsys):
    """ROOM records reach every comet as BroadcastRoomReq{room, text} with frames of op 2000;
    PUSH records reach the comet holding the socket as PushMsgReq{keys, protoOp 2000-2002}.
    Then prints (asserts nothing about time) a channel push at rest, 100 times: HTTP request ->
    200 (Kafka acknowledged), and HTTP request -> BroadcastRoom at the comet."""

    from support.recording_comet import RecordingComet
    from support.util import free_port

    comet = RecordingComet(gu.redis, "recording-%s" % gu.id, free_port())
    try:
        socket_id = "5" * 32
        open_sockets(gu, keys[0], "u1", {socket_id: comet.hostname})
        def probe():
            assert api(gu, "POST", "push/%s/probe/e" % APP, form={"data": "1"}).status == 200

        comet.found_by_job(probe)  # positive control: job has found the recording comet

        answer = api(gu, "POST", "push/%s/room-1/ev" % APP, form={"data": "[1]"})
        room = comet.next_room()
        assert (room["room"], room["text"], room["pattern"], room["close"]) == \
            ("gusher/TEST/room-1", True, "", False)
        assert room["frames"] == [(2000, answer.body)]

        for path, form, op, body in (("push/user/%s/u1", {"data": "x"}, 2000, b'"x"'),
                                     ("push/socket/%s/" + socket_id, {"data": "{}"}, 2000, b"{}"),
                                     ("reload/channel/user/%s/u1", {"data": '["A"]'}, 2001,
                                      b'["A"]'),
                                     ("add/channel/user/%s/u1", {"data": "B"}, 2002, b"B")):
            assert api(gu, "POST", path % APP, form=form).status == 200
            push = comet.next_push()
            assert (push["keys"], push["op"]) == (["gusher/TEST/" + socket_id], op)
            assert push["frames"] == [(op, body)]

        summary = comet.time_room_pushes_at_rest(
            lambda number: api(gu, "POST", "push/%s/latency/ev" % APP,
                               form={"data": str(number)}),
            lambda _number, answer: [(2000, answer.body)])
    finally:
        comet.close()
    with capsys.disabled():
        print("\ngusher channel push at rest, " + summary)


def test_push_tokens_guard_the_master_api_but_ping(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-httpServer.pushTokens", "t0ken"]})
    refused = api(cluster, "GET", "%s/channels" % APP)
    assert refused.status == 401
    assert refused.headers.get("www-authenticate", "").startswith("Bearer")
    assert api(cluster, "POST", "push/%s/c/e" % APP, form={"data": "1"}).status == 401
    assert api(cluster, "GET", "ping").body == b"pong"
    allowed = call(cluster.logic_http_port, "GET", "/api/%s/channels" % APP,
                   auth="Bearer t0ken")
    assert_answer(allowed, 200, b"[]", gusher.JSON_TYPE)


def test_a_message_no_comet_can_hold_is_refused(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-comet.maxOutputBytes", "4096"]})
    # '<' becomes \u003c: 1,000 bytes of data make a 6,000-byte message
    refused = api(cluster, "POST", "push/%s/c/e" % APP, form={"data": '"' + "<" * 1000 + '"'})
    assert refused.status == 413 and refused.body.startswith(b"message of 6")
    assert api(cluster, "POST", "push/user/%s/u" % APP,
               form={"data": "x" * 5000}).status == 413
    batch = json.dumps([{"channel": "a", "event": "e", "data": 1},
                        {"channel": "b", "event": "e", "data": "y" * 5000}])
    assert api(cluster, "POST", "push_batch/%s" % APP, form={"batch_data": batch}).status == 413
    assert api(cluster, "POST", "push/%s/c/e" % APP, form={"data": "x" * 3000}).status == 200
