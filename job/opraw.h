/*
 * opraw.h: the body of an OpRaw (op 9) proto, as goim's job builds it.
 *
 * job never hands a comet a bare message: it encodes one or more complete
 * client frames (16-byte header ver 1, op = the record's operation, seq 0,
 * body = the record's msg) back to back, and sends them as the body of
 * Proto{ver 1, op 9}. A TCP comet writes that body verbatim; a WebSocket
 * comet wraps it once more (reference §2.6). PUSH and BROADCAST carry one
 * frame each; a ROOM or PUSH lane merges several into one buffer
 * (job/batcher.h), all of one request's operation (job/lane.h).
 */
#ifndef JOB_OPRAW_H
#define JOB_OPRAW_H

#include <stddef.h>
#include <stdint.h>

/* The largest OpRaw body job builds: a comet request must fit in
 * GIM_RPC_MAX_MESSAGE with its keys, so the frames get 1 MiB less. A frame
 * that would pass this bound is refused (the record is logged and skipped). */
#define JOB_OPRAW_MAX_BODY (15u * 1024u * 1024u)

/* A growing buffer of frames. Zero-initialise it; release with job_opraw_clear. */
struct job_opraw {
    uint8_t *data;
    size_t length;
    size_t capacity;
};

/*
 * Appends one frame {ver 1, op operation, seq 0, body message} to buffer.
 * message may be NULL when message_length is 0; it stays the caller's.
 * Returns GIM_OK, GIM_ERR_TOO_LARGE (the buffer would pass
 * JOB_OPRAW_MAX_BODY; buffer unchanged) or GIM_ERR_NO_MEMORY.
 */
int job_opraw_append(struct job_opraw *buffer, int32_t operation, const uint8_t *message,
                     size_t message_length);

/* Frees the buffer's memory and zeroes it. */
void job_opraw_clear(struct job_opraw *buffer);

#endif
