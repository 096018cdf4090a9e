"""goim's Kafka record, PushMsg (proto/logic.proto), written by hand.

What an independent producer does: encode PushMsg with goim's field numbers
and write it to the push topic. Used by the job tests to produce ROOM and
BROADCAST records without logic, and to check job against any producer.

    type = 1 (PUSH 0, ROOM 1, BROADCAST 2), operation = 2, speed = 3,
    server = 4, room = 5, keys = 6 (repeated), msg = 7
"""

from support.logic_wire import BROADCAST, PUSH, ROOM, push_msg


def encode_push_msg(type_=PUSH, operation=0, speed=0, server="", room="", keys=(), msg=b""):
    """The protobuf encoding of PushMsg (proto3: default values are left out)."""
    return push_msg(type_, operation, speed=speed, server=server, room=room, keys=keys,
                    msg=bytes(msg))


class PushMsgProducer:
    """kafka-python producer of PushMsg records (acks=all), keyed like goim's logic:
    the room for ROOM, the first key for PUSH, nothing for BROADCAST."""

    def __init__(self, bootstrap, topic):
        from kafka import KafkaProducer
        self.topic = topic
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                      max_in_flight_requests_per_connection=1, retries=5)

    def send(self, record_key, value):
        return self.producer.send(self.topic, key=record_key.encode() if record_key else None,
                                  value=value)

    def room(self, operation, room, msg):
        return self.send(room, encode_push_msg(ROOM, operation=operation, room=room, msg=msg))

    def broadcast(self, operation, msg, speed=0):
        return self.send(None, encode_push_msg(BROADCAST, operation=operation, speed=speed,
                                               msg=msg))

    def push(self, operation, server, keys, msg):
        return self.send(keys[0], encode_push_msg(PUSH, operation=operation, server=server,
                                                  keys=keys, msg=msg))

    def flush(self, timeout=30):
        self.producer.flush(timeout)

    def close(self):
        self.producer.close(timeout=10)
