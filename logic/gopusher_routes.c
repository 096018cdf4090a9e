/* gopusher_routes.c: what each gopusher API route does (see gopusher_routes.h). */
#include "logic/gopusher_routes.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/status.h"
#include "common/tag_pattern.h"
#include "common/utf8.h"
#include "logic/gopusher_apps.h"
#include "logic/gopusher_auth.h"
#include "logic/gopusher_presence.h"
#include "logic/push.h"

/* Room keys of gopusher apps: "gopusher/<app_key>" (docs/internals.md). */
#define GOPUSHER_ROOM_PREFIX "gopusher/"

/*
 * A gopusher route waits for Kafka's acknowledgement on its own thread
 * (gopusher.threads bounds how many wait): the producer calls
 * gopusher_produced exactly once, from its poll thread or before the push
 * function returns.
 */
struct gopusher_produce_wait {
    pthread_mutex_t lock;
    pthread_cond_t done_signal;
    bool done;
    int status;
    char error[256];
};

static void gopusher_produced(void *user, int status, const char *error)
{
    struct gopusher_produce_wait *wait = user;

    pthread_mutex_lock(&wait->lock);
    wait->status = status;
    snprintf(wait->error, sizeof(wait->error), "%s", error ? error : "");
    wait->done = true;
    pthread_cond_signal(&wait->done_signal);
    pthread_mutex_unlock(&wait->lock);
}

static void gopusher_produce_wait_init(struct gopusher_produce_wait *wait)
{
    memset(wait, 0, sizeof(*wait));
    pthread_mutex_init(&wait->lock, NULL);
    pthread_cond_init(&wait->done_signal, NULL);
}

/* Waits for gopusher_produced; returns its status (its text in wait->error). */
static int gopusher_produce_wait_end(struct gopusher_produce_wait *wait)
{
    pthread_mutex_lock(&wait->lock);
    while (!wait->done)
        pthread_cond_wait(&wait->done_signal, &wait->lock);
    pthread_mutex_unlock(&wait->lock);
    pthread_cond_destroy(&wait->done_signal);
    pthread_mutex_destroy(&wait->lock);
    return wait->status;
}

/* The v0 paging window: items [*first, *first + *count) of total. */
static void gopusher_page_window(int64_t limit, int64_t page, size_t total, size_t *first,
                                 size_t *count)
{
    /* offset = (page - 1) * limit; a negative offset starts at 0; limit 0 takes everything. */
    uint64_t offset = 0;

    if (page > 1 && limit > 0) {
        if ((uint64_t)(page - 1) > (uint64_t)total / (uint64_t)limit)
            offset = total; /* past the end */
        else
            offset = (uint64_t)(page - 1) * (uint64_t)limit;
    }
    if (offset > total)
        offset = total;
    *first = (size_t)offset;
    *count = total - (size_t)offset;
    if (limit > 0 && (uint64_t)*count > (uint64_t)limit)
        *count = (size_t)limit;
}

/* The JSON object of one app, in gopusher's AppDataResult order. */
static json_t *gopusher_app_json(const struct gopusher_app *app)
{
    json_t *object = json_object();
    bool ok = object != NULL;

#define APP_FIELD(name)                                                                            \
    ok = ok && gopusher_json_set(object, #name, gopusher_json_string(app->name, strlen(app->name)))
    APP_FIELD(app_key);
    APP_FIELD(auth_account);
    APP_FIELD(auth_password);
    APP_FIELD(connect_hook);
    APP_FIELD(request_ip);
    APP_FIELD(date);
    APP_FIELD(timestamp);
#undef APP_FIELD
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

/* "ip:port" of the caller, as Go's RemoteAddr ("[v6]:port" for IPv6). */
static void gopusher_remote_address(struct MHD_Connection *connection, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN];

    snprintf(out, size, "unknown");
    if (info == NULL || info->client_addr == NULL)
        return;
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)info->client_addr;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
        snprintf(out, size, "%s:%u", host, (unsigned int)ntohs(v4->sin_port));
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)info->client_addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
        snprintf(out, size, "[%s]:%u", host, (unsigned int)ntohs(v6->sin6_port));
    }
}

void gopusher_route_register(struct gopusher_call *call)
{
    size_t app_key_length, account_length, password_length, hook_length;
    const char *app_key = call->form_value(call, "app_key", &app_key_length);
    const char *account = call->form_value(call, "auth_account", &account_length);
    const char *password = call->form_value(call, "auth_password", &password_length);
    const char *hook = call->form_value(call, "connect_hook", &hook_length);
    char hash[GOPUSHER_HASH_SIZE], request_ip[INET6_ADDRSTRLEN + 16], timestamp[24], date[32];
    struct gopusher_app app;
    struct timespec now;
    struct tm local;
    bool created = false;
    json_t *answer;
    int status;

    if (app_key == NULL || app_key_length == 0 || account == NULL || account_length == 0 ||
        password == NULL || password_length == 0) {
        gopusher_reply_text(call->reply, MHD_HTTP_NOT_FOUND, "app_name || request_op empty");
        return;
    }
    if (memchr(app_key, '/', app_key_length) != NULL || strlen(app_key) != app_key_length ||
        strlen(account) != account_length || strlen(password) != password_length ||
        (hook != NULL && strlen(hook) != hook_length)) {
        gopusher_reply_text(call->reply, MHD_HTTP_BAD_REQUEST,
                            "app_key must not hold '/', and no value a NUL byte");
        return;
    }
    if (gopusher_password_hash(account, password, hash, sizeof(hash)) != GIM_OK) {
        gopusher_reply_text(call->reply, MHD_HTTP_NOT_FOUND, "hash error");
        return;
    }
    gopusher_remote_address(call->connection, request_ip, sizeof(request_ip));
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(timestamp, sizeof(timestamp), "%lld",
             (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    localtime_r(&now.tv_sec, &local);
    strftime(date, sizeof(date), "%Y/%m/%d %H:%M:%S", &local);
    app.app_key = (char *)app_key;
    app.auth_account = (char *)account;
    app.auth_password = hash;
    app.connect_hook = (char *)(hook ? hook : "");
    app.request_ip = request_ip;
    app.timestamp = timestamp;
    app.date = date;
    status = gopusher_apps_register(call->redis, &app, &created);
    explicit_bzero(hash, sizeof(hash));
    if (status != GIM_OK) {
        gopusher_reply_redis_failed(call->reply, status);
        return;
    }
    if (!created) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "app_key repeat");
        return;
    }
    gim_log_info("gopusher: app \"%s\" registered from %s", app_key, request_ip);
    answer = json_object();
    if (answer != NULL &&
        !(gopusher_json_set(answer, "app_name", json_string("")) &&
          gopusher_json_set(answer, "app_key", gopusher_json_string(app_key, app_key_length)) &&
          gopusher_json_set(answer, "connect_hook",
                            gopusher_json_string(app.connect_hook, strlen(app.connect_hook))) &&
          gopusher_json_set(answer, "request_ip", json_string(request_ip)))) {
        json_decref(answer);
        answer = NULL;
    }
    gopusher_reply_json(call->reply, answer);
}

/* "gopusher/<app_key>", malloc'd, or NULL. */
static char *gopusher_room_of(const char *app_key)
{
    size_t size = strlen(GOPUSHER_ROOM_PREFIX) + strlen(app_key) + 1;
    char *room = malloc(size);

    if (room != NULL)
        snprintf(room, size, "%s%s", GOPUSHER_ROOM_PREFIX, app_key);
    return room;
}

void gopusher_route_unregister(struct gopusher_call *call)
{
    char *room = gopusher_room_of(call->app_key);
    struct gopusher_produce_wait wait;
    json_t *answer;
    int status;

    if (room == NULL) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    /* The comets close the app's sockets (gopusher leaves them open). Asked first, so that a
     * failure leaves the app registered and the call can be repeated. */
    gopusher_produce_wait_init(&wait);
    push_room_close(call->logic, room, gopusher_produced, &wait);
    status = gopusher_produce_wait_end(&wait);
    free(room);
    if (status != GIM_OK) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", wait.error);
        return;
    }
    status = gopusher_apps_unregister(call->redis, call->app_key);
    if (status == GIM_ERR_NOT_FOUND) {
        gopusher_reply_text(call->reply, MHD_HTTP_NOT_FOUND, "app_key does not exist");
        return;
    }
    if (status != GIM_OK) {
        gopusher_reply_redis_failed(call->reply, status);
        return;
    }
    gim_log_info("gopusher: app \"%s\" unregistered", call->app_key);
    answer = json_pack("{s:s}", "message", "Scuess");
    gopusher_reply_json(call->reply, answer);
}

void gopusher_route_app_list(struct gopusher_call *call, bool paged)
{
    struct gopusher_app *apps = NULL;
    size_t count = 0, total = 0, first = 0, limit = 0, index;
    json_t *answer, *data;
    bool ok;
    int status;

    if (paged) {
        /* The window needs the total first: read it with an empty page. */
        status = gopusher_apps_list(call->redis, 0, 1, &apps, &count, &total);
        gopusher_apps_free(apps, count);
        apps = NULL;
        count = 0;
        if (status == GIM_OK)
            gopusher_page_window(call->limit, call->page, total, &first, &limit);
        if (status == GIM_OK && limit > 0)
            status = gopusher_apps_list(call->redis, first, limit, &apps, &count, &total);
    } else {
        status = gopusher_apps_list(call->redis, 0, 0, &apps, &count, &total);
    }
    if (status != GIM_OK) {
        gopusher_reply_redis_failed(call->reply, status);
        return;
    }
    data = count ? json_array() : json_null();
    for (index = 0; data != NULL && index < count; index++) {
        if (json_array_append_new(data, gopusher_app_json(&apps[index])) != 0) {
            json_decref(data);
            data = NULL;
        }
    }
    gopusher_apps_free(apps, count);
    answer = json_object();
    ok = answer != NULL && data != NULL;
    if (ok && paged)
        ok = gopusher_json_set(answer, "limit", json_integer(call->limit)) &&
             gopusher_json_set(answer, "page", json_integer(call->page));
    /* "Total": gopusher's struct tag is malformed, so Go writes the field name. */
    ok = ok && gopusher_json_set(answer, "Total", json_integer((json_int_t)total)) &&
         gopusher_json_set(answer, "data", json_incref(data));
    json_decref(data);
    if (!ok) {
        json_decref(answer);
        answer = NULL;
    }
    gopusher_reply_json(call->reply, answer);
}

void gopusher_route_push(struct gopusher_call *call)
{
    size_t content_length, pattern_length, index;
    const char *content = call->form_value(call, "content", &content_length);
    const char *pattern = call->form_value(call, "user_tag", &pattern_length);
    struct gim_tag_pattern *compiled = NULL;
    struct presence_sum online;
    struct gopusher_produce_wait wait;
    char error[256], *room;
    int64_t sockets = 0;
    json_t *answer;
    int status;

    if (content == NULL || content_length == 0) {
        gopusher_reply_text(call->reply, MHD_HTTP_BAD_REQUEST, "app_key || content empty");
        return;
    }
    if (!gim_utf8_valid(content, content_length)) {
        gopusher_reply_text(call->reply, MHD_HTTP_BAD_REQUEST,
                            "content is not UTF-8 (it is sent as a WebSocket text message)");
        return;
    }
    if (pattern != NULL && pattern_length > 0) {
        if (strlen(pattern) != pattern_length) {
            gopusher_reply_text(call->reply, MHD_HTTP_BAD_REQUEST,
                                "user_tag: invalid regex: a NUL byte");
            return;
        }
        status = gim_tag_pattern_compile(&compiled, pattern, pattern_length, error, sizeof(error));
        if (status == GIM_ERR_NO_MEMORY) {
            gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
            return;
        }
        if (status != GIM_OK) {
            gopusher_reply_text(call->reply, MHD_HTTP_BAD_REQUEST, "user_tag: invalid regex: %s",
                                error);
            return;
        }
    }
    status = gopusher_presence_read(call->redis, call->app_key, presence_now_ms(), &online);
    if (status != GIM_OK) {
        gim_tag_pattern_free(compiled);
        presence_sum_clear(&online);
        gopusher_reply_redis_failed(call->reply, status);
        return;
    }
    /* "Total": the sockets the push is aimed at, as presence saw them (docs/internals.md). */
    for (index = 0; index < online.size; index++)
        if (compiled == NULL || gim_tag_pattern_matches(compiled, online.entries[index].name,
                                                        online.entries[index].length))
            sockets += online.entries[index].count;
    presence_sum_clear(&online);
    gim_tag_pattern_free(compiled);

    room = gopusher_room_of(call->app_key);
    if (room == NULL) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    gopusher_produce_wait_init(&wait);
    push_room_text(call->logic, room, pattern_length ? pattern : NULL, (const uint8_t *)content,
                   content_length, gopusher_produced, &wait);
    status = gopusher_produce_wait_end(&wait);
    free(room);
    if (status != GIM_OK) {
        gopusher_reply_text(call->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", wait.error);
        return;
    }
    answer = json_object();
    if (answer != NULL &&
        !(gopusher_json_set(answer, "app_key",
                            gopusher_json_string(call->app_key, strlen(call->app_key))) &&
          gopusher_json_set(answer, "content", json_stringn(content, content_length)) &&
          gopusher_json_set(answer, "user_tag",
                            gopusher_json_string(pattern ? pattern : "", pattern_length)) &&
          gopusher_json_set(answer, "Total", json_integer((json_int_t)sockets)))) {
        json_decref(answer);
        answer = NULL;
    }
    gopusher_reply_json(call->reply, answer);
}

void gopusher_route_online(struct gopusher_call *call, bool paged)
{
    struct presence_sum online;
    size_t first = 0, count = 0, index;
    json_t *answer, *tags;
    bool ok;
    int status = gopusher_presence_read(call->redis, call->app_key, presence_now_ms(), &online);

    if (status != GIM_OK) {
        presence_sum_clear(&online);
        gopusher_reply_redis_failed(call->reply, status);
        return;
    }
    if (paged) {
        gopusher_page_window(call->limit, call->page, online.size, &first, &count);
        tags = count ? json_array() : json_null();
        for (index = first; tags != NULL && index < first + count; index++)
            if (json_array_append_new(tags, gopusher_json_string(online.entries[index].name,
                                                                 online.entries[index].length)) !=
                0) {
                json_decref(tags);
                tags = NULL;
            }
    } else {
        /* v2: {"<tag>": null, ...}, the per-client user data gopusher never sets. */
        tags = json_object();
        for (index = 0; tags != NULL && index < online.size; index++) {
            json_t *key =
                gopusher_json_string(online.entries[index].name, online.entries[index].length);
            if (key == NULL ||
                json_object_set_new(tags, json_string_value(key), json_null()) != 0) {
                json_decref(tags);
                tags = NULL;
            }
            json_decref(key);
        }
    }
    answer = json_object();
    ok = answer != NULL && tags != NULL &&
         gopusher_json_set(answer, "app_key",
                           gopusher_json_string(call->app_key, strlen(call->app_key))) &&
         gopusher_json_set(answer, "total", json_integer((json_int_t)online.size));
    if (ok && paged)
        ok = gopusher_json_set(answer, "limit", json_integer(call->limit)) &&
             gopusher_json_set(answer, "page", json_integer(call->page));
    ok = ok && gopusher_json_set(answer, "user_tags", json_incref(tags));
    json_decref(tags);
    presence_sum_clear(&online);
    if (!ok) {
        json_decref(answer);
        answer = NULL;
    }
    gopusher_reply_json(call->reply, answer);
}
