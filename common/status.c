/* status.c: names for the status codes of status.h. */
#include "status.h"

const char *gim_strerror(int status)
{
    switch (status) {
    case GIM_OK:
        return "ok";
    case GIM_ERR_AGAIN:
        return "would block";
    case GIM_ERR_INVALID:
        return "invalid input";
    case GIM_ERR_TOO_LARGE:
        return "too large";
    case GIM_ERR_NO_MEMORY:
        return "out of memory";
    case GIM_ERR_IO:
        return "i/o error";
    case GIM_ERR_TIMEOUT:
        return "timed out";
    case GIM_ERR_CLOSED:
        return "closed";
    case GIM_ERR_NOT_FOUND:
        return "not found";
    case GIM_ERR_REMOTE:
        return "remote error";
    case GIM_ERR_UNAVAILABLE:
        return "unavailable";
    default:
        return "unknown error";
    }
}
