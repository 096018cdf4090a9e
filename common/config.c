/* config.c: the table-driven configuration loader (see config.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"

#define FIELD(config, row, type) ((type *)((char *)(config) + (row)->offset))

int gim_config_parse_duration(const char *text, int64_t *milliseconds)
{
    const char *cursor = text;
    int64_t total = 0;
    char *end;

    if (text == NULL || *text == '\0')
        return GIM_ERR_INVALID;
    while (*cursor != '\0') {
        double value;
        int64_t unit;

        errno = 0;
        value = strtod(cursor, &end);
        if (end == cursor || errno != 0 || value < 0)
            return GIM_ERR_INVALID;
        cursor = end;
        if (strncmp(cursor, "ms", 2) == 0) {
            unit = 1;
            cursor += 2;
        } else if (*cursor == 's') {
            unit = 1000;
            cursor++;
        } else if (*cursor == 'm') {
            unit = 60 * 1000;
            cursor++;
        } else if (*cursor == 'h') {
            unit = 3600 * 1000;
            cursor++;
        } else if (*cursor == '\0' && cursor != text) {
            unit = 1; /* a bare number is milliseconds */
        } else {
            return GIM_ERR_INVALID;
        }
        if (value * (double)unit > 9.0e15)
            return GIM_ERR_INVALID;
        total += (int64_t)(value * (double)unit);
    }
    *milliseconds = total;
    return GIM_OK;
}

/* Sets one row from text. Returns GIM_OK or GIM_ERR_INVALID with a message. */
static int config_set_text(const struct gim_config_option *row, void *config, const char *text,
                           const char *origin, char *error, size_t error_size)
{
    char *end;

    switch (row->type) {
    case GIM_CONFIG_STRING: {
        char *copy = strdup(text);
        if (copy == NULL)
            return GIM_ERR_NO_MEMORY;
        free(*FIELD(config, row, char *));
        *FIELD(config, row, char *) = copy;
        return GIM_OK;
    }
    case GIM_CONFIG_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
            *FIELD(config, row, bool) = true;
        } else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || *text == '\0') {
            *FIELD(config, row, bool) = false;
        } else {
            snprintf(error, error_size, "%s: %s: not a boolean: \"%s\"", origin, row->name, text);
            return GIM_ERR_INVALID;
        }
        return GIM_OK;
    case GIM_CONFIG_INT: {
        long long value;
        errno = 0;
        value = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno != 0) {
            snprintf(error, error_size, "%s: %s: not an integer: \"%s\"", origin, row->name, text);
            return GIM_ERR_INVALID;
        }
        if (row->min <= row->max && (value < row->min || value > row->max)) {
            snprintf(error, error_size, "%s: %s: %lld is outside [%" PRId64 ", %" PRId64 "]",
                     origin, row->name, value, row->min, row->max);
            return GIM_ERR_INVALID;
        }
        *FIELD(config, row, int64_t) = value;
        return GIM_OK;
    }
    case GIM_CONFIG_DURATION: {
        int64_t value;
        if (gim_config_parse_duration(text, &value) != GIM_OK) {
            snprintf(error, error_size, "%s: %s: not a duration (like 250ms, 5s, 4m): \"%s\"",
                     origin, row->name, text);
            return GIM_ERR_INVALID;
        }
        if (row->min <= row->max && (value < row->min || value > row->max)) {
            snprintf(error, error_size,
                     "%s: %s: %" PRId64 "ms is outside [%" PRId64 "ms, %" PRId64 "ms]", origin,
                     row->name, value, row->min, row->max);
            return GIM_ERR_INVALID;
        }
        *FIELD(config, row, int64_t) = value;
        return GIM_OK;
    }
    case GIM_CONFIG_DOUBLE: {
        double value;
        errno = 0;
        value = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || errno != 0) {
            snprintf(error, error_size, "%s: %s: not a number: \"%s\"", origin, row->name, text);
            return GIM_ERR_INVALID;
        }
        *FIELD(config, row, double) = value;
        return GIM_OK;
    }
    }
    return GIM_ERR_INVALID;
}

/* Turns a JSON value into the text form config_set_text takes. */
static int config_json_text(const json_t *value, char **text)
{
    if (json_is_string(value)) {
        *text = strdup(json_string_value(value));
    } else if (json_is_integer(value)) {
        if (asprintf(text, "%" JSON_INTEGER_FORMAT, json_integer_value(value)) < 0)
            *text = NULL;
    } else if (json_is_real(value)) {
        if (asprintf(text, "%.17g", json_real_value(value)) < 0)
            *text = NULL;
    } else if (json_is_boolean(value)) {
        *text = strdup(json_is_true(value) ? "true" : "false");
    } else if (json_is_array(value)) {
        size_t index, used = 0, capacity = 1;
        const json_t *item;
        json_array_foreach(value, index, item)
        {
            if (!json_is_string(item))
                return GIM_ERR_INVALID;
            capacity += strlen(json_string_value(item)) + 1;
        }
        *text = calloc(1, capacity);
        if (*text == NULL)
            return GIM_ERR_NO_MEMORY;
        json_array_foreach(value, index, item)
        {
            used +=
                (size_t)sprintf(*text + used, "%s%s", index ? "," : "", json_string_value(item));
        }
    } else {
        return GIM_ERR_INVALID;
    }
    return *text == NULL ? GIM_ERR_NO_MEMORY : GIM_OK;
}

/* Finds the value at a dotted path in root, or NULL. The flat form {"tcp.bind": ...} (what -t
 * prints) and the nested form {"tcp": {"bind": ...}} are both accepted. */
static json_t *config_json_lookup(json_t *root, const char *dotted)
{
    char path[256];
    char *part, *save = NULL;
    json_t *node = json_object_get(root, dotted);

    if (node != NULL)
        return node;
    node = root;

    snprintf(path, sizeof(path), "%s", dotted);
    for (part = strtok_r(path, ".", &save); part != NULL && node != NULL;
         part = strtok_r(NULL, ".", &save))
        node = json_is_object(node) ? json_object_get(node, part) : NULL;
    return node;
}

/* Reports keys in the file that no row knows, so that typos do not pass silently. */
static int config_check_unknown(const struct gim_config_option *table, size_t rows, json_t *node,
                                const char *prefix, const char *path, char *error,
                                size_t error_size)
{
    const char *key;
    json_t *value;

    json_object_foreach(node, key, value)
    {
        char dotted[256];
        size_t index;
        bool known = false;

        snprintf(dotted, sizeof(dotted), "%s%s%s", prefix, *prefix ? "." : "", key);
        for (index = 0; index < rows; index++) {
            size_t length = strlen(dotted);
            if (strcmp(table[index].name, dotted) == 0) {
                known = true;
                break;
            }
            if (strncmp(table[index].name, dotted, length) == 0 &&
                table[index].name[length] == '.' && json_is_object(value)) {
                int status =
                    config_check_unknown(table, rows, value, dotted, path, error, error_size);
                if (status != GIM_OK)
                    return status;
                known = true;
                break;
            }
        }
        if (!known) {
            snprintf(error, error_size, "%s: unknown setting \"%s\"", path, dotted);
            return GIM_ERR_INVALID;
        }
    }
    return GIM_OK;
}

static int config_load_file(const struct gim_config_option *table, size_t rows, void *config,
                            const char *path, char *error, size_t error_size)
{
    json_error_t json_error;
    json_t *root = json_load_file(path, 0, &json_error);
    size_t index;
    int status = GIM_OK;

    if (root == NULL) {
        snprintf(error, error_size, "%s:%d: %s", path, json_error.line, json_error.text);
        return GIM_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        snprintf(error, error_size, "%s: the configuration must be a JSON object", path);
        json_decref(root);
        return GIM_ERR_INVALID;
    }
    status = config_check_unknown(table, rows, root, "", path, error, error_size);
    for (index = 0; index < rows && status == GIM_OK; index++) {
        json_t *value = config_json_lookup(root, table[index].name);
        char *text = NULL;

        if (value == NULL || json_is_null(value))
            continue;
        status = config_json_text(value, &text);
        if (status != GIM_OK) {
            snprintf(error, error_size, "%s: %s: unsupported JSON value", path, table[index].name);
        } else {
            status = config_set_text(&table[index], config, text, path, error, error_size);
        }
        free(text);
    }
    json_decref(root);
    return status;
}

static const struct gim_config_option *config_find_flag(const struct gim_config_option *table,
                                                        size_t rows, const char *name,
                                                        size_t length)
{
    size_t index;

    for (index = 0; index < rows; index++) {
        const char *flag = table[index].flag ? table[index].flag : table[index].name;
        if (strlen(flag) == length && strncmp(flag, name, length) == 0)
            return &table[index];
    }
    return NULL;
}

int gim_config_load(const struct gim_config_option *table, size_t rows, void *config, int argc,
                    char **argv, struct gim_config_command *command, char *error, size_t error_size)
{
    size_t index;
    int argument, status;

    memset(command, 0, sizeof(*command));
    error[0] = '\0';
    for (index = 0; index < rows; index++) {
        status = config_set_text(&table[index], config,
                                 table[index].default_value ? table[index].default_value : "",
                                 "default", error, error_size);
        if (status != GIM_OK && table[index].default_value == NULL) {
            status = GIM_OK; /* no default: the field stays zero */
            error[0] = '\0';
        }
        if (status != GIM_OK)
            return status;
    }
    /* First pass over argv: -conf, -t and -h, which decide what else happens. */
    for (argument = 1; argument < argc; argument++) {
        const char *name = argv[argument];
        while (*name == '-')
            name++;
        if (strcmp(name, "conf") == 0 && argument + 1 < argc) {
            command->conf_path = argv[++argument];
        } else if (strncmp(name, "conf=", 5) == 0) {
            command->conf_path = name + 5;
        } else if (strcmp(name, "t") == 0) {
            command->check_only = true;
        } else if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
            command->help = true;
        }
    }
    if (command->help)
        return GIM_OK;
    if (command->conf_path != NULL) {
        status = config_load_file(table, rows, config, command->conf_path, error, error_size);
        if (status != GIM_OK)
            return status;
    }
    for (index = 0; index < rows; index++) {
        const char *value = table[index].env ? getenv(table[index].env) : NULL;
        if (value != NULL && *value != '\0') {
            char origin[64];
            snprintf(origin, sizeof(origin), "environment %s", table[index].env);
            status = config_set_text(&table[index], config, value, origin, error, error_size);
            if (status != GIM_OK)
                return status;
        }
    }
    for (argument = 1; argument < argc; argument++) {
        const char *name = argv[argument];
        const char *equals, *value;
        const struct gim_config_option *row;
        size_t length;

        if (*name != '-') {
            snprintf(error, error_size, "unexpected argument \"%s\"", argv[argument]);
            return GIM_ERR_INVALID;
        }
        while (*name == '-')
            name++;
        if (strcmp(name, "conf") == 0) {
            argument++;
            continue;
        }
        if (strncmp(name, "conf=", 5) == 0 || strcmp(name, "t") == 0)
            continue;
        equals = strchr(name, '=');
        length = equals ? (size_t)(equals - name) : strlen(name);
        row = config_find_flag(table, rows, name, length);
        if (row == NULL) {
            snprintf(error, error_size, "unknown flag \"%s\" (try -h)", argv[argument]);
            return GIM_ERR_INVALID;
        }
        if (equals != NULL) {
            value = equals + 1;
        } else if (row->type == GIM_CONFIG_BOOL &&
                   (argument + 1 >= argc || argv[argument + 1][0] == '-')) {
            value = "true";
        } else if (argument + 1 < argc) {
            value = argv[++argument];
        } else {
            snprintf(error, error_size, "flag \"%s\" needs a value", argv[argument]);
            return GIM_ERR_INVALID;
        }
        status = config_set_text(row, config, value, "command line", error, error_size);
        if (status != GIM_OK)
            return status;
    }
    return GIM_OK;
}

/* A credential, never written by the dump: the last name component contains "secret" or
 * "token", or is "auth" or "password". */
static bool config_row_is_secret(const struct gim_config_option *row)
{
    const char *last = strrchr(row->name, '.');

    last = last ? last + 1 : row->name;
    return strstr(last, "secret") != NULL || strstr(last, "Secret") != NULL ||
           strstr(last, "token") != NULL || strstr(last, "Token") != NULL ||
           strcmp(last, "auth") == 0 || strcmp(last, "password") == 0;
}

void gim_config_dump(const struct gim_config_option *table, size_t rows, const void *config,
                     FILE *out)
{
    size_t index;

    fputs("{\n", out);
    for (index = 0; index < rows; index++) {
        const struct gim_config_option *row = &table[index];
        const char *separator = index + 1 < rows ? "," : "";

        fprintf(out, "  \"%s\": ", row->name);
        switch (row->type) {
        case GIM_CONFIG_STRING: {
            const char *text = *FIELD(config, row, char *const);
            json_t *string;
            if (text != NULL && text[0] != '\0' && config_row_is_secret(row))
                text = "(set, not shown)";
            string = json_string(text ? text : "");
            char *encoded = string ? json_dumps(string, JSON_ENCODE_ANY) : NULL;
            fprintf(out, "%s%s\n", encoded ? encoded : "\"\"", separator);
            free(encoded);
            json_decref(string);
            break;
        }
        case GIM_CONFIG_BOOL:
            fprintf(out, "%s%s\n", *FIELD(config, row, const bool) ? "true" : "false", separator);
            break;
        case GIM_CONFIG_INT:
            fprintf(out, "%" PRId64 "%s\n", *FIELD(config, row, const int64_t), separator);
            break;
        case GIM_CONFIG_DURATION:
            fprintf(out, "\"%" PRId64 "ms\"%s\n", *FIELD(config, row, const int64_t), separator);
            break;
        case GIM_CONFIG_DOUBLE:
            fprintf(out, "%g%s\n", *FIELD(config, row, const double), separator);
            break;
        }
    }
    fputs("}\n", out);
}

/* Writes a limit of a row as -h shows it: a duration in its largest whole unit ("10s"). */
static void config_format_limit(const struct gim_config_option *row, int64_t value, char *out,
                                size_t size)
{
    static const struct {
        int64_t milliseconds;
        const char *unit;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
    size_t index;

    if (row->type == GIM_CONFIG_DURATION) {
        for (index = 0; index < sizeof(units) / sizeof(units[0]); index++) {
            if (value != 0 && value % units[index].milliseconds == 0) {
                snprintf(out, size, "%lld%s", (long long)(value / units[index].milliseconds),
                         units[index].unit);
                return;
            }
        }
        snprintf(out, size, "%lldms", (long long)value);
        return;
    }
    snprintf(out, size, "%lld", (long long)value);
}

void gim_config_usage(const struct gim_config_option *table, size_t rows, const char *program,
                      FILE *out)
{
    char low[32], high[32], range[80];
    size_t index;

    fprintf(out, "usage: %s [-conf FILE.json] [-t] [-flag value ...]\n", program);
    fprintf(out, "  -conf FILE   JSON configuration file\n  -t           check the configuration, "
                 "print it and exit\n");
    for (index = 0; index < rows; index++) {
        const struct gim_config_option *row = &table[index];
        range[0] = '\0';
        if ((row->type == GIM_CONFIG_INT || row->type == GIM_CONFIG_DURATION) &&
            row->min <= row->max) {
            config_format_limit(row, row->min, low, sizeof(low));
            config_format_limit(row, row->max, high, sizeof(high));
            snprintf(range, sizeof(range), ", %s..%s", low, high);
        }
        fprintf(out, "  -%-24s %s (default \"%s\"%s%s%s)\n", row->flag ? row->flag : row->name,
                row->help ? row->help : "", row->default_value ? row->default_value : "", range,
                row->env ? ", env " : "", row->env ? row->env : "");
    }
}

void gim_config_free(const struct gim_config_option *table, size_t rows, void *config)
{
    size_t index;

    for (index = 0; index < rows; index++) {
        if (table[index].type == GIM_CONFIG_STRING) {
            free(*FIELD(config, &table[index], char *));
            *FIELD(config, &table[index], char *) = NULL;
        }
    }
}

int gim_config_default_host(char **host, const char *fallback, char *error, size_t error_size)
{
    char name[256] = "";
    const char *chosen = name;
    char *copy;

    if (*host != NULL && (*host)[0] != '\0')
        return GIM_OK;
    if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
        if (fallback == NULL) {
            snprintf(error, error_size, "host: not set and gethostname() failed");
            return GIM_ERR_INVALID;
        }
        chosen = fallback;
    }
    copy = strdup(chosen);
    if (copy == NULL)
        return GIM_ERR_NO_MEMORY;
    free(*host);
    *host = copy;
    return GIM_OK;
}

size_t gim_config_list_length(const char *list)
{
    size_t count = 1;

    if (list == NULL || list[0] == '\0')
        return 0;
    for (; *list != '\0'; list++)
        count += *list == ',';
    return count;
}
