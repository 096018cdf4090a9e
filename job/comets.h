/*
 * comets.h: the job's live view of the comet registry.
 *
 * A watcher thread re-reads the registry (common/registry.h) every
 * registry.refresh and keeps one entry per comet hostname (the comet's
 * server id): its instance data and a gim_rpc_client dialled to its RPC
 * address. A comet that appears gets a client; a comet that leaves (its
 * registry key expired or was withdrawn) or changes its RPC address is
 * taken out of the table at once, and its client is closed when the last
 * caller holding the entry releases it (reference count), so no call ever
 * runs on a closed client.
 *
 * When Redis cannot be read, the table is kept as it is (a registry outage
 * is not a comet outage); a successful read with no comets empties it.
 */
#ifndef JOB_COMETS_H
#define JOB_COMETS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "job/config.h"

/* One live comet. Read-only for holders; valid until job_comet_release. */
struct job_comet {
    char *hostname; /* server id, as in PushMsg.server */
    char *zone;
    char *rpc_url;                 /* nng URL the client dials */
    struct gim_rpc_client *client; /* safe to call from any thread while held */
    atomic_int references;         /* table + holders; the last release frees */
    int calls_in_flight;           /* job/delivery.c's count; touched by its thread only */
};

struct job_comets;

/*
 * Creates the table, reads the registry once synchronously (so the first
 * record already sees the comets; a failure is logged and the watcher keeps
 * trying) and starts the watcher thread. config must outlive the table.
 * On GIM_OK *comets is the caller's (job_comets_stop). Returns GIM_OK,
 * GIM_ERR_INVALID (bad redis.addr) or GIM_ERR_NO_MEMORY / GIM_ERR_IO.
 */
int job_comets_start(struct job_comets **comets, const struct job_config *config);

/* Stops and joins the watcher, releases every entry, frees comets. Entries
 * still held by callers stay valid until they are released. */
void job_comets_stop(struct job_comets *comets);

/*
 * Finds the comet named hostname. Returns a held entry (caller releases it
 * with job_comet_release) or NULL if no such comet is in the table.
 */
struct job_comet *job_comets_find(struct job_comets *comets, const char *hostname);

/*
 * Takes every comet in the table. On GIM_OK *list is a malloc'd array of
 * *count held entries (caller releases each, then free(*list)); an empty
 * table gives NULL, 0. Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int job_comets_snapshot(struct job_comets *comets, struct job_comet ***list, size_t *count);

/* The number of comets in the table now. Any thread. */
size_t job_comets_count(struct job_comets *comets);

/* Releases an entry taken by find or snapshot; the last release closes its client. NULL ok. */
void job_comet_release(struct job_comet *comet);

/*
 * Asks the watcher for a fresh read without waiting. Returns a ticket for
 * job_comets_fresh_since: the number of the first read that starts after
 * this call.
 */
uint64_t job_comets_request_refresh(struct job_comets *comets);

/* True once a registry read numbered ticket or later has succeeded, i.e.
 * the table reflects the registry as it was after the ticket was taken. */
bool job_comets_fresh_since(struct job_comets *comets, uint64_t ticket);

#endif
