/* gopusher_presence.c: an app's online user_tags from the comets' Redis keys (see .h). */
#include "logic/gopusher_presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define GOPUSHER_ONLINE_PREFIX "gopusher/online/"

int gopusher_presence_read(struct gim_redis *redis, const char *app_key, int64_t now_ms,
                           struct presence_sum *online)
{
    size_t length = strlen(GOPUSHER_ONLINE_PREFIX) + strlen(app_key);
    char *index = malloc(length + 1);
    int status;

    memset(online, 0, sizeof(*online));
    if (index == NULL)
        return GIM_ERR_NO_MEMORY;
    snprintf(index, length + 1, "%s%s", GOPUSHER_ONLINE_PREFIX, app_key);
    status = presence_sum_read(redis, index, length, "", 0, now_ms, online);
    free(index);
    return status;
}
