/*
 * gopusher_routes.h: what each route of gopusher's API does, once
 * logic/gopusher_api.c has routed the request and checked its credentials
 * (and that the app exists, for routes naming one).
 *
 * Each function reads its parameters through call, does its Redis / Kafka
 * work on the calling thread (blocking) and fills call->reply with
 * gopusher's answer (logic/gopusher_reply.h). Answers and the deliberate
 * differences from gopusher are in docs/internals.md ("gopusher").
 */
#ifndef LOGIC_GOPUSHER_ROUTES_H
#define LOGIC_GOPUSHER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/gopusher_reply.h"

struct MHD_Connection;
struct gim_redis;
struct logic_context;

/* One request, as a route sees it; every pointer stays the API server's. */
struct gopusher_call {
    const struct logic_context *logic;
    struct MHD_Connection *connection; /* the caller's address (register's request_ip) */
    struct gim_redis *redis;           /* lent for this request */
    const char *app_key;               /* the {app_key} of the path, or NULL */
    int64_t limit, page;               /* the {limit}/{page} of paged routes */
    /*
     * Go's FormValue: the first value of name (the form body's, then the
     * query's), *length bytes followed by a NUL, or NULL when absent.
     * Valid during the request.
     */
    const char *(*form_value)(const struct gopusher_call *call, const char *name, size_t *length);
    const void *form; /* what form_value reads */
    struct gopusher_reply *reply;
};

/* POST /api/register: app_key, auth_account, auth_password, connect_hook. */
void gopusher_route_register(struct gopusher_call *call);

/* DELETE /api/{app_key}/unregister. */
void gopusher_route_unregister(struct gopusher_call *call);

/* GET /api/app-list, or with paged /api/app-list/{limit}/{page} (gopusher v0's paging). */
void gopusher_route_app_list(struct gopusher_call *call, bool paged);

/* POST /api/push/{app_key}: content, user_tag (a regex) -> one ROOM record on Kafka. */
void gopusher_route_push(struct gopusher_call *call);

/* GET /api/{app_key}/listonlineuser[/{limit}/{page}] from the comets' presence keys. */
void gopusher_route_online(struct gopusher_call *call, bool paged);

#endif
