/*
 * http_static.h: the demo page and the JavaScript client, served by logic's HTTP server.
 *
 *   /client/goim.js   the client library (logic/web/goim.js)
 *   /demo/            the demo page and cluster view (index.html, demo.js, demo.css)
 *   /demo             301 to /demo/
 *
 * The files are built into logic (logic/web_assets.h), so a daemon or a container image needs no
 * path in its configuration. They are on the same origin as /goim/..., so the page calls the
 * push and online API without CORS. GET and HEAD only (another method: 405); a file these
 * paths do not name: 404. Answers carry Cache-Control: no-cache (a new build is seen at once)
 * and X-Content-Type-Options: nosniff; the page also a Content-Security-Policy that allows
 * only its own scripts and styles, fetch to logic and WebSockets to the comets; the client
 * Access-Control-Allow-Origin: * (a module script from another origin is fetched with CORS).
 */
#ifndef LOGIC_HTTP_STATIC_H
#define LOGIC_HTTP_STATIC_H

#include <stdbool.h>

#include "logic/web_assets.h"

struct MHD_Connection;

/* True when path (the URL path, no query) is one of the static paths above, so
 * http_static_answer answers it. */
bool http_static_owns(const char *path);

/*
 * The embedded file that path serves and its Content-Type (a static string, through
 * *content_type), or NULL when path names none (*content_type untouched). The asset is static.
 */
const struct logic_web_asset *http_static_find(const char *path, const char **content_type);

/* Queues the answer to method + path (a path http_static_owns) on connection. Returns
 * libmicrohttpd's MHD_YES, or MHD_NO when out of memory (libmicrohttpd then closes the
 * connection). */
int http_static_answer(struct MHD_Connection *connection, const char *path, const char *method);

#endif
