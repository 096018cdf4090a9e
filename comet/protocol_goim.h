/*
 * protocol_goim.h: goim's client protocol (reference section 2), on any framing.
 *
 * Every client message is exactly one goim frame (header and body, body at
 * most 4096 bytes; a message that is not closes the connection). Before auth
 * only op 7 counts (others are ignored, as goim); op 7 starts an
 * asynchronous logic Connect and pauses reading until its result comes back
 * through the loop's inbox, then connection_authenticate. After auth op 2 is
 * answered with op 3 + the room's online count, 12/14/16 change room (leave
 * all, join one) and the watched operations, and any other op is answered
 * with the same op and an empty body (and forwarded to logic Receive, fire
 * and forget). A closed authenticated connection that was not replaced by a
 * newer one with its key sends logic Disconnect.
 * Pushes: on a stream (TCP) an OpRaw (op 9) push's body is written as is and
 * any other push as one frame; on WebSocket every push is one binary message
 * holding one frame, an OpRaw body wrapped in an op-9 frame (ver 1, seq 0), as
 * goim's JavaScript client expects.
 */
#ifndef COMET_PROTOCOL_GOIM_H
#define COMET_PROTOCOL_GOIM_H

#include "comet/protocol.h"

extern const struct client_protocol protocol_goim;

/*
 * One goim frame (header + body) as one message of framing: the caller's
 * reference, or NULL if memory is short or it is too large.
 */
struct gim_shared_buffer *goim_encode_frame(const struct framing *framing, uint16_t version,
                                            int32_t operation, int32_t sequence,
                                            const uint8_t *body, size_t body_length);

#endif
