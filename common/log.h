/*
 * log.h: the daemons' log line.
 *
 * gim_log(level, fmt, ...) tests the level before it formats anything, so a
 * debug line costs one comparison when debug is off. A line reads
 *   <pid>:<role> <UTC time with ms> <level letter> <message>
 * and goes to standard error in one write(2), so lines from several threads
 * never interleave. The library part of common/ logs only through these
 * macros and sparingly: ERROR and WARN for conditions a daemon's operator
 * must see (a listener that cannot bind, a Redis outage, an abandoned
 * socket), NOTICE when such a condition ends (Redis reachable again) and
 * DEBUG for detail (a peer's error reply); never at INFO, and never per
 * request above DEBUG. Each header of common/ says what it logs.
 */
#ifndef GIM_LOG_H
#define GIM_LOG_H

enum gim_log_level {
    GIM_LOG_ERROR = 0,
    GIM_LOG_WARN = 1,
    GIM_LOG_NOTICE = 2,
    GIM_LOG_INFO = 3,
    GIM_LOG_DEBUG = 4
};

/* The current threshold: lines above it are skipped. Written at start-up only. */
extern int gim_log_threshold;

/* Sets the role printed on every line (copied, at most 15 bytes kept) and
 * the threshold. Call once at start-up, before threads exist. */
void gim_log_init(const char *role, int threshold);

/* Formats and writes one line. Use the gim_log macro instead. */
void gim_log_write(int level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define gim_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= gim_log_threshold)                                                          \
            gim_log_write((level), __VA_ARGS__);                                                   \
    } while (0)

#define gim_log_error(...)  gim_log(GIM_LOG_ERROR, __VA_ARGS__)
#define gim_log_warn(...)   gim_log(GIM_LOG_WARN, __VA_ARGS__)
#define gim_log_notice(...) gim_log(GIM_LOG_NOTICE, __VA_ARGS__)
#define gim_log_info(...)   gim_log(GIM_LOG_INFO, __VA_ARGS__)
#define gim_log_debug(...)  gim_log(GIM_LOG_DEBUG, __VA_ARGS__)

#endif
