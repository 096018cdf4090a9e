/*
 * rpc_auth.h: authentication of internal RPC requests (comet -> logic,
 * job -> comet) with an HMAC over every request and a shared secret.
 *
 * With a secret set (rpcAuth.secret in each daemon's config), every request
 * common/rpc.c sends is signed, and every request it serves must be signed
 * with the same secret, fresh, and never seen before; anything else is
 * answered with an error and counted by reason (never handed to the
 * daemon's handler). Without a secret requests go out unsigned and a server
 * serves whatever it gets (a loopback-only development cluster).
 *
 * Signed request on the wire (all big-endian):
 *   method | GIM_RPC_AUTH_FLAG (4) | sender (8) | counter (8) |
 *   unix time in ms (8) | payload | HMAC-SHA256(secret, everything before) (32)
 * sender is a random id drawn once per process; counter goes up by one per
 * request sent by the process. A server refuses a request whose time is more
 * than rpcAuth.window away from its own clock, and remembers per sender the
 * highest counter and which of the 1024 counters below it it has seen, so a
 * recorded request replayed within the window is refused too. A sender not
 * heard from for two windows is forgotten (its old requests are stale by
 * then). At most GIM_RPC_AUTH_SENDERS senders are remembered at once; a new
 * sender past that bound is refused (reason "replayed") until one is
 * forgotten: only holders of the secret can create senders.
 *
 * The secret is process-wide: call gim_rpc_auth_enable once at start-up,
 * before any RPC client or server is created.
 */
#ifndef GIM_RPC_AUTH_H
#define GIM_RPC_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Set on the method id of a signed request. */
#define GIM_RPC_AUTH_FLAG 0x80000000u
/* Bytes after the method id: sender, counter, time. */
#define GIM_RPC_AUTH_HEADER 24u
/* Bytes of the trailing HMAC-SHA256. */
#define GIM_RPC_AUTH_MAC 32u
/* Shortest and longest secret accepted (bytes). */
#define GIM_RPC_AUTH_SECRET_MIN 16u
#define GIM_RPC_AUTH_SECRET_MAX 256u
/* Senders remembered at once by a server. */
#define GIM_RPC_AUTH_SENDERS 1024

/* Why a request was refused (the label of <daemon>_rpc_refused_total). */
enum gim_rpc_refusal {
    GIM_RPC_REFUSED_UNSIGNED, /* no signature, or too short to hold one */
    GIM_RPC_REFUSED_BAD_MAC,  /* signed with another secret, or altered */
    GIM_RPC_REFUSED_STALE,    /* its time is outside the window */
    GIM_RPC_REFUSED_REPLAYED, /* counter already seen, too old, or no room for its sender */
    GIM_RPC_REFUSAL_KINDS
};

/*
 * Checks a secret as configured (NULL or "" = no authentication). Returns
 * GIM_OK, or GIM_ERR_INVALID with a message naming `setting` in
 * error[0..error_size) when it is shorter than GIM_RPC_AUTH_SECRET_MIN or
 * longer than GIM_RPC_AUTH_SECRET_MAX bytes.
 */
int gim_rpc_auth_check(const char *setting, const char *secret, char *error, size_t error_size);

/*
 * Turns authentication on for this process with secret (copied) and a
 * freshness window of window_ms, or leaves it off when secret is NULL or "".
 * Call once, before any RPC client or server exists. Returns GIM_OK,
 * GIM_ERR_INVALID (a secret gim_rpc_auth_check refuses, window_ms < 1) or
 * GIM_ERR_IO (no random sender id).
 */
int gim_rpc_auth_enable(const char *secret, int64_t window_ms);

/* Whether gim_rpc_auth_enable turned authentication on. */
int gim_rpc_auth_enabled(void);

/* Requests refused for reason so far (any thread). */
uint64_t gim_rpc_auth_refused(enum gim_rpc_refusal reason);

/* The label value of reason: "unsigned", "bad_mac", "stale", "replayed". */
const char *gim_rpc_auth_refusal_name(enum gim_rpc_refusal reason);

struct gim_metrics;

/*
 * Registers the counter `name`{reason} (e.g. "logic_rpc_refused_total"),
 * one sample per refusal reason, read from this module at scrape time.
 * name is copied; registry stays the caller's. Returns GIM_OK or the
 * registry's error.
 */
int gim_rpc_auth_register_metrics(struct gim_metrics *registry, const char *name);

/*
 * Signs a request in place. body[0..length) holds the method id, then
 * GIM_RPC_AUTH_HEADER bytes for the header, then the payload, then
 * GIM_RPC_AUTH_MAC bytes for the MAC. Sets the flag on the method id, fills
 * the header (a new counter, the current time) and the MAC. Only when
 * authentication is on. Any thread.
 */
void gim_rpc_auth_sign(uint8_t *body, size_t length);

/*
 * Checks a request as received (body[0..length): method id, header,
 * payload, MAC). With authentication on: on GIM_OK *method is the method id
 * without the flag and *payload / *payload_length the payload inside body;
 * otherwise GIM_ERR_INVALID with *refusal the reason, counted here. With
 * authentication off, a signed request is unwrapped unchecked and an
 * unsigned one passes as it is. A body shorter than 4 bytes is
 * GIM_ERR_INVALID (reason unsigned). Any thread.
 */
int gim_rpc_auth_verify(const uint8_t *body, size_t length, uint32_t *method,
                        const uint8_t **payload, size_t *payload_length,
                        enum gim_rpc_refusal *refusal);

/*
 * Whether an nng listen URL reaches beyond this machine: tcp:// or
 * tls+tcp:// on a host that is not 127.0.0.0/8, ::1 or localhost (an empty
 * host, 0.0.0.0 and :: are every interface). ipc:// and inproc:// do not.
 */
int gim_rpc_url_is_public(const char *url);

#endif
