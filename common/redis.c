/* redis.c: self-healing synchronous Redis connection (see redis.h). */
#include "redis.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "status.h"

struct gim_redis {
    redisContext *context;
    char *host;
    int port;
    char *password;
    int timeout_ms;
    int outage_logged;
    struct gim_counter *errors; /* failed commands, or NULL */
};

/* Counts a failed command (reply NULL or an error reply) and hands reply back. */
static redisReply *redis_counted(struct gim_redis *redis, redisReply *reply)
{
    if (redis->errors != NULL && (reply == NULL || reply->type == REDIS_REPLY_ERROR))
        gim_counter_increment(redis->errors);
    return reply;
}

void gim_redis_count_errors(struct gim_redis *redis, struct gim_counter *errors)
{
    redis->errors = errors;
}

int gim_redis_open(struct gim_redis **out, const char *address, const char *password,
                   int timeout_ms)
{
    struct gim_redis *redis;
    const char *colon = address ? strrchr(address, ':') : NULL;
    char *end;
    long port;

    *out = NULL;
    if (colon == NULL)
        return GIM_ERR_INVALID;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return GIM_ERR_INVALID;
    redis = calloc(1, sizeof(*redis));
    if (redis == NULL)
        return GIM_ERR_NO_MEMORY;
    redis->host =
        colon == address ? strdup("127.0.0.1") : strndup(address, (size_t)(colon - address));
    redis->password = password && *password ? strdup(password) : NULL;
    redis->port = (int)port;
    redis->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    if (redis->host == NULL) {
        gim_redis_close(redis);
        return GIM_ERR_NO_MEMORY;
    }
    *out = redis;
    return GIM_OK;
}

static void redis_drop(struct gim_redis *redis, const char *why)
{
    if (!redis->outage_logged) {
        gim_log_warn("redis %s:%d: %s", redis->host, redis->port, why);
        redis->outage_logged = 1;
    }
    if (redis->context != NULL) {
        redisFree(redis->context);
        redis->context = NULL;
    }
}

/* Connects if needed. Returns GIM_OK or GIM_ERR_UNAVAILABLE. */
static int redis_ensure(struct gim_redis *redis)
{
    struct timeval timeout = {redis->timeout_ms / 1000, (redis->timeout_ms % 1000) * 1000};

    if (redis->context != NULL)
        return GIM_OK;
    redis->context = redisConnectWithTimeout(redis->host, redis->port, timeout);
    if (redis->context == NULL || redis->context->err) {
        redis_drop(redis, redis->context ? redis->context->errstr : "cannot allocate a context");
        return GIM_ERR_UNAVAILABLE;
    }
    redisSetTimeout(redis->context, timeout);
    if (redis->password != NULL) {
        redisReply *reply = redisCommand(redis->context, "AUTH %s", redis->password);
        int failed = reply == NULL || reply->type == REDIS_REPLY_ERROR;
        if (reply != NULL)
            freeReplyObject(reply);
        if (failed) {
            redis_drop(redis, "AUTH failed");
            return GIM_ERR_UNAVAILABLE;
        }
    }
    if (redis->outage_logged)
        gim_log_notice("redis %s:%d: connected again", redis->host, redis->port);
    redis->outage_logged = 0;
    return GIM_OK;
}

redisReply *gim_redis_command(struct gim_redis *redis, const char *format, ...)
{
    redisReply *reply;
    va_list args;

    if (redis_ensure(redis) != GIM_OK)
        return redis_counted(redis, NULL);
    va_start(args, format);
    reply = redisvCommand(redis->context, format, args);
    va_end(args);
    if (reply == NULL)
        redis_drop(redis, redis->context->errstr);
    return redis_counted(redis, reply);
}

redisReply *gim_redis_command_argv(struct gim_redis *redis, int argc, const char **argv,
                                   const size_t *lengths)
{
    redisReply *reply;

    if (redis_ensure(redis) != GIM_OK)
        return redis_counted(redis, NULL);
    reply = redisCommandArgv(redis->context, argc, argv, lengths);
    if (reply == NULL)
        redis_drop(redis, redis->context->errstr);
    return redis_counted(redis, reply);
}

int gim_redis_append(struct gim_redis *redis, const char *format, ...)
{
    va_list args;
    int result;

    if (redis_ensure(redis) != GIM_OK) {
        redis_counted(redis, NULL);
        return GIM_ERR_UNAVAILABLE;
    }
    va_start(args, format);
    result = redisvAppendCommand(redis->context, format, args);
    va_end(args);
    if (result != REDIS_OK) {
        redis_drop(redis, redis->context->errstr);
        redis_counted(redis, NULL);
        return GIM_ERR_UNAVAILABLE;
    }
    return GIM_OK;
}

int gim_redis_append_argv(struct gim_redis *redis, int argc, const char **argv,
                          const size_t *lengths)
{
    if (redis_ensure(redis) != GIM_OK) {
        redis_counted(redis, NULL);
        return GIM_ERR_UNAVAILABLE;
    }
    if (redisAppendCommandArgv(redis->context, argc, argv, lengths) != REDIS_OK) {
        redis_drop(redis, redis->context->errstr);
        redis_counted(redis, NULL);
        return GIM_ERR_UNAVAILABLE;
    }
    return GIM_OK;
}

redisReply *gim_redis_reply(struct gim_redis *redis)
{
    void *reply = NULL;

    if (redis->context == NULL)
        return redis_counted(redis, NULL);
    if (redisGetReply(redis->context, &reply) != REDIS_OK) {
        redis_drop(redis, redis->context->errstr);
        return redis_counted(redis, NULL);
    }
    return redis_counted(redis, reply);
}

int gim_redis_integer_reply(redisReply *reply, long long *value)
{
    int status = GIM_OK;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type == REDIS_REPLY_INTEGER)
        *value = reply->integer;
    else
        status = GIM_ERR_REMOTE;
    freeReplyObject(reply);
    return status;
}

void gim_redis_close(struct gim_redis *redis)
{
    if (redis == NULL)
        return;
    if (redis->context != NULL)
        redisFree(redis->context);
    free(redis->host);
    free(redis->password);
    free(redis);
}
