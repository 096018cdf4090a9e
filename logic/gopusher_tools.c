/* gopusher_tools.c: -hash-password and -import-gopusher (see gopusher_tools.h). */
#include "logic/gopusher_tools.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "common/status.h"
#include "logic/config.h"
#include "logic/gopusher_apps.h"
#include "logic/gopusher_auth.h"

/* The index of -name / --name in argv, or -1. */
static int gopusher_tools_find(int argc, char **argv, const char *name)
{
    int index;

    for (index = 1; index < argc; index++) {
        const char *argument = argv[index];
        while (*argument == '-')
            argument++;
        if (argument != argv[index] && strcmp(argument, name) == 0)
            return index;
    }
    return -1;
}

static int gopusher_tools_hash(const char *account)
{
    char line[1024], hash[GOPUSHER_HASH_SIZE];
    size_t length;

    if (fgets(line, sizeof(line), stdin) == NULL) {
        fprintf(stderr, "logic -hash-password: give the password on stdin\n");
        return 2;
    }
    length = strcspn(line, "\r\n");
    line[length] = '\0';
    if (account[0] == '\0' || length == 0) {
        fprintf(stderr, "logic -hash-password: the account and the password must not be empty\n");
        return 2;
    }
    if (gopusher_password_hash(account, line, hash, sizeof(hash)) != GIM_OK) {
        fprintf(stderr, "logic -hash-password: bcrypt failed\n");
        return 1;
    }
    explicit_bzero(line, sizeof(line));
    printf("%s\n", hash);
    return 0;
}

/* A column as text ("" for NULL), owned by the statement until the next step. */
static char *gopusher_tools_column(sqlite3_stmt *statement, int column)
{
    const unsigned char *text = sqlite3_column_text(statement, column);
    return (char *)(text ? text : (const unsigned char *)"");
}

/* Copies every row of appdata into Redis. Returns the exit code. */
static int gopusher_tools_import_rows(sqlite3 *database, struct gim_redis *redis, const char *file)
{
    static const char query[] = "SELECT app_key, auth_account, auth_password, connect_hook, "
                                "request_ip, timestamp, date FROM appdata ORDER BY rowid";
    sqlite3_stmt *statement = NULL;
    size_t imported = 0, skipped = 0;
    int result, exit_code = 0;

    if (sqlite3_prepare_v2(database, query, -1, &statement, NULL) != SQLITE_OK) {
        fprintf(stderr, "logic -import-gopusher: %s: %s\n", file, sqlite3_errmsg(database));
        return 1;
    }
    while ((result = sqlite3_step(statement)) == SQLITE_ROW) {
        struct gopusher_app app = {
            .app_key = gopusher_tools_column(statement, 0),
            .auth_account = gopusher_tools_column(statement, 1),
            .auth_password = gopusher_tools_column(statement, 2),
            .connect_hook = gopusher_tools_column(statement, 3),
            .request_ip = gopusher_tools_column(statement, 4),
            .timestamp = gopusher_tools_column(statement, 5),
            .date = gopusher_tools_column(statement, 6),
        };
        bool created = false;
        int status;

        if (app.app_key[0] == '\0' || strchr(app.app_key, '/') != NULL) {
            fprintf(stderr, "logic -import-gopusher: app_key \"%s\" cannot be routed; skipped\n",
                    app.app_key);
            skipped++;
            continue;
        }
        status = gopusher_apps_register(redis, &app, &created);
        if (status != GIM_OK) {
            fprintf(stderr, "logic -import-gopusher: redis: %s (after %zu apps)\n",
                    gim_strerror(status), imported);
            exit_code = 1;
            break;
        }
        if (created) {
            imported++;
        } else {
            fprintf(stderr, "logic -import-gopusher: app \"%s\" is registered already; kept\n",
                    app.app_key);
            skipped++;
        }
    }
    if (exit_code == 0 && result != SQLITE_DONE) {
        fprintf(stderr, "logic -import-gopusher: %s: %s\n", file, sqlite3_errmsg(database));
        exit_code = 1;
    }
    sqlite3_finalize(statement);
    printf("imported %zu apps from %s, skipped %zu\n", imported, file, skipped);
    return exit_code;
}

/* -import-gopusher FILE with the other arguments as logic's settings (redis.*). */
static int gopusher_tools_import(int argc, char **argv, int at)
{
    struct logic_config config;
    struct gim_config_command command;
    struct gim_redis *redis = NULL;
    sqlite3 *database = NULL;
    char error[512], **rest;
    const char *file = argv[at + 1];
    int index, count = 0, exit_code;

    rest = calloc((size_t)argc, sizeof(*rest));
    if (rest == NULL)
        return 1;
    for (index = 0; index < argc; index++)
        if (index != at && index != at + 1)
            rest[count++] = argv[index];
    memset(&config, 0, sizeof(config));
    if (logic_config_load(&config, count, rest, &command, error, sizeof(error)) != GIM_OK) {
        fprintf(stderr, "logic: bad configuration: %s\n", error);
        logic_config_free(&config);
        free(rest);
        return 2;
    }
    free(rest);
    if (sqlite3_open_v2(file, &database, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "logic -import-gopusher: %s: %s\n", file,
                database ? sqlite3_errmsg(database) : "cannot open");
        sqlite3_close(database);
        logic_config_free(&config);
        return 1;
    }
    if (gim_redis_open(&redis, config.redis_addr, config.redis_auth,
                       (int)config.redis_timeout_ms) != GIM_OK) {
        fprintf(stderr, "logic -import-gopusher: redis.addr \"%s\" is not host:port\n",
                config.redis_addr);
        exit_code = 2;
    } else {
        exit_code = gopusher_tools_import_rows(database, redis, file);
    }
    gim_redis_close(redis);
    sqlite3_close(database);
    logic_config_free(&config);
    return exit_code;
}

int gopusher_tools_run(int argc, char **argv)
{
    int at = gopusher_tools_find(argc, argv, "hash-password");

    if (at >= 0) {
        if (at + 1 >= argc) {
            fprintf(stderr, "usage: logic -hash-password ACCOUNT < password\n");
            return 2;
        }
        return gopusher_tools_hash(argv[at + 1]);
    }
    at = gopusher_tools_find(argc, argv, "import-gopusher");
    if (at >= 0) {
        if (at + 1 >= argc) {
            fprintf(stderr, "usage: logic -import-gopusher FILE [-redis.addr host:port ...]\n");
            return 2;
        }
        return gopusher_tools_import(argc, argv, at);
    }
    return -1;
}
