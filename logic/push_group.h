/*
 * push_group.h: a PUSH to connection keys, grouped by comet server.
 *
 * The sessions of a push (key -> server, logic/session.h) become one
 * PushMsg record per distinct server, holding that server's keys in the
 * order the lookup returned them, with goim's record key (the record's
 * first connection key). Pure: no Redis, no Kafka (logic/push.c produces
 * the records).
 */
#ifndef LOGIC_PUSH_GROUP_H
#define LOGIC_PUSH_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "logic/producer.h"
#include "logic/session.h"

/*
 * Builds the PUSH records of message[0..length) with operation for routes.
 * On GIM_OK *records is a malloc'd array of *count records (one per
 * distinct server, servers in byte order; none for no routes) whose values
 * are packed PushMsg (owned by the array: push_group_free) and whose keys
 * point into routes, which must outlive them. message and routes stay the
 * caller's. Returns GIM_OK or GIM_ERR_NO_MEMORY (*records NULL, *count 0).
 */
int push_group_by_server(const struct session_routes *routes, int32_t operation,
                         const uint8_t *message, size_t length, struct producer_record **records,
                         size_t *count);

/* Frees the records of push_group_by_server and their values. NULL is allowed. */
void push_group_free(struct producer_record *records, size_t count);

#endif
