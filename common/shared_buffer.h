/*
 * shared_buffer.h: one immutable byte buffer shared by many readers.
 *
 * A pushed frame is encoded once into a gim_shared_buffer (one allocation:
 * an atomic reference count, the length, then the bytes) and every
 * connection's output queue holds a reference to it, so a fan-out to many
 * sockets never copies the payload. The bytes must not change once the
 * buffer has been shared; the last gim_shared_buffer_unref frees it. The
 * count is atomic, so references may be taken and dropped on any thread.
 */
#ifndef GIM_SHARED_BUFFER_H
#define GIM_SHARED_BUFFER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct gim_shared_buffer {
    atomic_uint references;
    uint32_t length;
    uint8_t data[];
};

/* Largest buffer gim_shared_buffer_new accepts (bytes). */
#define GIM_SHARED_BUFFER_MAX (64u * 1024u * 1024u)

/*
 * Allocates a buffer of length bytes (uninitialised; the creator fills
 * data[] before sharing it) with one reference, owned by the caller.
 * Returns NULL if length is over GIM_SHARED_BUFFER_MAX or memory is short.
 */
struct gim_shared_buffer *gim_shared_buffer_new(size_t length);

/* Same, filled with a copy of data[0..length). */
struct gim_shared_buffer *gim_shared_buffer_copy(const void *data, size_t length);

/* Takes one more reference (owned by the caller) and returns buffer. */
struct gim_shared_buffer *gim_shared_buffer_ref(struct gim_shared_buffer *buffer);

/* Drops one reference; frees the buffer when it was the last. NULL is allowed. */
void gim_shared_buffer_unref(struct gim_shared_buffer *buffer);

#endif
