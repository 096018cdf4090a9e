/*
 * fuzz_comet_gusher_command.c: libFuzzer target for gusher's command parser and reply encoders
 * (comet/gusher_command.c). A command that parses must have what its kind needs (ping's raw
 * data inside the input), and every reply built from it must be valid JSON that reads back to
 * the same names. The input's first line, when short, is also an allowed-list pattern checked
 * against the rest with a reference matcher (backtracking, small inputs only).
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comet/gusher_command.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* '*' = one or more characters but '\n', anchored; by backtracking. */
static int reference_match(const char *pattern, const char *channel)
{
    if (*pattern == '\0')
        return *channel == '\0';
    if (*pattern == '*') {
        const char *at;
        for (at = channel; *at != '\0' && *at != '\n'; at++)
            if (reference_match(pattern + 1, at + 1))
                return 1;
        return 0;
    }
    return *channel == *pattern && reference_match(pattern + 1, channel + 1);
}

/* The reply must read back as an object whose data.key is the string expected. */
static void check_reply(char *text, size_t length, const char *key, const char *expected)
{
    json_t *root;
    const char *value;

    if (text == NULL)
        return; /* no memory */
    if (length != strlen(text))
        abort();
    root = json_loads(text, 0, NULL);
    value = json_string_value(json_object_get(json_object_get(root, "data"), key));
    if (root == NULL || value == NULL || strcmp(value, expected) != 0)
        abort();
    json_decref(root);
    free(text);
}

/* The pong's data must be the base64 of the raw bytes. */
static void check_pong(const struct gusher_command *command)
{
    size_t length;
    char *text = gusher_reply_pong("s", command->ping_data, command->ping_data_length, 1, &length);
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    const char *encoded = json_string_value(json_object_get(root, "data"));
    unsigned char *decoded;
    int decoded_length;

    if (text == NULL)
        return;
    if (encoded == NULL)
        abort();
    decoded = malloc(strlen(encoded) / 4 * 3 + 1);
    decoded_length = EVP_DecodeBlock(decoded, (const unsigned char *)encoded, (int)strlen(encoded));
    /* EVP_DecodeBlock keeps the padding's zero bytes */
    if (decoded_length < (int)command->ping_data_length ||
        memcmp(decoded, command->ping_data, command->ping_data_length) != 0)
        abort();
    free(decoded);
    json_decref(root);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct gusher_command command;
    const uint8_t *newline = memchr(data, '\n', size);
    size_t length;
    int status;

    if (newline != NULL && newline - data < 16 && size < 64 && memchr(data, '\0', size) == NULL) {
        char pattern[16], channel[64];
        size_t pattern_length = (size_t)(newline - data);
        memcpy(pattern, data, pattern_length);
        pattern[pattern_length] = '\0';
        memcpy(channel, newline + 1, size - pattern_length - 1);
        channel[size - pattern_length - 1] = '\0';
        if (gusher_pattern_matches(pattern, channel) != (reference_match(pattern, channel) != 0))
            abort();
    }

    status = gusher_command_parse(text, size, &command);
    if (status != GIM_OK) {
        if (status != GIM_ERR_INVALID && status != GIM_ERR_NO_MEMORY)
            abort();
        return 0;
    }
    switch (command.kind) {
    case GUSHER_COMMAND_SUBSCRIBE:
    case GUSHER_COMMAND_UNSUBSCRIBE:
        if (command.channel == NULL)
            abort();
        check_reply(gusher_reply_channel(GUSHER_SUBSCRIBE_SUCCEEDED, "s", command.channel, &length),
                    length, "channel", command.channel);
        if (gusher_channel_allowed(NULL, 0, command.channel))
            abort();
        break;
    case GUSHER_COMMAND_MULTI_SUBSCRIBE: {
        char *text_reply =
            gusher_reply_channel_list(GUSHER_MULTI_SUBSCRIBE_ERROR, "s", "channel",
                                      command.channels, command.channel_count, &length);
        json_t *root = text_reply ? json_loads(text_reply, 0, NULL) : NULL;
        if (text_reply != NULL &&
            json_array_size(json_object_get(json_object_get(root, "data"), "channel")) !=
                command.channel_count)
            abort();
        json_decref(root);
        free(text_reply);
        if (command.channel_count > 0 &&
            !gusher_channels_all_allowed(command.channels, command.channel_count, command.channels,
                                         command.channel_count))
            abort();
        break;
    }
    case GUSHER_COMMAND_QUERYCHANNEL:
        break;
    case GUSHER_COMMAND_PING:
        if (command.ping_data < text || command.ping_data + command.ping_data_length > text + size)
            abort();
        check_pong(&command);
        break;
    case GUSHER_COMMAND_REMOTE: {
        char *job;
        if (command.remote == NULL || command.uid == NULL || command.payload == NULL)
            abort();
        check_reply(gusher_reply_remote(GUSHER_REMOTE_ERROR, "s", command.remote, &length), length,
                    "remote", command.remote);
        job = gusher_remote_job("u", "s", command.uid, "app", command.payload,
                                command.payload_length, &length);
        if (job != NULL) {
            json_t *root = json_loads(job, JSON_DECODE_INT_AS_REAL, NULL);
            if (root == NULL ||
                strcmp(json_string_value(json_object_get(root, "uid")), command.uid) != 0)
                abort();
            json_decref(root);
            free(job);
        }
        break;
    }
    default:
        abort();
    }
    gusher_command_clear(&command);
    return 0;
}
