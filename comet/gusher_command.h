/*
 * gusher_command.h: gusher.cluster's WebSocket commands and replies (no I/O).
 *
 * A client sends one JSON object per text message (reference A4):
 * {"event":"gusher.<command>","data":{...}} with an optional top-level
 * "debug":true. gusher_command_parse reads one into a struct gusher_command
 * or says it is fatal (the socket closes): not a JSON object, "event"
 * missing or not a string or not a command, "data" missing, and per command
 * a missing or mistyped required field (subscribe and unsubscribe:
 * data.channel string; remote: data.remote and data.uid strings and
 * data.payload). multi_subscribe is never fatal past "data": a missing or
 * non-array multi_channel is an empty request, which gusher answers with its
 * error reply.
 *
 * The permission rules (gusher's SubscribeCommand and MultiSubscribeCommand)
 * and the reply encoders, whose bytes are what gusher v1.13.8 writes
 * (Go's encoding/json, common/go_json.h), are here too. A message is read
 * as Go reads it (common/go_json.h's gim_go_json_parse: numbers as float64,
 * invalid UTF-8 as U+FFFD).
 */
#ifndef COMET_GUSHER_COMMAND_H
#define COMET_GUSHER_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gusher_command_kind {
    GUSHER_COMMAND_SUBSCRIBE,       /* gusher.subscribe */
    GUSHER_COMMAND_UNSUBSCRIBE,     /* gusher.unsubscribe */
    GUSHER_COMMAND_MULTI_SUBSCRIBE, /* gusher.multi_subscribe */
    GUSHER_COMMAND_QUERYCHANNEL,    /* gusher.querychannel */
    GUSHER_COMMAND_PING,            /* gusher.ping */
    GUSHER_COMMAND_REMOTE,          /* gusher.remote */
};

/* Reply and notice events. */
#define GUSHER_SUBSCRIBE_SUCCEEDED       "gusher.subscribe_succeeded"
#define GUSHER_SUBSCRIBE_ERROR           "gusher.subscribe_error"
#define GUSHER_UNSUBSCRIBE_SUCCEEDED     "gusher.unsubscribe_succeeded"
#define GUSHER_UNSUBSCRIBE_ERROR         "gusher.unsubscribe_error"
#define GUSHER_MULTI_SUBSCRIBE_SUCCEEDED "gusher.multi_subscribe_succeeded"
#define GUSHER_MULTI_SUBSCRIBE_ERROR     "gusher.multi_subscribe_error"
#define GUSHER_QUERYCHANNEL_SUCCEEDED    "gusher.querychannel_succeeded"
#define GUSHER_REMOTE_SUCCEEDED          "gusher.remote_succeeded"
#define GUSHER_REMOTE_ERROR              "gusher.remote_error"
#define GUSHER_RELOADCHANNEL             "gusher.reloadchannel"
#define GUSHER_ADDCHANNEL                "gusher.addchannel"

/* One parsed command. Its strings live until gusher_command_clear. */
struct gusher_command {
    enum gusher_command_kind kind;
    bool debug;          /* top-level "debug": true */
    const char *channel; /* subscribe, unsubscribe: data.channel */
    /* multi_subscribe: data.multi_channel's names (a string element as its value, another
     * element as its compact JSON text, as gusher takes the element's bytes); may be 0 */
    char **channels;
    size_t channel_count;
    /* ping: the bytes gusher answers in base64: data's text as the client wrote it, or, for a
     * string, the characters between its quotes (escapes not decoded); points into the text
     * given to gusher_command_parse */
    const char *ping_data;
    size_t ping_data_length;
    const char *remote; /* remote: data.remote */
    const char *uid;    /* remote: data.uid */
    /* remote: data.payload after gusher's JsonCheck, as the JSON bytes gusher writes for it
     * (common/go_json.h): a string that parses as JSON becomes that value, anything else stays
     * as it is; a value is re-serialised as Go writes an interface{} (keys sorted, numbers
     * float64: 0.1 stays 0.1, 1e21 is 1e+21, 12345678901234567890 is 12345678901234567000),
     * invalid UTF-8 as U+FFFD. Owned, NUL-terminated. */
    char *payload;
    size_t payload_length;
    json_t *root; /* the parsed message (owned) */
};

/*
 * Parses text[0..length) (one client message; need not be NUL-terminated)
 * into *command. Returns GIM_OK (clear the command afterwards),
 * GIM_ERR_INVALID for a fatal command (the socket closes; nothing to clear)
 * or GIM_ERR_NO_MEMORY. The caller keeps text alive while the command is used
 * (ping_data points into it).
 */
int gusher_command_parse(const char *text, size_t length, struct gusher_command *command);

/* Frees what the command owns. Idempotent on a zeroed command. */
void gusher_command_clear(struct gusher_command *command);

/*
 * gusher's single-channel permission check against one allowed entry:
 * '*' is one or more characters other than a newline (Go's ".+"), every
 * other character literal, anchored at both ends ("t*st" matches "test" and
 * "toast", not "tst"; "app*" matches "apple", not "app").
 */
bool gusher_pattern_matches(const char *pattern, const char *channel);

/* May channel be subscribed (or unsubscribed): an entry exactly "*", or one that
 * gusher_pattern_matches. */
bool gusher_channel_allowed(char *const *allowed, size_t allowed_count, const char *channel);

/*
 * multi_subscribe's rule: true when requested_count > 0 and either an
 * allowed entry is exactly "*" or every requested name is exactly an allowed
 * entry (no patterns).
 */
bool gusher_channels_all_allowed(char *const *allowed, size_t allowed_count, char *const *requested,
                                 size_t requested_count);

/*
 * Encoders. Each returns a malloc'd NUL-terminated text (the caller frees
 * it) with its length in *length, or NULL when out of memory. Strings are
 * written as Go writes them (common/go_json.h; invalid UTF-8 as U+FFFD).
 */

/* {"event":event,"socket_id":socket_id,"data":{"channel":channel}}: subscribe and unsubscribe
 * replies, and the addchannel notice (socket_id ""). */
char *gusher_reply_channel(const char *event, const char *socket_id, const char *channel,
                           size_t *length);

/* {"event":event,"socket_id":socket_id,"data":{key:[channels...]}}: multi_subscribe (key
 * "channel"), querychannel and the reloadchannel notice (key "channels"). */
char *gusher_reply_channel_list(const char *event, const char *socket_id, const char *key,
                                char *const *channels, size_t count, size_t *length);

/* The ping reply gusher's code sends: {"event":"gusher.querychannel_succeeded",
 * "socket_id":...,"data":"<base64 of data>","time":unix_seconds}. */
char *gusher_reply_pong(const char *socket_id, const char *data, size_t data_length,
                        int64_t unix_seconds, size_t *length);

/* {"event":event,"socket_id":socket_id,"data":{"remote":remote,"msg":null}}. */
char *gusher_reply_remote(const char *event, const char *socket_id, const char *remote,
                          size_t *length);

/* The job gusher RPUSHes for a remote: {"user_id","socket_id","uid","app_key","data":payload},
 * payload[0..payload_length) being JSON already (struct gusher_command's payload). */
char *gusher_remote_job(const char *user_id, const char *socket_id, const char *uid,
                        const char *app_key, const char *payload, size_t payload_length,
                        size_t *length);

#endif
