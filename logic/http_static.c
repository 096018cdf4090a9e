/* http_static.c: the demo page and the JavaScript client from logic's HTTP server (see
 * http_static.h). */
#include "logic/http_static.h"

#include <microhttpd.h>
#include <string.h>

#include "common/http_text.h"
#include "common/log.h"

/* URL path -> embedded file name (logic/web). */
struct http_static_route {
    const char *path;
    const char *asset;
};

static const struct http_static_route http_static_routes[] = {
    {"/demo/", "index.html"},
    {"/demo/demo.js", "demo.js"},
    {"/demo/demo.css", "demo.css"},
    {"/client/goim.js", "goim.js"},
};

/* File name suffix -> Content-Type. */
static const struct {
    const char *suffix;
    const char *content_type;
} http_static_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
};

/*
 * The page's policy: scripts, styles and fetches from logic only; WebSockets to any comet (the
 * nodes discovery names); no framing by other sites.
 */
#define HTTP_STATIC_PAGE_POLICY                                                                    \
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "                      \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* True when text starts with prefix. */
static bool http_static_starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

bool http_static_owns(const char *path)
{
    return strcmp(path, "/demo") == 0 || http_static_starts_with(path, "/demo/") ||
           http_static_starts_with(path, "/client/");
}

/* The Content-Type of a file name, by its suffix. */
static const char *http_static_content_type(const char *name)
{
    size_t length = strlen(name), index;

    for (index = 0; index < sizeof(http_static_types) / sizeof(http_static_types[0]); index++) {
        size_t suffix_length = strlen(http_static_types[index].suffix);
        if (length >= suffix_length &&
            strcmp(name + length - suffix_length, http_static_types[index].suffix) == 0)
            return http_static_types[index].content_type;
    }
    return "application/octet-stream";
}

const struct logic_web_asset *http_static_find(const char *path, const char **content_type)
{
    size_t route, asset;

    for (route = 0; route < sizeof(http_static_routes) / sizeof(http_static_routes[0]); route++) {
        if (strcmp(http_static_routes[route].path, path) != 0)
            continue;
        for (asset = 0; asset < logic_web_asset_count; asset++) {
            if (strcmp(logic_web_assets[asset].name, http_static_routes[route].asset) == 0) {
                *content_type = http_static_content_type(logic_web_assets[asset].name);
                return &logic_web_assets[asset];
            }
        }
        return NULL; /* a route without its file: a build that left it out */
    }
    return NULL;
}

int http_static_answer(struct MHD_Connection *connection, const char *path, const char *method)
{
    const struct logic_web_asset *asset;
    const char *content_type = NULL;
    struct MHD_Response *response;
    enum MHD_Result result;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return gim_http_text_answer(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                    MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (strcmp(path, "/demo") == 0)
        return gim_http_text_answer(connection, MHD_HTTP_MOVED_PERMANENTLY, "/demo/\n",
                                    MHD_HTTP_HEADER_LOCATION, "/demo/");
    asset = http_static_find(path, &content_type);
    if (asset == NULL)
        return gim_http_text_answer(connection, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
    /* libmicrohttpd leaves the body out of a HEAD answer by itself. */
    response =
        MHD_create_response_from_buffer(asset->length, (void *)asset->data, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (strcmp(asset->name, "goim.js") == 0) /* public code: importable from any site's page */
        MHD_add_response_header(response, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    if (strcmp(content_type, "text/html; charset=utf-8") == 0)
        MHD_add_response_header(response, "Content-Security-Policy", HTTP_STATIC_PAGE_POLICY);
    result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    gim_log_debug("http: %s %s -> 200 %s (%zu bytes)", method, path, asset->name, asset->length);
    return result;
}
