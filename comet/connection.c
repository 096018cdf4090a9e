/* connection.c: stream I/O, bounded output queue, lifetime and session of a client connection
 * (see connection.h). */
#include "comet/connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "comet/comet.h"
#include "comet/stream.h"
#include "common/grow.h"
#include "common/log.h"
#include "common/status.h"

#define WRITEV_BATCH 64
/* Output queue nodes a set keeps for reuse; past that a released node is freed (the spares of
 * a pass that queued for a whole large room go back to malloc). */
#define SPARE_OUTPUT_ITEMS 4096

static const struct {
    const char *text;
    enum comet_close_class class_;
} close_reasons[CONNECTION_CLOSE_REASONS] = {
    [CONNECTION_CLOSE_PEER] = {"closed by peer", COMET_CLOSE_PEER},
    [CONNECTION_CLOSE_HANG_UP] = {"socket error or hang-up", COMET_CLOSE_PEER},
    [CONNECTION_CLOSE_WEBSOCKET_CLOSED] = {"websocket closed", COMET_CLOSE_PEER},
    [CONNECTION_CLOSE_READ_FAILED] = {"read failed", COMET_CLOSE_IO_ERROR},
    [CONNECTION_CLOSE_WRITE_FAILED] = {"write failed", COMET_CLOSE_IO_ERROR},
    [CONNECTION_CLOSE_HANDSHAKE_TIMEOUT] = {"handshake timeout", COMET_CLOSE_HANDSHAKE_TIMEOUT},
    [CONNECTION_CLOSE_HEARTBEAT_TIMEOUT] = {"heartbeat timeout", COMET_CLOSE_HEARTBEAT_TIMEOUT},
    [CONNECTION_CLOSE_AUTH_FAILED] = {"auth failed", COMET_CLOSE_AUTH_FAILED},
    [CONNECTION_CLOSE_REPLACED] = {"replaced by a newer connection with the same key",
                                   COMET_CLOSE_REPLACED},
    [CONNECTION_CLOSE_OUTPUT_FULL] = {"output full on reply", COMET_CLOSE_SLOW_READER},
    [CONNECTION_CLOSE_SHUTDOWN] = {"comet shutting down", COMET_CLOSE_SHUTDOWN},
    [CONNECTION_CLOSE_DRAINING] = {"comet draining", COMET_CLOSE_SHUTDOWN},
    [CONNECTION_CLOSE_OUT_OF_MEMORY] = {"out of memory", COMET_CLOSE_OUT_OF_MEMORY},
    [CONNECTION_CLOSE_BAD_MESSAGE] = {"bad client message", COMET_CLOSE_PROTOCOL},
    [CONNECTION_CLOSE_BAD_UPGRADE] = {"bad websocket upgrade", COMET_CLOSE_PROTOCOL},
    [CONNECTION_CLOSE_ANSWERED] = {"http request answered", COMET_CLOSE_PEER},
};

enum comet_close_class connection_close_class(enum connection_close_reason reason)
{
    return (unsigned)reason < CONNECTION_CLOSE_REASONS ? close_reasons[reason].class_
                                                       : COMET_CLOSE_PROTOCOL;
}

const char *connection_close_text(enum connection_close_reason reason)
{
    return (unsigned)reason < CONNECTION_CLOSE_REASONS ? close_reasons[reason].text : "?";
}

enum connection_close_reason connection_close_reason_of(int status)
{
    switch (status) {
    case GIM_ERR_NO_MEMORY:
        return CONNECTION_CLOSE_OUT_OF_MEMORY;
    case GIM_ERR_IO:
        return CONNECTION_CLOSE_READ_FAILED;
    default:
        return CONNECTION_CLOSE_BAD_MESSAGE;
    }
}

/* ---- the set ------------------------------------------------------------------ */

/* The room index's filter: only the rooms of goim's connections count in goim's online view. */
static bool connection_counts_online(const struct comet_connection *connection)
{
    return connection->route->goim_online;
}

void connection_set_init(struct connection_set *set, struct event_loop *loop, struct comet *comet)
{
    memset(set, 0, sizeof(*set));
    set->loop = loop;
    set->comet = comet;
    string_map_init(&set->keys);
    room_index_init(&set->rooms);
    set->rooms.online = &comet->online;
    set->rooms.counted = connection_counts_online;
    atomic_init(&set->authenticated, 0);
    atomic_init(&set->dropped_pushes, 0);
}

/* Drops the pending list's and the held ring's references (nothing is written). */
static void connection_set_release_pending(struct connection_set *set)
{
    uint32_t index;

    for (index = 0; index < set->pending_count; index++) {
        set->pending[index]->output_waits &= (uint8_t)~OUTPUT_PENDING;
        connection_unref(set->pending[index]);
    }
    set->pending_count = 0;
    for (; set->held_count > 0; set->held_count--) {
        struct comet_connection *connection = set->held[set->held_first];
        set->held_first = (set->held_first + 1) % set->held_capacity;
        connection->output_waits &= (uint8_t)~OUTPUT_HELD;
        connection_unref(connection);
    }
}

void connection_set_destroy(struct connection_set *set)
{
    connection_set_release_pending(set);
    while (set->spare_items != NULL) {
        struct output_item *item = set->spare_items;
        set->spare_items = item->next;
        free(item);
    }
    set->spare_count = 0;
    free(set->pending);
    set->pending = NULL;
    set->pending_capacity = 0;
    free(set->held);
    set->held = NULL;
    set->held_capacity = 0;
    string_map_destroy(&set->keys);
    room_index_destroy(&set->rooms);
}

void connection_set_close_all(struct connection_set *set, enum connection_close_reason reason)
{
    while (set->live != NULL)
        connection_close_going_away(set->live, reason);
    connection_set_release_pending(set); /* all closed: nothing left to write */
}

void connection_set_reap(struct connection_set *set)
{
    while (set->reap != NULL) {
        struct comet_connection *connection = set->reap;
        set->reap = connection->next;
        connection->next = NULL;
        connection_unref(connection);
    }
}

void connection_set_apply_claim(struct connection_set *set, const char *key, uint64_t sequence)
{
    struct comet_connection *connection = string_map_get(&set->keys, key);

    if (connection != NULL && connection->auth_sequence < sequence)
        connection_close(connection, CONNECTION_CLOSE_REPLACED);
}

/* ---- events ------------------------------------------------------------------- */

static void connection_update_events(struct comet_connection *connection)
{
    event_loop_modify(connection->set->loop, &connection->handle,
                      (connection->reading ? EPOLLIN : 0) |
                          (connection->write_armed ? EPOLLOUT : 0));
}

static void address_from_sockaddr(uint8_t out[16], const struct sockaddr *peer)
{
    memset(out, 0, 16);
    if (peer->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
    } else if (peer->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
    }
}

static void connection_on_events(struct loop_handle *handle, uint32_t events);

int connection_accept(struct connection_set *set, int fd, const struct sockaddr *peer,
                      const struct connection_route *route, enum comet_transport_class transport,
                      bool tls)
{
    struct event_loop *loop = set->loop;
    struct comet_connection *connection = calloc(1, sizeof(*connection));

    if (connection == NULL) {
        close(fd);
        return GIM_ERR_NO_MEMORY;
    }
    connection->handle.on_events = connection_on_events;
    connection->handle.fd = fd;
    connection->set = set;
    connection->route = route;
    connection->transport = (uint8_t)transport;
    connection->references = 1; /* the live list's */
    connection->state = CONNECTION_HANDSHAKE;
    connection->reading = true;
    /* as if its last push went out before any write delay's reach: its first one is not held */
    connection->push_written_ms = (uint32_t)(loop->now_ms - COMET_WRITE_DELAY_MAX_MS - 1);
    connection->stream = &plain_stream;
    if (tls && tls_stream_attach(connection, set->comet->tls_context) != GIM_OK) {
        close(fd);
        free(connection);
        return GIM_ERR_NO_MEMORY;
    }
    address_from_sockaddr(connection->address, peer);
    timer_entry_init(&connection->deadline);
    if (event_loop_watch(loop, &connection->handle, EPOLLIN) != GIM_OK) {
        close(fd);
        connection->stream->release(connection);
        free(connection);
        return GIM_ERR_IO;
    }
    timer_wheel_arm(&loop->wheel, &connection->deadline,
                    loop->now_ms + set->comet->config->handshake_timeout_ms);
    connection->next = set->live;
    if (set->live != NULL)
        set->live->prev = connection;
    set->live = connection;
    gim_counter_increment(&set->counters.accepted[transport]);
    return GIM_OK;
}

void connection_set_route(struct comet_connection *connection, const struct connection_route *route)
{
    connection->route = route;
}

void connection_ref(struct comet_connection *connection)
{
    connection->references++;
}

void connection_unref(struct comet_connection *connection)
{
    if (--connection->references > 0)
        return;
    connection->stream->release(connection);
    if (connection->route->framing->release != NULL)
        connection->route->framing->release(connection);
    free(connection->key);
    free(connection->accepts);
    free(connection);
}

bool connection_watches(const struct comet_connection *connection, int32_t operation)
{
    uint16_t index;

    for (index = 0; index < connection->accept_count; index++) {
        if (connection->accepts[index] == operation)
            return true;
    }
    return false;
}

void connection_update_accepts(struct comet_connection *connection, const int32_t *operations,
                               int count, bool subscribe)
{
    int index;

    for (index = 0; index < count; index++) {
        bool present = connection_watches(connection, operations[index]);
        if (subscribe && !present && connection->accept_count < CONNECTION_MAX_ACCEPTS) {
            int32_t *grown = realloc(connection->accepts, (connection->accept_count + 1u) *
                                                              sizeof(*connection->accepts));
            if (grown == NULL)
                return;
            connection->accepts = grown;
            connection->accepts[connection->accept_count++] = operations[index];
        } else if (!subscribe && present) {
            uint16_t at;
            for (at = 0; connection->accepts[at] != operations[index]; at++) {
            }
            connection->accepts[at] = connection->accepts[--connection->accept_count];
        }
    }
}

int connection_authenticate(struct comet_connection *connection,
                            const struct connection_identity *identity)
{
    struct connection_set *set = connection->set;
    struct event_loop *loop = set->loop;
    struct comet *comet = set->comet;
    size_t count = identity->accept_count;
    void *previous = NULL;

    if (connection->state == CONNECTION_CLOSED || connection->state == CONNECTION_ACTIVE)
        return GIM_ERR_INVALID;
    connection->mid = identity->mid;
    connection->key = strdup(identity->key ? identity->key : "");
    if (count > CONNECTION_MAX_ACCEPTS)
        count = CONNECTION_MAX_ACCEPTS;
    connection->accept_count = 0;
    if (connection->key == NULL ||
        (count > 0 && (connection->accepts = malloc(count * sizeof(int32_t))) == NULL))
        goto no_memory;
    connection_update_accepts(connection, identity->accepts, (int)count, true);
    connection->heartbeat_ms = identity->heartbeat_ms;
    if (connection->heartbeat_ms < TIMER_WHEEL_TICK_MS) /* a zero never closes at once */
        connection->heartbeat_ms = 10 * 60 * 1000;
    if (identity->room != NULL && identity->room[0] != '\0' &&
        room_join(&set->rooms, connection, &connection->rooms, identity->room) != GIM_OK)
        goto no_memory;
    if (identity->key != NULL &&
        string_map_put(&set->keys, connection->key, connection, &previous) != GIM_OK)
        goto no_memory;
    connection->state = CONNECTION_ACTIVE;
    connection->renewed_ms = loop->now_ms;
    connection->auth_sequence =
        atomic_fetch_add_explicit(&comet->auth_sequence, 1, memory_order_relaxed) + 1;
    atomic_fetch_add_explicit(&set->authenticated, 1, memory_order_relaxed);
    ip_counter_add(&comet->client_addresses, connection->address);
    if (previous != NULL && previous != connection)
        connection_close(previous, CONNECTION_CLOSE_REPLACED);
    if (set->key_claimed != NULL && identity->key != NULL)
        set->key_claimed(set->key_claimed_context, connection->key, connection->auth_sequence);
    timer_wheel_arm(&loop->wheel, &connection->deadline, loop->now_ms + connection->heartbeat_ms);
    return GIM_OK;
no_memory:
    connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
    return GIM_ERR_NO_MEMORY;
}

void connection_set_reading(struct comet_connection *connection, bool reading)
{
    if (connection->state == CONNECTION_CLOSED || connection->reading == reading)
        return;
    connection->reading = reading;
    connection_update_events(connection);
}

/* ---- output ------------------------------------------------------------------- */

/* A queue node from the set's spares, else from malloc; NULL when out of memory. */
static struct output_item *output_item_new(struct connection_set *set)
{
    struct output_item *item = set->spare_items;

    if (item == NULL)
        return malloc(sizeof(*item));
    set->spare_items = item->next;
    set->spare_count--;
    return item;
}

/* Drops the node's buffer reference and keeps the node as a spare (freed past the bound). */
static void output_item_release(struct connection_set *set, struct output_item *item)
{
    gim_shared_buffer_unref(item->buffer);
    if (set->spare_count >= SPARE_OUTPUT_ITEMS) {
        free(item);
        return;
    }
    item->next = set->spare_items;
    set->spare_items = item;
    set->spare_count++;
}

static void output_release_all(struct comet_connection *connection)
{
    struct output_item *item = connection->output_head, *next;

    for (; item != NULL; item = next) {
        next = item->next;
        output_item_release(connection->set, item);
    }
    connection->output_head = connection->output_tail = NULL;
    connection->output_bytes = 0;
    connection->output_offset = 0;
}

/* Writes as much queued output as the stream takes. Returns GIM_OK, GIM_ERR_IO, or
 * GIM_ERR_CLOSED when the output is drained and the connection is to close after it. */
static int connection_flush(struct comet_connection *connection)
{
    while (connection->output_head != NULL) {
        struct iovec vector[WRITEV_BATCH];
        struct output_item *item = connection->output_head;
        int count = 0;
        ssize_t written;
        size_t left;

        for (; item != NULL && count < WRITEV_BATCH; item = item->next, count++) {
            size_t skip = count == 0 ? connection->output_offset : 0;
            vector[count].iov_base = item->buffer->data + skip;
            vector[count].iov_len = item->buffer->length - skip;
        }
        written = connection->stream->writev(connection, vector, count);
        if (written == GIM_ERR_AGAIN)
            break;
        if (written < 0)
            return GIM_ERR_IO;
        left = (size_t)written;
        connection->output_bytes -= (uint32_t)written;
        while (left > 0) {
            item = connection->output_head;
            size_t remaining = item->buffer->length - connection->output_offset;
            if (left < remaining) {
                connection->output_offset += (uint32_t)left;
                break;
            }
            left -= remaining;
            connection->output_offset = 0;
            connection->output_head = item->next;
            output_item_release(connection->set, item);
        }
        if (connection->output_head == NULL)
            connection->output_tail = NULL;
        else if (connection->output_offset > 0)
            break; /* partial write: the socket is full */
    }
    if (connection->output_head == NULL && connection->close_after_flush)
        return GIM_ERR_CLOSED;
    if ((connection->output_head != NULL || connection->stream_wants_write) !=
        connection->write_armed) {
        connection->write_armed = connection->output_head != NULL || connection->stream_wants_write;
        connection_update_events(connection);
    }
    return GIM_OK;
}

/* Appends buffer (its first offset bytes already written) to the output queue. Returns GIM_OK,
 * or GIM_ERR_CLOSED after closing the connection (out of memory). */
static int output_append(struct comet_connection *connection, struct gim_shared_buffer *buffer,
                         size_t offset)
{
    struct output_item *item = output_item_new(connection->set);

    if (item == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    item->next = NULL;
    item->buffer = gim_shared_buffer_ref(buffer);
    if (connection->output_tail != NULL)
        connection->output_tail->next = item;
    else
        connection->output_head = item;
    connection->output_tail = item;
    if (connection->output_head == item)
        connection->output_offset = (uint32_t)offset;
    connection->output_bytes += (uint32_t)(buffer->length - offset);
    return GIM_OK;
}

/* Writes buffer at once on a connection with nothing queued; what the socket does not take is
 * queued (no node when it takes everything) and waits for EPOLLOUT. Returns GIM_OK, or
 * GIM_ERR_CLOSED after closing the connection (a failed write, out of memory). */
static int output_write_now(struct comet_connection *connection, struct gim_shared_buffer *buffer)
{
    struct iovec whole = {buffer->data, buffer->length};
    ssize_t written = connection->stream->writev(connection, &whole, 1);

    if (written < 0 && written != GIM_ERR_AGAIN) {
        connection_close(connection, CONNECTION_CLOSE_WRITE_FAILED);
        return GIM_ERR_CLOSED;
    }
    if (written == (ssize_t)buffer->length)
        return GIM_OK;
    if (output_append(connection, buffer, written > 0 ? (size_t)written : 0) != GIM_OK)
        return GIM_ERR_CLOSED;
    if (!connection->write_armed) {
        connection->write_armed = true;
        connection_update_events(connection);
    }
    return GIM_OK;
}

/* Writes the queued output now; a failure closes the connection. Returns GIM_OK or
 * GIM_ERR_CLOSED. */
static int connection_flush_or_close(struct comet_connection *connection)
{
    int status = connection_flush(connection);

    if (status == GIM_OK)
        return GIM_OK;
    connection_close(connection, status == GIM_ERR_CLOSED
                                     ? (enum connection_close_reason)connection->close_reason
                                     : CONNECTION_CLOSE_WRITE_FAILED);
    return GIM_ERR_CLOSED;
}

/* Puts the connection on its set's pending list (once, with a reference). Returns false when the
 * list cannot grow (out of memory): the caller writes at once instead. */
static bool connection_mark_pending(struct comet_connection *connection)
{
    struct connection_set *set = connection->set;

    if (connection->output_waits & OUTPUT_PENDING)
        return true;
    if (set->pending_count == set->pending_capacity &&
        gim_grow(&set->pending, &set->pending_capacity, (size_t)set->pending_count + 1,
                 sizeof(*set->pending), 64, SIZE_MAX) != GIM_OK)
        return false;
    set->pending[set->pending_count++] = connection;
    connection->output_waits |= OUTPUT_PENDING;
    connection_ref(connection);
    return true;
}

/* Puts the connection at the end of its set's held ring (once, with a reference). Returns false
 * when the ring cannot grow (out of memory): the caller does not hold the push then. */
static bool connection_hold(struct comet_connection *connection)
{
    struct connection_set *set = connection->set;

    if (connection->output_waits & OUTPUT_HELD)
        return true;
    if (set->held_count == set->held_capacity) {
        size_t full = set->held_capacity;
        if (gim_grow(&set->held, &set->held_capacity, full + 1, sizeof(*set->held), 64, SIZE_MAX) !=
            GIM_OK)
            return false;
        /* the full ring wrapped at its old end: its start [0, first) moves past that end, so
         * that it runs on from first again (the capacity at least doubled) */
        memcpy(set->held + full, set->held, set->held_first * sizeof(*set->held));
    }
    set->held[(set->held_first + set->held_count) % set->held_capacity] = connection;
    set->held_count++;
    connection->output_waits |= OUTPUT_HELD;
    connection_ref(connection);
    return true;
}

/* Writes the held connections whose delay is over, oldest first. Each waits until writeDelay
 * after its previous push write; one that began to wait later but is due sooner waits behind the
 * first, which is at most writeDelay after it began to wait itself. Returns the ms until the
 * first is due, or -1 when none is held. */
static int connection_set_release_held(struct connection_set *set)
{
    uint32_t delay = (uint32_t)set->comet->config->write_delay_ms;
    uint32_t now = (uint32_t)set->loop->now_ms;

    while (set->held_count > 0) {
        struct comet_connection *connection = set->held[set->held_first];
        uint32_t waited = now - connection->push_written_ms;
        if (connection->state != CONNECTION_CLOSED && waited < delay)
            return (int)(delay - waited);
        set->held_first = (set->held_first + 1) % set->held_capacity;
        set->held_count--;
        connection->output_waits &= (uint8_t)~OUTPUT_HELD;
        if (connection->state != CONNECTION_CLOSED && connection->output_head != NULL) {
            connection->push_written_ms = now;
            connection_flush_or_close(connection);
        }
        connection_unref(connection);
    }
    return -1;
}

int connection_set_flush_pending(struct connection_set *set)
{
    uint32_t index;

    /* a close during the pass may queue output elsewhere: it joins this pass */
    for (index = 0; index < set->pending_count; index++) {
        struct comet_connection *connection = set->pending[index];
        connection->output_waits &= (uint8_t)~OUTPUT_PENDING;
        if (connection->state != CONNECTION_CLOSED)
            connection_flush_or_close(connection);
        connection_unref(connection);
    }
    set->pending_count = 0;
    return set->held_count == 0 ? -1 : connection_set_release_held(set);
}

static bool output_fits(const struct comet_connection *connection, size_t length)
{
    return (uint64_t)connection->output_bytes + length <=
           (uint64_t)connection->set->comet->config->max_output_bytes;
}

/* protocol.writeDelay: true if a push to the connection waits in the held ring (it is held
 * already, or its previous push went out less than writeDelay ago and its queue is empty); else
 * the push goes out now and starts the connection's next delay. */
static bool connection_push_waits(struct comet_connection *connection, bool was_empty)
{
    uint32_t delay = (uint32_t)connection->set->comet->config->write_delay_ms;
    uint32_t now = (uint32_t)connection->set->loop->now_ms;

    if (delay == 0)
        return false;
    if (connection->output_waits & OUTPUT_HELD)
        return true;
    if (was_empty && now - connection->push_written_ms < delay && connection_hold(connection))
        return true;
    connection->push_written_ms = now;
    return false;
}

int connection_push(struct comet_connection *connection, struct gim_shared_buffer *buffer)
{
    struct connection_set *set = connection->set;
    bool was_empty = connection->output_head == NULL;

    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    /* Policy at the bound: a push that does not fit is dropped and counted;
     * the connection stays, later pushes are delivered once it drains. */
    if (!output_fits(connection, buffer->length)) {
        connection->dropped_pushes++;
        atomic_fetch_add_explicit(&set->dropped_pushes, 1, memory_order_relaxed);
        gim_log_debug("push dropped for key %s: %u bytes already queued",
                      connection->key ? connection->key : "", connection->output_bytes);
        return GIM_ERR_TOO_LARGE;
    }
    if (connection_push_waits(connection, was_empty)) {
        if (output_append(connection, buffer, 0) != GIM_OK)
            return GIM_ERR_CLOSED;
    } else if (set->push_writes_now && was_empty) {
        /* no push of this batch follows: one write now, no queue node, no flush pass */
        if (output_write_now(connection, buffer) != GIM_OK)
            return GIM_ERR_CLOSED;
    } else {
        if (output_append(connection, buffer, 0) != GIM_OK)
            return GIM_ERR_CLOSED;
        /* A queue that was not empty is pending already or waits for EPOLLOUT; a pending one
         * goes out now, with this push, when no push of this batch follows. */
        if (was_empty ? !connection_mark_pending(connection)
                      : set->push_writes_now && (connection->output_waits & OUTPUT_PENDING)) {
            if (connection_flush_or_close(connection) != GIM_OK)
                return GIM_ERR_CLOSED;
        }
    }
    gim_counter_increment(&set->counters.pushes_delivered);
    return GIM_OK;
}

int connection_reply(struct comet_connection *connection, struct gim_shared_buffer *buffer)
{
    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    /* Policy at the bound: the client keeps sending but does not read its
     * replies; goim closes such a connection ("ring buffer full"), so do we. */
    if (!output_fits(connection, buffer->length)) {
        connection_close(connection, CONNECTION_CLOSE_OUTPUT_FULL);
        return GIM_ERR_CLOSED;
    }
    if (connection->output_head == NULL) /* nothing waits: one write */
        return output_write_now(connection, buffer);
    if (output_append(connection, buffer, 0) != GIM_OK)
        return GIM_ERR_CLOSED;
    /* pending pushes go out with the reply now; behind a full socket it waits for EPOLLOUT */
    if (connection->output_waits != 0) /* pending or held: they go first, now */
        return connection_flush_or_close(connection);
    return GIM_OK;
}

/* ---- input -------------------------------------------------------------------- */

ssize_t connection_read(struct comet_connection *connection, uint8_t *buffer, size_t length)
{
    ssize_t received = connection->stream->read(connection, buffer, length);

    if (received == 0 || (received < 0 && received != GIM_ERR_AGAIN)) {
        connection_close(connection,
                         received == 0 ? CONNECTION_CLOSE_PEER : CONNECTION_CLOSE_READ_FAILED);
        return GIM_ERR_CLOSED;
    }
    return received;
}

bool connection_has_buffered_input(const struct comet_connection *connection)
{
    return connection->stream->has_buffered_input(connection);
}

int connection_keep_input(struct comet_connection *connection, const uint8_t *data, size_t length,
                          size_t max_length)
{
    uint8_t *kept;

    if (length == 0) {
        free(connection->input);
        connection->input = NULL;
        connection->input_length = 0;
        return GIM_OK;
    }
    if (length > max_length || length > UINT16_MAX)
        return GIM_ERR_TOO_LARGE;
    kept = malloc(length);
    if (kept == NULL)
        return GIM_ERR_NO_MEMORY;
    memmove(kept, data, length);
    free(connection->input);
    connection->input = kept;
    connection->input_length = (uint16_t)length;
    return GIM_OK;
}

static void connection_on_events(struct loop_handle *handle, uint32_t events)
{
    struct comet_connection *connection = (struct comet_connection *)handle;

    if (connection->state == CONNECTION_CLOSED)
        return;
    if (events & (EPOLLERR | EPOLLHUP)) {
        connection_close(connection, CONNECTION_CLOSE_HANG_UP);
        return;
    }
    /* TLS: output may wait for input (WANT_READ), so EPOLLIN retries it too */
    if ((events & EPOLLOUT) || (connection->tls != NULL && connection->output_head != NULL)) {
        int status = connection_flush(connection);
        if (status != GIM_OK) {
            connection_close(connection,
                             status == GIM_ERR_CLOSED
                                 ? (enum connection_close_reason)connection->close_reason
                                 : CONNECTION_CLOSE_WRITE_FAILED);
            return;
        }
    }
    if (((events & EPOLLIN) && connection->reading) ||
        ((events & EPOLLOUT) && connection->stream_wants_write && connection->reading))
        connection->route->framing->readable(connection);
}

void connection_resume_reading(struct comet_connection *connection)
{
    connection_set_reading(connection, true);
    if (connection->state != CONNECTION_CLOSED)
        connection->route->framing->readable(connection);
}

void connection_deadline_expired(struct timer_entry *entry)
{
    struct comet_connection *connection =
        (struct comet_connection *)((char *)entry - offsetof(struct comet_connection, deadline));
    bool active = connection->state == CONNECTION_ACTIVE;

    /* a timeout is counted when it closes the connection (connection_close): a protocol that
     * pings its clients uses the deadline as its tick */
    if (connection->route->framing->deadline != NULL)
        connection->route->framing->deadline(connection);
    else
        connection_close(connection, active ? CONNECTION_CLOSE_HEARTBEAT_TIMEOUT
                                            : CONNECTION_CLOSE_HANDSHAKE_TIMEOUT);
}

/* ---- closing ------------------------------------------------------------------ */

void connection_close_after_flush(struct comet_connection *connection,
                                  enum connection_close_reason reason)
{
    if (connection->state == CONNECTION_CLOSED)
        return;
    connection->close_reason = (uint8_t)reason;
    connection->close_after_flush = true;
    connection_set_reading(connection, false);
    if (connection->output_head == NULL)
        connection_close(connection, reason);
}

void connection_close_going_away(struct comet_connection *connection,
                                 enum connection_close_reason reason)
{
    if (connection->state != CONNECTION_CLOSED && !connection->close_after_flush &&
        connection->route->framing->going_away != NULL)
        connection->route->framing->going_away(connection);
    connection_close(connection, reason);
}

void connection_close(struct comet_connection *connection, enum connection_close_reason reason)
{
    struct connection_set *set = connection->set;
    bool was_active = connection->state == CONNECTION_ACTIVE;

    if (connection->state == CONNECTION_CLOSED)
        return;
    gim_log_debug("close fd %d key %s: %s", connection->handle.fd,
                  connection->key ? connection->key : "-", connection_close_text(reason));
    gim_counter_increment(&set->counters.closed[connection->transport]);
    gim_counter_increment(&set->counters.closes[connection_close_class(reason)]);
    if (reason == CONNECTION_CLOSE_HANDSHAKE_TIMEOUT ||
        reason == CONNECTION_CLOSE_HEARTBEAT_TIMEOUT)
        gim_counter_increment(&set->counters.timeouts[reason == CONNECTION_CLOSE_HEARTBEAT_TIMEOUT
                                                          ? COMET_TIMEOUT_HEARTBEAT
                                                          : COMET_TIMEOUT_HANDSHAKE]);
    connection->state = CONNECTION_CLOSED;
    timer_entry_cancel(&connection->deadline);
    event_loop_forget(set->loop, &connection->handle);
    close(connection->handle.fd);
    connection->handle.fd = -1;
    output_release_all(connection);
    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    room_leave_all(&set->rooms, &connection->rooms);
    if (was_active) {
        string_map_remove_if(&set->keys, connection->key, connection);
        atomic_fetch_sub_explicit(&set->authenticated, 1, memory_order_relaxed);
        ip_counter_remove(&set->comet->client_addresses, connection->address);
    }
    connection->route->framing->closed(connection, reason, was_active);
    /* Unlink from the live list; the reap list takes over its reference. */
    if (connection->prev != NULL)
        connection->prev->next = connection->next;
    else
        set->live = connection->next;
    if (connection->next != NULL)
        connection->next->prev = connection->prev;
    connection->prev = NULL;
    connection->next = set->reap;
    set->reap = connection;
}
