/*
 * gusher_routes.h: what each route of gusher's master API does, once
 * logic/gusher_api.c has routed the request (logic/gusher_api.h lists the
 * routes and the conventions of their answers).
 *
 * Each function reads its parameters through call (Go's FormValue, the path
 * variables), does its Redis work on the calling thread, and fills
 * call->answer with gusher's bytes, or defers it: a push produces its
 * PushMsg records and answers once Kafka acknowledged them (or 400 "data
 * error"), holding no thread meanwhile (http_request_defer).
 */
#ifndef LOGIC_GUSHER_ROUTES_H
#define LOGIC_GUSHER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "logic/gusher_store.h"
#include "logic/http.h"
#include "logic/http_form.h"

/* The most path variables of a route (and path segments after the prefix). */
#define GUSHER_MAX_VARIABLES 6

/* One request as a route sees it; every pointer stays the caller's. */
struct gusher_call {
    const struct http_request *request;
    struct http_answer *answer;
    struct http_form form;                         /* the body's form values (http_form.h) */
    struct gusher_name vars[GUSHER_MAX_VARIABLES]; /* the path variables, in order */
    size_t var_count;
};

/* Which presence a presence route reads (docs/internals.md, "gusher"). */
enum gusher_presence {
    GUSHER_PRESENCE_CHANNELS,      /* {app}/channels: live channels */
    GUSHER_PRESENCE_USERS,         /* {app}/online: user_ids */
    GUSHER_PRESENCE_CHANNEL_USERS, /* {app}/online/bychannel/{channel}: its user_ids */
};

/* Makes answer status with text as gusher writes it (no newline), text/plain. */
void gusher_answer_text(struct http_answer *answer, unsigned int status, const char *text);

/* POST push/{app}/{channel}/{event}: the envelope, one text ROOM record. */
void gusher_route_push_channel(struct gusher_call *call);

/* POST push_batch/{app}: one text ROOM record per item. */
void gusher_route_push_batch(struct gusher_call *call);

/* POST push/{app}: one text ROOM record per live channel the pattern matches. */
void gusher_route_push_pattern(struct gusher_call *call);

/* POST push/user/{app}/{user_id} (by_user) or push/socket/{app}/{socket_id}: PUSH op 2000. */
void gusher_route_push_direct(struct gusher_call *call, bool by_user);

/* POST reload/channel/user/{app}/{user_id}: PUSH op 2001 with the new list. */
void gusher_route_reload_channel(struct gusher_call *call);

/* POST add/channel/user/{app}/{user_id}: PUSH op 2002 with the channel. */
void gusher_route_add_channel(struct gusher_call *call);

/* GET presence routes: the names (vars[0] the app, vars[1] the channel), or {"count":N}. */
void gusher_route_presence(struct gusher_call *call, enum gusher_presence what, bool count);

/* POST decode: the JWT's claims as gusher's json.Encoder writes them. */
void gusher_route_decode(struct gusher_call *call);

/* GET ping: pong. */
void gusher_route_ping(struct gusher_call *call);

#endif
