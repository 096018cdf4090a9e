/* loadgen_websocket.c: the load generator's RFC 6455 client codec (see loadgen_websocket.h). */
#include "tests/bench/loadgen_websocket.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/status.h"
#include "common/websocket_frame.h"

static const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* A piece of the response head: not NUL-terminated. */
struct span {
    const char *text;
    size_t length;
};

void loadgen_websocket_make_key(const uint8_t nonce[LOADGEN_WEBSOCKET_NONCE_SIZE],
                                char key[LOADGEN_WEBSOCKET_KEY_SIZE],
                                char expected_accept[LOADGEN_WEBSOCKET_ACCEPT_SIZE])
{
    char key_and_guid[LOADGEN_WEBSOCKET_KEY_SIZE + sizeof(websocket_guid)];
    unsigned char digest[SHA_DIGEST_LENGTH];

    /* base64 of 16 bytes is 24 characters, of 20 bytes 28: EVP_EncodeBlock adds the NUL */
    EVP_EncodeBlock((unsigned char *)key, nonce, LOADGEN_WEBSOCKET_NONCE_SIZE);
    snprintf(key_and_guid, sizeof(key_and_guid), "%s%s", key, websocket_guid);
    SHA1((const unsigned char *)key_and_guid, strlen(key_and_guid), digest);
    EVP_EncodeBlock((unsigned char *)expected_accept, digest, SHA_DIGEST_LENGTH);
}

size_t loadgen_websocket_upgrade_request(char *out, size_t capacity, const char *host,
                                         const char *target, const char *key)
{
    int length = snprintf(out, capacity,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n",
                          target, host, key);

    /* snprintf needs room for its NUL too: a request of exactly capacity bytes counts as too big */
    if (length < 0 || (size_t)length >= capacity)
        return 0;
    return (size_t)length;
}

static struct span trim(struct span value)
{
    while (value.length > 0 && (value.text[0] == ' ' || value.text[0] == '\t')) {
        value.text++;
        value.length--;
    }
    while (value.length > 0 &&
           (value.text[value.length - 1] == ' ' || value.text[value.length - 1] == '\t'))
        value.length--;
    return value;
}

static bool span_equals_ignoring_case(struct span value, const char *expected)
{
    size_t expected_length = strlen(expected);
    return value.length == expected_length &&
           strncasecmp(value.text, expected, expected_length) == 0;
}

/* True if the comma-separated list value holds token (case-insensitive). */
static bool list_has_token(struct span value, const char *token)
{
    while (value.length > 0) {
        const char *comma = memchr(value.text, ',', value.length);
        size_t item_length = comma != NULL ? (size_t)(comma - value.text) : value.length;
        struct span item = {value.text, item_length};

        if (span_equals_ignoring_case(trim(item), token))
            return true;
        if (comma == NULL)
            break;
        value.text += item_length + 1;
        value.length -= item_length + 1;
    }
    return false;
}

/* Checks the status line: HTTP/1.1, then status 101 followed by a space or the line's end. */
static bool status_is_101(struct span line)
{
    static const char prefix[] = "HTTP/1.1 101";
    size_t prefix_length = sizeof(prefix) - 1;

    if (line.length < prefix_length || memcmp(line.text, prefix, prefix_length) != 0)
        return false;
    return line.length == prefix_length || line.text[prefix_length] == ' ';
}

int loadgen_websocket_check_response(const uint8_t *data, size_t length,
                                     const char *expected_accept, size_t *head_length)
{
    size_t searched =
        length < LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD ? length : LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD;
    const char *head = (const char *)data;
    const char *end = memmem(head, searched, "\r\n\r\n", 4);
    bool upgrade_ok = false, connection_ok = false, accept_ok = false;
    size_t offset = 0;
    bool first_line = true;

    if (end == NULL)
        return length >= LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD ? GIM_ERR_TOO_LARGE : GIM_ERR_AGAIN;
    /* every line of head[0 .. end + 2) ends with CRLF; the last CRLF is the blank line */
    while (offset < (size_t)(end - head) + 2) {
        const char *line_end = memmem(head + offset, (size_t)(end - head) + 2 - offset, "\r\n", 2);
        struct span line = {head + offset, (size_t)(line_end - (head + offset))};
        const char *colon;
        struct span name, value;

        offset += line.length + 2;
        if (memchr(line.text, '\0', line.length) != NULL)
            return GIM_ERR_INVALID;
        if (first_line) {
            if (!status_is_101(line))
                return GIM_ERR_INVALID;
            first_line = false;
            continue;
        }
        colon = memchr(line.text, ':', line.length);
        if (colon == NULL || line.text[0] == ' ' || line.text[0] == '\t')
            return GIM_ERR_INVALID; /* not "name: value", or an obsolete folded line */
        name = (struct span){line.text, (size_t)(colon - line.text)};
        value = trim((struct span){colon + 1, line.length - name.length - 1});
        if (span_equals_ignoring_case(name, "Upgrade")) {
            upgrade_ok = span_equals_ignoring_case(value, "websocket");
        } else if (span_equals_ignoring_case(name, "Connection")) {
            connection_ok = list_has_token(value, "upgrade");
        } else if (span_equals_ignoring_case(name, "Sec-WebSocket-Accept")) {
            if (accept_ok || value.length != strlen(expected_accept) ||
                memcmp(value.text, expected_accept, value.length) != 0)
                return GIM_ERR_INVALID; /* wrong, or given twice */
            accept_ok = true;
        } else if (span_equals_ignoring_case(name, "Sec-WebSocket-Extensions") ||
                   span_equals_ignoring_case(name, "Sec-WebSocket-Protocol")) {
            if (value.length > 0)
                return GIM_ERR_INVALID; /* none was asked for (RFC 6455 4.1) */
        }
    }
    if (!upgrade_ok || !connection_ok || !accept_ok)
        return GIM_ERR_INVALID;
    *head_length = (size_t)(end - head) + 4;
    return GIM_OK;
}

size_t loadgen_websocket_encode(uint8_t *out, size_t capacity, uint8_t opcode,
                                const uint8_t *payload, size_t payload_length,
                                const uint8_t mask[4])
{
    uint8_t header[GIM_WEBSOCKET_MAX_HEADER];
    size_t header_length;

    if (!gim_websocket_opcode_is_known(opcode) ||
        (opcode >= GIM_WEBSOCKET_CLOSE && payload_length > GIM_WEBSOCKET_MAX_CONTROL_PAYLOAD))
        return 0;
    header_length = gim_websocket_encode_header(header, true, opcode, payload_length, mask);
    if (capacity < header_length || payload_length > capacity - header_length)
        return 0;
    memcpy(out, header, header_length);
    for (size_t index = 0; index < payload_length; index++)
        out[header_length + index] = payload[index] ^ mask[index % 4];
    return header_length + payload_length;
}

int loadgen_websocket_decode(const uint8_t *data, size_t length, size_t max_payload,
                             struct loadgen_websocket_frame *frame)
{
    struct gim_websocket_frame header;
    int status = gim_websocket_decode_header(data, length, &header);

    if (status != GIM_OK)
        return status;
    if (header.masked || !header.shortest_length)
        return GIM_ERR_INVALID; /* a server never masks; lengths take their shortest form */
    if (header.payload_length > max_payload)
        return GIM_ERR_TOO_LARGE;
    if (length - header.header_length < header.payload_length)
        return GIM_ERR_AGAIN;
    frame->opcode = header.opcode;
    frame->final = header.final;
    frame->header_length = header.header_length;
    frame->payload_length = (size_t)header.payload_length;
    return GIM_OK;
}
