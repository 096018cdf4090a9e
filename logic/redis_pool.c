/* redis_pool.c: lends gim_redis connections to logic's threads (see redis_pool.h). */
#include "logic/redis_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "common/status.h"

struct redis_pool {
    pthread_mutex_t lock;
    pthread_cond_t returned;
    char *address;
    char *password;
    int timeout_ms;
    size_t capacity;
    size_t created;          /* connection objects made so far, <= capacity */
    size_t idle_count;       /* entries of idle[] in use */
    struct gim_redis **idle; /* capacity slots */
    /* where every connection counts its failed commands, or NULL */
    struct gim_counter *errors;
};

int redis_pool_create(struct redis_pool **out, const char *address, const char *password,
                      int timeout_ms, size_t capacity)
{
    struct redis_pool *pool;
    struct gim_redis *probe;
    int status;

    *out = NULL;
    if (capacity == 0)
        return GIM_ERR_INVALID;
    /* Validate the address once, up front, so a typo fails at start-up. */
    status = gim_redis_open(&probe, address, password, timeout_ms);
    if (status != GIM_OK)
        return status;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        gim_redis_close(probe);
        return GIM_ERR_NO_MEMORY;
    }
    pool->idle = calloc(capacity, sizeof(*pool->idle));
    pool->address = strdup(address);
    pool->password = strdup(password ? password : "");
    if (pool->idle == NULL || pool->address == NULL || pool->password == NULL) {
        gim_redis_close(probe);
        free(pool->idle);
        free(pool->address);
        free(pool->password);
        free(pool);
        return GIM_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->returned, NULL);
    pool->timeout_ms = timeout_ms;
    pool->capacity = capacity;
    pool->idle[0] = probe;
    pool->idle_count = 1;
    pool->created = 1;
    *out = pool;
    return GIM_OK;
}

struct gim_redis *redis_pool_acquire(struct redis_pool *pool)
{
    struct gim_redis *redis = NULL;
    int must_create = 0;

    pthread_mutex_lock(&pool->lock);
    /* Bound: at most capacity connections; when all are lent out, wait. */
    while (pool->idle_count == 0 && pool->created >= pool->capacity)
        pthread_cond_wait(&pool->returned, &pool->lock);
    if (pool->idle_count > 0) {
        redis = pool->idle[--pool->idle_count];
    } else {
        pool->created++;
        must_create = 1;
    }
    pthread_mutex_unlock(&pool->lock);
    if (must_create &&
        gim_redis_open(&redis, pool->address, pool->password, pool->timeout_ms) != GIM_OK) {
        pthread_mutex_lock(&pool->lock);
        pool->created--;
        pthread_cond_signal(&pool->returned);
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    if (must_create)
        gim_redis_count_errors(redis, pool->errors);
    return redis;
}

void redis_pool_count_errors(struct redis_pool *pool, struct gim_counter *errors)
{
    size_t index;

    pthread_mutex_lock(&pool->lock);
    pool->errors = errors;
    for (index = 0; index < pool->idle_count; index++) /* before sharing: all are idle */
        gim_redis_count_errors(pool->idle[index], errors);
    pthread_mutex_unlock(&pool->lock);
}

void redis_pool_release(struct redis_pool *pool, struct gim_redis *redis)
{
    if (redis == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    /* idle_count < created <= capacity, so the slot exists. */
    pool->idle[pool->idle_count++] = redis;
    pthread_cond_signal(&pool->returned);
    pthread_mutex_unlock(&pool->lock);
}

void redis_pool_destroy(struct redis_pool *pool)
{
    size_t index;

    if (pool == NULL)
        return;
    for (index = 0; index < pool->idle_count; index++)
        gim_redis_close(pool->idle[index]);
    pthread_cond_destroy(&pool->returned);
    pthread_mutex_destroy(&pool->lock);
    free(pool->idle);
    free(pool->address);
    free(pool->password);
    free(pool);
}
