/* shared_buffer.c: refcounted immutable byte buffers (see shared_buffer.h). */
#include "shared_buffer.h"

#include <stdlib.h>
#include <string.h>

struct gim_shared_buffer *gim_shared_buffer_new(size_t length)
{
    struct gim_shared_buffer *buffer;

    if (length > GIM_SHARED_BUFFER_MAX)
        return NULL;
    buffer = malloc(sizeof(*buffer) + length);
    if (buffer == NULL)
        return NULL;
    atomic_init(&buffer->references, 1);
    buffer->length = (uint32_t)length;
    return buffer;
}

struct gim_shared_buffer *gim_shared_buffer_copy(const void *data, size_t length)
{
    struct gim_shared_buffer *buffer = gim_shared_buffer_new(length);

    if (buffer != NULL && length > 0)
        memcpy(buffer->data, data, length);
    return buffer;
}

struct gim_shared_buffer *gim_shared_buffer_ref(struct gim_shared_buffer *buffer)
{
    atomic_fetch_add_explicit(&buffer->references, 1, memory_order_relaxed);
    return buffer;
}

void gim_shared_buffer_unref(struct gim_shared_buffer *buffer)
{
    if (buffer == NULL)
        return;
    if (atomic_fetch_sub_explicit(&buffer->references, 1, memory_order_acq_rel) == 1)
        free(buffer);
}
