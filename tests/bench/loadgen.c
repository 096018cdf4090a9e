/*
 * loadgen.c: goim load generator for the benchmark (tests/bench/run-bench.sh), over TCP or
 * WebSocket.
 *
 *   loadgen -addr 127.0.0.1:3101[,host:port...] -conns N [-procs P] [-mid-base B]
 *           [-room test://1] [-accepts 1000,1001,1002] [-heartbeat 30] [-concurrency 256]
 *           [-sources 16] [-duration S] [-status FILE] [-comet-pid PID]
 *           [-transport tcp|websocket]
 *           [-protocol goim|gusher -app APP -channel C (-token T | -jwt-file FILE)
 *            [-gusher-prefix /gusher/]]
 *
 * -transport websocket: -addr lists comet WebSocket ports (websocket.bind, e.g. 127.0.0.1:3102);
 * each client upgrades on /sub, then speaks goim in binary messages (loadgen_worker.h).
 * -protocol gusher (implies -transport websocket): gusher.cluster clients. Each upgrades on
 * `{prefix}ws/{APP}?token=`, subscribes to channel C and is ready once that succeeded; pushes are
 * the channel's text envelopes. The token is T, or, with -jwt-file, one the parent gets for the
 * JWT in FILE (its whole content, surrounding whitespace trimmed) from `POST {prefix}auth` on the
 * first -addr before the workers start, and again every 30 s while connections are still being
 * opened (a token lives 60 s and serves any number of sockets meanwhile; a failed refresh keeps
 * the old one and is tried again 5 s later). -mid-base, -room, -accepts and -heartbeat do not
 * apply to gusher clients.
 * Forks P worker processes (loadgen_worker.c), each holding about N/P connections, after raising
 * its open-file soft limit to the hard limit (each worker must stay under it). The parent sums the
 * workers' counters every 250 ms and rewrites FILE (JSON, replaced atomically) with connection
 * counts, frames by operation, push latency percentiles (microseconds), its own and its workers'
 * CPU seconds and, with -comet-pid, the comet's CPU seconds and RSS. SIGUSR1 clears the frame
 * counters and the latency histogram (the "epoch" and "epoch_acknowledged" fields show when every
 * worker has done so). SIGTERM, SIGINT or the end of -duration stop it; the last snapshot is also
 * printed on standard output. Workers die with the parent (PR_SET_PDEATHSIG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/status.h"
#include "tests/bench/loadgen_gusher.h"
#include "tests/bench/latency_histogram.h"
#include "tests/bench/loadgen_worker.h"
#include "tests/bench/proc_stats.h"

#define MAX_PROCESSES     64
#define SNAPSHOT_EVERY_MS 250
#define TOKEN_REFRESH_US  (30 * 1000000LL)
#define TOKEN_RETRY_US    (5 * 1000000LL)
#define AUTH_TIMEOUT_S    10
#define MAX_JWT           16384

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reset_requested;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static void on_reset_signal(int signal_number)
{
    (void)signal_number;
    reset_requested = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen -addr host:port[,host:port] -conns N [-procs P] "
                    "[-mid-base B] [-room ROOM] [-accepts 1000,1001] [-heartbeat S] "
                    "[-concurrency C] [-sources K] [-duration S] [-status FILE] [-comet-pid PID] "
                    "[-transport tcp|websocket] [-protocol goim|gusher -app APP -channel C "
                    "(-token T | -jwt-file FILE) [-gusher-prefix /gusher/]]\n");
    exit(2);
}

static int parse_target(const char *text, struct sockaddr_in *target)
{
    char host[128];
    const char *colon = strrchr(text, ':');
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found;
    size_t host_length;

    if (colon == NULL || (host_length = (size_t)(colon - text)) >= sizeof(host))
        return GIM_ERR_INVALID;
    memcpy(host, text, host_length);
    host[host_length] = '\0';
    if (getaddrinfo(host_length ? host : "127.0.0.1", colon + 1, &hints, &found) != 0)
        return GIM_ERR_INVALID;
    memcpy(target, found->ai_addr, sizeof(*target));
    freeaddrinfo(found);
    return GIM_OK;
}

static int parse_targets(char *list, struct loadgen_options *options)
{
    for (char *item = strtok(list, ","); item != NULL; item = strtok(NULL, ",")) {
        if (options->target_count == LOADGEN_MAX_TARGETS ||
            parse_target(item, &options->targets[options->target_count]) != GIM_OK)
            return GIM_ERR_INVALID;
        options->target_count++;
    }
    return options->target_count > 0 ? GIM_OK : GIM_ERR_INVALID;
}

static void copy_text(char *out, size_t capacity, const char *text)
{
    if (strlen(text) >= capacity) {
        fprintf(stderr, "loadgen: value too long: %s\n", text);
        exit(2);
    }
    strcpy(out, text);
}

/* True if text can go into a request target as it is (the path and token characters we use). */
static bool url_safe(const char *text)
{
    for (const char *c = text; *c != '\0'; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              strchr("-._~/", *c) != NULL))
            return false;
    return true;
}

static void parse_options(int argc, char **argv, struct loadgen_options *options)
{
    char *addresses = NULL;

    *options = (struct loadgen_options){.connections = 1000,
                                        .processes = 2,
                                        .mid_base = 1,
                                        .heartbeat_seconds = 30,
                                        .connect_concurrency = 256};
    strcpy(options->room, "test://1");
    strcpy(options->accepts, "1000,1001,1002");
    strcpy(options->gusher_prefix, "/gusher/");
    for (int index = 1; index < argc; index++) {
        const char *name = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (value == NULL)
            usage();
        index++;
        if (strcmp(name, "-addr") == 0)
            addresses = argv[index];
        else if (strcmp(name, "-conns") == 0)
            options->connections = strtol(value, NULL, 10);
        else if (strcmp(name, "-procs") == 0)
            options->processes = atoi(value);
        else if (strcmp(name, "-mid-base") == 0)
            options->mid_base = strtoll(value, NULL, 10);
        else if (strcmp(name, "-room") == 0)
            copy_text(options->room, sizeof(options->room), value);
        else if (strcmp(name, "-accepts") == 0)
            copy_text(options->accepts, sizeof(options->accepts), value);
        else if (strcmp(name, "-heartbeat") == 0)
            options->heartbeat_seconds = atoi(value);
        else if (strcmp(name, "-concurrency") == 0)
            options->connect_concurrency = atoi(value);
        else if (strcmp(name, "-sources") == 0)
            options->source_addresses = atoi(value);
        else if (strcmp(name, "-duration") == 0)
            options->duration_seconds = strtod(value, NULL);
        else if (strcmp(name, "-status") == 0)
            options->status_path = value;
        else if (strcmp(name, "-comet-pid") == 0)
            options->comet_pid = atoi(value);
        else if (strcmp(name, "-transport") == 0 && strcmp(value, "tcp") == 0)
            options->websocket = false;
        else if (strcmp(name, "-transport") == 0 && strcmp(value, "websocket") == 0)
            options->websocket = true;
        else if (strcmp(name, "-protocol") == 0 && strcmp(value, "goim") == 0)
            options->protocol = LOADGEN_PROTOCOL_GOIM;
        else if (strcmp(name, "-protocol") == 0 && strcmp(value, "gusher") == 0)
            options->protocol = LOADGEN_PROTOCOL_GUSHER;
        else if (strcmp(name, "-app") == 0)
            copy_text(options->gusher_app, sizeof(options->gusher_app), value);
        else if (strcmp(name, "-channel") == 0)
            copy_text(options->gusher_channel, sizeof(options->gusher_channel), value);
        else if (strcmp(name, "-token") == 0)
            copy_text(options->gusher_token, sizeof(options->gusher_token), value);
        else if (strcmp(name, "-jwt-file") == 0)
            options->gusher_jwt_path = value;
        else if (strcmp(name, "-gusher-prefix") == 0)
            copy_text(options->gusher_prefix, sizeof(options->gusher_prefix), value);
        else
            usage();
    }
    if (options->protocol == LOADGEN_PROTOCOL_GUSHER) {
        char command[256];
        options->websocket = true;
        if (options->gusher_app[0] == '\0' || options->gusher_channel[0] == '\0' ||
            (options->gusher_token[0] == '\0') == (options->gusher_jwt_path == NULL) ||
            loadgen_gusher_subscribe_command(command, sizeof(command), options->gusher_channel) ==
                0 ||
            !url_safe(options->gusher_app) || !url_safe(options->gusher_token) ||
            options->gusher_prefix[0] != '/' ||
            options->gusher_prefix[strlen(options->gusher_prefix) - 1] != '/' ||
            !url_safe(options->gusher_prefix))
            usage();
    }
    if (addresses == NULL || parse_targets(addresses, options) != GIM_OK ||
        options->connections < 0 || options->processes < 1 || options->processes > MAX_PROCESSES ||
        options->heartbeat_seconds < 1 || options->connect_concurrency < 1 ||
        options->source_addresses < 0 || options->source_addresses > 250)
        usage();
    for (const char *c = options->accepts; *c != '\0'; c++)
        if ((*c < '0' || *c > '9') && *c != ',')
            usage(); /* it goes into the auth JSON verbatim */
    if (strchr(options->room, '"') != NULL || strchr(options->room, '\\') != NULL)
        usage();
}

/* Raises the open-file soft limit to the hard limit; fails if a worker's share cannot fit. */
static int raise_file_limit(const struct loadgen_options *options)
{
    struct rlimit limit;
    long per_worker = options->connections / options->processes + options->processes + 64;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return GIM_ERR_IO;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        return GIM_ERR_IO;
    if (limit.rlim_cur != RLIM_INFINITY && (rlim_t)per_worker > limit.rlim_cur) {
        fprintf(stderr,
                "loadgen: %ld connections per process is over the open-file limit %llu: "
                "use more -procs\n",
                per_worker, (unsigned long long)limit.rlim_cur);
        return GIM_ERR_TOO_LARGE;
    }
    return GIM_OK;
}

static int64_t realtime_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

struct totals {
    struct loadgen_worker_stats sum;
    int64_t first_connect_us, last_auth_us;
    unsigned epoch_acknowledged;
};

static void sum_slots(const struct loadgen_worker_stats *slots, int count, unsigned epoch,
                      struct totals *totals)
{
    memset(totals, 0, sizeof(*totals));
    totals->epoch_acknowledged = epoch;
    for (int worker = 0; worker < count; worker++) {
        const struct loadgen_worker_stats *slot = &slots[worker];
        struct loadgen_worker_stats *sum = &totals->sum;
        sum->connect_started += slot->connect_started;
        sum->connected += slot->connected;
        sum->authed += slot->authed;
        sum->closed += slot->closed;
        sum->connect_failed += slot->connect_failed;
        sum->protocol_errors += slot->protocol_errors;
        sum->upgraded += slot->upgraded;
        for (int op = 0; op < LOADGEN_CONTROL_OPS; op++)
            sum->frames_by_control_op[op] += slot->frames_by_control_op[op];
        for (int op = 0; op < LOADGEN_PUSH_OPS; op++)
            sum->frames_by_push_op[op] += slot->frames_by_push_op[op];
        sum->other_push_frames += slot->other_push_frames;
        sum->push_frames += slot->push_frames;
        sum->push_bytes += slot->push_bytes;
        sum->untimed_pushes += slot->untimed_pushes;
        sum->reads += slot->reads;
        sum->heartbeats_sent += slot->heartbeats_sent;
        sum->text_messages += slot->text_messages;
        sum->cpu_seconds += slot->cpu_seconds;
        latency_histogram_merge(&sum->latency, &slot->latency);
        if (slot->first_connect_us != 0 &&
            (totals->first_connect_us == 0 || slot->first_connect_us < totals->first_connect_us))
            totals->first_connect_us = slot->first_connect_us;
        if (slot->last_auth_us > totals->last_auth_us)
            totals->last_auth_us = slot->last_auth_us;
        if (slot->epoch_seen != epoch)
            totals->epoch_acknowledged = slot->epoch_seen;
    }
}

static void write_snapshot(FILE *out, const struct loadgen_options *options,
                           const struct totals *totals, unsigned epoch, int final)
{
    const struct loadgen_worker_stats *sum = &totals->sum;
    const struct latency_histogram *latency = &sum->latency;
    double comet_cpu = -1;
    long comet_rss = -1;
    int first_op = 1;

    if (options->comet_pid > 0) {
        proc_cpu_seconds(options->comet_pid, &comet_cpu);
        proc_rss_kib(options->comet_pid, &comet_rss);
    }
    fprintf(out,
            "{\"time_us\":%lld,\"final\":%s,\"target\":%ld,\"processes\":%d,"
            "\"transport\":\"%s\",\"protocol\":\"%s\",\"epoch\":%u,\"epoch_acknowledged\":%u,"
            "\"connect_started\":%llu,\"connected\":%llu,\"upgraded\":%llu,\"authed\":%llu,"
            "\"closed\":%llu,\"connect_failed\":%llu,\"protocol_errors\":%llu,"
            "\"first_connect_us\":%lld,\"last_auth_us\":%lld,\"heartbeats_sent\":%llu,"
            "\"frames_by_op\":{",
            (long long)realtime_us(), final ? "true" : "false", options->connections,
            options->processes, options->websocket ? "websocket" : "tcp",
            options->protocol == LOADGEN_PROTOCOL_GUSHER ? "gusher" : "goim", epoch,
            totals->epoch_acknowledged, (unsigned long long)sum->connect_started,
            (unsigned long long)sum->connected, (unsigned long long)sum->upgraded,
            (unsigned long long)sum->authed, (unsigned long long)sum->closed,
            (unsigned long long)sum->connect_failed, (unsigned long long)sum->protocol_errors,
            (long long)totals->first_connect_us, (long long)totals->last_auth_us,
            (unsigned long long)sum->heartbeats_sent);
    for (int op = 0; op < LOADGEN_CONTROL_OPS; op++) {
        if (sum->frames_by_control_op[op] == 0)
            continue;
        fprintf(out, "%s\"%d\":%llu", first_op ? "" : ",", op,
                (unsigned long long)sum->frames_by_control_op[op]);
        first_op = 0;
    }
    for (int op = 0; op < LOADGEN_PUSH_OPS; op++) {
        if (sum->frames_by_push_op[op] == 0)
            continue;
        fprintf(out, "%s\"%d\":%llu", first_op ? "" : ",", 1000 + op,
                (unsigned long long)sum->frames_by_push_op[op]);
        first_op = 0;
    }
    if (sum->other_push_frames != 0)
        fprintf(out, "%s\"other\":%llu", first_op ? "" : ",",
                (unsigned long long)sum->other_push_frames);
    fprintf(out,
            "},\"text_messages\":%llu,\"push_frames\":%llu,\"push_bytes\":%llu,\"untimed_pushes\":%"
            "llu,\"reads\":%llu,"
            "\"latency_us\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p99\":%llu,"
            "\"p999\":%llu,\"max\":%llu},"
            "\"loadgen_cpu_s\":%.3f,\"comet_cpu_s\":%.3f,\"comet_rss_kib\":%ld}\n",
            (unsigned long long)sum->text_messages, (unsigned long long)sum->push_frames,
            (unsigned long long)sum->push_bytes, (unsigned long long)sum->untimed_pushes,
            (unsigned long long)sum->reads, (unsigned long long)latency->count,
            latency->count ? (double)latency->sum_us / (double)latency->count : 0.0,
            (unsigned long long)latency_histogram_quantile(latency, 0.50),
            (unsigned long long)latency_histogram_quantile(latency, 0.99),
            (unsigned long long)latency_histogram_quantile(latency, 0.999),
            (unsigned long long)latency->max_us, sum->cpu_seconds + proc_self_cpu_seconds(),
            comet_cpu, comet_rss);
}

static void publish_snapshot(const struct loadgen_options *options, const struct totals *totals,
                             unsigned epoch, int final)
{
    char temporary[4096];
    FILE *out;

    if (options->status_path == NULL)
        return;
    snprintf(temporary, sizeof(temporary), "%s.tmp", options->status_path);
    out = fopen(temporary, "w");
    if (out == NULL)
        return;
    write_snapshot(out, options, totals, epoch, final);
    if (fclose(out) == 0)
        rename(temporary, options->status_path);
}

/* Reads the JWT file into jwt (capacity MAX_JWT), surrounding whitespace trimmed. */
static int read_jwt(const char *path, char *jwt)
{
    FILE *in = fopen(path, "r");
    size_t length, start = 0;

    if (in == NULL)
        return GIM_ERR_IO;
    length = fread(jwt, 1, MAX_JWT - 1, in);
    if (ferror(in) || !feof(in)) {
        fclose(in);
        return GIM_ERR_TOO_LARGE;
    }
    fclose(in);
    while (length > 0 && strchr(" \t\r\n", jwt[length - 1]) != NULL)
        length--;
    while (start < length && strchr(" \t\r\n", jwt[start]) != NULL)
        start++;
    memmove(jwt, jwt + start, length - start);
    jwt[length - start] = '\0';
    return length > start ? GIM_OK : GIM_ERR_INVALID;
}

/*
 * Exchanges jwt for a token at `POST {prefix}auth` on target (blocking, at most AUTH_TIMEOUT_S
 * per read or write: the parent has nothing else to do meanwhile). Returns GIM_OK with token
 * filled, or a negative status after printing why to stderr.
 */
static int fetch_gusher_token(const struct loadgen_options *options, const char *jwt,
                              char token[LOADGEN_GUSHER_TOKEN_SIZE])
{
    const struct sockaddr_in *target = &options->targets[0];
    static char request[MAX_JWT * 3 + 1024];
    uint8_t answer[8192];
    char address[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN + 16];
    struct timeval timeout = {.tv_sec = AUTH_TIMEOUT_S};
    size_t length, sent = 0, received = 0;
    int status = GIM_ERR_AGAIN;
    int fd;

    inet_ntop(AF_INET, &target->sin_addr, address, sizeof(address));
    snprintf(host, sizeof(host), "%s:%u", address, (unsigned)ntohs(target->sin_port));
    length =
        loadgen_gusher_auth_request(request, sizeof(request), host, options->gusher_prefix, jwt);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (length == 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "loadgen: cannot make the gusher auth request\n");
        return GIM_ERR_IO;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, (const struct sockaddr *)target, sizeof(*target)) != 0) {
        fprintf(stderr, "loadgen: gusher auth: connect to %s: %s\n", host, strerror(errno));
        close(fd);
        return GIM_ERR_IO;
    }
    while (sent < length) {
        ssize_t written = send(fd, request + sent, length - sent, MSG_NOSIGNAL);
        if (written <= 0) {
            fprintf(stderr, "loadgen: gusher auth: send: %s\n", strerror(errno));
            close(fd);
            return GIM_ERR_IO;
        }
        sent += (size_t)written;
    }
    while (status == GIM_ERR_AGAIN) {
        ssize_t got = recv(fd, answer + received, sizeof(answer) - received, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "loadgen: gusher auth: recv: %s\n", strerror(errno));
            break;
        }
        received += (size_t)got;
        status = loadgen_gusher_auth_answer(answer, received,
                                            got == 0 || received == sizeof(answer), token);
    }
    close(fd);
    if (status == GIM_ERR_INVALID) {
        const uint8_t *line_end = memchr(answer, '\r', received);
        fprintf(stderr, "loadgen: gusher auth refused or malformed: %.*s\n",
                (int)(line_end != NULL ? (size_t)(line_end - answer) : received),
                (const char *)answer);
    }
    return status == GIM_OK ? GIM_OK : GIM_ERR_IO;
}

/* Makes token the current one for the workers (see struct loadgen_control). */
static void publish_gusher_token(struct loadgen_control *control, const char *token)
{
    unsigned generation = atomic_load(&control->gusher_token_generation);

    snprintf(control->gusher_tokens[(generation + 1) % 2], LOADGEN_GUSHER_TOKEN_SIZE, "%s", token);
    atomic_store(&control->gusher_token_generation, generation + 1);
}

int main(int argc, char **argv)
{
    static struct loadgen_options options;
    struct loadgen_control *control;
    struct loadgen_worker_stats *slots;
    static struct totals totals;
    pid_t workers[MAX_PROCESSES];
    struct sigaction action = {0};
    int64_t deadline_us;
    unsigned epoch = 0;
    int exit_status = 0;
    static char jwt[MAX_JWT];
    int64_t next_token_us = INT64_MAX;

    parse_options(argc, argv, &options);
    if (raise_file_limit(&options) != GIM_OK)
        return 1;
    control =
        mmap(NULL, sizeof(*control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    slots = mmap(NULL, sizeof(*slots) * (size_t)options.processes, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (control == MAP_FAILED || slots == MAP_FAILED) {
        perror("loadgen: mmap");
        return 1;
    }
    atomic_init(&control->stop, 0);
    atomic_init(&control->reset_epoch, 0);
    atomic_init(&control->gusher_token_generation, 0);
    if (options.protocol == LOADGEN_PROTOCOL_GUSHER) {
        char token[LOADGEN_GUSHER_TOKEN_SIZE];
        if (options.gusher_jwt_path != NULL) {
            if (read_jwt(options.gusher_jwt_path, jwt) != GIM_OK) {
                fprintf(stderr, "loadgen: cannot read a JWT from %s\n", options.gusher_jwt_path);
                return 1;
            }
            if (fetch_gusher_token(&options, jwt, token) != GIM_OK)
                return 1;
            next_token_us = realtime_us() + TOKEN_REFRESH_US;
        } else {
            snprintf(token, sizeof(token), "%s", options.gusher_token);
        }
        publish_gusher_token(control, token);
    }
    action.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    action.sa_handler = on_reset_signal;
    sigaction(SIGUSR1, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int worker = 0; worker < options.processes; worker++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("loadgen: fork");
            atomic_store(&control->stop, 1);
            options.processes = worker;
            exit_status = 1;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1)
                _exit(1);
            _exit(loadgen_worker_run(&options, worker, control, &slots[worker]) == GIM_OK ? 0 : 1);
        }
        workers[worker] = pid;
    }

    deadline_us = options.duration_seconds > 0
                      ? realtime_us() + (int64_t)(options.duration_seconds * 1e6)
                      : INT64_MAX;
    while (!stop_requested && exit_status == 0 && realtime_us() < deadline_us) {
        struct timespec pause = {0, SNAPSHOT_EVERY_MS * 1000000L};
        if (reset_requested) {
            reset_requested = 0;
            epoch = atomic_fetch_add(&control->reset_epoch, 1) + 1;
        }
        sum_slots(slots, options.processes, epoch, &totals);
        publish_snapshot(&options, &totals, epoch, 0);
        if (realtime_us() >= next_token_us) {
            char token[LOADGEN_GUSHER_TOKEN_SIZE];
            if (totals.sum.connect_started >= (uint64_t)options.connections) {
                next_token_us = INT64_MAX; /* every connection has its token */
            } else if (fetch_gusher_token(&options, jwt, token) == GIM_OK) {
                publish_gusher_token(control, token);
                next_token_us = realtime_us() + TOKEN_REFRESH_US;
            } else {
                next_token_us = realtime_us() + TOKEN_RETRY_US;
            }
        }
        for (int worker = 0; worker < options.processes; worker++) {
            int status;
            if (waitpid(workers[worker], &status, WNOHANG) == workers[worker]) {
                fprintf(stderr, "loadgen: worker %d exited early\n", worker);
                workers[worker] = 0;
                exit_status = 1;
            }
        }
        nanosleep(&pause, NULL);
    }
    atomic_store(&control->stop, 1);
    for (int worker = 0; worker < options.processes; worker++) {
        int waited = 0;
        while (workers[worker] > 0 && waitpid(workers[worker], NULL, WNOHANG) == 0) {
            struct timespec pause = {0, 50 * 1000000L};
            if (++waited == 100) /* 5 s */
                kill(workers[worker], SIGKILL);
            nanosleep(&pause, NULL);
        }
    }
    sum_slots(slots, options.processes, epoch, &totals);
    publish_snapshot(&options, &totals, epoch, 1);
    write_snapshot(stdout, &options, &totals, epoch, 1);
    return exit_status;
}
