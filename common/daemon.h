/*
 * daemon.h: the start-up the three daemons share.
 *
 * Loads the daemon's configuration from its table (common/config.h),
 * answers -h (the flag list on standard output) and -t (the effective
 * configuration as JSON on standard output), refuses a bad configuration
 * with "<role>: bad configuration: <why>" on standard error, and starts the
 * log (common/log.h) with the daemon's role, at debug level when its debug
 * setting is on. Exit codes: 0 after -h and -t, 2 for a bad configuration.
 */
#ifndef GIM_DAEMON_H
#define GIM_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

/* A daemon's configuration functions, over its own struct passed as void *. */
struct gim_daemon {
    const char *role; /* "comet", "logic", "job": the log role and the message prefix */
    /* As <daemon>_config_load: fills config (zeroed by the caller) from argv; GIM_OK or
     * GIM_ERR_INVALID with a message in error[0..error_size). */
    int (*load)(void *config, int argc, char **argv, struct gim_config_command *command,
                char *error, size_t error_size);
    void (*usage)(const char *program, FILE *out); /* the -h text */
    void (*dump)(const void *config, FILE *out);   /* the -t JSON */
    void (*free)(void *config);                    /* frees what config owns */
    size_t debug_offset; /* offsetof(the daemon's struct, its bool debug setting) */
};

/*
 * Runs the start-up for daemon with argv into config (the daemon's struct,
 * zeroed by the caller). Returns true when the daemon should run: the log
 * is started and config is loaded (the caller frees it with daemon->free
 * when it stops). Returns false when main should return *exit_code at once
 * (-h, -t or a bad configuration, written as described above); config is
 * already freed then.
 */
bool gim_daemon_start(const struct gim_daemon *daemon, void *config, int argc, char **argv,
                      int *exit_code);

#endif
