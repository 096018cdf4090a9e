/*
 * fuzz_logic_params.c: libFuzzer target for logic's HTTP query parameters (logic/http_params.c),
 * which read every untrusted query of the /goim/push, /goim/online and /goim/nodes endpoints.
 *
 * The input is a URL query string ("operation=1000&mids=1&mids=2"). It is split and decoded the
 * way libmicrohttpd hands pairs to logic ('&' between pairs, the first '=' ends the key, '+' is a
 * space, %XX a byte, a pair without '=' has no value), each key and value in a buffer of exactly
 * its size so that ASan sees any read past it. Every parameter name the endpoints use is then
 * collected with http_values_add, as http_param_values does, and read as each kind the handlers
 * read (int32 with a fallback, required int32, int64 list, optional and required string).
 *
 * Oracles beyond crashes: a collection holds exactly the pairs of that name, in order, and stops
 * at the first value with a NUL byte; numbers agree with an independent reference (syntax checked
 * here, value by strtoll) over several ranges, lie within the range asked for and round-trip
 * through their decimal text; a list has one number per value; a refused parameter answers
 * 400 / -400 with an untruncated message that names it and renders as the JSON envelope
 * unchanged (quoted values must never make it invalid UTF-8); http_quote_value gives printable
 * ASCII that fits its buffer and follows its documented format.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/http_answer.h"
#include "logic/http_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with the failed oracle's text (libFuzzer saves the input). */
#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "fuzz_logic_params: %s:%d: oracle failed: %s\n", __FILE__, __LINE__,   \
                    #condition);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Longest query this target reads; libmicrohttpd bounds a real one by its connection memory. */
#define FUZZ_MAX_QUERY 8192
/* The buffer http_params.c quotes values into (the real caller's size). */
#define FUZZ_QUOTE_SIZE 300
/* Input bytes http_quote_value shows at most (http_params.h). */
#define FUZZ_QUOTE_MAX_INPUT 64

/* Every parameter name the HTTP handlers read (logic/http_push.c, http_online.c, http_nodes.c). */
static const char *const fuzz_parameter_names[] = {
    "operation", "keys", "mids", "type", "room", "speed", "limit", "rooms", "platform",
};

/* Ranges http_parse_integer is checked over: the callers' two and edge cases of its contract. */
static const struct {
    int64_t min, max;
} fuzz_ranges[] = {
    {INT64_MIN, INT64_MAX},
    {INT32_MIN, INT32_MAX},
    {0, 0},
    {1, 1000},
    {-1000, -1},
    {INT64_MIN, -1},
    {-9, 9},
    {INT64_MIN, INT64_MIN},
    {INT64_MAX, INT64_MAX},
};

/* One decoded query pair as libmicrohttpd reports it: sizes exclude the terminating NUL. */
struct fuzz_pair {
    char *key;
    size_t key_size;
    char *value; /* NULL: the pair had no '=' */
    size_t value_size;
};

/* The value of one hexadecimal digit, or -1 when byte is not one. */
static int fuzz_hex_digit(uint8_t byte)
{
    if (byte >= '0' && byte <= '9')
        return byte - '0';
    if (byte >= 'a' && byte <= 'f')
        return byte - 'a' + 10;
    if (byte >= 'A' && byte <= 'F')
        return byte - 'A' + 10;
    return -1;
}

/*
 * Decodes text[0..length) as libmicrohttpd does ('+' -> ' ', %XX -> byte, anything else as is)
 * into a malloc'd buffer of exactly *decoded_size + 1 bytes, NUL-terminated. NULL on no memory.
 */
static char *fuzz_decode(const uint8_t *text, size_t length, size_t *decoded_size)
{
    char scratch[FUZZ_MAX_QUERY];
    size_t read = 0, written = 0;
    char *decoded;

    while (read < length) {
        if (text[read] == '+') {
            scratch[written++] = ' ';
            read++;
        } else if (text[read] == '%' && read + 2 < length && fuzz_hex_digit(text[read + 1]) >= 0 &&
                   fuzz_hex_digit(text[read + 2]) >= 0) {
            scratch[written++] =
                (char)(fuzz_hex_digit(text[read + 1]) * 16 + fuzz_hex_digit(text[read + 2]));
            read += 3;
        } else {
            scratch[written++] = (char)text[read++];
        }
    }
    decoded = malloc(written + 1);
    if (decoded == NULL)
        return NULL;
    memcpy(decoded, scratch, written);
    decoded[written] = '\0';
    *decoded_size = written;
    return decoded;
}

/*
 * Splits query[0..size) into decoded pairs: a malloc'd array of *count entries (fuzz_pairs_free).
 * NULL with *count 0 when out of memory.
 */
static struct fuzz_pair *fuzz_split(const uint8_t *query, size_t size, size_t *count)
{
    struct fuzz_pair *pairs = calloc(size + 1, sizeof(*pairs));
    size_t start = 0;

    *count = 0;
    if (pairs == NULL)
        return NULL;
    while (start <= size) {
        const uint8_t *end = memchr(query + start, '&', size - start);
        size_t length = end ? (size_t)(end - (query + start)) : size - start;
        const uint8_t *equals = memchr(query + start, '=', length);
        size_t key_length = equals ? (size_t)(equals - (query + start)) : length;
        struct fuzz_pair *pair = &pairs[*count];

        if (length > 0) { /* "a&&b": libmicrohttpd skips the empty piece */
            pair->key = fuzz_decode(query + start, key_length, &pair->key_size);
            if (equals != NULL)
                pair->value = fuzz_decode(equals + 1, length - key_length - 1, &pair->value_size);
            if (pair->key == NULL || (equals != NULL && pair->value == NULL)) {
                free(pair->key);
                free(pair->value);
                break;
            }
            (*count)++;
        }
        start += length + 1;
    }
    return pairs;
}

/* Frees pairs[0..count), their keys and values. */
static void fuzz_pairs_free(struct fuzz_pair *pairs, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++) {
        free(pairs[index].key);
        free(pairs[index].value);
    }
    free(pairs);
}

/*
 * The reference for http_parse_integer, written independently: "" is 0, otherwise an optional
 * sign and one or more ASCII digits, nothing else, and no int64 overflow (strtoll). Returns true
 * with *out set when text is an int64.
 */
static bool fuzz_reference_value(const char *text, int64_t *out)
{
    const char *digits = text + (text[0] == '+' || text[0] == '-');
    long long value = 0;

    if (text[0] != '\0') {
        char *end;
        if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
            return false;
        errno = 0;
        value = strtoll(text, &end, 10);
        if (errno == ERANGE || *end != '\0')
            return false;
    }
    *out = value;
    return true;
}

/* The reference's verdict for text within [min, max]; true with *out set when accepted. */
static bool fuzz_reference_integer(const char *text, int64_t min, int64_t max, int64_t *out)
{
    int64_t value;

    if (!fuzz_reference_value(text, &value) || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* http_parse_integer against the reference over every range; accepted values round-trip. */
static void fuzz_check_integer(const char *text)
{
    int64_t value = 0;
    bool is_int64 = fuzz_reference_value(text, &value);
    size_t index;

    for (index = 0; index < sizeof(fuzz_ranges) / sizeof(fuzz_ranges[0]); index++) {
        int64_t min = fuzz_ranges[index].min, max = fuzz_ranges[index].max;
        int64_t parsed = 0x5a5a5a5a, again = 0;
        bool accepted = http_parse_integer(text, min, max, &parsed) == GIM_OK;

        FUZZ_CHECK(accepted == (is_int64 && value >= min && value <= max));
        if (!accepted)
            continue;
        FUZZ_CHECK(parsed == value);
        {
            char decimal[32];
            snprintf(decimal, sizeof(decimal), "%" PRId64, parsed);
            FUZZ_CHECK(http_parse_integer(decimal, min, max, &again) == GIM_OK && again == parsed);
        }
    }
}

/* The documented form of one input byte in a quoted value: itself if printable, else \xNN. */
static size_t fuzz_quote_piece(unsigned char byte, char piece[8])
{
    if (byte >= 0x20 && byte < 0x7f) {
        piece[0] = (char)byte;
        piece[1] = '\0';
        return 1;
    }
    snprintf(piece, 8, "\\x%02x", byte);
    return 4;
}

/*
 * http_quote_value: with the callers' buffer the output is exactly the documented one (the first
 * 64 bytes, each as its piece, "..." when cut); with a small buffer it fits, is printable, and is
 * a piece-aligned prefix of that, maybe followed by "...".
 */
static void fuzz_check_quote(const char *text, size_t small_size)
{
    char full[FUZZ_QUOTE_SIZE], expected[FUZZ_QUOTE_SIZE], *small;
    size_t index, used = 0, length = strlen(text), small_length;

    memset(full, 0x5a, sizeof(full));
    http_quote_value(text, full, sizeof(full));
    for (index = 0; index < length && index < FUZZ_QUOTE_MAX_INPUT; index++) {
        char piece[8];
        size_t piece_length = fuzz_quote_piece((unsigned char)text[index], piece);
        memcpy(expected + used, piece, piece_length);
        used += piece_length;
    }
    if (length > FUZZ_QUOTE_MAX_INPUT) {
        memcpy(expected + used, "...", 3);
        used += 3;
    }
    expected[used] = '\0';
    FUZZ_CHECK(strcmp(full, expected) == 0);

    small = malloc(small_size); /* exactly small_size bytes: ASan sees a write past it */
    if (small == NULL)
        return;
    memset(small, 0x5a, small_size);
    http_quote_value(text, small, small_size);
    small_length = strnlen(small, small_size);
    FUZZ_CHECK(small_length < small_size);
    for (index = 0; index < small_length; index++)
        FUZZ_CHECK(small[index] >= 0x20 && small[index] < 0x7f);
    if (strncmp(small, full, small_length) != 0) {
        /* then it must be a shorter prefix followed by "..." */
        FUZZ_CHECK(small_length >= 3 && strcmp(small + small_length - 3, "...") == 0);
        FUZZ_CHECK(strncmp(small, full, small_length - 3) == 0);
        FUZZ_CHECK(small_length - 3 < strlen(full));
    }
    free(small);
}

/*
 * A refused parameter: status and code, an untruncated printable-ASCII message naming it. With
 * render, also renders the envelope (http_answer_render) and checks that it parses back with the
 * same code and message (the message is printable ASCII, so Go's escapes decode back to it);
 * this costs allocations, so only answers that quote user bytes are rendered.
 */
static void fuzz_check_answer(struct http_answer *answer, int status, const char *name, bool render)
{
    size_t name_length = strlen(name), index, length;
    char *text;
    json_t *envelope;

    if (status == GIM_ERR_NO_MEMORY) {
        FUZZ_CHECK(answer->code == HTTP_CODE_SERVER_ERR);
    } else {
        FUZZ_CHECK(status == GIM_ERR_INVALID);
        FUZZ_CHECK(answer->http_status == 400 && answer->code == HTTP_CODE_REQUEST_ERR);
        FUZZ_CHECK(strncmp(answer->message, name, name_length) == 0 &&
                   strncmp(answer->message + name_length, ": ", 2) == 0);
    }
    FUZZ_CHECK(strlen(answer->message) + 1 < sizeof(answer->message)); /* not cut */
    for (index = 0; answer->message[index] != '\0'; index++)
        FUZZ_CHECK(answer->message[index] >= 0x20 && answer->message[index] < 0x7f);
    if (!render)
        return;
    text = http_answer_render(answer, &length);
    if (text == NULL)
        return; /* out of memory */
    FUZZ_CHECK(strlen(text) == length);
    envelope = json_loadb(text, length, 0, NULL);
    FUZZ_CHECK(envelope != NULL);
    FUZZ_CHECK(json_integer_value(json_object_get(envelope, "code")) == answer->code);
    FUZZ_CHECK(json_is_string(json_object_get(envelope, "message")));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(envelope, "message")), answer->message) ==
               0);
    json_decref(envelope);
    free(text);
}

/* A number refusal's message ends with the quoted value it refused: `...: "<quote>"`. */
static void fuzz_check_refused_number(const struct http_answer *answer, const char *name,
                                      const char *kind, const char *value)
{
    char quoted[FUZZ_QUOTE_SIZE], expected[sizeof(answer->message)];

    http_quote_value(value, quoted, sizeof(quoted));
    snprintf(expected, sizeof(expected), "%s: not an %s: \"%s\"", name, kind, quoted);
    FUZZ_CHECK(strcmp(answer->message, expected) == 0);
}

/* Reads the values of name every way the handlers do and checks each result. */
static void fuzz_read_values(const struct http_values *values, const char *name)
{
    struct http_answer answer;
    int64_t expected = 0, *list = NULL;
    size_t count = 99, index;
    const char *text = NULL;
    int32_t number = 0x5a5a;
    bool first_ok = values->count > 0 &&
                    fuzz_reference_integer(values->items[0], INT32_MIN, INT32_MAX, &expected);
    int status;

    /* int32 with a fallback (operation of push/keys and push/mids, speed) */
    http_answer_init(&answer);
    status = http_values_int32(values, name, 77, &number, &answer);
    if (values->count == 0) {
        FUZZ_CHECK(status == GIM_OK && number == 77);
    } else if (first_ok) {
        FUZZ_CHECK(status == GIM_OK && number == expected);
    } else {
        fuzz_check_refused_number(&answer, name, "int32", values->items[0]);
        fuzz_check_answer(&answer, status, name, false);
    }

    /* required int32 (operation of push/room and push/all, limit) */
    http_answer_init(&answer);
    number = 0x5a5a;
    status = http_values_required_int32(values, name, &number, &answer);
    if (first_ok && expected != 0) {
        FUZZ_CHECK(status == GIM_OK && number == expected);
    } else {
        if (first_ok || values->count == 0)
            FUZZ_CHECK(strstr(answer.message, ": required, non-zero") != NULL);
        else
            fuzz_check_refused_number(&answer, name, "int32", values->items[0]);
        fuzz_check_answer(&answer, status, name, false);
    }

    /* int64 list (mids): one number per value, in order, or the first bad value refused */
    http_answer_init(&answer);
    status = http_values_int64_list(values, name, &list, &count, &answer);
    if (status == GIM_OK) {
        FUZZ_CHECK(count == values->count && (count == 0) == (list == NULL));
        for (index = 0; index < count; index++) {
            FUZZ_CHECK(
                fuzz_reference_integer(values->items[index], INT64_MIN, INT64_MAX, &expected));
            FUZZ_CHECK(list[index] == expected);
        }
    } else {
        FUZZ_CHECK(list == NULL && count == 0);
        if (status == GIM_ERR_INVALID) {
            for (index = 0; index < values->count; index++)
                if (!fuzz_reference_integer(values->items[index], INT64_MIN, INT64_MAX, &expected))
                    break;
            FUZZ_CHECK(index < values->count); /* some value really is not an int64 */
            fuzz_check_refused_number(&answer, name, "int64", values->items[index]);
        }
        fuzz_check_answer(&answer, status, name, true);
    }
    free(list);

    /* optional string (platform), then required (type, room) */
    http_answer_init(&answer);
    status = http_values_string(values, name, false, &text, &answer);
    FUZZ_CHECK(status == GIM_OK && text == (values->count > 0 ? values->items[0] : NULL));
    status = http_values_string(values, name, true, &text, &answer);
    if (values->count > 0 && values->items[0][0] != '\0') {
        FUZZ_CHECK(status == GIM_OK && text == values->items[0]);
    } else {
        FUZZ_CHECK(strstr(answer.message, ": required") != NULL);
        fuzz_check_answer(&answer, status, name, false);
    }
}

/*
 * Collects name from pairs as the libmicrohttpd walk does (stop at the first failure) and
 * checks the collection against the pairs. Returns the status of the walk.
 */
static int fuzz_collect(const struct fuzz_pair *pairs, size_t pair_count, const char *name,
                        struct http_values *values)
{
    size_t index, matching = 0, name_length = strlen(name);
    int status = GIM_OK;

    values->items = NULL;
    values->count = 0;
    for (index = 0; index < pair_count && status == GIM_OK; index++) {
        const struct fuzz_pair *pair = &pairs[index];
        bool match = pair->key_size == name_length && memcmp(pair->key, name, name_length) == 0;
        bool has_nul = pair->value != NULL && memchr(pair->value, '\0', pair->value_size) != NULL;

        status =
            http_values_add(values, name, pair->key, pair->key_size, pair->value, pair->value_size);
        if (status == GIM_ERR_NO_MEMORY)
            break;
        FUZZ_CHECK(status == (match && has_nul ? GIM_ERR_INVALID : GIM_OK));
        if (status != GIM_OK)
            break;
        if (match) {
            matching++;
            FUZZ_CHECK(values->count == matching);
            if (pair->value != NULL)
                FUZZ_CHECK(values->items[matching - 1] == pair->value); /* in order, not copied */
            else
                FUZZ_CHECK(values->items[matching - 1][0] == '\0'); /* "?name": empty */
        }
    }
    FUZZ_CHECK(values->count == matching); /* a failure leaves values as they were */
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_pair *pairs;
    size_t pair_count, index, name;

    if (size == 0 || size > FUZZ_MAX_QUERY)
        return 0;
    pairs = fuzz_split(data, size, &pair_count);
    if (pairs == NULL)
        return 0;
    for (index = 0; index < pair_count; index++) {
        size_t small_size = 1 + (pairs[index].key_size + index) % 24;
        if (pairs[index].value != NULL) {
            fuzz_check_integer(pairs[index].value);
            fuzz_check_quote(pairs[index].value, small_size);
        }
    }
    for (name = 0; name < sizeof(fuzz_parameter_names) / sizeof(fuzz_parameter_names[0]); name++) {
        struct http_values values;
        if (fuzz_collect(pairs, pair_count, fuzz_parameter_names[name], &values) == GIM_OK)
            fuzz_read_values(&values, fuzz_parameter_names[name]);
        http_values_free(&values);
    }
    fuzz_pairs_free(pairs, pair_count);
    return 0;
}
