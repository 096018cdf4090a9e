/*
 * gopusher_api.h: gopusher's private API on its own listener (gopusher.addr,
 * default :8002, gopusher v2's api_listen), apart from goim's /goim/ API:
 * gopusher's POST /api/push/{app_key} is its own, whatever the other
 * dialects' paths mean.
 *
 *   POST   /api/register                      super admin: app_key, auth_account,
 *                                             auth_password, connect_hook (optional)
 *   DELETE /api/{app_key}/unregister
 *   GET    /api/app-list[/{limit}/{page}]      super admin
 *   POST   /api/push/{app_key}                content, user_tag (optional PCRE2 regex)
 *   GET    /api/{app_key}/listonlineuser[/{limit}/{page}]
 *
 * HTTP Basic on every route (logic/gopusher_auth.h): the super admin of
 * gopusher.authAccount / gopusher.authPassword passes every route; an app's
 * own admin passes only the routes naming that app. Parameters are read as
 * Go's FormValue: a urlencoded or multipart body (POST) first, then the
 * query string. Answers are gopusher's bytes: JSON from Go's json.Encoder
 * (compact, <>& escaped, a trailing newline) or http.Error's text plus a
 * newline, both "text/plain; charset=utf-8", and on every answer of these
 * routes gopusher's misspelt header `Www-Authenicate: Basic realm="Restricted`.
 * The details, and where goim-c differs on purpose, are in
 * docs/internals.md ("gopusher").
 *
 * libmicrohttpd runs gopusher.threads threads; a handler blocks one of them
 * on Redis, bcrypt and Kafka. Bodies are bounded by gopusher.maxBody (413).
 */
#ifndef LOGIC_GOPUSHER_API_H
#define LOGIC_GOPUSHER_API_H

#include <stddef.h>

struct logic_context;
struct gopusher_api;

/*
 * Starts the API on logic->config->gopusher_addr (port 0 picks a free
 * port). With an empty address nothing is started: *api is NULL and GIM_OK
 * is returned. logic stays the caller's and must outlive the server. On
 * GIM_OK with a server, *api is the caller's (gopusher_api_stop).
 * Otherwise returns GIM_ERR_INVALID (bad address) or GIM_ERR_IO (cannot
 * listen) with a text in error[0..error_size), or GIM_ERR_NO_MEMORY.
 */
int gopusher_api_start(struct gopusher_api **api, const struct logic_context *logic, char *error,
                       size_t error_size);

/* The port bound, 0 for NULL. */
unsigned int gopusher_api_port(const struct gopusher_api *api);

/* Stops accepting, waits for running handlers, frees api. NULL is allowed. */
void gopusher_api_stop(struct gopusher_api *api);

#endif
