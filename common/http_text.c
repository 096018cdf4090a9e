/* http_text.c: a short plain-text answer over libmicrohttpd (see http_text.h). */
#include "common/http_text.h"

#include <microhttpd.h>
#include <string.h>

int gim_http_text_answer(struct MHD_Connection *connection, unsigned int status, const char *text,
                         const char *name, const char *value)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result result;

    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (name != NULL)
        MHD_add_response_header(response, name, value);
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}
