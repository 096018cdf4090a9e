/*
 * batcher.h: per-lane ordering and merging of messages (room batching).
 *
 * A lane is a string naming what must stay in order: a room ("r" + room),
 * a key set of a PUSH (any operation), the BROADCAST stream (job/lane.h). At most one batch per
 * lane is in flight. A message for an idle lane goes out at once (zero added latency at rest);
 * messages arriving while the lane is busy are appended as frames (job/opraw.h) to the lane's last
 * queued batch, up to max_frames frames per batch, and wait until the caller reports the in-flight
 * batch done. So per-lane order is kept and nothing queued is lost when a lane goes idle (unlike
 * goim #383).
 *
 * Bound: the batcher holds only what the caller put in; the caller bounds
 * the number of messages it hands over (dispatch.maxRecords). Not
 * thread-safe: one owner thread.
 */
#ifndef JOB_BATCHER_H
#define JOB_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "job/opraw.h"

/* One OpRaw body and the caller's items (one per frame, in order). */
struct job_batch {
    struct job_opraw frames;
    void **items;      /* the caller's tokens, items[0] is the first message's */
    size_t item_count; /* == number of frames */
    size_t item_capacity;
    char *merge_key;        /* owned; only messages with an equal key join this batch */
    struct job_batch *next; /* next queued batch of the same lane (batcher-internal) */
};

struct job_batcher;

/* Creates an empty batcher. On GIM_OK *batcher is the caller's (job_batcher_destroy). Returns
 * GIM_OK or GIM_ERR_NO_MEMORY. */
int job_batcher_create(struct job_batcher **batcher);

/*
 * Frees the batcher and every queued batch (not the in-flight ones, which
 * are the caller's). free_item, if not NULL, is called for every item of
 * the queued batches.
 */
void job_batcher_destroy(struct job_batcher *batcher, void (*free_item)(void *item));

/*
 * Adds one message (operation, message[0..length), copied) with the
 * caller's token item to lane (copied). If the lane was idle, *ready is a
 * new batch holding just this message, the lane is now busy and the batch
 * is the caller's (send it, then call job_batcher_done). Otherwise the
 * message is queued and *ready is NULL. Its merge key is "" (see
 * job_batcher_add_keyed). Returns GIM_OK, GIM_ERR_TOO_LARGE
 * (one frame over JOB_OPRAW_MAX_BODY: nothing added) or GIM_ERR_NO_MEMORY
 * (nothing added).
 */
int job_batcher_add(struct job_batcher *batcher, const char *lane, size_t max_frames,
                    int32_t operation, const uint8_t *message, size_t length, void *item,
                    struct job_batch **ready);

/*
 * As job_batcher_add, and the message joins a queued batch only when that
 * batch's merge_key (copied; NULL is "") equals this one's: messages that
 * travel with different request fields (a PUSH's operation, gopusher's
 * user_tag pattern and text flag) keep the lane's order but never share a
 * body. Only the lane's last queued batch is joined, never an earlier one.
 */
int job_batcher_add_keyed(struct job_batcher *batcher, const char *lane, const char *merge_key,
                          size_t max_frames, int32_t operation, const uint8_t *message,
                          size_t length, void *item, struct job_batch **ready);

/*
 * Reports that lane's in-flight batch is done (the caller frees it with
 * job_batch_free). Returns the lane's next queued batch, now in flight and
 * the caller's, or NULL: the lane is idle and forgotten.
 */
struct job_batch *job_batcher_done(struct job_batcher *batcher, const char *lane);

/* Number of busy lanes. */
size_t job_batcher_busy_lanes(const struct job_batcher *batcher);

/* Frees a batch the caller owns (its items are not touched). NULL ok. */
void job_batch_free(struct job_batch *batch);

#endif
