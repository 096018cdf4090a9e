/* auth.c: decoding the client's auth JSON with jansson (see auth.h). */
#include "logic/auth.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/status.h"

void auth_token_free(struct auth_token *token)
{
    free(token->key);
    free(token->room_id);
    free(token->platform);
    free(token->accepts);
    free(token->token);
    memset(token, 0, sizeof(*token));
}

/* Copies the string field `name` of object (absent or null: ""). */
static int auth_string_field(const json_t *object, const char *name, char **out, char *error,
                             size_t error_size)
{
    const json_t *value = json_object_get(object, name);
    const char *text = "";

    if (value != NULL && !json_is_null(value)) {
        if (!json_is_string(value)) {
            snprintf(error, error_size, "auth: %s: not a string", name);
            return GIM_ERR_INVALID;
        }
        text = json_string_value(value);
    }
    *out = strdup(text);
    return *out == NULL ? GIM_ERR_NO_MEMORY : GIM_OK;
}

static int auth_accepts_field(const json_t *object, struct auth_token *out, char *error,
                              size_t error_size)
{
    const json_t *value = json_object_get(object, "accepts");
    const json_t *item;
    size_t index;

    if (value == NULL || json_is_null(value))
        return GIM_OK;
    if (!json_is_array(value)) {
        snprintf(error, error_size, "auth: accepts: not an array");
        return GIM_ERR_INVALID;
    }
    if (json_array_size(value) == 0)
        return GIM_OK;
    out->accepts = calloc(json_array_size(value), sizeof(*out->accepts));
    if (out->accepts == NULL)
        return GIM_ERR_NO_MEMORY;
    json_array_foreach(value, index, item)
    {
        json_int_t operation;
        if (!json_is_integer(item)) {
            snprintf(error, error_size, "auth: accepts[%zu]: not an integer", index);
            return GIM_ERR_INVALID;
        }
        operation = json_integer_value(item);
        if (operation < INT32_MIN || operation > INT32_MAX) {
            snprintf(error, error_size, "auth: accepts[%zu]: out of int32 range", index);
            return GIM_ERR_INVALID;
        }
        out->accepts[out->accept_count++] = (int32_t)operation;
    }
    return GIM_OK;
}

int auth_token_parse(const uint8_t *token, size_t length, struct auth_token *out, char *error,
                     size_t error_size)
{
    json_error_t json_error;
    json_t *root, *mid;
    int status;

    memset(out, 0, sizeof(*out));
    /* jansson rejects \u0000 inside strings by default and integers beyond int64. */
    root = json_loadb((const char *)token, length, 0, &json_error);
    if (root == NULL) {
        snprintf(error, error_size, "auth: invalid JSON: %s", json_error.text);
        return GIM_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        snprintf(error, error_size, "auth: not a JSON object");
        json_decref(root);
        return GIM_ERR_INVALID;
    }
    status = GIM_OK;
    mid = json_object_get(root, "mid");
    if (mid != NULL && !json_is_null(mid)) {
        if (json_is_integer(mid)) {
            out->mid = json_integer_value(mid);
        } else {
            snprintf(error, error_size, "auth: mid: not an integer");
            status = GIM_ERR_INVALID;
        }
    }
    if (status == GIM_OK)
        status = auth_string_field(root, "key", &out->key, error, error_size);
    if (status == GIM_OK)
        status = auth_string_field(root, "room_id", &out->room_id, error, error_size);
    if (status == GIM_OK)
        status = auth_string_field(root, "platform", &out->platform, error, error_size);
    if (status == GIM_OK)
        status = auth_accepts_field(root, out, error, error_size);
    if (status == GIM_OK)
        status = auth_string_field(root, "token", &out->token, error, error_size);
    json_decref(root);
    return status;
}

int auth_random_bytes(uint8_t *out, size_t length)
{
    size_t filled = 0;

    while (filled < length) {
        ssize_t got = getrandom(out + filled, length - filled, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return GIM_ERR_IO;
        filled += (size_t)got;
    }
    return GIM_OK;
}

int auth_generate_key(char out[37])
{
    uint8_t random[16];

    if (auth_random_bytes(random, sizeof(random)) != GIM_OK)
        return GIM_ERR_IO;
    random[6] = (uint8_t)((random[6] & 0x0f) | 0x40); /* version 4 */
    random[8] = (uint8_t)((random[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             random[0], random[1], random[2], random[3], random[4], random[5], random[6], random[7],
             random[8], random[9], random[10], random[11], random[12], random[13], random[14],
             random[15]);
    return GIM_OK;
}
