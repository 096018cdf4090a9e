/*
 * loadgen_websocket.h: the client side of RFC 6455 for the load generator (loadgen_worker.c).
 *
 * Pure codec, no I/O: the upgrade request (goim's path /sub, or gusher's ws path with its token)
 * with its Sec-WebSocket-Key, the
 * check of the server's 101 answer (Upgrade, Connection and Sec-WebSocket-Accept, SHA-1 through
 * OpenSSL's libcrypto), masked client frames, and the header of server frames. Every length is
 * checked before anything reads past it: a server frame is never masked, has no reserved bits, a
 * known opcode, the shortest length encoding, and a control frame is final and at most 125 bytes.
 */
#ifndef BENCH_LOADGEN_WEBSOCKET_H
#define BENCH_LOADGEN_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/websocket_frame.h"

/* Bytes of random nonce in a Sec-WebSocket-Key (RFC 6455 4.1). */
#define LOADGEN_WEBSOCKET_NONCE_SIZE 16
/* A Sec-WebSocket-Key (base64 of the nonce) plus its NUL. */
#define LOADGEN_WEBSOCKET_KEY_SIZE 25
/* A Sec-WebSocket-Accept (base64 of a SHA-1 digest) plus its NUL. */
#define LOADGEN_WEBSOCKET_ACCEPT_SIZE 29
/* Largest response head accepted, status line to blank line included. */
#define LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD 4096
/* One server frame whose bytes have all arrived. */
struct loadgen_websocket_frame {
    uint8_t opcode; /* enum gim_websocket_opcode */
    bool final;     /* FIN bit */
    size_t header_length;
    size_t
        payload_length; /* the payload is data[header_length .. header_length + payload_length) */
};

/*
 * Turns nonce (LOADGEN_WEBSOCKET_NONCE_SIZE random bytes, still the caller's) into the
 * Sec-WebSocket-Key to send and the Sec-WebSocket-Accept the server must answer with (base64 of
 * SHA-1 of the key and RFC 6455's GUID). Writes both NUL-terminated into the caller's arrays.
 */
void loadgen_websocket_make_key(const uint8_t nonce[LOADGEN_WEBSOCKET_NONCE_SIZE],
                                char key[LOADGEN_WEBSOCKET_KEY_SIZE],
                                char expected_accept[LOADGEN_WEBSOCKET_ACCEPT_SIZE]);

/*
 * Writes the HTTP/1.1 upgrade request for target ("GET <target>", e.g. "/sub" or
 * "/gusher/ws/app?token=..."; Host: host, Upgrade: websocket, Connection: Upgrade,
 * Sec-WebSocket-Key: key, Sec-WebSocket-Version: 13) into out[0..capacity), without a NUL. host
 * ("127.0.0.1:23102"), target and key stay the caller's; target must already be a valid request
 * target (percent-encoded where needed). Returns the request's length, or 0 if it does not fit
 * (out's content is then unspecified).
 */
size_t loadgen_websocket_upgrade_request(char *out, size_t capacity, const char *host,
                                         const char *target, const char *key);

/*
 * Checks the server's answer at the start of data[0..length) (the bytes read so far; frames may
 * follow the head). Returns GIM_OK when the head is complete and is a 101 with Upgrade: websocket,
 * a Connection list holding "upgrade", Sec-WebSocket-Accept equal to expected_accept and no
 * extension or subprotocol, and sets *head_length to the head's size (blank line included);
 * GIM_ERR_AGAIN when the blank line has not arrived yet and length is at most
 * LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD; GIM_ERR_TOO_LARGE when no head ends within that bound;
 * GIM_ERR_INVALID for any other answer.
 */
int loadgen_websocket_check_response(const uint8_t *data, size_t length,
                                     const char *expected_accept, size_t *head_length);

/*
 * Writes one final, masked client frame of opcode carrying payload[0..payload_length) into
 * out[0..capacity), masked with mask (4 bytes, the caller's; RFC 6455 wants them unpredictable).
 * payload may be NULL when payload_length is 0; out must not overlap it. A control opcode takes
 * at most 125 bytes. Returns the frame's size, or 0 if it does not fit or the opcode is unknown or
 * the control payload too long.
 */
size_t loadgen_websocket_encode(uint8_t *out, size_t capacity, uint8_t opcode,
                                const uint8_t *payload, size_t payload_length,
                                const uint8_t mask[4]);

/*
 * Decodes the server frame at the start of data[0..length). Returns GIM_OK and fills *frame when
 * the whole frame is in data; GIM_ERR_AGAIN when more bytes are needed (nothing is consumed);
 * GIM_ERR_TOO_LARGE when its payload is over max_payload (known from the header alone, so a
 * caller never buffers more than max_payload + 10 bytes); GIM_ERR_INVALID when it is masked, has
 * reserved bits, an unknown opcode, a length not in its shortest encoding (or with the top bit of
 * the 64-bit form), or is a control frame that is not final or carries more than 125 bytes.
 */
int loadgen_websocket_decode(const uint8_t *data, size_t length, size_t max_payload,
                             struct loadgen_websocket_frame *frame);

#endif
