/*
 * http_form.h: request parameters as Go's Request.FormValue reads them, for
 * the dialect APIs that copy Go servers (gopusher's, gusher's).
 *
 * A POST body that is application/x-www-form-urlencoded or
 * multipart/form-data is parsed by libmicrohttpd's post processor ('+' is a
 * space, %XX decoded; file parts are left out, as Go keeps them apart);
 * another content type, or another method, has no body values. A value is
 * looked up in the body first, then in the query string (Go's r.Form holds
 * the body's values before the query's; FormValue takes the first).
 */
#ifndef LOGIC_HTTP_FORM_H
#define LOGIC_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;
struct MHD_PostProcessor;

/* One form value of the body. */
struct http_form_value {
    char *key;
    char *value; /* value_length bytes plus a NUL */
    size_t value_length;
};

/* The body's values; zero-initialise, then http_form_begin; http_form_clear frees. */
struct http_form {
    struct MHD_PostProcessor *post; /* NULL: no form body */
    struct http_form_value *values;
    size_t count, capacity;
    bool failed; /* out of memory, or a body the post processor could not read */
};

/*
 * Starts reading the body of the request on connection when method is POST
 * and its Content-Type is a form (else the form stays empty). Call once,
 * from the access handler's first call or later, before http_form_feed.
 */
void http_form_begin(struct http_form *form, struct MHD_Connection *connection, const char *method);

/* Feeds body bytes (in order, any chunking). Returns false when form->failed. */
bool http_form_feed(struct http_form *form, const char *data, size_t size);

/* The body is complete: hands over the last value still held. Returns false when form->failed. */
bool http_form_end(struct http_form *form);

/*
 * FormValue(name): the first value of name in the body, else in the query
 * of connection; *length bytes followed by a NUL, NULL (length 0) when
 * absent. Points into form or libmicrohttpd's request memory: valid during
 * the request.
 */
const char *http_form_value(const struct http_form *form, struct MHD_Connection *connection,
                            const char *name, size_t *length);

/* Frees what form holds (a post processor still open too) and zeroes it. */
void http_form_clear(struct http_form *form);

#endif
