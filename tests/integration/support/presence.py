"""What a comet writes for a dialect's presence (docs/internals.md, "gopusher" and "gusher"),
written by hand so that logic's presence readers can be tested without a comet: one comet's
entry is a member of the dialect's index ZSET whose score is its deadline (Unix ms) and hashes
of counts that expire at that deadline."""

import time


def now_ms():
    return int(time.time() * 1000)


def write_entry(redis, index, server, hashes, deadline, now=None):
    """Replaces server's entry under index: each hash of hashes ({key: {field: count}}) is
    deleted and, when it has fields, written with PEXPIREAT deadline (left without one when the
    deadline is already past, as an expired entry's hashes linger); server goes into the index
    ZSET with score deadline."""
    now = now_ms() if now is None else now
    for key, values in hashes.items():
        redis.delete(key)
        if values:
            redis.hset(key, mapping={field: str(count) for field, count in values.items()})
            if deadline > now:
                redis.pexpireat(key, deadline)
    redis.zadd(index, {server: deadline})
