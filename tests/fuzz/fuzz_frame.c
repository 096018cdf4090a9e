/*
 * fuzz_frame.c: libFuzzer target for the goim frame codec (common/frame.c).
 *
 * The input is a byte stream as a client would send it. It is cut into frames the way comet's
 * reader does (decode the header, check the lengths, skip the body) and every invariant the
 * readers rely on is checked: an accepted header never claims a body over the client limit or a
 * packet shorter than its header, and re-encoding an accepted header gives the same 16 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t offset = 0;

    while (offset < size) {
        struct gim_frame_header header;
        uint8_t again[GIM_FRAME_HEADER_SIZE];
        int status = gim_frame_decode_header(data + offset, size - offset,
                                             GIM_FRAME_MAX_CLIENT_BODY, &header);
        if (status == GIM_ERR_AGAIN) {
            if (size - offset >= GIM_FRAME_HEADER_SIZE)
                abort(); /* a whole header was there */
            break;
        }
        if (status != GIM_OK) {
            if (status != GIM_ERR_INVALID && status != GIM_ERR_TOO_LARGE)
                abort();
            break; /* comet closes the connection here */
        }
        if (header.packet_length < GIM_FRAME_HEADER_SIZE ||
            header.packet_length - GIM_FRAME_HEADER_SIZE > GIM_FRAME_MAX_CLIENT_BODY ||
            header.header_length != GIM_FRAME_HEADER_SIZE)
            abort();
        gim_frame_encode_header(again, header.packet_length - GIM_FRAME_HEADER_SIZE, header.version,
                                header.operation, header.sequence);
        if (memcmp(again, data + offset, GIM_FRAME_HEADER_SIZE) != 0)
            abort();
        if (header.packet_length > size - offset)
            break; /* the body has not arrived yet */
        offset += header.packet_length;
    }
    return 0;
}
