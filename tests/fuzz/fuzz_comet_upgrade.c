/*
 * fuzz_comet_upgrade.c: libFuzzer target for comet's WebSocket upgrade check
 * (websocket_check_upgrade in comet/websocket.c, with the paths comet serves), the first thing
 * comet parses from an untrusted WebSocket client. Checks that an accepted head always yields a
 * 28-character accept value and that a rejected one is reported as invalid, never as anything else;
 * the head is passed without a terminator, so reading past it is an ASan report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comet/listener.h"
#include "comet/websocket.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];
    const struct websocket_path *matched = NULL;
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
    status = websocket_check_upgrade(head, size, comet_websocket_paths, comet_websocket_path_count,
                                     &matched, accept);
    if (status == GIM_OK) {
        if (memchr(accept, '\0', sizeof(accept)) == NULL || strlen(accept) != 28)
            abort();
        /* the path matched is the one the request line names */
        if (matched == NULL || size < 4 + strlen(matched->path) ||
            memcmp(head + 4, matched->path, strlen(matched->path)) != 0)
            abort();
    } else if (status != GIM_ERR_INVALID) {
        abort();
    }
    free(head);
    return 0;
}
