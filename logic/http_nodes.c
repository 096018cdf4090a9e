/* http_nodes.c: nodes/weighted and nodes/instances (see http_nodes.h). */
#include "logic/http_nodes.h"

#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/registry.h"
#include "common/status.h"
#include "logic/balancer.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/http_params.h"
#include "logic/online.h"

/* Sets key to an integer unless it is 0 (Go's omitempty). */
static void http_nodes_set_integer(json_t *object, const char *key, int64_t value)
{
    if (value != 0)
        json_object_set_new(object, key, json_integer(value));
}

/*
 * value as goim's float32 field: the double read from the shortest decimal that gives back the
 * same float32 (Go writes a float32 with its own shortest digits, 1.6 and not 1.600000023841858,
 * and common/go_json writes that double with the same digits). A value past float32's range
 * is kept as it is.
 */
static double http_nodes_float32(double value)
{
    float single = (float)value;
    char text[32];
    int digits;

    if (!isfinite(single))
        return value;
    for (digits = 1; digits < 9; digits++) { /* 9 significant digits always give it back */
        snprintf(text, sizeof(text), "%.*g", digits, (double)single);
        if (strtof(text, NULL) == single)
            break;
    }
    snprintf(text, sizeof(text), "%.*g", digits, (double)single);
    return strtod(text, NULL);
}

/* Sets key to a float32 number unless it is 0 (Go's omitempty). */
static void http_nodes_set_float32(json_t *object, const char *key, double value)
{
    if (value != 0)
        json_object_set_new(object, key, json_real(http_nodes_float32(value)));
}

/* Appends each comma-separated, non-empty address of addrs to nodes. */
static void http_nodes_append_addrs(json_t *nodes, const char *addrs)
{
    while (*addrs != '\0') {
        size_t length = strcspn(addrs, ",");
        if (length > 0)
            json_array_append_new(nodes, json_stringn(addrs, length));
        addrs += length;
        if (*addrs == ',')
            addrs++;
    }
}

void http_nodes_weighted(const struct http_request *request, struct http_answer *answer)
{
    const struct logic_config *config = request->logic->config;
    struct balancer_pick pick;
    const char *platform;
    json_t *reply, *nodes, *backoff;
    size_t index;

    if (http_param_string(request, "platform", false, &platform, answer) != GIM_OK)
        return;
    if (balancer_choose(request->logic->balancer, "", config->node_region_weight, &pick) !=
        GIM_OK) {
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return;
    }
    reply = json_object();
    nodes = json_array();
    backoff = json_object();
    if (reply == NULL || nodes == NULL || backoff == NULL) {
        json_decref(reply);
        json_decref(nodes);
        json_decref(backoff);
        balancer_pick_free(&pick);
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return;
    }
    for (index = 0; index < pick.count; index++) {
        if (platform != NULL && strcmp(platform, "web") == 0) {
            char name[512];
            snprintf(name, sizeof(name), "%s%s", pick.choices[index].hostname,
                     config->node_host_domain);
            json_array_append_new(nodes, json_string(name));
        } else {
            http_nodes_append_addrs(nodes, pick.choices[index].public_addrs);
        }
    }
    balancer_pick_free(&pick);
    if (json_array_size(nodes) == 0)
        json_array_append_new(nodes, json_string(config->node_default_domain));

    if (config->node_default_domain[0] != '\0')
        json_object_set_new(reply, "domain", json_string(config->node_default_domain));
    http_nodes_set_integer(reply, "tcp_port", config->node_tcp_port);
    http_nodes_set_integer(reply, "ws_port", config->node_ws_port);
    http_nodes_set_integer(reply, "wss_port", config->node_wss_port);
    http_nodes_set_integer(reply, "heartbeat", config->node_heartbeat_ms / 1000);
    json_object_set_new(reply, "nodes", nodes);
    http_nodes_set_integer(backoff, "max_delay", config->backoff_max_delay);
    http_nodes_set_integer(backoff, "base_delay", config->backoff_base_delay);
    http_nodes_set_float32(backoff, "factor", config->backoff_factor);
    http_nodes_set_float32(backoff, "jitter", config->backoff_jitter);
    json_object_set_new(reply, "backoff", backoff);
    http_nodes_set_integer(reply, "heartbeat_max", config->node_heartbeat_max);
    answer->data = reply;
}

void http_nodes_instances(const struct http_request *request, struct http_answer *answer)
{
    struct logic_online_snapshot *snapshot;
    json_t *list;
    size_t index;
    int status = logic_online_acquire(request->logic->online, &snapshot);

    if (status != GIM_OK) {
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR,
                          "comet registry unavailable: redis: %s", gim_strerror(status));
        return;
    }
    if (snapshot->instance_count == 0) {
        logic_online_release(request->logic->online, snapshot);
        answer->data = json_null(); /* goim: a nil slice */
        return;
    }
    list = json_array();
    for (index = 0; list != NULL && index < snapshot->instance_count; index++) {
        char *text = gim_instance_to_json(&snapshot->instances[index]);
        json_t *instance = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (instance == NULL || json_array_append_new(list, instance) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    logic_online_release(request->logic->online, snapshot);
    if (list == NULL) {
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return;
    }
    answer->data = list;
}
