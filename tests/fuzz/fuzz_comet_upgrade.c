/*
 * fuzz_comet_upgrade.c: libFuzzer target for comet's WebSocket upgrade check
 * (websocket_parse_request and websocket_check_upgrade in comet/websocket.c, with the routes
 * comet serves, then the path segment and form helpers of common/url_form.h on what the route
 * leaves to its protocol), the first thing comet parses from an untrusted WebSocket client.
 * Checks that an accepted head always yields a 28-character accept value, that the parts found
 * lie inside the head, and that a refusal is one of the statuses documented, never anything else;
 * the head is passed without a terminator, so reading past it is an ASan report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comet/listener.h"
#include "comet/websocket.h"
#include "common/status.h"
#include "common/url_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char accept[WEBSOCKET_ACCEPT_SIZE], value[64];
    struct websocket_request request;
    char *head;
    int status;

    if (size > WEBSOCKET_MAX_REQUEST_HEAD)
        return 0; /* comet never passes more than this */
    /* Exactly size bytes, no terminator: a read past the head is an ASan report. */
    head = malloc(size ? size : 1);
    if (head == NULL)
        return 0;
    memcpy(head, data, size);
    memset(accept, 0x5a, sizeof(accept));
    status = websocket_parse_request(head, size, comet_websocket_routes,
                                     comet_websocket_route_count, &request);
    if (status == 0) {
        /* the route matched is the one the request line names; the parts lie inside the head */
        if (request.route == NULL || request.path_length < strlen(request.route->path) ||
            memcmp(request.path, request.route->path, strlen(request.route->path)) != 0 ||
            request.content_length > WEBSOCKET_MAX_REQUEST_BODY)
            abort();
        if (request.query_length > 0 &&
            (request.query < head || request.query + request.query_length > head + size))
            abort();
        /* the helpers the protocols use on the path and the query string */
        for (size_t index = 0; index < 4; index++) {
            int got = gim_url_path_segment(request.rest, request.rest_length, index, value,
                                           sizeof(value));
            if (got == GIM_OK && (strlen(value) >= sizeof(value) || strchr(value, '/') != NULL))
                abort();
        }
        status = websocket_form_value(&request, "token", value, sizeof(value));
        if (status == GIM_OK && strlen(value) >= sizeof(value))
            abort();
        if (status != GIM_OK && status != GIM_ERR_NOT_FOUND && status != GIM_ERR_INVALID &&
            status != GIM_ERR_TOO_LARGE)
            abort();
        memset(accept, 0x5a, sizeof(accept));
        status = websocket_check_upgrade(&request, accept);
        if (status == GIM_OK) {
            if (memchr(accept, '\0', sizeof(accept)) == NULL || strlen(accept) != 28 ||
                !request.upgrade || request.post)
                abort();
        } else if (status != GIM_ERR_INVALID) {
            abort();
        }
    } else if (status != 400 && status != 411 && status != 413) {
        abort();
    }
    free(head);
    return 0;
}
