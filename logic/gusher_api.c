/* gusher_api.c: gusher.cluster's master API on logic's API listener: routing (see gusher_api.h). */
#include "logic/gusher_api.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "common/log.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gusher_routes.h"

/* The most path segments after the prefix of any route. */
#define GUSHER_MAX_SEGMENTS GUSHER_MAX_VARIABLES

enum gusher_route_kind {
    ROUTE_PUSH_SOCKET,
    ROUTE_PUSH_USER,
    ROUTE_PUSH_CHANNEL,
    ROUTE_PUSH_BATCH,
    ROUTE_PUSH_PATTERN,
    ROUTE_RELOAD_CHANNEL,
    ROUTE_ADD_CHANNEL,
    ROUTE_CHANNELS,
    ROUTE_CHANNELS_COUNT,
    ROUTE_ONLINE_BY_CHANNEL,
    ROUTE_ONLINE_BY_CHANNEL_COUNT,
    ROUTE_ONLINE,
    ROUTE_ONLINE_COUNT,
    ROUTE_PING,
    ROUTE_DECODE,
};

/*
 * A route's path shape: literal segments and "" for a variable ({name}: one
 * or more bytes), in gorilla/mux's registration order (cmd.go's master).
 */
struct gusher_route {
    const char *method;
    enum gusher_route_kind kind;
    const char *shape[GUSHER_MAX_SEGMENTS + 1]; /* NULL-terminated */
};

static const struct gusher_route gusher_routes[] = {
    {"POST", ROUTE_PUSH_SOCKET, {"push", "socket", "", "", NULL}},
    {"POST", ROUTE_PUSH_USER, {"push", "user", "", "", NULL}},
    {"POST", ROUTE_PUSH_CHANNEL, {"push", "", "", "", NULL}},
    {"POST", ROUTE_PUSH_BATCH, {"push_batch", "", NULL}},
    {"POST", ROUTE_PUSH_PATTERN, {"push", "", NULL}},
    {"POST", ROUTE_RELOAD_CHANNEL, {"reload", "channel", "user", "", "", NULL}},
    {"POST", ROUTE_ADD_CHANNEL, {"add", "channel", "user", "", "", NULL}},
    {"GET", ROUTE_CHANNELS, {"", "channels", NULL}},
    {"GET", ROUTE_CHANNELS_COUNT, {"", "channels", "count", NULL}},
    {"GET", ROUTE_ONLINE_BY_CHANNEL, {"", "online", "bychannel", "", NULL}},
    {"GET", ROUTE_ONLINE_BY_CHANNEL_COUNT, {"", "online", "bychannel", "", "count", NULL}},
    {"GET", ROUTE_ONLINE, {"", "online", NULL}},
    {"GET", ROUTE_ONLINE_COUNT, {"", "online", "count", NULL}},
    {"GET", ROUTE_PING, {"ping", NULL}},
    {"POST", ROUTE_DECODE, {"decode", NULL}},
};

/* A path cut at '/' after the prefix. */
struct gusher_path {
    struct gusher_name segments[GUSHER_MAX_SEGMENTS];
    size_t count;
};

bool gusher_api_owns(const struct logic_config *config, const char *path)
{
    const char *prefix = config->gusher_api_prefix;

    return prefix != NULL && prefix[0] != '\0' && strncmp(path, prefix, strlen(prefix)) == 0;
}

/* ---- routing ---- */

/* Cuts the path after the prefix at '/'; false when it has more segments than any route. */
static bool gusher_path_split(const char *rest, struct gusher_path *path)
{
    memset(path, 0, sizeof(*path));
    for (;;) {
        const char *slash = strchr(rest, '/');
        size_t length = slash ? (size_t)(slash - rest) : strlen(rest);
        if (path->count == GUSHER_MAX_SEGMENTS)
            return false;
        path->segments[path->count].bytes = rest;
        path->segments[path->count++].length = length;
        if (slash == NULL)
            return true;
        rest = slash + 1;
    }
}

/* True when path has route's shape; the variables go to call->vars. */
static bool gusher_route_matches(const struct gusher_route *route, const struct gusher_path *path,
                                 struct gusher_call *call)
{
    size_t index;

    call->var_count = 0;
    for (index = 0; route->shape[index] != NULL; index++) {
        const char *literal = route->shape[index];
        if (index >= path->count)
            return false;
        if (literal[0] == '\0') {
            if (path->segments[index].length == 0)
                return false; /* {name} is [^/]+ */
            call->vars[call->var_count++] = path->segments[index];
        } else if (path->segments[index].length != strlen(literal) ||
                   memcmp(path->segments[index].bytes, literal, path->segments[index].length) !=
                       0) {
            return false;
        }
    }
    return index == path->count;
}

static void gusher_run(struct gusher_call *call, enum gusher_route_kind kind)
{
    switch (kind) {
    case ROUTE_PUSH_SOCKET:
        gusher_route_push_direct(call, false);
        break;
    case ROUTE_PUSH_USER:
        gusher_route_push_direct(call, true);
        break;
    case ROUTE_PUSH_CHANNEL:
        gusher_route_push_channel(call);
        break;
    case ROUTE_PUSH_BATCH:
        gusher_route_push_batch(call);
        break;
    case ROUTE_PUSH_PATTERN:
        gusher_route_push_pattern(call);
        break;
    case ROUTE_RELOAD_CHANNEL:
        gusher_route_reload_channel(call);
        break;
    case ROUTE_ADD_CHANNEL:
        gusher_route_add_channel(call);
        break;
    case ROUTE_CHANNELS:
    case ROUTE_CHANNELS_COUNT:
    case ROUTE_ONLINE_BY_CHANNEL:
    case ROUTE_ONLINE_BY_CHANNEL_COUNT:
    case ROUTE_ONLINE:
    case ROUTE_ONLINE_COUNT:
        gusher_route_presence(
            call,
            kind == ROUTE_CHANNELS || kind == ROUTE_CHANNELS_COUNT ? GUSHER_PRESENCE_CHANNELS
            : kind == ROUTE_ONLINE || kind == ROUTE_ONLINE_COUNT   ? GUSHER_PRESENCE_USERS
                                                                   : GUSHER_PRESENCE_CHANNEL_USERS,
            kind == ROUTE_CHANNELS_COUNT || kind == ROUTE_ONLINE_COUNT ||
                kind == ROUTE_ONLINE_BY_CHANNEL_COUNT);
        break;
    case ROUTE_PING:
        gusher_route_ping(call);
        break;
    case ROUTE_DECODE:
        gusher_route_decode(call);
        break;
    }
}

void gusher_api_handle(const struct http_request *request, struct http_answer *answer)
{
    const char *prefix = request->logic->config->gusher_api_prefix;
    const struct gusher_route *route = NULL;
    bool shape_matched = false;
    struct gusher_path path;
    struct gusher_call call;
    size_t index;

    memset(&call, 0, sizeof(call));
    call.request = request;
    call.answer = answer;
    if (gusher_path_split(request->path + strlen(prefix), &path)) {
        for (index = 0; index < sizeof(gusher_routes) / sizeof(gusher_routes[0]); index++) {
            if (!gusher_route_matches(&gusher_routes[index], &path, &call))
                continue;
            shape_matched = true;
            if (strcmp(gusher_routes[index].method, request->method) == 0) {
                route = &gusher_routes[index];
                break;
            }
        }
    }
    if (route == NULL) {
        if (shape_matched) /* gorilla/mux 1.8: 405 with no body */
            http_answer_raw(answer, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, 0);
        else
            gusher_answer_text(answer, MHD_HTTP_NOT_FOUND, "404 page not found\n");
        return;
    }
    http_form_begin(&call.form, request->connection, request->method);
    http_form_feed(&call.form, (const char *)request->body, request->body_length);
    http_form_end(&call.form);
    gusher_run(&call, route->kind);
    gim_log_debug("gusher: %s %s -> %u%s", request->method, request->path, answer->http_status,
                  answer->raw ? "" : " (deferred)");
    http_form_clear(&call.form);
}
