/* gusher_command.c: gusher's client commands, permission rules and reply bytes (see
 * gusher_command.h). */
#include "comet/gusher_command.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/go_json.h"
#include "common/status.h"
#include "common/text.h"

/* ---- raw member spans (ping answers the bytes the client wrote) ---- */

static size_t skip_space(const char *text, size_t length, size_t at)
{
    while (at < length &&
           (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
        at++;
    return at;
}

/* End (one past the closing quote) of the string starting at text[at] == '"'. */
static size_t skip_string(const char *text, size_t length, size_t at)
{
    for (at++; at < length; at++) {
        if (text[at] == '\\')
            at++;
        else if (text[at] == '"')
            return at + 1;
    }
    return length;
}

/* End of the value starting at text[at] (the text is valid JSON: jansson read it first). */
static size_t skip_value(const char *text, size_t length, size_t at)
{
    size_t depth = 0;

    if (at >= length)
        return length;
    if (text[at] == '"')
        return skip_string(text, length, at);
    if (text[at] != '{' && text[at] != '[') {
        while (at < length && strchr(",}] \t\r\n", text[at]) == NULL)
            at++;
        return at;
    }
    while (at < length) {
        char c = text[at];
        if (c == '"') {
            at = skip_string(text, length, at);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return at + 1;
        at++;
    }
    return length;
}

/* True when the raw key text[from..to) (quotes included) names key once decoded. */
static bool raw_key_is(const char *text, size_t from, size_t to, const char *key)
{
    size_t key_length = strlen(key);
    json_t *decoded;
    bool same;

    if (memchr(text + from, '\\', to - from) == NULL)
        return to - from == key_length + 2 && memcmp(text + from + 1, key, key_length) == 0;
    decoded = json_loadb(text + from, to - from, JSON_DECODE_ANY, NULL);
    same = json_is_string(decoded) && json_string_length(decoded) == key_length &&
           memcmp(json_string_value(decoded), key, key_length) == 0;
    json_decref(decoded);
    return same;
}

/* The raw text of the top-level object's member key (its last occurrence, as jansson keeps
 * the last of duplicate keys). Returns false if there is none. */
static bool raw_member(const char *text, size_t length, const char *key, size_t *from, size_t *to)
{
    size_t at = skip_space(text, length, 0);
    bool found = false;

    if (at >= length || text[at] != '{')
        return false;
    at = skip_space(text, length, at + 1);
    while (at < length && text[at] == '"') {
        size_t key_end = skip_string(text, length, at), value_start, value_end;
        value_start = skip_space(text, length, skip_space(text, length, key_end) + 1);
        value_end = skip_value(text, length, value_start);
        if (raw_key_is(text, at, key_end, key)) {
            *from = value_start;
            *to = value_end;
            found = true;
        }
        at = skip_space(text, length, value_end);
        if (at < length && text[at] == ',')
            at = skip_space(text, length, at + 1);
    }
    return found;
}

/* ---- parsing ---- */

static const struct {
    const char *event;
    enum gusher_command_kind kind;
} command_events[] = {
    {"gusher.subscribe", GUSHER_COMMAND_SUBSCRIBE},
    {"gusher.unsubscribe", GUSHER_COMMAND_UNSUBSCRIBE},
    {"gusher.multi_subscribe", GUSHER_COMMAND_MULTI_SUBSCRIBE},
    {"gusher.querychannel", GUSHER_COMMAND_QUERYCHANNEL},
    {"gusher.ping", GUSHER_COMMAND_PING},
    {"gusher.remote", GUSHER_COMMAND_REMOTE},
};

/* data[name] as a string, or NULL (absent, not a string, data not an object, or holding a NUL
 * character, which no name of gusher's can hold). */
static const char *string_member(const json_t *data, const char *name)
{
    const json_t *member = json_object_get(data, name); /* NULL-safe */
    const char *value = json_string_value(member);

    return value != NULL && strlen(value) == json_string_length(member) ? value : NULL;
}

static int read_multi_channel(const json_t *data, struct gusher_command *command)
{
    const json_t *list = json_object_get(data, "multi_channel");
    size_t index;
    json_t *element;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return GIM_OK; /* gusher answers its error reply with an empty list */
    command->channels = calloc(json_array_size(list), sizeof(*command->channels));
    if (command->channels == NULL)
        return GIM_ERR_NO_MEMORY;
    json_array_foreach(list, index, element)
    {
        size_t name_length;
        char *name;
        if (json_is_string(element)) {
            name_length = json_string_length(element);
            name = strndup(json_string_value(element), name_length);
        } else {
            name = gim_go_json_dumps(element, 0, &name_length);
        }
        if (name == NULL)
            return GIM_ERR_NO_MEMORY;
        if (strlen(name) != name_length) {
            free(name); /* a NUL character: no channel name holds one */
            return GIM_ERR_INVALID;
        }
        command->channels[command->channel_count++] = name;
    }
    return GIM_OK;
}

/* gusher's JsonCheck on the payload: a string that parses as JSON becomes that value, and the
 * value is written as Go writes an interface{} (common/go_json.h). */
static int read_payload(const json_t *data, struct gusher_command *command)
{
    const json_t *payload = json_object_get(data, "payload");
    struct gim_text text = {0};

    if (payload == NULL)
        return GIM_ERR_INVALID;
    if (json_is_string(payload))
        gim_go_json_append_coerced(&text, json_string_value(payload), json_string_length(payload));
    else
        gim_go_json_append_value(&text, payload, GIM_GO_JSON_SORT_KEYS);
    command->payload = gim_text_take(&text, &command->payload_length);
    return command->payload != NULL ? GIM_OK : GIM_ERR_NO_MEMORY;
}

static int read_ping_data(const char *text, size_t length, struct gusher_command *command)
{
    size_t from, to;

    if (!raw_member(text, length, "data", &from, &to))
        return GIM_ERR_INVALID; /* jansson found it: cannot happen on the same text */
    if (to - from >= 2 && text[from] == '"') {
        from++;
        to--;
    }
    command->ping_data = text + from;
    command->ping_data_length = to - from;
    return GIM_OK;
}

int gusher_command_parse(const char *text, size_t length, struct gusher_command *command)
{
    const json_t *data;
    const char *event;
    size_t index;
    int status = GIM_ERR_INVALID;

    memset(command, 0, sizeof(*command));
    /* read as Go reads it: numbers as float64 (no integer is too large), invalid UTF-8 as
     * U+FFFD */
    command->root = gim_go_json_parse(text, length);
    if (!json_is_object(command->root))
        goto fail;
    event = string_member(command->root, "event");
    data = json_object_get(command->root, "data");
    if (event == NULL || data == NULL)
        goto fail;
    for (index = 0; index < sizeof(command_events) / sizeof(command_events[0]); index++)
        if (strcmp(event, command_events[index].event) == 0)
            break;
    if (index == sizeof(command_events) / sizeof(command_events[0]))
        goto fail;
    command->kind = command_events[index].kind;
    command->debug = json_is_true(json_object_get(command->root, "debug"));
    switch (command->kind) {
    case GUSHER_COMMAND_SUBSCRIBE:
    case GUSHER_COMMAND_UNSUBSCRIBE:
        command->channel = string_member(data, "channel");
        status = command->channel != NULL ? GIM_OK : GIM_ERR_INVALID;
        break;
    case GUSHER_COMMAND_MULTI_SUBSCRIBE:
        status = read_multi_channel(data, command);
        break;
    case GUSHER_COMMAND_QUERYCHANNEL:
        status = GIM_OK;
        break;
    case GUSHER_COMMAND_PING:
        status = read_ping_data(text, length, command);
        break;
    case GUSHER_COMMAND_REMOTE:
        command->remote = string_member(data, "remote");
        command->uid = string_member(data, "uid");
        status = command->remote != NULL && command->uid != NULL ? read_payload(data, command)
                                                                 : GIM_ERR_INVALID;
        break;
    }
    if (status == GIM_OK)
        return GIM_OK;
fail:
    gusher_command_clear(command);
    return status;
}

void gusher_command_clear(struct gusher_command *command)
{
    size_t index;

    for (index = 0; index < command->channel_count; index++)
        free(command->channels[index]);
    free(command->channels);
    free(command->payload);
    json_decref(command->root);
    memset(command, 0, sizeof(*command));
}

/* ---- permissions ---- */

bool gusher_pattern_matches(const char *pattern, const char *channel)
{
    size_t channel_length = strlen(channel), at;
    bool *row = malloc(channel_length + 1), result; /* row[j]: the pattern so far matches
                                                       channel[0..j) */
    const char *p;

    if (row == NULL)
        return false; /* refused: no memory to decide */
    row[0] = true;
    memset(row + 1, 0, channel_length);
    for (p = pattern; *p != '\0'; p++) {
        bool previous = row[0], reached = false; /* previous: the old row[j-1] */
        row[0] = false;
        for (at = 1; at <= channel_length; at++) {
            bool old = row[at];
            char c = channel[at - 1];
            if (*p == '*') /* one or more characters but a newline, as Go's '.+' */
                row[at] = c != '\n' && (previous || row[at - 1]);
            else
                row[at] = previous && c == *p;
            reached = reached || row[at];
            previous = old;
        }
        if (!reached)
            break; /* nothing matches any more */
    }
    result = *p == '\0' && row[channel_length];
    free(row);
    return result;
}

bool gusher_channel_allowed(char *const *allowed, size_t allowed_count, const char *channel)
{
    size_t index;

    for (index = 0; index < allowed_count; index++)
        if (strcmp(allowed[index], "*") == 0 || gusher_pattern_matches(allowed[index], channel))
            return true;
    return false;
}

bool gusher_channels_all_allowed(char *const *allowed, size_t allowed_count, char *const *requested,
                                 size_t requested_count)
{
    size_t index, entry;

    if (requested_count == 0)
        return false;
    for (index = 0; index < allowed_count; index++)
        if (strcmp(allowed[index], "*") == 0)
            return true;
    for (index = 0; index < requested_count; index++) {
        for (entry = 0; entry < allowed_count; entry++)
            if (strcmp(allowed[entry], requested[index]) == 0)
                break;
        if (entry == allowed_count)
            return false;
    }
    return true;
}

/* ---- replies ---- */

/* Appends {"event":event,"socket_id":socket_id,"data": (the caller appends data and "}"). */
static void append_envelope_head(struct gim_text *text, const char *event, const char *socket_id)
{
    gim_text_append_cstring(text, "{\"event\":");
    gim_go_json_append_string(text, event, strlen(event));
    gim_text_append_cstring(text, ",\"socket_id\":");
    gim_go_json_append_string(text, socket_id, strlen(socket_id));
    gim_text_append_cstring(text, ",\"data\":");
}

char *gusher_reply_channel(const char *event, const char *socket_id, const char *channel,
                           size_t *length)
{
    struct gim_text text = {0};

    append_envelope_head(&text, event, socket_id);
    gim_text_append_cstring(&text, "{\"channel\":");
    gim_go_json_append_string(&text, channel, strlen(channel));
    gim_text_append_cstring(&text, "}}");
    return gim_text_take(&text, length);
}

char *gusher_reply_channel_list(const char *event, const char *socket_id, const char *key,
                                char *const *channels, size_t count, size_t *length)
{
    struct gim_text text = {0};
    size_t index;

    append_envelope_head(&text, event, socket_id);
    gim_text_append_cstring(&text, "{");
    gim_go_json_append_string(&text, key, strlen(key));
    gim_text_append_cstring(&text, ":[");
    for (index = 0; index < count; index++) {
        if (index > 0)
            gim_text_append(&text, ",", 1);
        gim_go_json_append_string(&text, channels[index], strlen(channels[index]));
    }
    gim_text_append_cstring(&text, "]}}");
    return gim_text_take(&text, length);
}

char *gusher_reply_pong(const char *socket_id, const char *data, size_t data_length,
                        int64_t unix_seconds, size_t *length)
{
    /* Go writes the []byte data as base64 (gusher's PongResponse) and the time after it */
    char *encoded = malloc(4 * ((data_length + 2) / 3) + 1);
    struct gim_text text = {0};

    if (encoded == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)encoded, (const unsigned char *)data, (int)data_length);
    append_envelope_head(&text, GUSHER_QUERYCHANNEL_SUCCEEDED, socket_id);
    gim_go_json_append_string(&text, encoded, strlen(encoded));
    gim_text_append_cstring(&text, ",\"time\":");
    gim_text_append_integer(&text, unix_seconds);
    gim_text_append(&text, "}", 1);
    free(encoded);
    return gim_text_take(&text, length);
}

char *gusher_reply_remote(const char *event, const char *socket_id, const char *remote,
                          size_t *length)
{
    struct gim_text text = {0};

    append_envelope_head(&text, event, socket_id);
    gim_text_append_cstring(&text, "{\"remote\":");
    gim_go_json_append_string(&text, remote, strlen(remote));
    gim_text_append_cstring(&text, ",\"msg\":null}}");
    return gim_text_take(&text, length);
}

char *gusher_remote_job(const char *user_id, const char *socket_id, const char *uid,
                        const char *app_key, const char *payload, size_t payload_length,
                        size_t *length)
{
    /* the struct's members in their order, the payload already Go's JSON */
    const char *names[] = {"{\"user_id\":", ",\"socket_id\":", ",\"uid\":", ",\"app_key\":"};
    const char *values[] = {user_id, socket_id, uid, app_key};
    struct gim_text text = {0};
    size_t index;

    for (index = 0; index < 4; index++) {
        gim_text_append_cstring(&text, names[index]);
        gim_go_json_append_string(&text, values[index], strlen(values[index]));
    }
    gim_text_append_cstring(&text, ",\"data\":");
    gim_text_append(&text, payload, payload_length);
    gim_text_append(&text, "}", 1);
    return gim_text_take(&text, length);
}
