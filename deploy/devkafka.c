/*
 * devkafka - a throwaway Kafka broker for `make run`.
 *
 * What it is for: `make run` starts a whole goim-c cluster (comet, logic, job)
 * on one machine, and logic -> job needs a Kafka broker. Instead of asking
 * developers to install and run Apache Kafka (plus ZooKeeper/KRaft), this
 * small daemon runs librdkafka's built-in mock cluster: real Kafka-protocol
 * brokers listening on 127.0.0.1, holding everything in memory. Nothing is
 * durable: every message, topic and committed offset is lost when it exits.
 * It is good enough for a dev cluster (produce with acks=all, consumer
 * groups, synchronous offset commits), but it is NOT a real Kafka: the tests
 * use a real Apache Kafka broker instead, and nothing beyond `make run` should
 * depend on this program.
 *
 * Usage (Go-flag style, like the goim daemons; `--opt` and `-opt=value` work):
 *   devkafka [-brokers N] [-topic NAME]... [-partitions N]
 *            [-bootstrap-file PATH]
 *   -brokers N           number of mock brokers (default 1)
 *   -topic NAME          topic to create up front; may be repeated
 *                        (default goim-push-topic)
 *   -partitions N        partitions of each topic given by -topic (default 4)
 *   -bootstrap-file PATH once ready, write the bootstrap servers there
 *                        ("127.0.0.1:port[,127.0.0.1:port...]", one line);
 *                        written to a temporary file in the same directory and
 *                        renamed, so a reader never sees a partial file. The
 *                        file is removed again on clean shutdown.
 *
 * Once the brokers listen and the topics exist it prints one line
 *   bootstrap=<servers>
 * on stdout (flushed), then sleeps in sigwait() until SIGINT or SIGTERM,
 * destroys the mock cluster and exits 0. Exit status 1 on a startup
 * failure, 2 on a usage error.
 *
 * Listen port: the mock cluster in the librdkafka shipped by Debian bookworm
 * (2.0.2) always binds each broker to 127.0.0.1 port 0, i.e. a kernel-chosen
 * random port, and offers no way to choose it (no API, no config property;
 * the later rd_kafka_mock_broker_set_host_port(), librdkafka >= 2.10, only
 * changes the advertised address, not the bound one). So there is no -port
 * option: read the port from stdout or from -bootstrap-file. (-port 0 is
 * accepted and means exactly that; any other -port is rejected.)
 *
 * Topics not created up front are auto-created by the mock on first use
 * (metadata request with auto-creation allowed) with 4 partitions. The Admin
 * API (CreateTopics) is not supported by the mock.
 *
 * Note: rdkafka_mock.h is an experimental librdkafka API without API/ABI
 * stability guarantees.
 *
 * Build (C11; needs _POSIX_C_SOURCE 200809L for sigwait/pthread_sigmask,
 * fsync and getpid, defined below):
 *   cc -std=c11 -Wall -Wextra -Werror -O2 deploy/devkafka.c \
 *      $(pkg-config --cflags --libs rdkafka) -o devkafka
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define DEFAULT_TOPIC  "goim-push-topic"
#define MAX_TOPICS     64
#define MAX_BROKERS    32
#define MAX_PARTITIONS 10000

static const char *prog = "devkafka";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [-brokers N] [-topic NAME]... [-partitions N] "
            "[-bootstrap-file PATH]\n"
            "  -brokers N            number of mock brokers (default 1, max %d)\n"
            "  -topic NAME           topic to create, repeatable "
            "(default " DEFAULT_TOPIC ")\n"
            "  -partitions N         partitions per topic (default 4)\n"
            "  -bootstrap-file PATH  write the bootstrap servers there when "
            "ready\n"
            "  -port 0               only 0 (random port) is supported by "
            "this librdkafka\n",
            prog, MAX_BROKERS);
}

static int parse_int(const char *opt, const char *s, int min, int max, int *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: invalid value \"%s\" for -%s (want %d..%d)\n", prog, s, opt, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Write `content` to `path` atomically: temp file in the same directory,
 * fsync, rename. Returns 0 or -1 (message printed). */
static int write_file_atomic(const char *path, const char *content)
{
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    FILE *f;
    int ok;

    if (tmp == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return -1;
    }
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: open %s: %s\n", prog, tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    ok = fputs(content, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "%s: write %s: %s\n", prog, tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "%s: rename %s -> %s: %s\n", prog, tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    int brokers = 1, partitions = 4, port = 0;
    const char *topics[MAX_TOPICS];
    int ntopics = 0;
    const char *bootstrap_file = NULL;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    const char *servers;
    sigset_t stopset;
    int sig = 0, i, rc;

    /* Parse Go-flag style options: -name value, -name=value, --name ... */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *val, *eq;
        char namebuf[64];

        if (a[0] != '-' || a[1] == '\0') {
            fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, a);
            usage(stderr);
            return 2;
        }
        name = a + 1;
        if (name[0] == '-')
            name++;
        if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
            usage(stdout);
            return 0;
        }
        eq = strchr(name, '=');
        if (eq != NULL) {
            size_t n = (size_t)(eq - name);
            if (n >= sizeof(namebuf)) {
                fprintf(stderr, "%s: unknown option \"%s\"\n", prog, a);
                usage(stderr);
                return 2;
            }
            memcpy(namebuf, name, n);
            namebuf[n] = '\0';
            name = namebuf;
            val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: option -%s needs a value\n", prog, name);
                usage(stderr);
                return 2;
            }
            val = argv[++i];
        }

        if (strcmp(name, "brokers") == 0) {
            if (parse_int(name, val, 1, MAX_BROKERS, &brokers) != 0)
                return 2;
        } else if (strcmp(name, "partitions") == 0) {
            if (parse_int(name, val, 1, MAX_PARTITIONS, &partitions) != 0)
                return 2;
        } else if (strcmp(name, "topic") == 0) {
            if (val[0] == '\0') {
                fprintf(stderr, "%s: empty -topic\n", prog);
                return 2;
            }
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "%s: too many -topic (max %d)\n", prog, MAX_TOPICS);
                return 2;
            }
            topics[ntopics++] = val;
        } else if (strcmp(name, "bootstrap-file") == 0) {
            if (val[0] == '\0') {
                fprintf(stderr, "%s: empty -bootstrap-file\n", prog);
                return 2;
            }
            bootstrap_file = val;
        } else if (strcmp(name, "port") == 0) {
            if (parse_int(name, val, 0, 65535, &port) != 0)
                return 2;
            if (port != 0) {
                fprintf(stderr,
                        "%s: -port %d: librdkafka %s's mock cluster cannot "
                        "choose its listen port (always random); read it "
                        "from stdout or -bootstrap-file\n",
                        prog, port, rd_kafka_version_str());
                return 2;
            }
        } else {
            fprintf(stderr, "%s: unknown option \"%s\"\n", prog, a);
            usage(stderr);
            return 2;
        }
    }
    if (ntopics == 0)
        topics[ntopics++] = DEFAULT_TOPIC;

    /* Block the stop signals before librdkafka starts any thread, so every
     * thread inherits the mask and main() alone receives them in sigwait().
     * Ignore SIGPIPE: a closed stdout must not kill the broker. */
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    rc = pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: pthread_sigmask: %s\n", prog, strerror(rc));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster needs an rd_kafka_t for bookkeeping (its logger and
     * timers); this handle itself never talks to any broker. */
    /* log_level 4 (warning) hides the notice "No `bootstrap.servers`
     * configured", which is true and harmless for this handle; mock cluster
     * errors (e.g. a failed bind) are logged at higher levels. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "devkafka", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: conf: %s\n", prog, errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "%s: rd_kafka_new: %s\n", prog, errstr);
        return 1;
    }

    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "%s: rd_kafka_mock_cluster_new(%d) failed\n", prog, brokers);
        rd_kafka_destroy(rk);
        return 1;
    }

    /* rd_kafka_mock_topic_create() waits for the mock thread to apply it, so
     * the topics exist before the bootstrap servers are published. The
     * replication factor is what the mock would use anyway (min(3,
     * brokers)); with acks=all the leader acks on its own. */
    for (i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i], partitions, brokers < 3 ? brokers : 3);
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            continue; /* -topic given twice */
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "%s: create topic %s: %s\n", prog, topics[i], rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }

    servers = rd_kafka_mock_cluster_bootstraps(mc);
    if (bootstrap_file != NULL && write_file_atomic(bootstrap_file, servers) != 0) {
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("bootstrap=%s\n", servers);
    fflush(stdout);
    fprintf(stderr,
            "%s: librdkafka %s mock cluster: %d broker(s), %d topic(s) x %d "
            "partition(s), bootstrap %s\n",
            prog, rd_kafka_version_str(), brokers, ntopics, partitions, servers);

    /* Sleep until asked to stop; no polling loop. */
    for (;;) {
        rc = sigwait(&stopset, &sig);
        if (rc == 0)
            break;
        if (rc != EINTR) {
            fprintf(stderr, "%s: sigwait: %s\n", prog, strerror(rc));
            break;
        }
    }
    if (rc == 0)
        fprintf(stderr, "%s: got signal %d, shutting down\n", prog, sig);

    if (bootstrap_file != NULL)
        unlink(bootstrap_file);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc == 0 ? 0 : 1;
}
