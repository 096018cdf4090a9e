/*
 * websocket_frame.h: RFC 6455 frame headers, read and written, in one place.
 *
 * Pure functions, no I/O, shared by comet (client frames in, server frames
 * out), the benchmark's load generator (the other way round) and the fuzz
 * oracle. Only the header's own form is checked here; what a side demands of
 * its peer (a server wants masked frames, a client unmasked ones, a bound on
 * the payload, the shortest length encoding) is the caller's check.
 */
#ifndef GIM_WEBSOCKET_FRAME_H
#define GIM_WEBSOCKET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key. */
#define GIM_WEBSOCKET_MAX_HEADER 14

/* Largest control frame payload (close, ping, pong). */
#define GIM_WEBSOCKET_MAX_CONTROL_PAYLOAD 125

enum gim_websocket_opcode {
    GIM_WEBSOCKET_CONTINUATION = 0x0,
    GIM_WEBSOCKET_TEXT = 0x1,
    GIM_WEBSOCKET_BINARY = 0x2,
    GIM_WEBSOCKET_CLOSE = 0x8,
    GIM_WEBSOCKET_PING = 0x9,
    GIM_WEBSOCKET_PONG = 0xa
};

/* One decoded frame header. */
struct gim_websocket_frame {
    uint8_t opcode; /* enum gim_websocket_opcode */
    bool final;     /* FIN bit */
    bool masked;    /* MASK bit; the key is mask[] */
    uint8_t mask[4];
    bool shortest_length; /* the length uses its shortest encoding */
    size_t header_length; /* 2 to 14, masking key included */
    uint64_t payload_length;
};

/* True for the six opcodes RFC 6455 defines. */
bool gim_websocket_opcode_is_known(uint8_t opcode);

/*
 * Decodes the header at the start of data[0..length) (the payload need not
 * have arrived). Returns GIM_OK and fills *frame; GIM_ERR_AGAIN when the
 * header itself is not complete (nothing is filled); GIM_ERR_INVALID for
 * reserved bits, an unknown opcode, a control frame that is not final or
 * announces over 125 bytes, or a 64-bit length with its top bit set.
 */
int gim_websocket_decode_header(const uint8_t *data, size_t length,
                                struct gim_websocket_frame *frame);

/*
 * Writes the header of a frame (FIN as final, opcode, payload_length in its
 * shortest encoding, then the masking key when mask is not NULL) into out.
 * Returns the header's size (2 to 14). The caller masks the payload itself.
 */
size_t gim_websocket_encode_header(uint8_t out[GIM_WEBSOCKET_MAX_HEADER], bool final,
                                   uint8_t opcode, uint64_t payload_length, const uint8_t mask[4]);

#endif
