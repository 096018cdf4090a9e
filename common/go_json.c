/* go_json.c: jansson's compact text with Go encoding/json's escapes (see go_json.h). */
#include "common/go_json.h"

#include <stdlib.h>
#include <string.h>

char *gim_go_json_dumps(const json_t *value, size_t flags, size_t *length)
{
    char *text = value ? json_dumps(value, flags | JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    size_t text_length, at, written = 0;
    char *out;

    if (text == NULL)
        return NULL;
    text_length = strlen(text);
    out = malloc(text_length * 6 + 1); /* each byte becomes at most one 6-byte escape */
    if (out == NULL) {
        free(text);
        return NULL;
    }
    for (at = 0; at < text_length; at++) {
        unsigned char c = (unsigned char)text[at];
        const char *escape = NULL;
        size_t consumed = 1;

        if (c == '<')
            escape = "\\u003c";
        else if (c == '>')
            escape = "\\u003e";
        else if (c == '&')
            escape = "\\u0026";
        else if (c == 0xe2 && at + 2 < text_length && (unsigned char)text[at + 1] == 0x80 &&
                 ((unsigned char)text[at + 2] == 0xa8 || (unsigned char)text[at + 2] == 0xa9)) {
            escape = (unsigned char)text[at + 2] == 0xa8 ? "\\u2028" : "\\u2029";
            consumed = 3;
        } else if (c == '\\' && at + 1 < text_length) {
            /* an escape of jansson's: keep it whole, so "\\b" is never read as "\b" */
            char next = text[at + 1];
            consumed = 2;
            if (next == 'b')
                escape = "\\u0008";
            else if (next == 'f')
                escape = "\\u000c";
            else {
                out[written++] = '\\';
                out[written++] = next;
                at++;
                continue;
            }
        }
        if (escape != NULL) {
            memcpy(out + written, escape, 6);
            written += 6;
        } else {
            out[written++] = (char)c;
        }
        at += consumed - 1;
    }
    out[written] = '\0';
    free(text);
    *length = written;
    return out;
}
