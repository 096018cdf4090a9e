/* comets.c: the registry watcher and the table of live comets (see comets.h). */
#include "job/comets.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/registry.h"
#include "common/status.h"

struct job_comets {
    const struct job_config *config;
    struct gim_redis *redis; /* used by the watcher thread only (and by start before it runs) */
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t lock;
    pthread_cond_t wake_watcher; /* a refresh was requested, or stop */
    bool stopping;
    bool refresh_requested;
    bool read_in_progress;
    bool registry_reachable; /* to log an outage once, not every refresh */
    uint64_t reads_completed;
    uint64_t last_successful_read; /* number of the last read that succeeded */

    /* The table: each entry holds one reference. Bounded by the registry
     * (one entry per registered comet); nothing else is queued here. */
    struct job_comet **entries;
    size_t count;
};

/* Closes the client (waits for its asynchronous calls in flight) and frees. */
static void comet_free(struct job_comet *comet)
{
    if (comet->client != NULL)
        gim_rpc_client_close(comet->client);
    free(comet->hostname);
    free(comet->zone);
    free(comet->rpc_url);
    free(comet);
}

void job_comet_release(struct job_comet *comet)
{
    if (comet != NULL && atomic_fetch_sub(&comet->references, 1) == 1)
        comet_free(comet);
}

static struct job_comet *comet_hold(struct job_comet *comet)
{
    atomic_fetch_add(&comet->references, 1);
    return comet;
}

/* Creates an entry (one reference, the table's) with a client dialling the
 * instance's address. Returns NULL on failure (logged). */
static struct job_comet *comet_create(const struct gim_instance *instance)
{
    struct job_comet *comet;
    char url[512];
    int status;

    status = gim_rpc_url(instance->rpc_address, false, url, sizeof(url));
    if (status != GIM_OK) {
        gim_log_warn("comets: %s has an unusable rpc address \"%s\"; ignored", instance->hostname,
                     instance->rpc_address);
        return NULL;
    }
    comet = calloc(1, sizeof(*comet));
    if (comet == NULL)
        return NULL;
    atomic_init(&comet->references, 1);
    comet->hostname = strdup(instance->hostname);
    comet->zone = strdup(instance->zone ? instance->zone : "");
    comet->rpc_url = strdup(url);
    if (comet->hostname == NULL || comet->zone == NULL || comet->rpc_url == NULL) {
        comet_free(comet);
        return NULL;
    }
    status = gim_rpc_client_open(&comet->client, url);
    if (status != GIM_OK) {
        gim_log_warn("comets: cannot dial %s at %s: %s", comet->hostname, url,
                     gim_strerror(status));
        comet_free(comet);
        return NULL;
    }
    return comet;
}

/* The instance of hostname among the wanted ones, or NULL. */
static const struct gim_instance *instance_find(const struct gim_instance *instances, size_t count,
                                                const char *hostname)
{
    size_t index;

    for (index = 0; index < count; index++)
        if (strcmp(instances[index].hostname, hostname) == 0)
            return &instances[index];
    return NULL;
}

static bool instance_wanted(const struct job_comets *comets, const struct gim_instance *instance)
{
    if (instance->hostname == NULL || instance->hostname[0] == '\0' ||
        instance->rpc_address == NULL || instance->rpc_address[0] == '\0')
        return false;
    if (comets->config->comet_same_zone_only &&
        strcmp(instance->zone ? instance->zone : "",
               comets->config->zone ? comets->config->zone : "") != 0)
        return false;
    return true;
}

/*
 * Makes the table match instances (already filtered to the wanted ones).
 * Called with the lock held. Entries that leave are moved to *dropped
 * (caller releases them after unlocking: the last release may wait for
 * calls in flight). Returns GIM_OK or GIM_ERR_NO_MEMORY (table unchanged
 * for the comets that could not be added; retried at the next read).
 */
static int table_apply(struct job_comets *comets, const struct gim_instance *instances,
                       size_t count, struct job_comet **dropped, size_t *dropped_count)
{
    struct job_comet **kept;
    size_t index, kept_count = 0;
    int status = GIM_OK;

    *dropped_count = 0;
    kept = calloc(count + comets->count + 1, sizeof(*kept));
    if (kept == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < comets->count; index++) {
        struct job_comet *comet = comets->entries[index];
        const struct gim_instance *instance = instance_find(instances, count, comet->hostname);
        char url[512];

        if (instance != NULL &&
            gim_rpc_url(instance->rpc_address, false, url, sizeof(url)) == GIM_OK &&
            strcmp(url, comet->rpc_url) == 0) {
            kept[kept_count++] = comet;
            continue;
        }
        if (instance == NULL)
            gim_log_notice("comets: %s left the registry", comet->hostname);
        else
            gim_log_notice("comets: %s moved from %s to %s", comet->hostname, comet->rpc_url,
                           instance->rpc_address);
        dropped[(*dropped_count)++] = comet;
    }
    for (index = 0; index < count; index++) {
        size_t known;
        bool present = false;

        for (known = 0; known < kept_count && !present; known++)
            present = strcmp(kept[known]->hostname, instances[index].hostname) == 0;
        if (present)
            continue;
        struct job_comet *comet = comet_create(&instances[index]);
        if (comet == NULL) {
            status = GIM_ERR_NO_MEMORY;
            continue;
        }
        gim_log_notice("comets: %s joined (zone \"%s\", %s)", comet->hostname, comet->zone,
                       comet->rpc_url);
        kept[kept_count++] = comet;
    }
    free(comets->entries);
    comets->entries = kept;
    comets->count = kept_count;
    return status;
}

/* Reads the registry once and applies it. Must not hold the lock. */
static int comets_read_registry(struct job_comets *comets)
{
    struct gim_instance *instances = NULL;
    struct job_comet **dropped = NULL;
    size_t count = 0, wanted = 0, dropped_count = 0, index;
    int status;

    status = gim_registry_list(comets->redis, &instances, &count);
    if (status != GIM_OK) {
        if (comets->registry_reachable)
            gim_log_warn("comets: cannot read the registry at %s (%s); keeping %zu comets",
                         comets->config->redis_addr, gim_strerror(status), comets->count);
        comets->registry_reachable = false;
        return status;
    }
    if (!comets->registry_reachable)
        gim_log_notice("comets: registry at %s readable", comets->config->redis_addr);
    comets->registry_reachable = true;
    /* Keep the wanted instances at the front (swap, the array is ours). */
    for (index = 0; index < count; index++) {
        if (!instance_wanted(comets, &instances[index]))
            continue;
        if (index != wanted) {
            struct gim_instance swap = instances[wanted];
            instances[wanted] = instances[index];
            instances[index] = swap;
        }
        wanted++;
    }
    pthread_mutex_lock(&comets->lock);
    dropped = calloc(comets->count + 1, sizeof(*dropped));
    status = dropped ? table_apply(comets, instances, wanted, dropped, &dropped_count)
                     : GIM_ERR_NO_MEMORY;
    pthread_mutex_unlock(&comets->lock);
    for (index = 0; index < dropped_count; index++)
        job_comet_release(dropped[index]);
    free(dropped);
    gim_registry_free_list(instances, count);
    return status;
}

static void *comets_watch(void *argument)
{
    struct job_comets *comets = argument;
    struct timespec next_read;

    gim_deadline_after_ms(&next_read, comets->config->registry_refresh);
    pthread_mutex_lock(&comets->lock);
    while (!comets->stopping) {
        int status;

        while (!comets->stopping && !comets->refresh_requested) {
            if (pthread_cond_timedwait(&comets->wake_watcher, &comets->lock, &next_read) ==
                ETIMEDOUT)
                break;
        }
        if (comets->stopping)
            break;
        comets->refresh_requested = false;
        comets->read_in_progress = true;
        pthread_mutex_unlock(&comets->lock);
        status = comets_read_registry(comets);
        pthread_mutex_lock(&comets->lock);
        comets->read_in_progress = false;
        comets->reads_completed++;
        if (status == GIM_OK)
            comets->last_successful_read = comets->reads_completed;
        gim_deadline_after_ms(&next_read, comets->config->registry_refresh);
    }
    pthread_mutex_unlock(&comets->lock);
    return NULL;
}

int job_comets_start(struct job_comets **out, const struct job_config *config)
{
    struct job_comets *comets;
    int status;

    *out = NULL;
    comets = calloc(1, sizeof(*comets));
    if (comets == NULL)
        return GIM_ERR_NO_MEMORY;
    comets->config = config;
    comets->registry_reachable = true;
    status = gim_redis_open(&comets->redis, config->redis_addr, config->redis_auth,
                            (int)config->redis_timeout);
    if (status != GIM_OK) {
        free(comets);
        return status;
    }
    pthread_mutex_init(&comets->lock, NULL);
    gim_cond_init_monotonic(&comets->wake_watcher);

    comets->reads_completed = 1;
    if (comets_read_registry(comets) == GIM_OK)
        comets->last_successful_read = 1;
    gim_log_info("comets: %zu comets registered at start", comets->count);
    if (pthread_create(&comets->thread, NULL, comets_watch, comets) != 0) {
        job_comets_stop(comets);
        return GIM_ERR_IO;
    }
    comets->thread_started = true;
    *out = comets;
    return GIM_OK;
}

void job_comets_stop(struct job_comets *comets)
{
    size_t index;

    if (comets == NULL)
        return;
    pthread_mutex_lock(&comets->lock);
    comets->stopping = true;
    pthread_cond_broadcast(&comets->wake_watcher);
    pthread_mutex_unlock(&comets->lock);
    if (comets->thread_started)
        pthread_join(comets->thread, NULL);
    for (index = 0; index < comets->count; index++)
        job_comet_release(comets->entries[index]);
    free(comets->entries);
    gim_redis_close(comets->redis);
    pthread_cond_destroy(&comets->wake_watcher);
    pthread_mutex_destroy(&comets->lock);
    free(comets);
}

struct job_comet *job_comets_find(struct job_comets *comets, const char *hostname)
{
    struct job_comet *found = NULL;
    size_t index;

    pthread_mutex_lock(&comets->lock);
    for (index = 0; index < comets->count && found == NULL; index++)
        if (strcmp(comets->entries[index]->hostname, hostname) == 0)
            found = comet_hold(comets->entries[index]);
    pthread_mutex_unlock(&comets->lock);
    return found;
}

size_t job_comets_count(struct job_comets *comets)
{
    size_t count;

    pthread_mutex_lock(&comets->lock);
    count = comets->count;
    pthread_mutex_unlock(&comets->lock);
    return count;
}

int job_comets_snapshot(struct job_comets *comets, struct job_comet ***list, size_t *count)
{
    size_t index;

    *list = NULL;
    *count = 0;
    pthread_mutex_lock(&comets->lock);
    if (comets->count > 0) {
        *list = calloc(comets->count, sizeof(**list));
        if (*list == NULL) {
            pthread_mutex_unlock(&comets->lock);
            return GIM_ERR_NO_MEMORY;
        }
        for (index = 0; index < comets->count; index++)
            (*list)[index] = comet_hold(comets->entries[index]);
        *count = comets->count;
    }
    pthread_mutex_unlock(&comets->lock);
    return GIM_OK;
}

uint64_t job_comets_request_refresh(struct job_comets *comets)
{
    uint64_t ticket;

    pthread_mutex_lock(&comets->lock);
    /* A read already running may have started before this call: the next one counts. */
    ticket = comets->reads_completed + (comets->read_in_progress ? 2 : 1);
    comets->refresh_requested = true;
    pthread_cond_signal(&comets->wake_watcher);
    pthread_mutex_unlock(&comets->lock);
    return ticket;
}

bool job_comets_fresh_since(struct job_comets *comets, uint64_t ticket)
{
    bool fresh;

    pthread_mutex_lock(&comets->lock);
    fresh = comets->last_successful_read >= ticket;
    pthread_mutex_unlock(&comets->lock);
    return fresh;
}
