/* http_log.c: libmicrohttpd's messages in our log (see http_log.h). */
#include "common/http_log.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

void gim_http_log_message(const char *server, const char *format, va_list arguments)
{
    char line[512];

    vsnprintf(line, sizeof(line), format, arguments);
    line[strcspn(line, "\n")] = '\0';
    gim_log_warn("%s: %s", server, line);
}

void gim_http_log(void *cls, const char *format, va_list arguments)
{
    gim_http_log_message(cls, format, arguments);
}
