/*
 * tag_pattern.h: gopusher's user_tag regex (PCRE2), shared by logic (which
 * checks a push's pattern and counts the sockets it aims at) and comet
 * (which picks the sockets a push reaches).
 *
 * A pattern is unanchored, as gopusher's Go regexp: "A:1" matches "A:1",
 * "A:10" and "BA:1x"; "^A:1$" matches "A:1" only. Patterns and subjects are
 * UTF-8 (PCRE2_UTF); a subject that is not valid UTF-8 is still searched
 * (PCRE2_MATCH_INVALID_UTF), never an error. Matching is bounded
 * (TAG_PATTERN_MATCH_LIMIT backtracking steps, TAG_PATTERN_DEPTH_LIMIT):
 * a match that passes a bound counts as no match, so a pathological
 * pattern costs a bounded amount of CPU per user_tag.
 */
#ifndef GIM_TAG_PATTERN_H
#define GIM_TAG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* The longest pattern accepted, in bytes (a longer one is GIM_ERR_TOO_LARGE). */
#define TAG_PATTERN_MAX_LENGTH  1024
#define TAG_PATTERN_MATCH_LIMIT 100000u
#define TAG_PATTERN_DEPTH_LIMIT 10000u

struct gim_tag_pattern;

/*
 * Compiles pattern[0..length) (may hold any byte). On GIM_OK *out is the
 * caller's (gim_tag_pattern_free). On failure *out is NULL and returns
 * GIM_ERR_TOO_LARGE (over TAG_PATTERN_MAX_LENGTH bytes), GIM_ERR_INVALID
 * (not a valid regex: error[0..error_size) says where and why, e.g.
 * "offset 3: missing closing parenthesis") or GIM_ERR_NO_MEMORY.
 * pattern and error stay the caller's.
 */
int gim_tag_pattern_compile(struct gim_tag_pattern **out, const char *pattern, size_t length,
                            char *error, size_t error_size);

/*
 * True when pattern matches somewhere in subject[0..length). Not
 * thread-safe on one pattern (it holds its match data): one thread at a
 * time per compiled pattern.
 */
bool gim_tag_pattern_matches(struct gim_tag_pattern *pattern, const char *subject, size_t length);

/*
 * gim_tag_pattern_matches that many threads may call at once on one pattern (each thread keeps
 * one small match data of its own for as long as it lives), e.g. comet's loops matching one
 * push's pattern.
 */
bool gim_tag_pattern_matches_shared(const struct gim_tag_pattern *pattern, const char *subject,
                                    size_t length);

/* Frees a compiled pattern. NULL is allowed. */
void gim_tag_pattern_free(struct gim_tag_pattern *pattern);

#endif
