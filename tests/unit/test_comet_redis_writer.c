/*
 * test_comet_redis_writer.c: unit tests of comet's off-loop Redis writer (comet/redis_writer.c)
 * against a stand-in Redis on the loopback (a thread that reads RESP commands, records them
 * and answers +OK, and can hold its answers to keep the writer busy): keyed jobs coalesce while
 * the writer is busy and are built from the latest state, the bounds drop and count, one-off
 * batches keep their order, stop runs what waits and then the last batch.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "comet/redis_writer.h"
#include "common/status.h"

#define MAX_SEEN 64

/* ---- the stand-in Redis --------------------------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int listen_fd, port;
    bool hold;               /* answers wait while set */
    int received;            /* commands read, answered or not */
    char seen[MAX_SEEN][64]; /* each command's words joined by spaces */
    int seen_count;
    pthread_t thread;
} fake = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, false, 0, {{0}}, 0, 0};

/* Reads one line ending in \r\n from fd (byte by byte: small and simple). */
static bool read_line(int fd, char *line, size_t size)
{
    size_t length = 0;

    while (length + 1 < size) {
        char c;
        if (read(fd, &c, 1) != 1)
            return false;
        if (c == '\n' && length > 0 && line[length - 1] == '\r') {
            line[length - 1] = '\0';
            return true;
        }
        line[length++] = c;
    }
    return false;
}

static void *fake_redis_main(void *argument)
{
    int fd = accept(fake.listen_fd, NULL, NULL);

    (void)argument;
    for (;;) {
        char line[256], command[64] = "";
        int count, index;

        if (fd < 0 || !read_line(fd, line, sizeof(line)) || line[0] != '*')
            break;
        count = atoi(line + 1);
        for (index = 0; index < count; index++) {
            char word[200];
            if (!read_line(fd, line, sizeof(line)) || !read_line(fd, word, sizeof(word)))
                goto done;
            if (strlen(command) + strlen(word) + 2 < sizeof(command)) {
                if (index > 0)
                    strcat(command, " ");
                strcat(command, word);
            }
        }
        pthread_mutex_lock(&fake.lock);
        fake.received++;
        pthread_cond_broadcast(&fake.changed);
        while (fake.hold)
            pthread_cond_wait(&fake.changed, &fake.lock);
        if (fake.seen_count < MAX_SEEN)
            snprintf(fake.seen[fake.seen_count++], sizeof(fake.seen[0]), "%s", command);
        pthread_cond_broadcast(&fake.changed);
        pthread_mutex_unlock(&fake.lock);
        if (write(fd, "+OK\r\n", 5) != 5)
            break;
    }
done:
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void fake_start(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t length = sizeof(address);

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(fake.listen_fd, 1), 0);
    assert_int_equal(getsockname(fake.listen_fd, (struct sockaddr *)&address, &length), 0);
    fake.port = ntohs(address.sin_port);
    fake.seen_count = 0;
    fake.received = 0;
    fake.hold = false;
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_redis_main, NULL), 0);
}

static void fake_stop(void)
{
    pthread_join(fake.thread, NULL); /* ends when the writer closes its connection */
    close(fake.listen_fd);
}

static void fake_hold(bool hold)
{
    pthread_mutex_lock(&fake.lock);
    fake.hold = hold;
    pthread_cond_broadcast(&fake.changed);
    pthread_mutex_unlock(&fake.lock);
}

/* Waits until the stand-in has answered count commands in all. */
static void fake_wait_seen(int count)
{
    pthread_mutex_lock(&fake.lock);
    while (fake.seen_count < count)
        pthread_cond_wait(&fake.changed, &fake.lock);
    pthread_mutex_unlock(&fake.lock);
}

/* Waits until the stand-in has read a command (and holds its answer: the writer is busy). */
static void fake_wait_busy(void)
{
    pthread_mutex_lock(&fake.lock);
    while (fake.received < 1)
        pthread_cond_wait(&fake.changed, &fake.lock);
    pthread_mutex_unlock(&fake.lock);
}

/* ---- the state a keyed job writes ------------------------------------------------------- */

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static int state_value;
static int builds;

static int build_state(void *context, const char *key, struct redis_batch *batch)
{
    char value[16];
    const char *argv[3] = {"SET", key, value};

    (void)context;
    pthread_mutex_lock(&state_lock);
    snprintf(value, sizeof(value), "%d", state_value);
    builds++;
    pthread_mutex_unlock(&state_lock);
    return redis_batch_add(batch, 3, argv, NULL);
}

static int build_last(void *context, const char *key, struct redis_batch *batch)
{
    const char *argv[2] = {"DEL", "everything"};

    (void)context;
    assert_string_equal(key, "");
    return redis_batch_add(batch, 2, argv, NULL);
}

static struct redis_writer *writer_start(size_t max_keys, size_t max_batches)
{
    struct redis_writer *writer;
    char address[32];
    struct redis_writer_options options = {0};

    snprintf(address, sizeof(address), "127.0.0.1:%d", fake.port);
    options.address = address;
    options.timeout_ms = 60000;
    options.max_keys = max_keys;
    options.max_batches = max_batches;
    assert_int_equal(redis_writer_start(&writer, &options), GIM_OK);
    return writer;
}

static struct redis_batch *one_command(const char *word, const char *argument)
{
    struct redis_batch *batch = redis_batch_new();
    const char *argv[2] = {word, argument};

    assert_non_null(batch);
    assert_int_equal(redis_batch_add(batch, 2, argv, NULL), GIM_OK);
    return batch;
}

static void test_keyed_jobs_coalesce_while_busy(void **state)
{
    struct redis_writer *writer;

    (void)state;
    fake_start();
    writer = writer_start(2, 0);
    fake_hold(true);
    /* the writer takes this batch and waits for its answer: busy */
    assert_int_equal(redis_writer_send(writer, one_command("PING", "busy")), GIM_OK);
    fake_wait_busy();
    pthread_mutex_lock(&state_lock);
    state_value = 1;
    pthread_mutex_unlock(&state_lock);
    assert_int_equal(redis_writer_mark(writer, "k1", build_state, NULL), GIM_OK);
    pthread_mutex_lock(&state_lock);
    state_value = 2;
    pthread_mutex_unlock(&state_lock);
    assert_int_equal(redis_writer_mark(writer, "k1", build_state, NULL), GIM_OK); /* coalesced */
    assert_int_equal(redis_writer_mark(writer, "k2", build_state, NULL), GIM_OK);
    assert_int_equal(redis_writer_mark(writer, "k3", build_state, NULL), GIM_ERR_AGAIN);
    assert_int_equal(redis_writer_dropped(writer), 1);
    pthread_mutex_lock(&state_lock);
    state_value = 3;
    pthread_mutex_unlock(&state_lock);
    fake_hold(false);
    fake_wait_seen(3);
    assert_string_equal(fake.seen[0], "PING busy");
    assert_string_equal(fake.seen[1], "SET k1 3"); /* once, with the latest state */
    assert_string_equal(fake.seen[2], "SET k2 3");
    redis_writer_stop(writer, NULL, NULL);
    assert_int_equal(fake.seen_count, 3);
    assert_int_equal(builds, 2);
    fake_stop();
}

static void test_batches_keep_order_and_are_bounded(void **state)
{
    struct redis_writer *writer;

    (void)state;
    fake_start();
    writer = writer_start(0, 2);
    fake_hold(true);
    assert_int_equal(redis_writer_send(writer, one_command("PING", "busy")), GIM_OK);
    fake_wait_busy();
    assert_int_equal(redis_writer_send(writer, one_command("RPUSH", "a")), GIM_OK);
    assert_int_equal(redis_writer_send(writer, one_command("RPUSH", "b")), GIM_OK);
    assert_int_equal(redis_writer_send(writer, one_command("RPUSH", "c")), GIM_ERR_AGAIN);
    assert_int_equal(redis_writer_dropped(writer), 1);
    fake_hold(false);
    /* stop runs what waits, then the last batch */
    redis_writer_stop(writer, build_last, NULL);
    assert_int_equal(fake.seen_count, 4);
    assert_string_equal(fake.seen[1], "RPUSH a");
    assert_string_equal(fake.seen[2], "RPUSH b");
    assert_string_equal(fake.seen[3], "DEL everything");
    fake_stop();
}

static void test_unreachable_redis_counts_failures(void **state)
{
    struct redis_writer *writer;
    struct redis_writer_options options = {0};

    (void)state;
    options.address = "127.0.0.1:1"; /* nothing listens: refused at once */
    options.timeout_ms = 1000;
    assert_int_equal(redis_writer_start(&writer, &options), GIM_OK);
    assert_int_equal(redis_writer_send(writer, one_command("PING", "x")), GIM_OK);
    while (redis_writer_failed(writer) < 1) /* the positive control: the batch ran and failed */
        usleep(1000);
    assert_int_equal(redis_writer_completed(writer), 0);
    redis_writer_stop(writer, build_last, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_jobs_coalesce_while_busy),
        cmocka_unit_test(test_batches_keep_order_and_are_bounded),
        cmocka_unit_test(test_unreachable_redis_counts_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
