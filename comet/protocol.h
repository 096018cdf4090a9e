/*
 * protocol.h: goim's client protocol over TCP (reference section 2).
 *
 * Consumes complete frames from a connection's input: before auth only op 7
 * counts (others are ignored, as goim); op 7 starts an asynchronous logic
 * Connect and pauses reading until its result comes back through the loop's
 * inbox; after auth op 2 is answered with op 3 + the room's online count,
 * 12/14/16 change room and the watched operations, and any other op is
 * answered with the same op and an empty body (and forwarded to logic
 * Receive, fire and forget).
 */
#ifndef COMET_PROTOCOL_H
#define COMET_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "comet/inbox.h"

struct comet_connection;

/*
 * Handles every complete frame at the start of data[0..length) that the
 * connection's state allows (it stops after an op 7). Returns the number of
 * bytes consumed (the caller keeps the rest), or a negative GIM_ERR_* when
 * the connection must be closed (bad header, body over 4096 bytes, ...).
 */
long protocol_consume(struct comet_connection *connection, const uint8_t *data, size_t length);

/*
 * Loop thread: applies an auth result (inbox item of kind LOOP_ITEM_AUTH_DONE)
 * to its connection, which may have closed meanwhile, and frees the item.
 */
void protocol_finish_auth(struct inbox_item *item);

#endif
