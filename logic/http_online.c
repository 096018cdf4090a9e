/* http_online.c: online/top, online/room, online/total (see http_online.h). */
#include "logic/http_online.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/go_json.h"
#include "common/status.h"
#include "logic/context.h"
#include "logic/http_params.h"
#include "logic/online.h"

/* Longest "<type>://<room>" looked up; a longer one cannot exist (push/room refuses it). */
#define HTTP_ONLINE_MAX_ROOM_KEY 1024

/* Takes the view or fills the answer with -500. */
static struct logic_online_snapshot *http_online_view(const struct http_request *request,
                                                      struct http_answer *answer)
{
    struct logic_online_snapshot *snapshot;
    int status = logic_online_acquire(request->logic->online, &snapshot);

    if (status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR,
                          "online counts unavailable: redis: %s", gim_strerror(status));
    return snapshot;
}

/* Count descending, then room id ascending. */
static int http_online_top_order(const void *left, const void *right)
{
    const struct logic_online_room *a = *(const struct logic_online_room *const *)left;
    const struct logic_online_room *b = *(const struct logic_online_room *const *)right;

    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->room, b->room);
}

void http_online_top(const struct http_request *request, struct http_answer *answer)
{
    const struct logic_online_room **matches;
    struct logic_online_snapshot *snapshot;
    const char *type;
    int32_t limit;
    size_t index, count = 0, type_length;
    json_t *list;

    if (http_param_string(request, "type", true, &type, answer) != GIM_OK ||
        http_param_required_int32(request, "limit", &limit, answer) != GIM_OK)
        return;
    if (limit < 0) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "limit: must be > 0");
        return;
    }
    snapshot = http_online_view(request, answer);
    if (snapshot == NULL)
        return;
    type_length = strlen(type);
    matches = calloc(snapshot->room_count ? snapshot->room_count : 1, sizeof(*matches));
    list = json_array();
    if (matches == NULL || list == NULL) {
        free(matches);
        json_decref(list);
        logic_online_release(request->logic->online, snapshot);
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return;
    }
    for (index = 0; index < snapshot->room_count; index++) {
        const struct logic_online_room *room = &snapshot->rooms[index];
        if (strncmp(room->room, type, type_length) == 0 && strstr(room->room, "://") != NULL)
            matches[count++] = room;
    }
    qsort(matches, count, sizeof(*matches), http_online_top_order);
    for (index = 0; index < count && index < (size_t)limit; index++) {
        const char *room_id = strstr(matches[index]->room, "://") + 3;
        json_array_append_new(list, json_pack("{s:s, s:I}", "room_id", room_id, "count",
                                              (json_int_t)matches[index]->count));
    }
    free(matches);
    logic_online_release(request->logic->online, snapshot);
    answer->data = list;
}

void http_online_room(const struct http_request *request, struct http_answer *answer)
{
    struct logic_online_snapshot *snapshot;
    struct http_values rooms;
    const char *type;
    size_t index;
    json_t *counts;

    if (http_param_string(request, "type", true, &type, answer) != GIM_OK ||
        http_param_values(request, "rooms", &rooms, answer) != GIM_OK)
        return;
    if (rooms.count == 0) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR, "rooms: required");
        return;
    }
    snapshot = http_online_view(request, answer);
    if (snapshot == NULL) {
        http_values_free(&rooms);
        return;
    }
    counts = json_object();
    for (index = 0; counts != NULL && index < rooms.count; index++) {
        char room_key[HTTP_ONLINE_MAX_ROOM_KEY];
        int length = snprintf(room_key, sizeof(room_key), "%s://%s", type, rooms.items[index]);
        int64_t count = length >= 0 && (size_t)length < sizeof(room_key)
                            ? logic_online_room_lookup(snapshot, room_key)
                            : 0;
        /* a room name that is not UTF-8 cannot be a JSON key: it is left out */
        json_object_set_new(counts, rooms.items[index], json_integer(count));
    }
    logic_online_release(request->logic->online, snapshot);
    http_values_free(&rooms);
    if (counts == NULL) {
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return;
    }
    answer->data = counts;
    answer->data_flags = GIM_GO_JSON_SORT_KEYS; /* goim's map[string]int32: keys sorted */
}

void http_online_total(const struct http_request *request, struct http_answer *answer)
{
    struct logic_online_snapshot *snapshot = http_online_view(request, answer);

    if (snapshot == NULL)
        return;
    answer->data = json_pack("{s:I, s:I}", "conn_count", (json_int_t)snapshot->conn_count,
                             "ip_count", (json_int_t)snapshot->ip_count);
    answer->data_flags = GIM_GO_JSON_SORT_KEYS; /* goim's map */
    logic_online_release(request->logic->online, snapshot);
    if (answer->data == NULL)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
}
