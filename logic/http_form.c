/* http_form.c: Go's FormValue over libmicrohttpd's post processor (see http_form.h). */
#include "logic/http_form.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/status.h"

/* libmicrohttpd's post processor buffer (it must hold one key). */
#define HTTP_FORM_POST_BUFFER 4096u

static enum MHD_Result http_form_post_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *filename, const char *content_type,
                                            const char *transfer_encoding, const char *data,
                                            uint64_t offset, size_t size)
{
    struct http_form *form = cls;
    struct http_form_value *value;
    char *grown;

    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (filename != NULL || key == NULL)
        return MHD_YES; /* a file part is not a form value (Go keeps it apart too) */
    value = form->count ? &form->values[form->count - 1] : NULL;
    if (offset == 0 || value == NULL || strcmp(value->key, key) != 0) {
        if (gim_grow(&form->values, &form->capacity, form->count + 1, sizeof(*form->values), 8,
                     SIZE_MAX) != GIM_OK)
            goto out_of_memory;
        value = &form->values[form->count];
        memset(value, 0, sizeof(*value));
        value->key = strdup(key);
        value->value = calloc(1, 1);
        if (value->key == NULL || value->value == NULL) {
            free(value->key);
            free(value->value);
            goto out_of_memory;
        }
        form->count++;
    }
    /* The body is bounded by the server's body limit, so are the values. */
    grown = realloc(value->value, value->value_length + size + 1);
    if (grown == NULL)
        goto out_of_memory;
    memcpy(grown + value->value_length, data, size);
    value->value_length += size;
    grown[value->value_length] = '\0';
    value->value = grown;
    return MHD_YES;
out_of_memory:
    form->failed = true;
    return MHD_NO;
}

void http_form_begin(struct http_form *form, struct MHD_Connection *connection, const char *method)
{
    /* Go's ParseForm reads a body only for POST (and PUT/PATCH, which no route takes). */
    if (form->post == NULL && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
        form->post = MHD_create_post_processor(connection, HTTP_FORM_POST_BUFFER,
                                               http_form_post_value, form);
}

bool http_form_feed(struct http_form *form, const char *data, size_t size)
{
    if (form->post != NULL && !form->failed && size > 0 &&
        MHD_post_process(form->post, data, size) != MHD_YES)
        form->failed = true;
    return !form->failed;
}

bool http_form_end(struct http_form *form)
{
    if (form->post != NULL) {
        /* Destroying the processor hands over a last value still held. Its "incomplete"
         * (a multipart body without its closing boundary) is not an error: Go keeps the
         * values read, and so do we. */
        MHD_destroy_post_processor(form->post);
        form->post = NULL;
    }
    return !form->failed;
}

const char *http_form_value(const struct http_form *form, struct MHD_Connection *connection,
                            const char *name, size_t *length)
{
    const char *value = NULL;
    size_t index;

    for (index = 0; form != NULL && index < form->count; index++) {
        if (strcmp(form->values[index].key, name) == 0) {
            *length = form->values[index].value_length;
            return form->values[index].value;
        }
    }
    if (MHD_lookup_connection_value_n(connection, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      length) == MHD_YES &&
        value != NULL)
        return value;
    *length = 0;
    return NULL;
}

void http_form_clear(struct http_form *form)
{
    size_t index;

    if (form->post != NULL)
        MHD_destroy_post_processor(form->post);
    for (index = 0; index < form->count; index++) {
        free(form->values[index].key);
        free(form->values[index].value);
    }
    free(form->values);
    memset(form, 0, sizeof(*form));
}
