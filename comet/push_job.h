/*
 * push_job.h: one delivery request handed from an RPC worker to every loop.
 *
 * The RPC worker encodes the payload once into a shared buffer, wraps it in
 * a push_job with one inbox item per loop, posts the items, and waits on
 * the latch until each loop has queued the payload to its matching
 * connections. The job is reference counted (atomically): one reference per
 * loop it was posted to plus the RPC worker's, so a worker that stops
 * waiting (timeout) never frees what a loop still reads. The job owns the
 * unpacked request its keys and room point into.
 */
#ifndef COMET_PUSH_JOB_H
#define COMET_PUSH_JOB_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/inbox.h"
#include "comet/latch.h"
#include "common/shared_buffer.h"

enum push_kind {
    PUSH_TO_KEYS,  /* connections with one of keys[] that watch operation */
    PUSH_TO_ROOM,  /* every connection in room (no operation filter, as goim) */
    PUSH_BROADCAST /* every connection that watches operation */
};

struct push_job;

struct push_job_item {
    struct inbox_item item; /* kind = LOOP_ITEM_PUSH_JOB */
    struct push_job *job;
};

struct push_job {
    atomic_int references;
    struct latch delivered; /* counted down once by each loop */
    enum push_kind kind;
    int32_t operation;
    int32_t speed; /* PUSH_BROADCAST: connections per second for this comet, 0 = at once */
    struct gim_shared_buffer *data; /* the bytes every target TCP connection writes */
    /* the same push as one WebSocket message (op 9 wrapped for OpRaw); owned, NULL when
     * the comet has no WebSocket listener */
    struct gim_shared_buffer *websocket_data;
    ProtobufCMessage *request; /* owned; keys and room point into it */
    char **keys;
    size_t key_count;
    const char *room;
    int item_count;
    struct push_job_item items[]; /* one per loop */
};

/*
 * Allocates a job for loop_count loops with references = 1 (the caller's),
 * the latch at loop_count, and takes ownership of data (one reference) and
 * request (freed with protobuf_c_message_free_unpacked). Returns NULL if
 * memory is short (data and request are then released).
 */
struct push_job *push_job_new(int loop_count, enum push_kind kind, struct gim_shared_buffer *data,
                              ProtobufCMessage *request);

/* Takes one more reference. */
void push_job_ref(struct push_job *job);

/* Drops one reference; the last frees the data references, the request and the job. */
void push_job_unref(struct push_job *job);

#endif
