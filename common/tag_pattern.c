/* tag_pattern.c: gopusher's user_tag regex on PCRE2 (see tag_pattern.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/tag_pattern.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/status.h"

struct gim_tag_pattern {
    pcre2_code *code;
    pcre2_match_data *match;
    pcre2_match_context *context;
};

void gim_tag_pattern_free(struct gim_tag_pattern *pattern)
{
    if (pattern == NULL)
        return;
    pcre2_match_context_free(pattern->context);
    pcre2_match_data_free(pattern->match);
    pcre2_code_free(pattern->code);
    free(pattern);
}

int gim_tag_pattern_compile(struct gim_tag_pattern **out, const char *pattern, size_t length,
                            char *error, size_t error_size)
{
    struct gim_tag_pattern *compiled;
    PCRE2_UCHAR message[256];
    PCRE2_SIZE error_offset = 0;
    int error_code = 0;

    *out = NULL;
    if (length > TAG_PATTERN_MAX_LENGTH) {
        snprintf(error, error_size, "longer than %d bytes", TAG_PATTERN_MAX_LENGTH);
        return GIM_ERR_TOO_LARGE;
    }
    compiled = calloc(1, sizeof(*compiled));
    if (compiled == NULL)
        return GIM_ERR_NO_MEMORY;
    compiled->code = pcre2_compile((PCRE2_SPTR)pattern, length, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                   &error_code, &error_offset, NULL);
    if (compiled->code == NULL) {
        gim_tag_pattern_free(compiled);
        if (error_code == PCRE2_ERROR_NOMEMORY)
            return GIM_ERR_NO_MEMORY;
        if (pcre2_get_error_message(error_code, message, sizeof(message)) < 0)
            snprintf((char *)message, sizeof(message), "error %d", error_code);
        snprintf(error, error_size, "offset %zu: %s", (size_t)error_offset, (char *)message);
        return GIM_ERR_INVALID;
    }
    compiled->match = pcre2_match_data_create_from_pattern(compiled->code, NULL);
    compiled->context = pcre2_match_context_create(NULL);
    if (compiled->match == NULL || compiled->context == NULL) {
        gim_tag_pattern_free(compiled);
        return GIM_ERR_NO_MEMORY;
    }
    pcre2_set_match_limit(compiled->context, TAG_PATTERN_MATCH_LIMIT);
    pcre2_set_depth_limit(compiled->context, TAG_PATTERN_DEPTH_LIMIT);
    *out = compiled;
    return GIM_OK;
}

bool gim_tag_pattern_matches(struct gim_tag_pattern *pattern, const char *subject, size_t length)
{
    int result = pcre2_match(pattern->code, (PCRE2_SPTR)subject, length, 0, 0, pattern->match,
                             pattern->context);
    return result >= 0; /* no match, a limit passed or bad input: not a match */
}

/* Each thread's match data for gim_tag_pattern_matches_shared, freed when the thread exits. */
static pthread_key_t shared_match_key;
static pthread_once_t shared_match_once = PTHREAD_ONCE_INIT;

static void shared_match_free(void *match)
{
    pcre2_match_data_free(match);
}

static void shared_match_key_create(void)
{
    pthread_key_create(&shared_match_key, shared_match_free);
}

bool gim_tag_pattern_matches_shared(const struct gim_tag_pattern *pattern, const char *subject,
                                    size_t length)
{
    pcre2_match_data *match;
    int result;

    pthread_once(&shared_match_once, shared_match_key_create);
    match = pthread_getspecific(shared_match_key);
    /* one pair is enough: only "matched or not" is read (a match with a short vector returns 0) */
    if (match == NULL) {
        match = pcre2_match_data_create(1, NULL);
        if (match == NULL || pthread_setspecific(shared_match_key, match) != 0) {
            pcre2_match_data_free(match);
            return false;
        }
    }
    result = pcre2_match(pattern->code, (PCRE2_SPTR)subject, length, 0, 0, match, pattern->context);
    return result >= 0;
}
