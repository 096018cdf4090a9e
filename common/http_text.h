/*
 * http_text.h: a short plain-text answer over libmicrohttpd (errors, redirects), shared by the
 * metrics endpoint (common/metrics_http.c) and logic's static pages (logic/http_static.c).
 */
#ifndef GIM_HTTP_TEXT_H
#define GIM_HTTP_TEXT_H

struct MHD_Connection;

/*
 * Queues status with body text (static: it must outlive the answer, e.g. a string literal),
 * Content-Type "text/plain; charset=utf-8", and the header name: value when name is not NULL
 * (Allow, Location). Returns libmicrohttpd's MHD_YES, or MHD_NO when out of memory
 * (libmicrohttpd then closes the connection).
 */
int gim_http_text_answer(struct MHD_Connection *connection, unsigned int status, const char *text,
                         const char *name, const char *value);

#endif
