/* lane.c: the ordering lane of a PushMsg record (see lane.h). */
#include "job/lane.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends text and a unit separator to a growing string. Returns false on allocation failure. */
static bool lane_append(char **lane, size_t *length, const char *text)
{
    size_t add = strlen(text) + 1;
    char *grown = realloc(*lane, *length + add + 1);

    if (grown == NULL)
        return false;
    memcpy(grown + *length, text, add - 1);
    grown[*length + add - 1] = '\x1f';
    grown[*length + add] = '\0';
    *lane = grown;
    *length += add;
    return true;
}

char *job_lane_of(const Goim__Logic__PushMsg *message)
{
    char number[48];
    char *lane = NULL;
    size_t length = 0, index;
    bool ok;

    switch (message->type) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        /* Not the operation: what one key set gets stays in order whatever its operation. */
        ok = lane_append(&lane, &length, "p") && lane_append(&lane, &length, message->server);
        for (index = 0; ok && index < message->n_keys; index++)
            ok = lane_append(&lane, &length, message->keys[index]);
        break;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        ok = lane_append(&lane, &length, "r") && lane_append(&lane, &length, message->room);
        break;
    default:
        snprintf(number, sizeof(number), "%" PRId32 "/%" PRId32, message->operation,
                 message->speed);
        ok = lane_append(&lane, &length, "b") && lane_append(&lane, &length, number);
        break;
    }
    if (!ok) {
        free(lane);
        return NULL;
    }
    return lane;
}

char *job_lane_merge_key_of(const Goim__Logic__PushMsg *message)
{
    const char *pattern = message->usertagpattern ? message->usertagpattern : "";
    size_t length = strlen(pattern);
    char *key = malloc(length + 3 > 16 ? length + 3 : 16);

    if (key == NULL)
        return NULL;
    if (message->type == GOIM__LOGIC__PUSH_MSG__TYPE__PUSH) {
        /* PushMsgReq has one protoOp for its whole body (comet filters by it). */
        snprintf(key, 16, "o%" PRId32, message->operation);
        return key;
    }
    if (message->type != GOIM__LOGIC__PUSH_MSG__TYPE__ROOM ||
        (!message->text && !message->closeroom && length == 0)) {
        key[0] = '\0';
        return key;
    }
    key[0] = message->closeroom ? 'c' : '-';
    key[1] = message->text ? 't' : 'b';
    memcpy(key + 2, pattern, length + 1);
    return key;
}
