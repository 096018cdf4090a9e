/* gusher_routes.c: what each route of gusher's master API does (see gusher_routes.h). */
#include "logic/gusher_routes.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/go_json.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/status.h"
#include "common/tag_pattern.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gusher_jwt.h"
#include "logic/gusher_store.h"
#include "logic/http_edge.h"
#include "logic/presence_sum.h"
#include "logic/push.h"
#include "logic/redis_pool.h"

#define GUSHER_JSON_TYPE "application/json;charset=UTF-8"
#define GUSHER_TEXT_TYPE "text/plain; charset=utf-8" /* what Go sniffs for text and JSON */

/* PushMsg operations of gusher's pushes (docs/internals.md, "gusher"). */
#define GUSHER_OP_MESSAGE        2000
#define GUSHER_OP_RELOAD_CHANNEL 2001
#define GUSHER_OP_ADD_CHANNEL    2002

/* ---- answers ---- */

/* A 400 (or other) text without a newline, as gusher's WriteHeader + Write. */
void gusher_answer_text(struct http_answer *answer, unsigned int status, const char *text)
{
    char *body = strdup(text);

    http_answer_raw(answer, status, GUSHER_TEXT_TYPE, body, body ? strlen(text) : 0);
}

/* 200 with text's bytes (taken) as type, or a 500 when building it ran out of memory. */
static void gusher_answer_built(struct http_answer *answer, struct gim_text *text, const char *type)
{
    if (text->failed || text->data == NULL) {
        gim_text_clear(text);
        gusher_answer_text(answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    http_answer_raw(answer, MHD_HTTP_OK, type, text->data, text->length);
    memset(text, 0, sizeof(*text));
}

/* A push waiting for Kafka: the answer to give once its records are acknowledged. */
struct gusher_pending {
    struct http_deferred *deferred;
    struct gim_text success; /* the 200 body */
};

/* producer_done_fn of every push: 200 with the prepared body, or 400 "data error". */
static void gusher_produced(void *user, int status, const char *error)
{
    struct gusher_pending *pending = user;
    struct http_answer answer;

    http_answer_init(&answer);
    if (status == GIM_OK) {
        gusher_answer_built(&answer, &pending->success, GUSHER_JSON_TYPE);
    } else {
        gim_log_warn("gusher push failed: %s", error);
        gim_text_clear(&pending->success);
        gusher_answer_text(&answer, MHD_HTTP_BAD_REQUEST, "data error");
    }
    http_deferred_finish(pending->deferred, &answer);
    free(pending);
}

/*
 * Defers the call's answer and returns the pending push that will give it,
 * holding success (taken over); NULL (answer set) when it cannot.
 */
static struct gusher_pending *gusher_defer(struct gusher_call *call, struct gim_text *success)
{
    struct gusher_pending *pending;

    if (success->failed) {
        gim_text_clear(success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return NULL;
    }
    pending = calloc(1, sizeof(*pending));
    if (pending == NULL) {
        gim_text_clear(success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return NULL;
    }
    pending->deferred = http_request_defer(call->request);
    if (pending->deferred == NULL) {
        free(pending);
        gim_text_clear(success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "the request cannot wait for Kafka");
        return NULL;
    }
    pending->success = *success;
    memset(success, 0, sizeof(*success));
    return pending;
}

/* ---- helpers ---- */

/*
 * Whether a message of length bytes fits a comet connection's output bound
 * (comet.maxOutputBytes less a frame's overhead, as goim's pushes: logic/http_edge.h); when
 * not, answers 413 (gusher has no bound; a message no comet can send is refused up front).
 */
static bool gusher_fits_comet(struct gusher_call *call, size_t length)
{
    int64_t bound =
        call->request->logic->config->comet_max_output_bytes - LOGIC_PUSH_FRAME_OVERHEAD;
    char text[160];

    if ((int64_t)length <= bound)
        return true;
    snprintf(
        text, sizeof(text),
        "message of %zu bytes larger than a comet connection holds (comet.maxOutputBytes %lld)",
        length, (long long)call->request->logic->config->comet_max_output_bytes);
    gusher_answer_text(call->answer, MHD_HTTP_CONTENT_TOO_LARGE, text);
    return false;
}

/* FormValue(name) as a name (length 0 when absent). */
static struct gusher_name gusher_form(const struct gusher_call *call, const char *name)
{
    struct gusher_name value = {NULL, 0};

    value.bytes = http_form_value(&call->form, call->request->connection, name, &value.length);
    if (value.bytes == NULL)
        value.bytes = "";
    return value;
}

/* Appends "<prefix><app>/<name>" as a NUL-terminated key. */
static bool gusher_append_key(struct gim_text *text, const char *prefix, struct gusher_name app,
                              struct gusher_name name)
{
    return gim_text_append_cstring(text, prefix) && gim_text_append(text, app.bytes, app.length) &&
           gim_text_append(text, "/", 1) && gim_text_append(text, name.bytes, name.length);
}

/* Appends the envelope {"channel":C,"event":E,"data":<value bytes>}. */
static bool gusher_append_envelope(struct gim_text *text, struct gusher_name channel,
                                   struct gusher_name event, const char *data, size_t data_length)
{
    return gim_text_append_cstring(text, "{\"channel\":") &&
           gim_go_json_append_string(text, channel.bytes, channel.length) &&
           gim_text_append_cstring(text, ",\"event\":") &&
           gim_go_json_append_string(text, event.bytes, event.length) &&
           gim_text_append_cstring(text, ",\"data\":") &&
           gim_text_append(text, data, data_length) && gim_text_append(text, "}", 1);
}

/* Appends {"<id_name>":<id>,"data":<raw string>}: push/user, push/socket, reload and add. */
static bool gusher_append_echo(struct gim_text *text, const char *id_name, struct gusher_name id,
                               struct gusher_name data)
{
    return gim_text_append_cstring(text, "{\"") && gim_text_append_cstring(text, id_name) &&
           gim_text_append_cstring(text, "\":") &&
           gim_go_json_append_string(text, id.bytes, id.length) &&
           gim_text_append_cstring(text, ",\"data\":") &&
           gim_go_json_append_string(text, data.bytes, data.length) &&
           gim_text_append(text, "}", 1);
}

/* ---- pushes to channels ---- */

/* Whether every record fits a comet connection (else answered 413). */
static bool gusher_rooms_fit(struct gusher_call *call, const struct push_text_room *rooms,
                             size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        if (!gusher_fits_comet(call, rooms[index].length))
            return false;
    return true;
}

/* Produces one text ROOM record per rooms[i] and answers success (taken) once acknowledged. */
static void gusher_push_rooms(struct gusher_call *call, const struct push_text_room *rooms,
                              size_t count, struct gim_text *success)
{
    struct gusher_pending *pending = gusher_defer(call, success);

    if (pending != NULL)
        push_rooms_text(call->request->logic, GUSHER_OP_MESSAGE, rooms, count, gusher_produced,
                        pending);
}

void gusher_route_push_channel(struct gusher_call *call)
{
    struct gusher_name app = call->vars[0], channel = call->vars[1], event = call->vars[2];
    struct gusher_name data = gusher_form(call, "data");
    struct gim_text coerced = {0}, envelope = {0}, room = {0}, success = {0};
    struct push_text_room record;

    if (app.length == 0 || channel.length == 0 || event.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    if (data.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty data");
        return;
    }
    gim_go_json_append_coerced(&coerced, data.bytes, data.length);
    if (coerced.failed ||
        !gusher_append_envelope(&envelope, channel, event, coerced.data, coerced.length) ||
        !gusher_append_key(&room, "gusher/", app, channel)) {
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else if (gusher_fits_comet(call, envelope.length)) {
        record.room_key = room.data;
        record.message = (const uint8_t *)envelope.data;
        record.length = envelope.length;
        /* The answer is exactly the envelope the subscribers get. */
        gim_text_append(&success, envelope.data, envelope.length);
        gusher_push_rooms(call, &record, 1, &success);
    }
    gim_text_clear(&coerced);
    gim_text_clear(&envelope);
    gim_text_clear(&room);
}

/*
 * A member of a batch item as Go decodes it into a struct field: the exact
 * key, else the last key equal to it ignoring ASCII case.
 */
static json_t *gusher_item_field(json_t *item, const char *name)
{
    json_t *value = json_object_get(item, name), *member, *found = NULL;
    const char *key;

    if (value != NULL)
        return value;
    json_object_foreach(item, key, member)
    {
        if (strcasecmp(key, name) == 0)
            found = member;
    }
    return found;
}

/* A string field of a batch item: absent or null is "", another type is false. */
static bool gusher_item_string(json_t *item, const char *name, struct gusher_name *out)
{
    json_t *value = item != NULL && json_is_object(item) ? gusher_item_field(item, name) : NULL;

    out->bytes = "";
    out->length = 0;
    if (value == NULL || json_is_null(value))
        return true;
    if (!json_is_string(value))
        return false;
    out->bytes = json_string_value(value);
    out->length = json_string_length(value);
    return true;
}

void gusher_route_push_batch(struct gusher_call *call)
{
    struct gusher_name app = call->vars[0], batch = gusher_form(call, "batch_data");
    struct gim_text *envelopes = NULL, *rooms = NULL, success = {0};
    struct push_text_room *records = NULL;
    size_t count = 0, index;
    json_t *items;
    bool ok = true;

    if (app.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    if (batch.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty batch data");
        return;
    }
    items = gim_go_json_parse(batch.bytes, batch.length);
    if (items == NULL || !(json_is_array(items) || json_is_null(items))) {
        json_decref(items);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data error");
        return;
    }
    count = json_is_array(items) ? json_array_size(items) : 0;
    /* Every item is checked before anything is sent: a bad one fails the whole batch, as Go's
     * Unmarshal does. */
    for (index = 0; index < count; index++) {
        json_t *item = json_array_get(items, index);
        struct gusher_name ignored;
        if (!(json_is_object(item) || json_is_null(item)) ||
            !gusher_item_string(item, "channel", &ignored) ||
            !gusher_item_string(item, "event", &ignored)) {
            json_decref(items);
            gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data error");
            return;
        }
    }
    envelopes = calloc(count ? count : 1, sizeof(*envelopes));
    rooms = calloc(count ? count : 1, sizeof(*rooms));
    records = calloc(count ? count : 1, sizeof(*records));
    ok = envelopes != NULL && rooms != NULL && records != NULL;
    for (index = 0; ok && index < count; index++) {
        json_t *item = json_array_get(items, index), *data = NULL;
        struct gusher_name channel, event;
        struct gim_text value = {0};

        gusher_item_string(item, "channel", &channel);
        gusher_item_string(item, "event", &event);
        if (json_is_object(item))
            data = gusher_item_field(item, "data");
        if (data != NULL)
            gim_go_json_append_value(&value, data, GIM_GO_JSON_SORT_KEYS);
        else
            gim_text_append_cstring(&value, "null");
        ok = !value.failed &&
             gusher_append_envelope(&envelopes[index], channel, event, value.data, value.length) &&
             gusher_append_key(&rooms[index], "gusher/", app, channel);
        gim_text_clear(&value);
        records[index].room_key = rooms[index].data;
        records[index].message = (const uint8_t *)envelopes[index].data;
        records[index].length = envelopes[index].length;
    }
    gim_text_append_cstring(&success, "{\"total\":");
    gim_text_append_integer(&success, (int64_t)count);
    gim_text_append_cstring(&success, ",\"cap\":");
    gim_text_append_integer(&success, (int64_t)batch.length);
    gim_text_append(&success, "}", 1);
    if (!ok) {
        gim_text_clear(&success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else if (!gusher_rooms_fit(call, records, count)) {
        gim_text_clear(&success); /* answered 413 */
    } else {
        gusher_push_rooms(call, records, count, &success);
    }
    for (index = 0; envelopes != NULL && rooms != NULL && index < count; index++) {
        gim_text_clear(&envelopes[index]);
        gim_text_clear(&rooms[index]);
    }
    free(envelopes);
    free(rooms);
    free(records);
    json_decref(items);
}

/* Reads the presence family "gusher/presence/<app>" + suffix at now. */
static int gusher_presence_read(struct gim_redis *redis, struct gusher_name app, const char *suffix,
                                struct gusher_name channel, struct presence_sum *sum)
{
    struct gim_text index = {0}, tail = {0};
    int status;

    memset(sum, 0, sizeof(*sum));
    gim_text_append_cstring(&index, "gusher/presence/");
    gim_text_append(&index, app.bytes, app.length);
    gim_text_append_cstring(&tail, suffix);
    gim_text_append(&tail, channel.bytes, channel.length);
    if (index.failed || tail.failed)
        status = GIM_ERR_NO_MEMORY;
    else
        status = presence_sum_read(redis, index.data, index.length, tail.data, tail.length,
                                   presence_now_ms(), sum);
    gim_text_clear(&index);
    gim_text_clear(&tail);
    return status;
}

void gusher_route_push_pattern(struct gusher_call *call)
{
    struct gusher_name app = call->vars[0], pattern = gusher_form(call, "channel_pattern");
    struct gusher_name event = gusher_form(call, "event"), data;
    struct gim_tag_pattern *compiled = NULL;
    struct gim_text coerced = {0}, *envelopes = NULL, *rooms = NULL, success = {0};
    struct push_text_room *records = NULL;
    struct presence_sum channels;
    struct gim_redis *redis;
    size_t index, matched = 0;
    char error[256];
    bool ok;
    int status;

    if (app.length == 0 || pattern.length == 0 || event.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    if (strlen(pattern.bytes) != pattern.length ||
        gim_tag_pattern_compile(&compiled, pattern.bytes, pattern.length, error, sizeof(error)) !=
            GIM_OK) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "channel_pattern cant regex");
        return;
    }
    redis = redis_pool_acquire(call->request->logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY
                           : gusher_presence_read(redis, app, "/channels",
                                                  (struct gusher_name){"", 0}, &channels);
    redis_pool_release(call->request->logic->redis, redis);
    if (status != GIM_OK) {
        gim_log_warn("gusher push by pattern: presence: %s", gim_strerror(status));
        gim_tag_pattern_free(compiled);
        presence_sum_clear(&channels);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "get channel error");
        return;
    }
    data = gusher_form(call, "data");
    if (data.length == 0) {
        gim_tag_pattern_free(compiled);
        presence_sum_clear(&channels);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty data");
        return;
    }
    gim_go_json_append_coerced(&coerced, data.bytes, data.length);
    envelopes = calloc(channels.size ? channels.size : 1, sizeof(*envelopes));
    rooms = calloc(channels.size ? channels.size : 1, sizeof(*rooms));
    records = calloc(channels.size ? channels.size : 1, sizeof(*records));
    ok = !coerced.failed && envelopes != NULL && rooms != NULL && records != NULL;
    for (index = 0; ok && index < channels.size; index++) {
        struct gusher_name channel = {channels.entries[index].name, channels.entries[index].length};
        if (channel.length == 0 ||
            !gim_tag_pattern_matches(compiled, channel.bytes, channel.length))
            continue;
        ok = gusher_append_envelope(&envelopes[matched], channel, event, coerced.data,
                                    coerced.length) &&
             gusher_append_key(&rooms[matched], "gusher/", app, channel);
        records[matched].room_key = rooms[matched].data;
        records[matched].message = (const uint8_t *)envelopes[matched].data;
        records[matched].length = envelopes[matched].length;
        matched++;
    }
    gim_tag_pattern_free(compiled);
    gim_text_append_cstring(&success, "{\"total\":");
    gim_text_append_integer(&success, (int64_t)matched);
    gim_text_append_cstring(&success, ",\"pattern\":");
    gim_go_json_append_string(&success, pattern.bytes, pattern.length);
    gim_text_append(&success, "}", 1);
    if (!ok) {
        gim_text_clear(&success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else if (!gusher_rooms_fit(call, records, matched)) {
        gim_text_clear(&success); /* answered 413 */
    } else {
        gusher_push_rooms(call, records, matched, &success);
    }
    for (index = 0; envelopes != NULL && rooms != NULL && index < matched; index++) {
        gim_text_clear(&envelopes[index]);
        gim_text_clear(&rooms[index]);
    }
    free(envelopes);
    free(rooms);
    free(records);
    gim_text_clear(&coerced);
    presence_sum_clear(&channels);
}

/* ---- pushes to users and sockets ---- */

/*
 * Looks up the sockets of the user (by_user) or of the socket id, then
 * produces message[0..length) with operation to their comets (one PUSH per
 * server) and answers success (taken) once acknowledged; a lookup failure
 * is 400 "data error".
 */
static void gusher_push_sockets(struct gusher_call *call, bool by_user, int32_t operation,
                                const char *message, size_t length, struct gim_text *success)
{
    const struct logic_context *logic = call->request->logic;
    struct session_routes routes = {0};
    struct gusher_pending *pending;
    struct gim_redis *redis;
    int status;

    if (!gusher_fits_comet(call, length)) {
        gim_text_clear(success);
        return;
    }
    redis = redis_pool_acquire(logic->redis);
    if (redis == NULL)
        status = GIM_ERR_NO_MEMORY;
    else if (by_user)
        status = gusher_routes_of_user(redis, call->vars[0], call->vars[1], &routes);
    else
        status = gusher_routes_of_socket(redis, call->vars[0], call->vars[1], &routes);
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        gim_log_warn("gusher push: session lookup: %s", gim_strerror(status));
        session_routes_free(&routes);
        gim_text_clear(success);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data error");
        return;
    }
    pending = gusher_defer(call, success);
    if (pending != NULL)
        push_routes(logic, operation, &routes, (const uint8_t *)message, length, gusher_produced,
                    pending);
    session_routes_free(&routes);
}

/* push/user and push/socket: the coerced data, bare, to every socket of the user (or the one). */
void gusher_route_push_direct(struct gusher_call *call, bool by_user)
{
    struct gusher_name data = gusher_form(call, "data");
    struct gim_text coerced = {0}, success = {0};

    if (call->vars[0].length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    gim_go_json_append_coerced(&coerced, data.bytes, data.length);
    gusher_append_echo(&success, by_user ? "user_id" : "socket_id", call->vars[1], data);
    if (coerced.failed) {
        gim_text_clear(&success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else {
        gusher_push_sockets(call, by_user, GUSHER_OP_MESSAGE, coerced.data, coerced.length,
                            &success);
    }
    gim_text_clear(&coerced);
}

void gusher_route_reload_channel(struct gusher_call *call)
{
    struct gusher_name data = gusher_form(call, "data");
    struct gim_text list = {0}, success = {0};
    json_t *channels, *channel;
    size_t index;

    if (call->vars[0].length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    /* Go's Unmarshal into []string: an array of strings (null elements are ""), or null. */
    channels = gim_go_json_parse(data.bytes, data.length);
    if (channels == NULL || !(json_is_array(channels) || json_is_null(channels))) {
        json_decref(channels);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data unmarshal error");
        return;
    }
    gim_text_append(&list, "[", 1);
    json_array_foreach(channels, index, channel)
    {
        if (!json_is_string(channel) && !json_is_null(channel)) {
            json_decref(channels);
            gim_text_clear(&list);
            gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data unmarshal error");
            return;
        }
        if (index > 0)
            gim_text_append(&list, ",", 1);
        if (json_is_string(channel))
            gim_go_json_append_string(&list, json_string_value(channel),
                                      json_string_length(channel));
        else
            gim_text_append(&list, "\"\"", 2);
    }
    gim_text_append(&list, "]", 1);
    json_decref(channels);
    gusher_append_echo(&success, "user_id", call->vars[1], data);
    if (list.failed) {
        gim_text_clear(&success);
        gusher_answer_text(call->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else {
        gusher_push_sockets(call, true, GUSHER_OP_RELOAD_CHANNEL, list.data, list.length, &success);
    }
    gim_text_clear(&list);
}

void gusher_route_add_channel(struct gusher_call *call)
{
    struct gusher_name channel = gusher_form(call, "data");
    struct gim_text success = {0};

    if (call->vars[0].length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "empty param");
        return;
    }
    if (channel.length == 0) {
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data empty error");
        return;
    }
    gusher_append_echo(&success, "user_id", call->vars[1], channel);
    gusher_push_sockets(call, true, GUSHER_OP_ADD_CHANNEL, channel.bytes, channel.length, &success);
}

/* ---- presence ---- */

void gusher_route_presence(struct gusher_call *call, enum gusher_presence what, bool count)
{
    const struct logic_context *logic = call->request->logic;
    struct gusher_name none = {"", 0};
    struct gim_text text = {0};
    struct presence_sum names;
    struct gim_redis *redis = redis_pool_acquire(logic->redis);
    size_t index, listed = 0;
    int status;

    if (redis == NULL) {
        status = GIM_ERR_NO_MEMORY;
        memset(&names, 0, sizeof(names));
    } else if (what == GUSHER_PRESENCE_CHANNELS) {
        status = gusher_presence_read(redis, call->vars[0], "/channels", none, &names);
    } else if (what == GUSHER_PRESENCE_USERS) {
        status = gusher_presence_read(redis, call->vars[0], "/users", none, &names);
    } else {
        status = gusher_presence_read(redis, call->vars[0], "/channel/", call->vars[1], &names);
    }
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        /* gusher writes this and then the JSON anyway: only the error here */
        gim_log_warn("gusher presence: %s", gim_strerror(status));
        presence_sum_clear(&names);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "get redis error");
        return;
    }
    if (!count)
        gim_text_append(&text, "[", 1);
    for (index = 0; index < names.size; index++) {
        /* channels: gusher leaves out an empty name; users: "" is the anonymous member */
        if (what == GUSHER_PRESENCE_CHANNELS && names.entries[index].length == 0)
            continue;
        if (!count) {
            if (listed > 0)
                gim_text_append(&text, ",", 1);
            gim_go_json_append_string(&text, names.entries[index].name,
                                      names.entries[index].length);
        }
        listed++;
    }
    if (count) {
        gim_text_append_cstring(&text, "{\"count\":");
        gim_text_append_integer(&text, (int64_t)listed);
        gim_text_append(&text, "}", 1);
    } else {
        gim_text_append(&text, "]", 1);
    }
    presence_sum_clear(&names);
    gusher_answer_built(call->answer, &text, GUSHER_JSON_TYPE);
}

/* ---- decode and ping ---- */

void gusher_route_decode(struct gusher_call *call)
{
    const struct logic_context *logic = call->request->logic;
    struct gusher_name token = gusher_form(call, "data");
    struct gusher_claims claims;
    struct gim_text text = {0};
    char error[256];
    int status = GIM_ERR_INVALID;

    memset(&claims, 0, sizeof(claims));
    if (logic->gusher_jwt != NULL)
        status = gusher_jwt_verify(logic->gusher_jwt, token.bytes, token.length,
                                   (int64_t)time(NULL), &claims, error, sizeof(error));
    else
        snprintf(error, sizeof(error), "no gusher.publicKey");
    if (status != GIM_OK) {
        gim_log_info("gusher decode refused: %s",
                     status == GIM_ERR_INVALID ? error : gim_strerror(status));
        gusher_claims_clear(&claims);
        gusher_answer_text(call->answer, MHD_HTTP_BAD_REQUEST, "data error");
        return;
    }
    gusher_claims_append_decoded(&text, &claims);
    gusher_claims_clear(&claims);
    gusher_answer_built(call->answer, &text, GUSHER_TEXT_TYPE);
}

void gusher_route_ping(struct gusher_call *call)
{
    char *pong = strdup("pong");

    http_answer_raw(call->answer, MHD_HTTP_OK, GUSHER_TEXT_TYPE, pong, pong ? 4 : 0);
}
