/* log.c: formatting and writing of log lines (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int gim_log_threshold = GIM_LOG_INFO;
static char log_role[16] = "goim";

void gim_log_init(const char *role, int threshold)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
    gim_log_threshold = threshold;
}

void gim_log_write(int level, const char *format, ...)
{
    static const char letters[] = "EWNID";
    char line[2048];
    struct timespec now;
    struct tm utc;
    size_t used;
    va_list args;
    int written;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    written = snprintf(line, sizeof(line), "%d:%s %04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %c ",
                       (int)getpid(), log_role, utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                       utc.tm_hour, utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000L,
                       letters[(level >= 0 && level <= GIM_LOG_DEBUG) ? level : 0]);
    used = written > 0 ? (size_t)written : 0;
    va_start(args, format);
    written = vsnprintf(line + used, sizeof(line) - used - 1, format, args);
    va_end(args);
    if (written > 0)
        used +=
            (size_t)written < sizeof(line) - used - 1 ? (size_t)written : sizeof(line) - used - 2;
    line[used++] = '\n';
    /* One write so that concurrent lines do not interleave; a short write is ignored. */
    ssize_t ignored = write(STDERR_FILENO, line, used);
    (void)ignored;
}
