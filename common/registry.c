/* registry.c: comets registering themselves in Redis (see registry.h). */
#include "registry.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status.h"

static const char *text_or_empty(const char *text)
{
    return text ? text : "";
}

char *gim_instance_to_json(const struct gim_instance *instance)
{
    char conn_count[24], ip_count[24], weight[24];
    json_t *root;
    char *text;

    snprintf(conn_count, sizeof(conn_count), "%" PRId64, instance->conn_count);
    snprintf(ip_count, sizeof(ip_count), "%" PRId64, instance->ip_count);
    snprintf(weight, sizeof(weight), "%" PRId64, instance->weight);
    root = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:I, s:{s:s, s:s, s:s, s:s, s:s}}", "region",
        text_or_empty(instance->region), "zone", text_or_empty(instance->zone), "env",
        text_or_empty(instance->env), "appid", instance->appid ? instance->appid : "goim.comet",
        "hostname", text_or_empty(instance->hostname), "addrs",
        text_or_empty(instance->rpc_address), "version", text_or_empty(instance->version),
        "latest_timestamp", (json_int_t)instance->latest_timestamp, "metadata", "addrs",
        text_or_empty(instance->public_addrs), "conn_count", conn_count, "ip_count", ip_count,
        "offline", instance->offline ? "true" : "false", "weight", weight);
    if (root == NULL)
        return NULL;
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static char *json_string_copy(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    return strdup(json_is_string(value) ? json_string_value(value) : "");
}

/* Reads a metadata number written as a string (goim's discovery metadata). */
static int metadata_integer(json_t *metadata, const char *key, int64_t *out)
{
    json_t *value = json_object_get(metadata, key);
    char *end;

    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return GIM_OK;
    }
    if (!json_is_string(value))
        return GIM_ERR_INVALID;
    *out = strtoll(json_string_value(value), &end, 10);
    return (*end == '\0' && end != json_string_value(value)) ? GIM_OK : GIM_ERR_INVALID;
}

int gim_instance_from_json(const char *json, size_t length, struct gim_instance *instance)
{
    json_t *root = json_loadb(json, length, 0, NULL);
    json_t *metadata, *addrs, *offline;
    int status = GIM_OK;

    memset(instance, 0, sizeof(*instance));
    if (root == NULL)
        return GIM_ERR_INVALID;
    metadata = json_object_get(root, "metadata");
    addrs = json_object_get(root, "addrs");
    if (!json_is_object(root) || !json_is_object(metadata) || !json_is_array(addrs) ||
        json_array_size(addrs) < 1 || !json_is_string(json_array_get(addrs, 0))) {
        json_decref(root);
        return GIM_ERR_INVALID;
    }
    instance->region = json_string_copy(root, "region");
    instance->zone = json_string_copy(root, "zone");
    instance->env = json_string_copy(root, "env");
    instance->appid = json_string_copy(root, "appid");
    instance->hostname = json_string_copy(root, "hostname");
    instance->version = json_string_copy(root, "version");
    instance->rpc_address = strdup(json_string_value(json_array_get(addrs, 0)));
    instance->public_addrs = json_string_copy(metadata, "addrs");
    instance->latest_timestamp = json_integer_value(json_object_get(root, "latest_timestamp"));
    offline = json_object_get(metadata, "offline");
    instance->offline = json_is_true(offline) || (json_is_string(offline) &&
                                                  strcmp(json_string_value(offline), "true") == 0);
    if (metadata_integer(metadata, "weight", &instance->weight) != GIM_OK ||
        metadata_integer(metadata, "conn_count", &instance->conn_count) != GIM_OK ||
        metadata_integer(metadata, "ip_count", &instance->ip_count) != GIM_OK)
        status = GIM_ERR_INVALID;
    if (!instance->region || !instance->zone || !instance->env || !instance->appid ||
        !instance->hostname || !instance->version || !instance->rpc_address ||
        !instance->public_addrs)
        status = GIM_ERR_NO_MEMORY;
    if (status == GIM_OK && instance->hostname[0] == '\0')
        status = GIM_ERR_INVALID;
    json_decref(root);
    if (status != GIM_OK)
        gim_instance_clear(instance);
    return status;
}

void gim_instance_clear(struct gim_instance *instance)
{
    free(instance->region);
    free(instance->zone);
    free(instance->env);
    free(instance->appid);
    free(instance->hostname);
    free(instance->rpc_address);
    free(instance->version);
    free(instance->public_addrs);
    memset(instance, 0, sizeof(*instance));
}

int gim_registry_publish(struct gim_redis *redis, const struct gim_instance *instance,
                         int ttl_seconds)
{
    char *json = gim_instance_to_json(instance);
    redisReply *set_reply, *index_reply;
    int status = GIM_OK;

    if (json == NULL)
        return GIM_ERR_NO_MEMORY;
    if (gim_redis_append(redis, "SET " GIM_REGISTRY_KEY_PREFIX "%s %s EX %d", instance->hostname,
                         json, ttl_seconds) != GIM_OK ||
        gim_redis_append(redis, "ZADD " GIM_REGISTRY_INDEX_KEY " %lld %s", (long long)time(NULL),
                         instance->hostname) != GIM_OK) {
        free(json);
        return GIM_ERR_UNAVAILABLE;
    }
    free(json);
    set_reply = gim_redis_reply(redis);
    index_reply = set_reply ? gim_redis_reply(redis) : NULL;
    if (set_reply == NULL || index_reply == NULL)
        status = GIM_ERR_UNAVAILABLE;
    else if (set_reply->type == REDIS_REPLY_ERROR || index_reply->type == REDIS_REPLY_ERROR)
        status = GIM_ERR_REMOTE;
    if (set_reply)
        freeReplyObject(set_reply);
    if (index_reply)
        freeReplyObject(index_reply);
    return status;
}

int gim_registry_exists(struct gim_redis *redis, const char *hostname, bool *exists)
{
    long long count = 0;
    int status = gim_redis_integer_reply(
        gim_redis_command(redis, "EXISTS " GIM_REGISTRY_KEY_PREFIX "%s", hostname), &count);

    *exists = status == GIM_OK && count > 0;
    return status;
}

int gim_registry_withdraw(struct gim_redis *redis, const char *hostname)
{
    redisReply *reply = gim_redis_command(redis, "DEL " GIM_REGISTRY_KEY_PREFIX "%s", hostname);
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    freeReplyObject(reply);
    reply = gim_redis_command(redis, "ZREM " GIM_REGISTRY_INDEX_KEY " %s", hostname);
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    freeReplyObject(reply);
    return GIM_OK;
}

int gim_registry_fingerprint(struct gim_redis *redis, uint64_t *fingerprint)
{
    redisReply *members = gim_redis_command(redis, "ZRANGE " GIM_REGISTRY_INDEX_KEY " 0 -1");
    uint64_t sum = 0;
    size_t index, at;

    *fingerprint = 0;
    if (members == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (members->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(members);
        return GIM_ERR_REMOTE;
    }
    for (index = 0; index < members->elements; index++) {
        const redisReply *member = members->element[index];
        uint64_t hash = 14695981039346656037ull; /* FNV-1a per name, summed: order-free */
        for (at = 0; member->type == REDIS_REPLY_STRING && at < member->len; at++)
            hash = (hash ^ (uint8_t)member->str[at]) * 1099511628211ull;
        sum += hash;
    }
    *fingerprint = sum ^ (uint64_t)members->elements;
    freeReplyObject(members);
    return GIM_OK;
}

int gim_registry_list(struct gim_redis *redis, struct gim_instance **instances, size_t *count)
{
    redisReply *members, *values;
    struct gim_instance *list;
    const char **argv;
    size_t index, found = 0;

    *instances = NULL;
    *count = 0;
    members = gim_redis_command(redis, "ZRANGE " GIM_REGISTRY_INDEX_KEY " 0 -1");
    if (members == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (members->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(members);
        return GIM_ERR_REMOTE;
    }
    if (members->elements == 0) {
        freeReplyObject(members);
        return GIM_OK;
    }
    argv = calloc(members->elements + 1, sizeof(*argv));
    char **keys = calloc(members->elements, sizeof(*keys));
    if (argv == NULL || keys == NULL) {
        free(argv);
        free(keys);
        freeReplyObject(members);
        return GIM_ERR_NO_MEMORY;
    }
    argv[0] = "MGET";
    for (index = 0; index < members->elements; index++) {
        if (asprintf(&keys[index], GIM_REGISTRY_KEY_PREFIX "%s", members->element[index]->str) < 0)
            keys[index] = NULL;
        argv[index + 1] = keys[index] ? keys[index] : "";
    }
    values = gim_redis_command_argv(redis, (int)members->elements + 1, argv, NULL);
    for (index = 0; index < members->elements; index++)
        free(keys[index]);
    free(keys);
    free(argv);
    freeReplyObject(members);
    if (values == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (values->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(values);
        return GIM_ERR_REMOTE;
    }
    list = calloc(values->elements ? values->elements : 1, sizeof(*list));
    if (list == NULL) {
        freeReplyObject(values);
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < values->elements; index++) {
        redisReply *value = values->element[index];
        if (value->type == REDIS_REPLY_STRING &&
            gim_instance_from_json(value->str, value->len, &list[found]) == GIM_OK)
            found++;
    }
    freeReplyObject(values);
    /* Forget index members whose key expired long ago (no race with a publish). */
    redisReply *cleanup =
        gim_redis_command(redis, "ZREMRANGEBYSCORE " GIM_REGISTRY_INDEX_KEY " -inf %lld",
                          (long long)time(NULL) - 600);
    if (cleanup)
        freeReplyObject(cleanup);
    if (found == 0) {
        free(list);
        return GIM_OK;
    }
    *instances = list;
    *count = found;
    return GIM_OK;
}

void gim_registry_free_list(struct gim_instance *instances, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        gim_instance_clear(&instances[index]);
    free(instances);
}
