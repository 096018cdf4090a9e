/* rpc_auth.c: HMAC-SHA256 signatures and the replay window of internal RPC requests (see
 * rpc_auth.h). */
#include "rpc_auth.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "status.h"

#define RPC_AUTH_REPLAY_BITS 1024u /* counters remembered below a sender's highest */
#define RPC_AUTH_PROBES      16    /* slots looked at for one sender id */

struct rpc_sender {
    uint64_t id; /* 0 = free slot */
    uint64_t highest;
    int64_t last_seen_ms;
    uint64_t seen[RPC_AUTH_REPLAY_BITS / 64]; /* bit counter % 1024 */
};

static struct {
    int enabled;
    /* HMAC-SHA256 keyed once; every MAC starts from a copy (setting the key up each time
     * costs more than hashing a small request) */
    EVP_MAC_CTX *keyed;
    int64_t window_ms;
    uint64_t sender_id;
    atomic_uint_least64_t counter;
    pthread_mutex_t lock; /* senders */
    struct rpc_sender *senders;
    atomic_uint_least64_t refused[GIM_RPC_REFUSAL_KINDS];
} rpc_auth = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const refusal_names[GIM_RPC_REFUSAL_KINDS] = {"unsigned", "bad_mac", "stale",
                                                                 "replayed"};

static void rpc_write_u64(uint8_t *out, uint64_t value)
{
    gim_write_u32(out, (uint32_t)(value >> 32));
    gim_write_u32(out + 4, (uint32_t)value);
}

static uint64_t rpc_read_u64(const uint8_t *in)
{
    return ((uint64_t)gim_read_u32(in) << 32) | gim_read_u32(in + 4);
}

static int64_t rpc_wall_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int gim_rpc_auth_check(const char *setting, const char *secret, char *error, size_t error_size)
{
    size_t length = secret ? strlen(secret) : 0;

    if (length == 0 || (length >= GIM_RPC_AUTH_SECRET_MIN && length <= GIM_RPC_AUTH_SECRET_MAX))
        return GIM_OK;
    snprintf(error, error_size, "%s: a secret of %zu bytes; it must have %u to %u", setting, length,
             GIM_RPC_AUTH_SECRET_MIN, GIM_RPC_AUTH_SECRET_MAX);
    return GIM_ERR_INVALID;
}

int gim_rpc_auth_enable(const char *secret, int64_t window_ms)
{
    char error[128];

    if (secret == NULL || secret[0] == '\0')
        return GIM_OK;
    if (gim_rpc_auth_check("secret", secret, error, sizeof(error)) != GIM_OK || window_ms < 1)
        return GIM_ERR_INVALID;
    if (getrandom(&rpc_auth.sender_id, sizeof(rpc_auth.sender_id), 0) !=
        (ssize_t)sizeof(rpc_auth.sender_id))
        return GIM_ERR_IO;
    if (rpc_auth.sender_id == 0)
        rpc_auth.sender_id = 1; /* 0 marks a free slot */
    rpc_auth.senders = calloc(GIM_RPC_AUTH_SENDERS, sizeof(*rpc_auth.senders));
    if (rpc_auth.senders == NULL)
        return GIM_ERR_NO_MEMORY;
    {
        EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end()};
        rpc_auth.keyed = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
        EVP_MAC_free(hmac); /* the context keeps its own reference */
        if (rpc_auth.keyed == NULL ||
            !EVP_MAC_init(rpc_auth.keyed, (const unsigned char *)secret, strlen(secret), params)) {
            EVP_MAC_CTX_free(rpc_auth.keyed);
            rpc_auth.keyed = NULL;
            free(rpc_auth.senders);
            rpc_auth.senders = NULL;
            return GIM_ERR_NO_MEMORY;
        }
    }
    rpc_auth.window_ms = window_ms;
    atomic_store(&rpc_auth.counter, 1);
    rpc_auth.enabled = 1;
    return GIM_OK;
}

int gim_rpc_auth_enabled(void)
{
    return rpc_auth.enabled;
}

uint64_t gim_rpc_auth_refused(enum gim_rpc_refusal reason)
{
    if ((unsigned)reason >= GIM_RPC_REFUSAL_KINDS)
        return 0;
    return atomic_load_explicit(&rpc_auth.refused[reason], memory_order_relaxed);
}

const char *gim_rpc_auth_refusal_name(enum gim_rpc_refusal reason)
{
    return (unsigned)reason < GIM_RPC_REFUSAL_KINDS ? refusal_names[reason] : "unknown";
}

static int64_t rpc_auth_read_refused(void *context, int argument)
{
    (void)context;
    return (int64_t)gim_rpc_auth_refused((enum gim_rpc_refusal)argument);
}

int gim_rpc_auth_register_metrics(struct gim_metrics *registry, const char *name)
{
    int status = GIM_OK, reason;

    for (reason = 0; status == GIM_OK && reason < GIM_RPC_REFUSAL_KINDS; reason++)
        status = gim_metrics_callback(
            registry, GIM_METRIC_COUNTER, name,
            "RPC requests refused before their handler: unsigned, bad_mac (another secret), "
            "stale (time outside rpcAuth.window), replayed.",
            GIM_LABELS("reason", refusal_names[reason]), rpc_auth_read_refused, NULL, reason);
    return status;
}

/* HMAC-SHA256 of data into mac. Returns GIM_OK, or GIM_ERR_NO_MEMORY with mac zeroed (a request
 * signed so is refused by its server; a server that cannot compute a MAC refuses the request). */
static int rpc_auth_mac(const uint8_t *data, size_t length, uint8_t mac[GIM_RPC_AUTH_MAC])
{
    EVP_MAC_CTX *context = EVP_MAC_CTX_dup(rpc_auth.keyed);
    size_t written = 0;
    int ok;

    ok = context != NULL && EVP_MAC_update(context, data, length) &&
         EVP_MAC_final(context, mac, &written, GIM_RPC_AUTH_MAC) && written == GIM_RPC_AUTH_MAC;
    EVP_MAC_CTX_free(context);
    if (!ok)
        memset(mac, 0, GIM_RPC_AUTH_MAC);
    return ok ? GIM_OK : GIM_ERR_NO_MEMORY;
}

void gim_rpc_auth_sign(uint8_t *body, size_t length)
{
    uint64_t counter = atomic_fetch_add(&rpc_auth.counter, 1);

    gim_write_u32(body, gim_read_u32(body) | GIM_RPC_AUTH_FLAG);
    rpc_write_u64(body + 4, rpc_auth.sender_id);
    rpc_write_u64(body + 12, counter);
    rpc_write_u64(body + 20, (uint64_t)rpc_wall_ms());
    rpc_auth_mac(body, length - GIM_RPC_AUTH_MAC, body + length - GIM_RPC_AUTH_MAC);
}

/* Finds sender's slot, or a free or forgotten one for it. Lock held. NULL: no room. */
static struct rpc_sender *rpc_sender_slot(uint64_t sender, int64_t now_ms)
{
    struct rpc_sender *reusable = NULL;
    size_t start = (size_t)(sender % GIM_RPC_AUTH_SENDERS), probe;

    for (probe = 0; probe < RPC_AUTH_PROBES; probe++) {
        struct rpc_sender *slot = &rpc_auth.senders[(start + probe) % GIM_RPC_AUTH_SENDERS];
        if (slot->id == sender)
            return slot;
        if (reusable == NULL &&
            (slot->id == 0 || slot->last_seen_ms < now_ms - 2 * rpc_auth.window_ms))
            reusable = slot;
    }
    if (reusable != NULL) {
        memset(reusable, 0, sizeof(*reusable));
        reusable->id = sender;
    }
    return reusable;
}

/* Records counter for sender; GIM_OK when it was never seen, else GIM_ERR_INVALID. */
static int rpc_auth_remember(uint64_t sender, uint64_t counter, int64_t now_ms)
{
    struct rpc_sender *slot;
    int status = GIM_OK;

    pthread_mutex_lock(&rpc_auth.lock);
    slot = rpc_sender_slot(sender, now_ms);
    if (slot == NULL) {
        status = GIM_ERR_INVALID;
    } else if (counter > slot->highest) {
        uint64_t next;
        if (counter - slot->highest >= RPC_AUTH_REPLAY_BITS) {
            memset(slot->seen, 0, sizeof(slot->seen));
        } else {
            for (next = slot->highest + 1; next < counter; next++)
                slot->seen[(next % RPC_AUTH_REPLAY_BITS) / 64] &= ~(1ull << (next % 64));
        }
        slot->seen[(counter % RPC_AUTH_REPLAY_BITS) / 64] |= 1ull << (counter % 64);
        slot->highest = counter;
    } else if (slot->highest - counter >= RPC_AUTH_REPLAY_BITS ||
               (slot->seen[(counter % RPC_AUTH_REPLAY_BITS) / 64] & (1ull << (counter % 64)))) {
        status = GIM_ERR_INVALID;
    } else {
        slot->seen[(counter % RPC_AUTH_REPLAY_BITS) / 64] |= 1ull << (counter % 64);
    }
    if (slot != NULL && status == GIM_OK)
        slot->last_seen_ms = now_ms;
    pthread_mutex_unlock(&rpc_auth.lock);
    return status;
}

static int rpc_auth_refuse(enum gim_rpc_refusal reason, enum gim_rpc_refusal *refusal)
{
    atomic_fetch_add_explicit(&rpc_auth.refused[reason], 1, memory_order_relaxed);
    *refusal = reason;
    return GIM_ERR_INVALID;
}

int gim_rpc_auth_verify(const uint8_t *body, size_t length, uint32_t *method,
                        const uint8_t **payload, size_t *payload_length,
                        enum gim_rpc_refusal *refusal)
{
    const size_t overhead = 4 + GIM_RPC_AUTH_HEADER + GIM_RPC_AUTH_MAC;
    uint8_t expected[GIM_RPC_AUTH_MAC];
    uint32_t raw_method;
    int64_t now_ms, sent_ms;

    if (length < 4)
        return rpc_auth_refuse(GIM_RPC_REFUSED_UNSIGNED, refusal);
    raw_method = gim_read_u32(body);
    if (!(raw_method & GIM_RPC_AUTH_FLAG)) {
        if (rpc_auth.enabled)
            return rpc_auth_refuse(GIM_RPC_REFUSED_UNSIGNED, refusal);
        *method = raw_method;
        *payload = body + 4;
        *payload_length = length - 4;
        return GIM_OK;
    }
    if (length < overhead)
        return rpc_auth_refuse(GIM_RPC_REFUSED_UNSIGNED, refusal);
    *method = raw_method & ~GIM_RPC_AUTH_FLAG;
    *payload = body + 4 + GIM_RPC_AUTH_HEADER;
    *payload_length = length - overhead;
    if (!rpc_auth.enabled)
        return GIM_OK;
    if (rpc_auth_mac(body, length - GIM_RPC_AUTH_MAC, expected) != GIM_OK ||
        CRYPTO_memcmp(expected, body + length - GIM_RPC_AUTH_MAC, GIM_RPC_AUTH_MAC) != 0)
        return rpc_auth_refuse(GIM_RPC_REFUSED_BAD_MAC, refusal);
    now_ms = rpc_wall_ms();
    sent_ms = (int64_t)rpc_read_u64(body + 20);
    if (sent_ms < now_ms - rpc_auth.window_ms || sent_ms > now_ms + rpc_auth.window_ms)
        return rpc_auth_refuse(GIM_RPC_REFUSED_STALE, refusal);
    if (rpc_auth_remember(rpc_read_u64(body + 4), rpc_read_u64(body + 12), now_ms) != GIM_OK)
        return rpc_auth_refuse(GIM_RPC_REFUSED_REPLAYED, refusal);
    return GIM_OK;
}

int gim_rpc_url_is_public(const char *url)
{
    const char *host, *end;
    char name[256];
    size_t length;
    struct in_addr v4;

    if (strncmp(url, "tcp://", 6) == 0)
        host = url + 6;
    else if (strncmp(url, "tls+tcp://", 10) == 0)
        host = url + 10;
    else if (strncmp(url, "tcp4://", 7) == 0 || strncmp(url, "tcp6://", 7) == 0)
        host = url + 7;
    else
        return strncmp(url, "ipc://", 6) != 0 && strncmp(url, "inproc://", 9) != 0 &&
               strncmp(url, "abstract://", 11) != 0;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (end == NULL)
            return 1;
        host++;
    } else {
        end = strrchr(host, ':');
        if (end == NULL)
            end = host + strlen(host);
    }
    length = (size_t)(end - host);
    if (length == 0 || length >= sizeof(name))
        return 1;
    memcpy(name, host, length);
    name[length] = '\0';
    if (strcmp(name, "localhost") == 0 || strcmp(name, "::1") == 0)
        return 0;
    if (inet_pton(AF_INET, name, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) != 127;
    return 1;
}
