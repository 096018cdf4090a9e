/* target.c: the comets a batch goes to, and finding them in the registry (see target.h). */
#include "job/target.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"

int job_targets_one(const char *hostname, struct job_target **out, size_t *count)
{
    struct job_target *targets = calloc(1, sizeof(*targets));

    *out = NULL;
    *count = 0;
    if (targets == NULL)
        return GIM_ERR_NO_MEMORY;
    targets[0].hostname = strdup(hostname);
    if (targets[0].hostname == NULL) {
        free(targets);
        return GIM_ERR_NO_MEMORY;
    }
    *out = targets;
    *count = 1;
    return GIM_OK;
}

int job_targets_all(const struct job_delivery_ops *ops, struct job_target **out, size_t *out_count)
{
    struct job_comet **list = NULL;
    struct job_target *targets;
    size_t count = 0, index;
    int status;

    *out = NULL;
    *out_count = 0;
    status = ops->snapshot(ops->context, &list, &count);
    if (status != GIM_OK)
        return status;
    if (count == 0) {
        free(list);
        return GIM_ERR_NOT_FOUND;
    }
    targets = calloc(count, sizeof(*targets));
    for (index = 0; targets != NULL && index < count; index++) {
        targets[index].hostname = strdup(list[index]->hostname);
        if (targets[index].hostname == NULL)
            break;
    }
    for (size_t held = 0; held < count; held++)
        ops->release(ops->context, list[held]);
    free(list);
    if (targets == NULL || index < count) {
        job_targets_free(targets, targets ? index : 0);
        return GIM_ERR_NO_MEMORY;
    }
    *out = targets;
    *out_count = count;
    return GIM_OK;
}

struct job_comet *job_target_resolve(struct job_target *target, const struct job_delivery_ops *ops,
                                     const char *kind, const char *origin)
{
    struct job_comet *comet = ops->find(ops->context, target->hostname);

    if (comet != NULL) {
        target->missing = false;
        return comet;
    }
    if (target->missing && ops->fresh_since(ops->context, target->refresh_ticket)) {
        gim_log_warn("%s %s: comet \"%s\" is not in the registry; not delivered there", kind,
                     origin, target->hostname);
        target->finished = true;
        return NULL;
    }
    if (!target->missing) {
        target->missing = true;
        target->refresh_ticket = ops->request_refresh(ops->context);
    }
    target->status = GIM_ERR_NOT_FOUND;
    return NULL;
}

void job_targets_free(struct job_target *targets, size_t count)
{
    size_t index;

    if (targets == NULL)
        return;
    for (index = 0; index < count; index++)
        free(targets[index].hostname);
    free(targets);
}
