/*
 * http_log.h: libmicrohttpd's messages in our log, shared by every libmicrohttpd server (the
 * metrics endpoint, logic's push API, logic's gopusher API).
 */
#ifndef GIM_HTTP_LOG_H
#define GIM_HTTP_LOG_H

#include <stdarg.h>

/*
 * Logs one libmicrohttpd message (format and arguments as libmicrohttpd passes them, at most
 * 511 bytes kept, cut at its first newline) as a warning "<server>: <message>". server is
 * borrowed for the call.
 */
void gim_http_log_message(const char *server, const char *format, va_list arguments);

/*
 * The same as an MHD_OPTION_EXTERNAL_LOGGER callback: cls is the server's name, a string that
 * outlives the server (e.g. a literal: MHD_OPTION_EXTERNAL_LOGGER, gim_http_log, "metrics http").
 */
void gim_http_log(void *cls, const char *format, va_list arguments);

#endif
