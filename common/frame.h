/*
 * frame.h: goim's client frame, the 16-byte big-endian header and its body.
 *
 *   offset 0  int32 packet length (16 + body length)
 *   offset 4  int16 header length (always 16)
 *   offset 6  int16 version
 *   offset 8  int32 operation
 *   offset 12 int32 sequence
 *
 * Decoding checks every length before anything else reads the body: a
 * header length other than 16, a packet length under 16, or a body over the
 * caller's limit (GIM_FRAME_MAX_CLIENT_BODY for client frames) is rejected.
 */
#ifndef GIM_FRAME_H
#define GIM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define GIM_FRAME_HEADER_SIZE     16
#define GIM_FRAME_MAX_CLIENT_BODY 4096

/* goim's operation codes (api/protocol/operation.go). */
enum gim_operation {
    GIM_OP_HANDSHAKE = 0,
    GIM_OP_HANDSHAKE_REPLY = 1,
    GIM_OP_HEARTBEAT = 2,
    GIM_OP_HEARTBEAT_REPLY = 3,
    GIM_OP_SEND_MSG = 4,
    GIM_OP_SEND_MSG_REPLY = 5,
    GIM_OP_DISCONNECT_REPLY = 6,
    GIM_OP_AUTH = 7,
    GIM_OP_AUTH_REPLY = 8,
    GIM_OP_RAW = 9,
    GIM_OP_PROTO_READY = 10,
    GIM_OP_PROTO_FINISH = 11,
    GIM_OP_CHANGE_ROOM = 12,
    GIM_OP_CHANGE_ROOM_REPLY = 13,
    GIM_OP_SUB = 14,
    GIM_OP_SUB_REPLY = 15,
    GIM_OP_UNSUB = 16,
    GIM_OP_UNSUB_REPLY = 17
};

struct gim_frame_header {
    uint32_t packet_length; /* header + body, already checked against the limit */
    uint16_t header_length; /* always GIM_FRAME_HEADER_SIZE after a successful decode */
    uint16_t version;
    int32_t operation;
    int32_t sequence;
};

/*
 * Decodes the header at the start of data[0..length).
 * max_body is the largest body accepted (GIM_FRAME_MAX_CLIENT_BODY for
 * client input; SIZE_MAX-like values for trusted server frames).
 * Returns GIM_OK and fills *header; GIM_ERR_AGAIN if fewer than 16 bytes are
 * available (nothing read); GIM_ERR_INVALID if the header length is not 16
 * or the packet length is under 16; GIM_ERR_TOO_LARGE if the body is over
 * max_body. The body is data[16 .. header->packet_length) once that many
 * bytes have arrived; this function does not require them.
 */
int gim_frame_decode_header(const uint8_t *data, size_t length, size_t max_body,
                            struct gim_frame_header *header);

/* Writes a 16-byte header for a body of body_length bytes into out. */
void gim_frame_encode_header(uint8_t out[GIM_FRAME_HEADER_SIZE], uint32_t body_length,
                             uint16_t version, int32_t operation, int32_t sequence);

/*
 * Writes a whole frame (header then body) into out[0..capacity).
 * Returns the frame's size, or 0 if it does not fit (out is then untouched).
 * body may be NULL when body_length is 0.
 */
size_t gim_frame_encode(uint8_t *out, size_t capacity, uint16_t version, int32_t operation,
                        int32_t sequence, const uint8_t *body, size_t body_length);

/* Big-endian helpers used by the codec and its callers. */
static inline uint32_t gim_read_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t gim_read_u16(const uint8_t *p)
{
    return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

static inline void gim_write_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void gim_write_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif
