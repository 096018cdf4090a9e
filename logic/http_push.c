/* http_push.c: the push endpoints, parameters to push.h calls (see http_push.h). */
#include "logic/http_push.h"

#include <microhttpd.h>
#include <stdlib.h>

#include "common/status.h"
#include "logic/http_params.h"
#include "logic/push.h"

void http_push_keys(const struct http_request *request, struct http_answer *answer)
{
    struct http_values keys;
    int32_t operation;
    char error[256];
    int status;

    if (http_param_int32(request, "operation", 0, &operation, answer) != GIM_OK)
        return;
    if (http_param_values(request, "keys", &keys, answer) != GIM_OK)
        return;
    if (keys.count == 0) {
        /* goim: MGET with no key fails in Redis (-400); here it is a parameter error. */
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "keys: no key given");
        return;
    }
    status = push_keys(request->logic, operation, keys.items, keys.count, request->body,
                       request->body_length, error, sizeof(error));
    http_values_free(&keys);
    if (status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_REQUEST_ERR, "%s", error);
}

void http_push_mids(const struct http_request *request, struct http_answer *answer)
{
    int64_t *mids;
    size_t count;
    int32_t operation;
    char error[256];
    int status;

    if (http_param_int32(request, "operation", 0, &operation, answer) != GIM_OK)
        return;
    if (http_param_int64_list(request, "mids", &mids, &count, answer) != GIM_OK)
        return;
    status = push_mids(request->logic, operation, mids, count, request->body, request->body_length,
                       error, sizeof(error));
    free(mids);
    if (status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "%s", error);
}
