/* record.c: decoding and checking one PushMsg record (see record.h). */
#include "job/record.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/status.h"
#include "job/lane.h"

/* Checks what a record's type needs. Returns false (logged) when it cannot be delivered. */
static bool record_is_deliverable(const Goim__Logic__PushMsg *message, const char *origin)
{
    switch (message->type) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        if (message->n_keys == 0 || message->server == NULL || message->server[0] == '\0') {
            gim_log_warn("push %s: no keys or no server; record skipped", origin);
            return false;
        }
        return true;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        if (message->room == NULL || message->room[0] == '\0') {
            gim_log_warn("room %s: no room; record skipped", origin);
            return false;
        }
        return true;
    case GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST:
        return true;
    default:
        gim_log_error("record %s: unknown PushMsg type %d; skipped", origin, (int)message->type);
        return false;
    }
}

int job_record_decode(const uint8_t *value, size_t length, const struct job_record_ticket *ticket,
                      struct job_record **out)
{
    struct job_record *record;
    Goim__Logic__PushMsg *message;

    *out = NULL;
    message = goim__logic__push_msg__unpack(NULL, length, value);
    if (message == NULL) {
        gim_log_error("record %s: not a PushMsg (%zu bytes); skipped", ticket->origin, length);
        return GIM_ERR_INVALID;
    }
    if (!record_is_deliverable(message, ticket->origin)) {
        goim__logic__push_msg__free_unpacked(message, NULL);
        return GIM_ERR_INVALID;
    }
    record = calloc(1, sizeof(*record));
    if (record == NULL || (record->lane = job_lane_of(message)) == NULL) {
        free(record);
        goim__logic__push_msg__free_unpacked(message, NULL);
        return GIM_ERR_NO_MEMORY;
    }
    record->ticket = *ticket;
    record->message = message;
    *out = record;
    return GIM_OK;
}

void job_record_free(struct job_record *record)
{
    if (record == NULL)
        return;
    if (record->message != NULL)
        goim__logic__push_msg__free_unpacked(record->message, NULL);
    free(record->lane);
    free(record);
}

const char *job_record_kind_name(Goim__Logic__PushMsg__Type kind)
{
    return kind == GOIM__LOGIC__PUSH_MSG__TYPE__PUSH   ? "push"
           : kind == GOIM__LOGIC__PUSH_MSG__TYPE__ROOM ? "room"
                                                       : "broadcast";
}
