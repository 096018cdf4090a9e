/*
 * config.h: one table per daemon drives configuration.
 *
 * Each daemon describes its settings once, as an array of gim_config_option
 * rows: a dotted name that is also the JSON path in the -conf file
 * ("rpcServer.addr" is {"rpcServer":{"addr":...}}), a type, the offset of
 * the field in the daemon's own struct, a default written as text, limits,
 * and optionally a command-line flag and an environment variable (goim's
 * -host/HOST, -region/REGION, ...). The same table parses, validates, fills
 * defaults and dumps. Precedence, lowest first: default, file, environment,
 * flag.
 *
 * Field types: GIM_CONFIG_INT -> int64_t, GIM_CONFIG_BOOL -> bool,
 * GIM_CONFIG_STRING -> char * (owned by the struct, freed by
 * gim_config_free), GIM_CONFIG_DURATION -> int64_t milliseconds (text "250ms",
 * "5s", "4m", "1h", or a bare number of milliseconds), GIM_CONFIG_DOUBLE ->
 * double. A JSON array given for a STRING is joined with commas (goim's
 * bind lists).
 */
#ifndef GIM_CONFIG_H
#define GIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gim_config_type {
    GIM_CONFIG_INT,
    GIM_CONFIG_BOOL,
    GIM_CONFIG_STRING,
    GIM_CONFIG_DURATION,
    GIM_CONFIG_DOUBLE
};

struct gim_config_option {
    const char *name; /* dotted JSON path, e.g. "tcp.bind" */
    enum gim_config_type type;
    size_t offset;             /* offsetof(daemon struct, field) */
    const char *default_value; /* text, parsed as a flag value would be; NULL = empty/0 */
    int64_t min, max; /* inclusive limits for INT and DURATION (ms); ignored if min > max */
    const char *flag; /* command-line flag without the dash, or NULL */
    const char *env;  /* environment variable, or NULL */
    const char *help; /* one line for -h and the dump */
};

/* What the command line asked for besides settings. */
struct gim_config_command {
    const char *conf_path; /* -conf FILE, or NULL (points into argv) */
    bool check_only;       /* -t: check the configuration, dump it and exit */
    bool help;             /* -h / -help */
};

/*
 * Fills config (a daemon struct, zeroed by the caller) from defaults, the
 * -conf file, the environment and the flags in argv, in that order, checking
 * every value against its row. Accepted flag forms: -name value, -name=value,
 * --name value; a BOOL flag alone means true.
 * Returns GIM_OK, or GIM_ERR_INVALID with a message naming the setting (and
 * the file) in error[0..error_size). Strings set in config are owned by
 * config even on failure: call gim_config_free in every case.
 */
int gim_config_load(const struct gim_config_option *table, size_t rows, void *config, int argc,
                    char **argv, struct gim_config_command *command, char *error,
                    size_t error_size);

/*
 * Writes the effective configuration as a JSON object to out. A credential
 * (a row whose last name component contains "secret" or "token", or is
 * "auth" or "password") that is set is written as "(set, not shown)".
 */
void gim_config_dump(const struct gim_config_option *table, size_t rows, const void *config,
                     FILE *out);

/* Writes one -h line per row to out: flag, help, default, range (INT, DURATION), env. */
void gim_config_usage(const struct gim_config_option *table, size_t rows, const char *program,
                      FILE *out);

/* Frees the strings the table owns inside config; config itself stays the caller's. */
void gim_config_free(const struct gim_config_option *table, size_t rows, void *config);

/*
 * Gives a daemon's host setting (its server id) its default: when *host is
 * NULL or empty, *host becomes a copy of this machine's name
 * (gethostname()); a non-empty *host is left alone. When the name cannot be
 * read or is empty, *host becomes a copy of fallback, or, with fallback
 * NULL, nothing changes and GIM_ERR_INVALID is returned with
 * "host: not set and gethostname() failed" in error[0..error_size).
 * *host is owned by the daemon's config (freed by gim_config_free); a value
 * it replaces is freed here. fallback and error stay the caller's.
 * Returns GIM_OK, GIM_ERR_INVALID, or GIM_ERR_NO_MEMORY (*host unchanged,
 * error untouched).
 */
int gim_config_default_host(char **host, const char *fallback, char *error, size_t error_size);

/*
 * Entries of a comma-separated setting such as tcp.bind or websocket.certFile:
 * 0 for NULL or "", else commas + 1 (an empty entry counts). list stays the
 * caller's.
 */
size_t gim_config_list_length(const char *list);

/*
 * Parses a duration ("250ms", "5s", "4m", "1h", "1h30m" or a bare number of
 * milliseconds) into *milliseconds. Returns GIM_OK or GIM_ERR_INVALID.
 */
int gim_config_parse_duration(const char *text, int64_t *milliseconds);

#endif
