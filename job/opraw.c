/* opraw.c: encoding client frames into an OpRaw body (see opraw.h). */
#include "job/opraw.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/frame.h"
#include "common/grow.h"
#include "common/status.h"

int job_opraw_append(struct job_opraw *buffer, int32_t operation, const uint8_t *message,
                     size_t message_length)
{
    size_t frame_length;

    if (message_length > JOB_OPRAW_MAX_BODY - GIM_FRAME_HEADER_SIZE ||
        buffer->length > JOB_OPRAW_MAX_BODY - GIM_FRAME_HEADER_SIZE - message_length)
        return GIM_ERR_TOO_LARGE;
    frame_length = GIM_FRAME_HEADER_SIZE + message_length;
    if (gim_grow(&buffer->data, &buffer->capacity, buffer->length + frame_length, 1, 256,
                 SIZE_MAX) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    gim_frame_encode(buffer->data + buffer->length, buffer->capacity - buffer->length, 1, operation,
                     0, message, message_length);
    buffer->length += frame_length;
    return GIM_OK;
}

void job_opraw_clear(struct job_opraw *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
