/*
 * gusher_store.h: gusher's tokens and socket sessions in Redis.
 *
 *   gusher/token/<token>              STRING the token's claim (gusher's Auth JSON),
 *                                     PX gusher.tokenTTL (60 s); reusable until then
 *   gusher/socket/<app>/<socket_id>   STRING comet server id, EX the session expire
 *   gusher/user/<app>/<user_id>       HASH socket_id -> comet server id, EXPIRE the
 *                                     session expire (not for user_id "")
 *
 * A socket's comet key (the key PUSH records name) is gusher/<app>/<socket_id>.
 * Every function takes a gim_redis borrowed by the calling thread, pipelines
 * its commands, and returns GIM_OK, GIM_ERR_UNAVAILABLE (Redis unreachable)
 * or GIM_ERR_REMOTE (an error reply), or what its comment adds. Strings stay
 * the caller's; app_key, user_id and socket_id are binary-safe (a length each).
 */
#ifndef LOGIC_GUSHER_STORE_H
#define LOGIC_GUSHER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "logic/session.h"

struct gim_redis;

/* Characters of a token (and of comet's socket ids): 32 lowercase hex digits. */
#define GUSHER_TOKEN_LENGTH 32

/* One app_key, user_id or socket_id: bytes and length. */
struct gusher_name {
    const char *bytes;
    size_t length;
};

/* Writes 32 random lowercase hex digits and a NUL into out. GIM_OK or GIM_ERR_IO. */
int gusher_token_generate(char out[GUSHER_TOKEN_LENGTH + 1]);

/* True when text[0..length) is GUSHER_TOKEN_LENGTH lowercase hex digits. */
int gusher_token_well_formed(const char *text, size_t length);

/* SET gusher/token/<token> value PX ttl_ms. */
int gusher_token_store(struct gim_redis *redis, const char *token, const char *value, size_t length,
                       int64_t ttl_ms);

/*
 * GET gusher/token/<token>: *value (malloc'd, NUL after *length bytes, the
 * caller's). GIM_ERR_NOT_FOUND when it is absent or expired.
 */
int gusher_token_read(struct gim_redis *redis, const char *token, char **value, size_t *length);

/*
 * Records (or renews) a socket: SET gusher/socket/<app>/<socket> server EX
 * expire, and unless user is "", HSET gusher/user/<app>/<user> socket server
 * + EXPIRE, in one pipeline.
 */
int gusher_session_write(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                         struct gusher_name socket, const char *server, int64_t expire_seconds);

/* Forgets a socket: DEL gusher/socket/<app>/<socket>, HDEL gusher/user/<app>/<user> socket. */
int gusher_session_remove(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                          struct gusher_name socket);

/*
 * Appends a route (comet key gusher/<app>/<socket_id>, server) for every
 * socket of user in app (HGETALL gusher/user/<app>/<user>); none when the
 * user has no socket. GIM_ERR_NO_MEMORY possible.
 */
int gusher_routes_of_user(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                          struct session_routes *routes);

/* Appends the route of one socket (GET gusher/socket/<app>/<socket>), none when it has none. */
int gusher_routes_of_socket(struct gim_redis *redis, struct gusher_name app,
                            struct gusher_name socket, struct session_routes *routes);

#endif
