/* websocket_frame.c: RFC 6455 frame headers (see websocket_frame.h). */
#include "common/websocket_frame.h"

#include <string.h>

#include "common/status.h"

bool gim_websocket_opcode_is_known(uint8_t opcode)
{
    return opcode <= GIM_WEBSOCKET_BINARY ||
           (opcode >= GIM_WEBSOCKET_CLOSE && opcode <= GIM_WEBSOCKET_PONG);
}

int gim_websocket_decode_header(const uint8_t *data, size_t length,
                                struct gim_websocket_frame *frame)
{
    uint8_t opcode, short_length;
    uint64_t payload_length;
    size_t header_length = 2;
    bool final, masked;

    if (length < 2)
        return GIM_ERR_AGAIN;
    opcode = data[0] & 0x0f;
    final = (data[0] & 0x80) != 0;
    masked = (data[1] & 0x80) != 0;
    short_length = data[1] & 0x7f;
    if ((data[0] & 0x70) != 0 || !gim_websocket_opcode_is_known(opcode))
        return GIM_ERR_INVALID; /* reserved bits or opcode */
    if (opcode >= GIM_WEBSOCKET_CLOSE &&
        (!final || short_length > GIM_WEBSOCKET_MAX_CONTROL_PAYLOAD))
        return GIM_ERR_INVALID;
    payload_length = short_length;
    if (short_length == 126) {
        if (length < 4)
            return GIM_ERR_AGAIN;
        payload_length = (uint64_t)data[2] << 8 | data[3];
        header_length = 4;
    } else if (short_length == 127) {
        if (length < 10)
            return GIM_ERR_AGAIN;
        payload_length = 0;
        for (int index = 0; index < 8; index++)
            payload_length = payload_length << 8 | data[2 + index];
        header_length = 10;
        if ((payload_length >> 63) != 0)
            return GIM_ERR_INVALID;
    }
    if (masked) {
        if (length < header_length + 4)
            return GIM_ERR_AGAIN;
        memcpy(frame->mask, data + header_length, 4);
        header_length += 4;
    }
    frame->opcode = opcode;
    frame->final = final;
    frame->masked = masked;
    frame->shortest_length = short_length == 126   ? payload_length >= 126
                             : short_length == 127 ? payload_length > 0xffff
                                                   : true;
    frame->header_length = header_length;
    frame->payload_length = payload_length;
    return GIM_OK;
}

size_t gim_websocket_encode_header(uint8_t out[GIM_WEBSOCKET_MAX_HEADER], bool final,
                                   uint8_t opcode, uint64_t payload_length, const uint8_t mask[4])
{
    uint8_t mask_bit = mask != NULL ? 0x80 : 0;
    size_t header_length;

    out[0] = (uint8_t)((final ? 0x80 : 0) | (opcode & 0x0f));
    if (payload_length < 126) {
        out[1] = (uint8_t)(mask_bit | payload_length);
        header_length = 2;
    } else if (payload_length <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(payload_length >> 8);
        out[3] = (uint8_t)payload_length;
        header_length = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int index = 0; index < 8; index++)
            out[2 + index] = (uint8_t)(payload_length >> (56 - 8 * index));
        header_length = 10;
    }
    if (mask != NULL) {
        memcpy(out + header_length, mask, 4);
        header_length += 4;
    }
    return header_length;
}
