"""An independent client of logic's gopusher API (gopusher v2's private API).

Plain http.client, so that tests see the exact status, headers and body bytes
gopusher answers with. Also: Go-style bcrypt hashes ("$2a$05$" of account +
password, made with the bcrypt package, as gopusher's `init` does), a writer
of gopusher's SQLite file (its appdata table) and a reader of the PushMsg
records logic produces.
"""

import base64
import http.client
import sqlite3
import time
import urllib.parse
import uuid

import bcrypt

from support import logic_wire, presence

SUPER_ACCOUNT = "root"
SUPER_PASSWORD = "root-secret"


def go_hash(account, password):
    """bcrypt(account + password), cost 5, as gopusher stores it."""
    return bcrypt.hashpw((account + password).encode(), bcrypt.gensalt(5, b"2a")).decode()


def super_admin_args():
    """logic flags that make root/root-secret the super admin. Pushes wait up to 10 s for
    Kafka: a topic's first record can take more than the default 1 s on a loaded machine."""
    return ["-gopusher.authAccount", SUPER_ACCOUNT,
            "-gopusher.authPassword", go_hash(SUPER_ACCOUNT, SUPER_PASSWORD),
            "-kafka.timeout", "10s"]


def basic(account, password):
    return "Basic " + base64.b64encode(("%s:%s" % (account, password)).encode()).decode()


SUPER = basic(SUPER_ACCOUNT, SUPER_PASSWORD)


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lower-case name: value}
        self.body = body        # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return "Answer(%d, %r)" % (self.status, self.body)


def call(port, method, path, form=None, query=None, auth=SUPER, multipart=False, timeout=10.0):
    """One request to the gopusher API on 127.0.0.1:port. form: dict/list sent as the body
    (urlencoded, or multipart/form-data with multipart=True); auth: the Authorization
    header value or None."""
    if query:
        path += "?" + urllib.parse.urlencode(list(query.items()) if isinstance(query, dict)
                                             else list(query))
    headers = {}
    body = None
    if auth is not None:
        headers["Authorization"] = auth
    if form is not None:
        items = list(form.items()) if isinstance(form, dict) else list(form)
        if multipart:
            boundary = uuid.uuid4().hex
            parts = []
            for key, value in items:
                parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                              % (boundary, key)).encode() + value.encode() + b"\r\n")
            body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
            headers["Content-Type"] = "multipart/form-data; boundary=%s" % boundary
        else:
            body = urllib.parse.urlencode(items).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        connection.close()


def make_gopusher_db(path, rows):
    """gopusher's SQLite file: its DBinit schema (untyped columns) and rows of
    (app_key, auth_account, auth_password, connect_hook, request_ip, timestamp, date)."""
    db = sqlite3.connect(path)
    db.execute("create table if not exists appdata (app_key PRIMARY KEY, auth_account, "
               "auth_password, connect_hook, request_ip, timestamp, date)")
    db.executemany("INSERT INTO appdata(app_key,auth_account,auth_password,connect_hook,"
                   "request_ip,timestamp,date) VALUES (?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def encode_close(room):
    """The PushMsg of an unregister: ROOM (1) to room (5), closeRoom (10) true."""
    return (logic_wire._field_varint(1, 1) + logic_wire._field_bytes(5, room.encode()) +
            logic_wire._field_varint(10, 1))


def push_msg_fields(value):
    """{field number: value} of a PushMsg (repeated fields left aside)."""
    return dict(logic_wire._fields(value))


def read_records(kafka, topic, wanted, timeout=30.0):
    """Reads topic from the start until `wanted` records were seen; [(key, value), ...]."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False,
                             consumer_timeout_ms=10000)
    records = []
    try:
        parts = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        while len(records) < wanted and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                for record in batch:
                    records.append((record.key, record.value))
    finally:
        consumer.close()
    return records


def write_presence(redis, app_key, comets, now_ms=None, valid_ms=60000):
    """What a comet writes (docs/internals.md, "gopusher"): comets is
    {server: ({user_tag: sockets}, deadline offset in ms or None for valid_ms)}."""
    now_ms = now_ms if now_ms is not None else presence.now_ms()
    index = "gopusher/online/%s" % app_key
    for server, (tags, offset) in comets.items():
        deadline = now_ms + (valid_ms if offset is None else offset)
        presence.write_entry(redis, index, server, {"%s/%s" % (index, server): tags}, deadline,
                             now_ms)
