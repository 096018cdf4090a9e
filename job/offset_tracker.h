/*
 * offset_tracker.h: which offset of one Kafka partition may be committed
 * while its records finish out of order.
 *
 * The consumer registers every record's offset in the order Kafka hands
 * them out (increasing, possibly with gaps); the dispatcher marks records
 * finished in any order. The committable offset is one past the highest
 * offset below which every registered record is finished, so a crash never
 * skips a record that was not delivered (at-least-once).
 *
 * Bound: at most JOB_OFFSET_TRACKER_MAX_ENTRIES registered and not yet
 * committable records per partition (finished ones waiting behind an
 * unfinished one count). At the bound job_offset_tracker_add refuses and
 * the consumer stops reading until the oldest record finishes. Not
 * thread-safe: the owner locks.
 */
#ifndef JOB_OFFSET_TRACKER_H
#define JOB_OFFSET_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_OFFSET_TRACKER_MAX_ENTRIES 65536u

struct job_offset_tracker_entry {
    int64_t offset;
    bool finished;
    bool handed; /* the owner handed the record on (job_offset_tracker_mark_handed) */
};

/* A ring of entries in offset order. Prepare with _init; release with _clear. */
struct job_offset_tracker {
    struct job_offset_tracker_entry *entries; /* grows on demand up to max_entries */
    size_t capacity;
    size_t head;         /* index of the oldest entry */
    size_t count;        /* entries in the ring */
    size_t max_entries;  /* 0 means JOB_OFFSET_TRACKER_MAX_ENTRIES */
    int64_t committable; /* next offset to commit; -1 while nothing is committable */
    /* the stall watch (job_offset_tracker_stalled): the oldest entry seen last, since when */
    int64_t watched_offset; /* -1: none */
    int64_t watched_since_ms;
    bool watched_reported;
};

/* Prepares an empty tracker whose ring holds at most max_entries (0: the default bound). */
void job_offset_tracker_init(struct job_offset_tracker *tracker, size_t max_entries);

/* Frees the ring and empties the tracker (it may be initialised again). */
void job_offset_tracker_clear(struct job_offset_tracker *tracker);

/*
 * Registers offset as delivered-to-be. Returns GIM_OK, GIM_ERR_AGAIN (the
 * bound is reached: nothing registered, try again after records finish),
 * GIM_ERR_INVALID (offset not greater than the last registered one) or
 * GIM_ERR_NO_MEMORY.
 */
int job_offset_tracker_add(struct job_offset_tracker *tracker, int64_t offset);

/* True when job_offset_tracker_add would answer GIM_ERR_AGAIN. */
bool job_offset_tracker_full(const struct job_offset_tracker *tracker);

/*
 * Marks a registered offset finished and advances the committable offset
 * over the finished prefix. Returns GIM_OK or GIM_ERR_NOT_FOUND (offset
 * not registered, or already committable).
 */
int job_offset_tracker_finish(struct job_offset_tracker *tracker, int64_t offset);

/* The offset a commit may store (one past the last record of the finished
 * prefix), or -1 if no record has been finished in order yet. */
int64_t job_offset_tracker_committable(const struct job_offset_tracker *tracker);

/*
 * The offset the next registration is expected at when offsets have no gap:
 * one past the last offset registered, or -1 before the first. A later one
 * means offsets were never handed out.
 */
int64_t job_offset_tracker_next_expected(const struct job_offset_tracker *tracker);

/* Registered records not yet part of the committable prefix. */
size_t job_offset_tracker_outstanding(const struct job_offset_tracker *tracker);

/*
 * Notes that the record at offset was handed on (to the dispatcher), for
 * job_offset_tracker_stalled's report. Returns GIM_OK or GIM_ERR_NOT_FOUND
 * (not registered, or already committable: finished before this call).
 */
int job_offset_tracker_mark_handed(struct job_offset_tracker *tracker, int64_t offset);

/*
 * The stall watch, called now and then with the monotonic time now_ms:
 * returns true, once per stall, when the same record has been the oldest
 * unfinished one (the one holding the committable offset back) for stall_ms
 * or more, with a copy of its entry in *oldest and since when it was seen
 * oldest in *since_ms. Returns false otherwise (nothing outstanding, the
 * oldest moved, not long enough yet, or this stall was reported already).
 */
bool job_offset_tracker_stalled(struct job_offset_tracker *tracker, int64_t now_ms,
                                int64_t stall_ms, struct job_offset_tracker_entry *oldest,
                                int64_t *since_ms);

#endif
