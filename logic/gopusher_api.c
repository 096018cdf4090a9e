/* gopusher_api.c: gopusher's private API on its own libmicrohttpd daemon (see gopusher_api.h). */
#include "logic/gopusher_api.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_log.h"
#include "common/listen_address.h"
#include "common/log.h"
#include "common/status.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gopusher_apps.h"
#include "logic/gopusher_auth.h"
#include "logic/gopusher_reply.h"
#include "logic/gopusher_routes.h"
#include "logic/http_form.h"
#include "logic/redis_pool.h"

/* As logic's goim API: idle keep-alive connections close after this many seconds. */
#define GOPUSHER_CONNECTION_TIMEOUT_SECONDS 30
/* Memory per connection for the request head; a larger head is refused by libmicrohttpd. */
#define GOPUSHER_CONNECTION_MEMORY_LIMIT (64u * 1024u)
/* The misspelt header gopusher's BasicAuth puts on every private answer. */
#define GOPUSHER_AUTH_HEADER       "Www-Authenicate"
#define GOPUSHER_AUTH_HEADER_VALUE "Basic realm=\"Restricted"

struct gopusher_api {
    struct MHD_Daemon *daemon;
    const struct logic_context *logic;
    size_t max_body;
};

/* Per-request state, from the first call of the access handler to the completion callback. */
struct gopusher_exchange {
    struct http_form form; /* the body's form values */
    size_t body_length;
    bool too_large;
};

enum gopusher_route_kind {
    ROUTE_REGISTER,
    ROUTE_APP_LIST,
    ROUTE_APP_LIST_PAGED,
    ROUTE_PUSH,
    ROUTE_UNREGISTER,
    ROUTE_ONLINE,
    ROUTE_ONLINE_PAGED
};

/* A request path cut at '/' after "/api/". */
#define GOPUSHER_MAX_SEGMENTS 4
struct gopusher_path {
    const char *segments[GOPUSHER_MAX_SEGMENTS];
    size_t lengths[GOPUSHER_MAX_SEGMENTS];
    size_t count;
};

static enum MHD_Result gopusher_send(struct MHD_Connection *connection,
                                     const struct gopusher_reply *reply, bool private_route,
                                     const char *allow)
{
    struct MHD_Response *response;
    enum MHD_Result result;

    if (reply->body == NULL)
        return MHD_NO; /* out of memory: close the connection */
    response = MHD_create_response_from_buffer(reply->length, reply->body, MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (reply->error)
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (private_route)
        MHD_add_response_header(response, GOPUSHER_AUTH_HEADER, GOPUSHER_AUTH_HEADER_VALUE);
    if (allow != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
    result = MHD_queue_response(connection, reply->status, response);
    MHD_destroy_response(response);
    return result;
}

/* Go's FormValue: the body's first, then the query's (logic/http_form.h). */
static const char *gopusher_form_value(const struct gopusher_call *call, const char *name,
                                       size_t *length)
{
    const struct gopusher_exchange *exchange = call->form;

    return http_form_value(&exchange->form, call->connection, name, length);
}

/* ---- routes ---- */

/* Cuts url after "/api/" into segments; false when it is not an /api/ path or too deep. */
static bool gopusher_path_split(const char *url, struct gopusher_path *path)
{
    const char *at;

    memset(path, 0, sizeof(*path));
    if (strncmp(url, "/api/", 5) != 0)
        return false;
    at = url + 5;
    for (;;) {
        const char *slash = strchr(at, '/');
        size_t length = slash ? (size_t)(slash - at) : strlen(at);
        if (path->count == GOPUSHER_MAX_SEGMENTS)
            return false;
        path->segments[path->count] = at;
        path->lengths[path->count++] = length;
        if (slash == NULL)
            return true;
        at = slash + 1;
    }
}

static bool gopusher_segment_is(const struct gopusher_path *path, size_t index, const char *text)
{
    return path->lengths[index] == strlen(text) &&
           memcmp(path->segments[index], text, path->lengths[index]) == 0;
}

/* A {name} segment: one or more bytes (gorilla/mux's [^/]+). */
static bool gopusher_segment_variable(const struct gopusher_path *path, size_t index)
{
    return path->lengths[index] > 0;
}

/* A {limit:[0-9]+} segment. */
static bool gopusher_segment_number(const struct gopusher_path *path, size_t index)
{
    size_t at;

    if (path->lengths[index] == 0)
        return false;
    for (at = 0; at < path->lengths[index]; at++)
        if (path->segments[index][at] < '0' || path->segments[index][at] > '9')
            return false;
    return true;
}

/* A number segment as Go's strconv.Atoi reads it; out of range is 0 (Atoi's error value). */
static int64_t gopusher_segment_value(const struct gopusher_path *path, size_t index)
{
    int64_t value = 0;
    size_t at;

    for (at = 0; at < path->lengths[index]; at++) {
        int digit = path->segments[index][at] - '0';
        if (value > (INT64_MAX - digit) / 10)
            return 0;
        value = value * 10 + digit;
    }
    return value;
}

struct gopusher_route {
    const char *method;
    enum gopusher_route_kind kind;
    bool names_app; /* {app_key} in the path: its own admin may call it */
};

static const struct gopusher_route gopusher_routes[] = {
    {"POST", ROUTE_PUSH, true},           {"POST", ROUTE_REGISTER, false},
    {"DELETE", ROUTE_UNREGISTER, true},   {"GET", ROUTE_APP_LIST, false},
    {"GET", ROUTE_APP_LIST_PAGED, false}, {"GET", ROUTE_ONLINE, true},
    {"GET", ROUTE_ONLINE_PAGED, true},
};

/* True when path has route kind's shape; *app (segment index) names the app, or -1. */
static bool gopusher_route_shape(enum gopusher_route_kind kind, const struct gopusher_path *path,
                                 int *app)
{
    *app = -1;
    switch (kind) {
    case ROUTE_PUSH:
        *app = 1;
        return path->count == 2 && gopusher_segment_is(path, 0, "push") &&
               gopusher_segment_variable(path, 1);
    case ROUTE_REGISTER:
        return path->count == 1 && gopusher_segment_is(path, 0, "register");
    case ROUTE_UNREGISTER:
        *app = 0;
        return path->count == 2 && gopusher_segment_variable(path, 0) &&
               gopusher_segment_is(path, 1, "unregister");
    case ROUTE_APP_LIST:
        return path->count == 1 && gopusher_segment_is(path, 0, "app-list");
    case ROUTE_APP_LIST_PAGED:
        return path->count == 3 && gopusher_segment_is(path, 0, "app-list") &&
               gopusher_segment_number(path, 1) && gopusher_segment_number(path, 2);
    case ROUTE_ONLINE:
        *app = 0;
        return path->count == 2 && gopusher_segment_variable(path, 0) &&
               gopusher_segment_is(path, 1, "listonlineuser");
    case ROUTE_ONLINE_PAGED:
        *app = 0;
        return path->count == 4 && gopusher_segment_variable(path, 0) &&
               gopusher_segment_is(path, 1, "listonlineuser") && gopusher_segment_number(path, 2) &&
               gopusher_segment_number(path, 3);
    }
    return false;
}

/* ---- authentication, then the handler ---- */

/* True when credentials are the configured super admin's. */
static bool gopusher_is_super_admin(const struct logic_config *config,
                                    const struct gopusher_credentials *credentials)
{
    const char *account = config->gopusher_auth_account;

    return account != NULL && account[0] != '\0' && strcmp(credentials->user, account) == 0 &&
           gopusher_password_verify(credentials->user, credentials->password,
                                    config->gopusher_auth_password);
}

/*
 * gopusher's middleware order: BasicAuth, then AppKeyVerity, then the
 * handler. Fills call->reply.
 */
static void gopusher_run(struct gopusher_call *call, const struct gopusher_route *route)
{
    const char *header = MHD_lookup_connection_value(call->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION);
    struct gopusher_credentials credentials;
    struct gopusher_app app;
    char error[128];
    bool super_admin, app_found = false;
    int status;

    memset(&app, 0, sizeof(app));
    status = gopusher_credentials_parse(header, &credentials, error, sizeof(error));
    if (status == GIM_ERR_INVALID) {
        gopusher_reply_text(call->reply, MHD_HTTP_UNAUTHORIZED, "%s", error);
        return;
    }
    if (status == GIM_ERR_NO_MEMORY) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    if (status != GIM_OK) {
        gopusher_reply_text(call->reply, MHD_HTTP_UNAUTHORIZED, "Not authorized");
        return;
    }
    super_admin = gopusher_is_super_admin(call->logic->config, &credentials);
    if (route->names_app) {
        status = gopusher_apps_get(call->redis, call->app_key, &app);
        if (status != GIM_OK && status != GIM_ERR_NOT_FOUND) {
            gopusher_credentials_clear(&credentials);
            gopusher_reply_redis_failed(call->reply, status);
            return;
        }
        app_found = status == GIM_OK;
    }
    if (!super_admin &&
        !(app_found && strcmp(credentials.user, app.auth_account) == 0 &&
          gopusher_password_verify(credentials.user, credentials.password, app.auth_password))) {
        gim_log_info("gopusher: %s refused (account \"%s\")",
                     route->names_app ? call->app_key : "a super admin route", credentials.user);
        gopusher_credentials_clear(&credentials);
        gopusher_app_clear(&app);
        gopusher_reply_text(call->reply, MHD_HTTP_UNAUTHORIZED, "Not authorized");
        return;
    }
    gopusher_credentials_clear(&credentials);
    gopusher_app_clear(&app);
    if (route->names_app && !app_found) {
        gopusher_reply_text(call->reply, MHD_HTTP_NOT_FOUND, "app_key does not exist");
        return;
    }
    switch (route->kind) {
    case ROUTE_REGISTER:
        gopusher_route_register(call);
        break;
    case ROUTE_UNREGISTER:
        gopusher_route_unregister(call);
        break;
    case ROUTE_APP_LIST:
    case ROUTE_APP_LIST_PAGED:
        gopusher_route_app_list(call, route->kind == ROUTE_APP_LIST_PAGED);
        break;
    case ROUTE_PUSH:
        gopusher_route_push(call);
        break;
    case ROUTE_ONLINE:
    case ROUTE_ONLINE_PAGED:
        gopusher_route_online(call, route->kind == ROUTE_ONLINE_PAGED);
        break;
    }
}

static enum MHD_Result gopusher_dispatch(struct gopusher_api *api,
                                         struct MHD_Connection *connection, const char *url,
                                         const char *method,
                                         const struct gopusher_exchange *exchange)
{
    struct gopusher_reply reply = {0};
    struct gopusher_path path;
    const struct gopusher_route *route = NULL, *shape_match = NULL;
    struct gopusher_call call;
    char *app_key = NULL;
    enum MHD_Result result;
    size_t index;
    int app = -1;

    if (gopusher_path_split(url, &path)) {
        for (index = 0; index < sizeof(gopusher_routes) / sizeof(gopusher_routes[0]); index++) {
            if (!gopusher_route_shape(gopusher_routes[index].kind, &path, &app))
                continue;
            if (shape_match == NULL)
                shape_match = &gopusher_routes[index];
            if (strcmp(gopusher_routes[index].method, method) == 0) {
                route = &gopusher_routes[index];
                break;
            }
        }
    }
    if (route == NULL) {
        if (shape_match != NULL) {
            gopusher_reply_text(&reply, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed");
            result = gopusher_send(connection, &reply, false, shape_match->method);
        } else {
            gopusher_reply_text(&reply, MHD_HTTP_NOT_FOUND, "404 page not found");
            result = gopusher_send(connection, &reply, false, NULL);
        }
        free(reply.body);
        return result;
    }
    memset(&call, 0, sizeof(call));
    call.logic = api->logic;
    call.connection = connection;
    call.form_value = gopusher_form_value;
    call.form = exchange;
    call.reply = &reply;
    if (app >= 0)
        call.app_key = app_key = strndup(path.segments[app], path.lengths[app]);
    if (route->kind == ROUTE_APP_LIST_PAGED) {
        call.limit = gopusher_segment_value(&path, 1);
        call.page = gopusher_segment_value(&path, 2);
    } else if (route->kind == ROUTE_ONLINE_PAGED) {
        call.limit = gopusher_segment_value(&path, 2);
        call.page = gopusher_segment_value(&path, 3);
    }
    call.redis = redis_pool_acquire(api->logic->redis);
    if ((app >= 0 && app_key == NULL) || call.redis == NULL)
        gopusher_reply_text(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    else
        gopusher_run(&call, route);
    redis_pool_release(api->logic->redis, call.redis);
    gim_log_debug("gopusher: %s %s -> %u", method, url, reply.status);
    result = gopusher_send(connection, &reply, true, NULL);
    free(app_key);
    free(reply.body);
    return result;
}

/* ---- libmicrohttpd ---- */

/* Answers 413 for a body over gopusher.maxBody, or 400 for a form body that cannot be read. */
static enum MHD_Result gopusher_refuse_body(const struct gopusher_api *api,
                                            struct MHD_Connection *connection,
                                            const struct gopusher_exchange *exchange)
{
    struct gopusher_reply reply = {0};
    enum MHD_Result result;

    if (exchange->too_large)
        gopusher_reply_text(&reply, MHD_HTTP_CONTENT_TOO_LARGE,
                            "body larger than gopusher.maxBody (%zu bytes)", api->max_body);
    else
        gopusher_reply_text(&reply, MHD_HTTP_BAD_REQUEST, "the form body cannot be read");
    result = gopusher_send(connection, &reply, false, NULL);
    free(reply.body);
    return result;
}

static enum MHD_Result gopusher_access(void *cls, struct MHD_Connection *connection,
                                       const char *url, const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **request_state)
{
    struct gopusher_api *api = cls;
    struct gopusher_exchange *exchange = *request_state;

    (void)version;
    if (exchange == NULL) {
        const char *declared;
        exchange = calloc(1, sizeof(*exchange));
        if (exchange == NULL)
            return MHD_NO;
        *request_state = exchange;
        declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared != NULL && strtoull(declared, NULL, 10) > api->max_body)
            exchange->too_large = true; /* answered below, before the body is read */
        if (!exchange->too_large)
            http_form_begin(&exchange->form, connection, method);
        if (!exchange->too_large)
            return MHD_YES;
        /* Declared too large: refused before reading (and before "100 Continue"). */
        return gopusher_refuse_body(api, connection, exchange);
    }
    if (*upload_data_size > 0) {
        exchange->body_length += *upload_data_size;
        if (exchange->body_length > api->max_body)
            exchange->too_large = true; /* bound: the rest is read and dropped, then 413 */
        else
            http_form_feed(&exchange->form, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    http_form_end(&exchange->form);
    if (exchange->too_large || exchange->form.failed)
        return gopusher_refuse_body(api, connection, exchange);
    return gopusher_dispatch(api, connection, url, method, exchange);
}

static void gopusher_completed(void *cls, struct MHD_Connection *connection, void **request_state,
                               enum MHD_RequestTerminationCode code)
{
    struct gopusher_exchange *exchange = *request_state;

    (void)cls;
    (void)connection;
    (void)code;
    if (exchange == NULL)
        return;
    http_form_clear(&exchange->form);
    free(exchange);
    *request_state = NULL;
}

int gopusher_api_start(struct gopusher_api **out, const struct logic_context *logic, char *error,
                       size_t error_size)
{
    const struct logic_config *config = logic->config;
    struct gopusher_api *api;
    struct sockaddr_storage bind_address;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    int status;

    *out = NULL;
    if (config->gopusher_addr == NULL || config->gopusher_addr[0] == '\0')
        return GIM_OK;
    status = gim_listen_address_resolve("gopusher.addr", config->gopusher_addr, &bind_address,
                                        error, error_size);
    if (status != GIM_OK)
        return status;
    if (bind_address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    api = calloc(1, sizeof(*api));
    if (api == NULL)
        return GIM_ERR_NO_MEMORY;
    api->logic = logic;
    api->max_body = (size_t)config->gopusher_max_body;
    /* The logger must be the first option, or early messages go to libmicrohttpd's own. */
    api->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, gopusher_access, api, MHD_OPTION_EXTERNAL_LOGGER, gim_http_log,
        (void *)"gopusher http", MHD_OPTION_SOCK_ADDR, &bind_address, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)config->gopusher_threads, MHD_OPTION_NOTIFY_COMPLETED, gopusher_completed,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)GOPUSHER_CONNECTION_TIMEOUT_SECONDS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GOPUSHER_CONNECTION_MEMORY_LIMIT,
        MHD_OPTION_END);
    if (api->daemon == NULL) {
        snprintf(error, error_size, "gopusher.addr: cannot listen on %s", config->gopusher_addr);
        free(api);
        return GIM_ERR_IO;
    }
    if (config->gopusher_auth_account == NULL || config->gopusher_auth_account[0] == '\0')
        gim_log_notice("gopusher: no super admin (gopusher.authAccount): only app admins");
    *out = api;
    return GIM_OK;
}

unsigned int gopusher_api_port(const struct gopusher_api *api)
{
    const union MHD_DaemonInfo *info;

    if (api == NULL)
        return 0;
    info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void gopusher_api_stop(struct gopusher_api *api)
{
    if (api == NULL)
        return;
    MHD_stop_daemon(api->daemon);
    free(api);
}
