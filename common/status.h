/*
 * status.h: the one error convention of goim-c.
 *
 * Every function in common/ returns GIM_OK (0) on success or one of the
 * negative codes below. GIM_ERR_AGAIN is not a failure: it means "would
 * block" or "need more bytes", as nginx's NGX_AGAIN or wslay's
 * WSLAY_ERR_WOULDBLOCK. errno is read once, where a system call fails, and
 * turned into one of these codes there.
 */
#ifndef GIM_STATUS_H
#define GIM_STATUS_H

enum gim_status {
    GIM_OK = 0,
    GIM_ERR_AGAIN = -1,       /* would block, or not enough input yet */
    GIM_ERR_INVALID = -2,     /* malformed input or bad argument */
    GIM_ERR_TOO_LARGE = -3,   /* a length over its limit */
    GIM_ERR_NO_MEMORY = -4,   /* allocation failed */
    GIM_ERR_IO = -5,          /* a system call or a peer connection failed */
    GIM_ERR_TIMEOUT = -6,     /* the deadline passed */
    GIM_ERR_CLOSED = -7,      /* the object or the peer is closed */
    GIM_ERR_NOT_FOUND = -8,   /* no such key, method or entry */
    GIM_ERR_REMOTE = -9,      /* the peer answered with an error */
    GIM_ERR_UNAVAILABLE = -10 /* a backend (Redis, Kafka, a peer) is not reachable */
};

/* Returns a static, human-readable name for a status code (never NULL). */
const char *gim_strerror(int status);

#endif
