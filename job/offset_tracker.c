/* offset_tracker.c: committable offsets of a partition with out-of-order completion (see
 * offset_tracker.h). */
#include "job/offset_tracker.h"

#include <stdlib.h>

#include "common/status.h"

#define INITIAL_CAPACITY 256u

static size_t tracker_bound(const struct job_offset_tracker *tracker)
{
    return tracker->max_entries ? tracker->max_entries : JOB_OFFSET_TRACKER_MAX_ENTRIES;
}

static struct job_offset_tracker_entry *tracker_at(const struct job_offset_tracker *tracker,
                                                   size_t index)
{
    return &tracker->entries[(tracker->head + index) % tracker->capacity];
}

void job_offset_tracker_init(struct job_offset_tracker *tracker, size_t max_entries)
{
    tracker->entries = NULL;
    tracker->capacity = 0;
    tracker->head = 0;
    tracker->count = 0;
    tracker->max_entries = max_entries;
    tracker->committable = -1;
    tracker->watched_offset = -1;
    tracker->watched_since_ms = 0;
    tracker->watched_reported = false;
}

void job_offset_tracker_clear(struct job_offset_tracker *tracker)
{
    free(tracker->entries);
    job_offset_tracker_init(tracker, tracker->max_entries);
}

bool job_offset_tracker_full(const struct job_offset_tracker *tracker)
{
    return tracker->count >= tracker_bound(tracker);
}

/* Doubles the ring (up to the bound), copying the entries to the front. */
static int tracker_grow(struct job_offset_tracker *tracker)
{
    size_t capacity = tracker->capacity ? tracker->capacity * 2 : INITIAL_CAPACITY;
    struct job_offset_tracker_entry *grown;
    size_t index;

    if (capacity > tracker_bound(tracker))
        capacity = tracker_bound(tracker);
    grown = malloc(capacity * sizeof(*grown));
    if (grown == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < tracker->count; index++)
        grown[index] = *tracker_at(tracker, index);
    free(tracker->entries);
    tracker->entries = grown;
    tracker->capacity = capacity;
    tracker->head = 0;
    return GIM_OK;
}

int job_offset_tracker_add(struct job_offset_tracker *tracker, int64_t offset)
{
    int status;

    if (job_offset_tracker_full(tracker))
        return GIM_ERR_AGAIN;
    if (tracker->count > 0 && offset <= tracker_at(tracker, tracker->count - 1)->offset)
        return GIM_ERR_INVALID;
    if (tracker->count == 0 && tracker->committable >= 0 && offset < tracker->committable)
        return GIM_ERR_INVALID;
    if (tracker->count == tracker->capacity) {
        status = tracker_grow(tracker);
        if (status != GIM_OK)
            return status;
    }
    tracker->entries[(tracker->head + tracker->count) % tracker->capacity] =
        (struct job_offset_tracker_entry){.offset = offset, .finished = false, .handed = false};
    tracker->count++;
    return GIM_OK;
}

/* The registered entry of offset, or NULL. Entries are in increasing offset order: binary
 * search. */
static struct job_offset_tracker_entry *tracker_find(const struct job_offset_tracker *tracker,
                                                     int64_t offset)
{
    size_t low = 0, high = tracker->count;

    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (tracker_at(tracker, middle)->offset < offset)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == tracker->count || tracker_at(tracker, low)->offset != offset)
        return NULL;
    return tracker_at(tracker, low);
}

int job_offset_tracker_finish(struct job_offset_tracker *tracker, int64_t offset)
{
    struct job_offset_tracker_entry *entry = tracker_find(tracker, offset);

    if (entry == NULL || entry->finished)
        return GIM_ERR_NOT_FOUND;
    entry->finished = true;
    while (tracker->count > 0 && tracker_at(tracker, 0)->finished) {
        tracker->committable = tracker_at(tracker, 0)->offset + 1;
        tracker->head = (tracker->head + 1) % tracker->capacity;
        tracker->count--;
    }
    return GIM_OK;
}

int64_t job_offset_tracker_committable(const struct job_offset_tracker *tracker)
{
    return tracker->committable;
}

int64_t job_offset_tracker_next_expected(const struct job_offset_tracker *tracker)
{
    /* Empty: everything registered is committable, so the committable offset is one past the
     * last registered (or -1, nothing registered yet). */
    return tracker->count > 0 ? tracker_at(tracker, tracker->count - 1)->offset + 1
                              : tracker->committable;
}

size_t job_offset_tracker_outstanding(const struct job_offset_tracker *tracker)
{
    return tracker->count;
}

int job_offset_tracker_mark_handed(struct job_offset_tracker *tracker, int64_t offset)
{
    struct job_offset_tracker_entry *entry = tracker_find(tracker, offset);

    if (entry == NULL)
        return GIM_ERR_NOT_FOUND;
    entry->handed = true;
    return GIM_OK;
}

bool job_offset_tracker_stalled(struct job_offset_tracker *tracker, int64_t now_ms,
                                int64_t stall_ms, struct job_offset_tracker_entry *oldest,
                                int64_t *since_ms)
{
    const struct job_offset_tracker_entry *head;

    if (tracker->count == 0) {
        tracker->watched_offset = -1;
        return false;
    }
    head = tracker_at(tracker, 0); /* unfinished: the finished prefix is gone */
    if (head->offset != tracker->watched_offset) {
        tracker->watched_offset = head->offset;
        tracker->watched_since_ms = now_ms;
        tracker->watched_reported = false;
        return false;
    }
    if (tracker->watched_reported || now_ms - tracker->watched_since_ms < stall_ms)
        return false;
    tracker->watched_reported = true;
    *oldest = *head;
    *since_ms = tracker->watched_since_ms;
    return true;
}
