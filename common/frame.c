/* frame.c: goim frame header codec (see frame.h). */
#include "frame.h"

#include <string.h>

#include "status.h"

int gim_frame_decode_header(const uint8_t *data, size_t length, size_t max_body,
                            struct gim_frame_header *header)
{
    uint32_t packet_length;
    uint16_t header_length;

    if (length < GIM_FRAME_HEADER_SIZE)
        return GIM_ERR_AGAIN;
    packet_length = gim_read_u32(data);
    header_length = gim_read_u16(data + 4);
    if (header_length != GIM_FRAME_HEADER_SIZE)
        return GIM_ERR_INVALID;
    /* A packet length with the sign bit set is negative for goim's int32. */
    if (packet_length < GIM_FRAME_HEADER_SIZE || packet_length > INT32_MAX)
        return GIM_ERR_INVALID;
    if ((size_t)(packet_length - GIM_FRAME_HEADER_SIZE) > max_body)
        return GIM_ERR_TOO_LARGE;
    header->packet_length = packet_length;
    header->header_length = header_length;
    header->version = gim_read_u16(data + 6);
    header->operation = (int32_t)gim_read_u32(data + 8);
    header->sequence = (int32_t)gim_read_u32(data + 12);
    return GIM_OK;
}

void gim_frame_encode_header(uint8_t out[GIM_FRAME_HEADER_SIZE], uint32_t body_length,
                             uint16_t version, int32_t operation, int32_t sequence)
{
    gim_write_u32(out, body_length + GIM_FRAME_HEADER_SIZE);
    gim_write_u16(out + 4, GIM_FRAME_HEADER_SIZE);
    gim_write_u16(out + 6, version);
    gim_write_u32(out + 8, (uint32_t)operation);
    gim_write_u32(out + 12, (uint32_t)sequence);
}

size_t gim_frame_encode(uint8_t *out, size_t capacity, uint16_t version, int32_t operation,
                        int32_t sequence, const uint8_t *body, size_t body_length)
{
    if (body_length > INT32_MAX - GIM_FRAME_HEADER_SIZE ||
        capacity < GIM_FRAME_HEADER_SIZE + body_length)
        return 0;
    gim_frame_encode_header(out, (uint32_t)body_length, version, operation, sequence);
    if (body_length > 0)
        memcpy(out + GIM_FRAME_HEADER_SIZE, body, body_length);
    return GIM_FRAME_HEADER_SIZE + body_length;
}
