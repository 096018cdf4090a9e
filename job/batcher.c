/* batcher.c: per-lane ordering and merging of messages (see batcher.h). */
#include "job/batcher.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/status.h"

/* Lanes are kept in a chained hash table of fixed size; chains grow with
 * the number of busy lanes, which the caller bounds. */
#define LANE_BUCKETS 4096u

struct batcher_lane {
    char *name;
    struct job_batch *queued_head, *queued_tail; /* waiting behind the in-flight batch */
    struct batcher_lane *next_in_bucket;
};

struct job_batcher {
    struct batcher_lane *buckets[LANE_BUCKETS];
    size_t busy_lanes;
};

static size_t lane_bucket(const char *name)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */

    for (; *name; name++) {
        hash ^= (uint8_t)*name;
        hash *= 1099511628211ULL;
    }
    return (size_t)(hash % LANE_BUCKETS);
}

int job_batcher_create(struct job_batcher **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? GIM_OK : GIM_ERR_NO_MEMORY;
}

void job_batch_free(struct job_batch *batch)
{
    if (batch == NULL)
        return;
    job_opraw_clear(&batch->frames);
    free(batch->items);
    free(batch->merge_key);
    free(batch);
}

void job_batcher_destroy(struct job_batcher *batcher, void (*free_item)(void *item))
{
    size_t bucket, index;

    if (batcher == NULL)
        return;
    for (bucket = 0; bucket < LANE_BUCKETS; bucket++) {
        while (batcher->buckets[bucket] != NULL) {
            struct batcher_lane *lane = batcher->buckets[bucket];
            batcher->buckets[bucket] = lane->next_in_bucket;
            while (lane->queued_head != NULL) {
                struct job_batch *batch = lane->queued_head;
                lane->queued_head = batch->next;
                for (index = 0; free_item != NULL && index < batch->item_count; index++)
                    free_item(batch->items[index]);
                job_batch_free(batch);
            }
            free(lane->name);
            free(lane);
        }
    }
    free(batcher);
}

static struct batcher_lane *lane_find(struct job_batcher *batcher, const char *name,
                                      struct batcher_lane ***link)
{
    struct batcher_lane **at = &batcher->buckets[lane_bucket(name)];

    for (; *at != NULL; at = &(*at)->next_in_bucket)
        if (strcmp((*at)->name, name) == 0)
            break;
    if (link != NULL)
        *link = at;
    return *at;
}

/* Appends one frame and its item to batch. Returns GIM_OK, GIM_ERR_TOO_LARGE, GIM_ERR_NO_MEMORY. */
static int batch_append(struct job_batch *batch, int32_t operation, const uint8_t *message,
                        size_t length, void *item)
{
    size_t frames_length = batch->frames.length;
    int status;

    if (gim_grow(&batch->items, &batch->item_capacity, batch->item_count + 1, sizeof(*batch->items),
                 4, SIZE_MAX) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    status = job_opraw_append(&batch->frames, operation, message, length);
    if (status != GIM_OK) {
        batch->frames.length = frames_length;
        return status;
    }
    batch->items[batch->item_count++] = item;
    return GIM_OK;
}

static struct job_batch *batch_new(const char *merge_key, int32_t operation, const uint8_t *message,
                                   size_t length, void *item, int *status)
{
    struct job_batch *batch = calloc(1, sizeof(*batch));

    if (batch == NULL || (batch->merge_key = strdup(merge_key)) == NULL) {
        free(batch);
        *status = GIM_ERR_NO_MEMORY;
        return NULL;
    }
    *status = batch_append(batch, operation, message, length, item);
    if (*status != GIM_OK) {
        job_batch_free(batch);
        return NULL;
    }
    return batch;
}

int job_batcher_add(struct job_batcher *batcher, const char *name, size_t max_frames,
                    int32_t operation, const uint8_t *message, size_t length, void *item,
                    struct job_batch **ready)
{
    return job_batcher_add_keyed(batcher, name, "", max_frames, operation, message, length, item,
                                 ready);
}

int job_batcher_add_keyed(struct job_batcher *batcher, const char *name, const char *merge_key,
                          size_t max_frames, int32_t operation, const uint8_t *message,
                          size_t length, void *item, struct job_batch **ready)
{
    struct batcher_lane **link;
    struct batcher_lane *lane = lane_find(batcher, name, &link);
    struct job_batch *batch;
    int status;

    *ready = NULL;
    if (merge_key == NULL)
        merge_key = "";
    if (max_frames == 0)
        max_frames = 1;
    if (lane == NULL) {
        lane = calloc(1, sizeof(*lane));
        if (lane == NULL)
            return GIM_ERR_NO_MEMORY;
        lane->name = strdup(name);
        status = GIM_ERR_NO_MEMORY;
        batch = lane->name ? batch_new(merge_key, operation, message, length, item, &status) : NULL;
        if (batch == NULL) {
            free(lane->name);
            free(lane);
            return status;
        }
        *link = lane;
        batcher->busy_lanes++;
        *ready = batch;
        return GIM_OK;
    }
    batch = lane->queued_tail;
    if (batch != NULL && batch->item_count < max_frames &&
        strcmp(batch->merge_key, merge_key) == 0) {
        status = batch_append(batch, operation, message, length, item);
        if (status != GIM_ERR_TOO_LARGE)
            return status; /* merged (GIM_OK), or out of memory */
        /* The batch is full by bytes: this frame starts the next one. */
    }
    batch = batch_new(merge_key, operation, message, length, item, &status);
    if (batch == NULL)
        return status;
    if (lane->queued_tail != NULL)
        lane->queued_tail->next = batch;
    else
        lane->queued_head = batch;
    lane->queued_tail = batch;
    return GIM_OK;
}

struct job_batch *job_batcher_done(struct job_batcher *batcher, const char *name)
{
    struct batcher_lane **link;
    struct batcher_lane *lane = lane_find(batcher, name, &link);
    struct job_batch *next;

    if (lane == NULL)
        return NULL;
    next = lane->queued_head;
    if (next != NULL) {
        lane->queued_head = next->next;
        if (lane->queued_head == NULL)
            lane->queued_tail = NULL;
        next->next = NULL;
        return next;
    }
    *link = lane->next_in_bucket;
    free(lane->name);
    free(lane);
    batcher->busy_lanes--;
    return NULL;
}

size_t job_batcher_busy_lanes(const struct job_batcher *batcher)
{
    return batcher->busy_lanes;
}
