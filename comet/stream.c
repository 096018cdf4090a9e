/* stream.c: plain and TLS byte streams for client connections, and the WSS certificates chosen by
 * SNI (see stream.h). */
#include "comet/stream.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comet/connection.h"
#include "common/log.h"
#include "common/status.h"

static ssize_t plain_read(struct comet_connection *connection, uint8_t *buffer, size_t length)
{
    ssize_t received;

    do {
        received = read(connection->handle.fd, buffer, length);
    } while (received < 0 && errno == EINTR);
    if (received >= 0)
        return received;
    return errno == EAGAIN || errno == EWOULDBLOCK ? GIM_ERR_AGAIN : GIM_ERR_IO;
}

/* sendmsg rather than writev: the socket call skips the file layer's position and iterator
 * steps (measured in the room fan-out, where one send per push and connection is most of
 * comet's CPU). */
static ssize_t plain_writev(struct comet_connection *connection, const struct iovec *vector,
                            int count)
{
    struct msghdr message = {.msg_iov = (struct iovec *)vector, .msg_iovlen = (size_t)count};
    ssize_t written;

    do {
        written = sendmsg(connection->handle.fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (written < 0 && errno == EINTR);
    if (written > 0)
        return written;
    if (written == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
        return GIM_ERR_AGAIN;
    return GIM_ERR_IO;
}

static bool plain_has_buffered_input(const struct comet_connection *connection)
{
    (void)connection;
    return false;
}

static void plain_release(struct comet_connection *connection)
{
    (void)connection;
}

const struct stream_ops plain_stream = {"tcp", plain_read, plain_writev, plain_has_buffered_input,
                                        plain_release};

/* Maps an SSL_read/SSL_write result that is not a success to a GIM status. */
static ssize_t tls_failure(struct comet_connection *connection, int result, bool reading)
{
    int error = SSL_get_error(connection->tls, result);

    switch (error) {
    case SSL_ERROR_WANT_READ:
        /* a write waiting for input (renegotiation / key update): EPOLLIN is
         * armed while reading, and every EPOLLIN retries pending output */
        return GIM_ERR_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            connection->stream_wants_write = true;
        return GIM_ERR_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0; /* close_notify */
    default:
        gim_log_debug("tls fd %d: %s error %d", connection->handle.fd, reading ? "read" : "write",
                      error);
        ERR_clear_error();
        return GIM_ERR_IO;
    }
}

static ssize_t tls_read(struct comet_connection *connection, uint8_t *buffer, size_t length)
{
    int result, request = length > INT32_MAX ? INT32_MAX : (int)length;

    connection->stream_wants_write = false;
    ERR_clear_error();
    result = SSL_read(connection->tls, buffer, request);
    if (result > 0)
        return result;
    return tls_failure(connection, result, true);
}

/* Plaintext of one full TLS record: the most that small buffers are joined into per SSL_write. */
#define TLS_JOIN_BYTES 16384

/* The joined plaintext of one SSL_write (one per loop thread; used only within a call). */
static _Thread_local uint8_t tls_join[TLS_JOIN_BYTES];

/*
 * SSL_write takes one buffer: small buffers are joined (up to one record's plaintext) so that
 * pushes queued together leave as one record and one send, and a buffer of a record or more, or
 * the last one, is written from where it is. A retry after WANT_WRITE must offer at least the
 * bytes of the failed call, starting with them (the buffer may move:
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER): it does, because the queue only grows at its end until a
 * write succeeds, and the join is a function of the queue's head. Stops at the first short
 * write.
 */
static ssize_t tls_writev(struct comet_connection *connection, const struct iovec *vector,
                          int count)
{
    ssize_t total = 0;
    size_t skip = 0; /* bytes of vector[index] already written by this call */
    int index = 0;

    while (index < count) {
        const uint8_t *data = (const uint8_t *)vector[index].iov_base + skip;
        size_t length = vector[index].iov_len - skip;
        int request, result;

        if (length == 0) {
            index++, skip = 0;
            continue;
        }
        if (length < TLS_JOIN_BYTES && index + 1 < count) {
            size_t used = 0, part = skip;
            int join = index;
            for (; join < count && used < TLS_JOIN_BYTES; join++, part = 0) {
                size_t take = vector[join].iov_len - part;
                if (take > TLS_JOIN_BYTES - used)
                    take = TLS_JOIN_BYTES - used;
                memcpy(tls_join + used, (const uint8_t *)vector[join].iov_base + part, take);
                used += take;
            }
            data = tls_join;
            length = used;
        }
        request = length > INT32_MAX ? INT32_MAX : (int)length;
        ERR_clear_error();
        result = SSL_write(connection->tls, data, request);
        if (result <= 0) {
            ssize_t status = tls_failure(connection, result, false);
            if (total > 0 && status == GIM_ERR_AGAIN)
                return total;
            return status == 0 ? GIM_ERR_IO : status;
        }
        total += result;
        if (result < request)
            break;
        /* step over the bytes written */
        for (size_t left = (size_t)result; left > 0;) {
            size_t rest = vector[index].iov_len - skip;
            if (left < rest) {
                skip += left;
                break;
            }
            left -= rest;
            index++, skip = 0;
        }
    }
    return total > 0 ? total : GIM_ERR_AGAIN;
}

static bool tls_has_buffered_input(const struct comet_connection *connection)
{
    return connection->tls != NULL && SSL_pending(connection->tls) > 0;
}

static void tls_release(struct comet_connection *connection)
{
    SSL_free(connection->tls);
    connection->tls = NULL;
}

const struct stream_ops tls_stream = {"tls", tls_read, tls_writev, tls_has_buffered_input,
                                      tls_release};

/* ---- WSS certificates, chosen by SNI ---- */

/* One certificate/key pair: its context and the host names its certificate serves. */
struct tls_certificate {
    SSL_CTX *context;
    const char *certificate_file; /* in tls_certificates.certificate_files (log lines) */
    char **names;                 /* lower case: subjectAltName DNS names, then subject CNs */
    size_t name_count;
};

struct tls_certificates {
    struct tls_certificate *pairs; /* pairs[0] is the default */
    size_t count;
    char **certificate_files; /* the split websocket.certFile list, count entries */
};

/* Longest DNS name (RFC 1035); a longer SNI name matches nothing. */
#define TLS_HOST_NAME_MAX 253

static void ascii_lowercase(char *text)
{
    for (; *text; text++) {
        if (*text >= 'A' && *text <= 'Z')
            *text = (char)(*text - 'A' + 'a');
    }
}

static void free_string_list(char **entries, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        free(entries[index]);
    free(entries);
}

/*
 * Splits the comma-separated list of the setting into entries without the
 * spaces around them. On GIM_OK *entries (count strings) is the caller's
 * (free_string_list). GIM_ERR_INVALID (logged) if an entry is empty.
 */
static int split_file_list(const char *setting, const char *list, char ***entries, size_t *count)
{
    size_t capacity = 1, used = 0;
    const char *cursor;
    char **result;

    *entries = NULL;
    *count = 0;
    for (cursor = list; *cursor; cursor++)
        capacity += *cursor == ',';
    result = calloc(capacity, sizeof(*result));
    if (result == NULL)
        return GIM_ERR_NO_MEMORY;
    cursor = list;
    for (;;) {
        const char *end = strchr(cursor, ','), *last;

        if (end == NULL)
            end = cursor + strlen(cursor);
        last = end;
        while (cursor < last && isspace((unsigned char)*cursor))
            cursor++;
        while (last > cursor && isspace((unsigned char)last[-1]))
            last--;
        if (last == cursor) {
            gim_log_error("%s: entry %zu of \"%s\" is empty (a comma-separated list of PEM files, "
                          "paired by position)",
                          setting, used + 1, list);
            free_string_list(result, used);
            return GIM_ERR_INVALID;
        }
        result[used] = strndup(cursor, (size_t)(last - cursor));
        if (result[used] == NULL) {
            free_string_list(result, used);
            return GIM_ERR_NO_MEMORY;
        }
        used++;
        if (*end == '\0')
            break;
        cursor = end + 1;
    }
    *entries = result;
    *count = used;
    return GIM_OK;
}

/* Writes OpenSSL's first queued error as text into reason and empties the queue. */
static const char *openssl_reason(char *reason, size_t size)
{
    unsigned long error = ERR_get_error();

    if (error == 0)
        snprintf(reason, size, "no OpenSSL reason given");
    else
        ERR_error_string_n(error, reason, size);
    ERR_clear_error();
    return reason;
}

/* True if path can be opened for reading; else logs why, naming what it is and its position. */
static bool file_is_readable(const char *setting, size_t position, const char *path)
{
    FILE *file = fopen(path, "r");

    if (file == NULL) {
        gim_log_error("%s: entry %zu: cannot read %s: %s", setting, position, path,
                      strerror(errno));
        return false;
    }
    fclose(file);
    return true;
}

/* pem_password_cb that gives no password: an encrypted key fails instead of prompting. */
static int refuse_password(char *buffer, int size, int writing, void *argument)
{
    (void)buffer;
    (void)size;
    (void)writing;
    (void)argument;
    return -1;
}

/* Reads a PEM private key; NULL (OpenSSL's error queue says why) if it cannot. */
static EVP_PKEY *read_private_key(const char *path)
{
    FILE *file = fopen(path, "r");
    EVP_PKEY *key;

    if (file == NULL)
        return NULL;
    key = PEM_read_PrivateKey(file, NULL, refuse_password, NULL);
    fclose(file);
    return key;
}

/* A server context with comet's TLS settings (TLS 1.2+, partial writes, no renegotiation). */
static SSL_CTX *server_context_new(void)
{
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());

    if (context == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
    return context;
}

static bool pair_has_name(const struct tls_certificate *pair, const char *name)
{
    size_t index;

    for (index = 0; index < pair->name_count; index++) {
        if (strcmp(pair->names[index], name) == 0)
            return true;
    }
    return false;
}

/* Adds bytes[0..length) in lower case unless empty, holding a NUL, too long or known. */
static int pair_add_name(struct tls_certificate *pair, const unsigned char *bytes, int length)
{
    char **grown, *name;

    if (length <= 0 || length > TLS_HOST_NAME_MAX || memchr(bytes, '\0', (size_t)length) != NULL)
        return GIM_OK;
    name = strndup((const char *)bytes, (size_t)length);
    if (name == NULL)
        return GIM_ERR_NO_MEMORY;
    ascii_lowercase(name);
    if (pair_has_name(pair, name)) {
        free(name);
        return GIM_OK;
    }
    grown = realloc(pair->names, (pair->name_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(name);
        return GIM_ERR_NO_MEMORY;
    }
    pair->names = grown;
    pair->names[pair->name_count++] = name;
    return GIM_OK;
}

/* Collects the certificate's subjectAltName DNS names and subject CNs into pair->names. */
static int pair_collect_names(struct tls_certificate *pair, const X509 *certificate)
{
    GENERAL_NAMES *alternatives = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    const X509_NAME *subject = X509_get_subject_name(certificate);
    int index, status = GIM_OK;

    for (index = 0; alternatives != NULL && index < sk_GENERAL_NAME_num(alternatives); index++) {
        const GENERAL_NAME *alternative = sk_GENERAL_NAME_value(alternatives, index);

        if (alternative->type == GEN_DNS && status == GIM_OK)
            status = pair_add_name(pair, ASN1_STRING_get0_data(alternative->d.dNSName),
                                   ASN1_STRING_length(alternative->d.dNSName));
    }
    GENERAL_NAMES_free(alternatives);
    index = -1;
    while (status == GIM_OK &&
           (index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)) >= 0) {
        const ASN1_STRING *common_name =
            X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
        unsigned char *text = NULL;
        int length = ASN1_STRING_to_UTF8(&text, common_name);

        if (length > 0)
            status = pair_add_name(pair, text, length);
        OPENSSL_free(text);
    }
    return status;
}

/* Loads pair number position (1-based, for messages) into pair. */
static int pair_load(struct tls_certificate *pair, size_t position, const char *certificate_file,
                     const char *private_key_file)
{
    char reason[256];
    EVP_PKEY *key = NULL;
    X509 *certificate;
    int status = GIM_ERR_INVALID;

    pair->certificate_file = certificate_file;
    if (!file_is_readable("websocket.certFile", position, certificate_file) ||
        !file_is_readable("websocket.privateFile", position, private_key_file))
        return GIM_ERR_INVALID;
    pair->context = server_context_new();
    if (pair->context == NULL)
        return GIM_ERR_NO_MEMORY;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(pair->context, certificate_file) != 1) {
        gim_log_error("websocket.certFile: entry %zu: %s is not a PEM certificate chain: %s",
                      position, certificate_file, openssl_reason(reason, sizeof(reason)));
        return GIM_ERR_INVALID;
    }
    certificate = SSL_CTX_get0_certificate(pair->context);
    key = read_private_key(private_key_file);
    if (key == NULL) {
        gim_log_error("websocket.privateFile: entry %zu: %s is not an unencrypted PEM private "
                      "key: %s",
                      position, private_key_file, openssl_reason(reason, sizeof(reason)));
    } else if (certificate == NULL || X509_check_private_key(certificate, key) != 1) {
        ERR_clear_error();
        gim_log_error("websocket.privateFile: entry %zu: the key in %s does not match the "
                      "certificate in %s (websocket.certFile entry %zu)",
                      position, private_key_file, certificate_file, position);
    } else if (SSL_CTX_use_PrivateKey(pair->context, key) != 1 ||
               SSL_CTX_check_private_key(pair->context) != 1) {
        gim_log_error("websocket TLS: entry %zu: cannot use certificate %s with key %s: %s",
                      position, certificate_file, private_key_file,
                      openssl_reason(reason, sizeof(reason)));
    } else {
        status = pair_collect_names(pair, certificate);
    }
    EVP_PKEY_free(key);
    return status;
}

/* Logs what each pair serves, and warns about names an earlier pair already serves. */
static void log_certificates(const struct tls_certificates *certificates)
{
    size_t position, index, earlier;

    for (position = 0; position < certificates->count; position++) {
        const struct tls_certificate *pair = &certificates->pairs[position];
        char names[512] = "";
        size_t used = 0;

        for (index = 0; index < pair->name_count && used < sizeof(names); index++) {
            int written = snprintf(names + used, sizeof(names) - used, "%s%s", index ? ", " : "",
                                   pair->names[index]);
            if (written < 0)
                break;
            used += (size_t)written;
        }
        gim_log_info("websocket TLS: certificate %zu %s serves %s%s", position + 1,
                     pair->certificate_file, pair->name_count ? names : "no host name",
                     position == 0 ? " (default: no SNI or an unknown name)" : "");
        for (index = 0; index < pair->name_count; index++) {
            for (earlier = 0; earlier < position; earlier++) {
                if (pair_has_name(&certificates->pairs[earlier], pair->names[index])) {
                    gim_log_warn("websocket TLS: %s is also served by certificate %zu %s, "
                                 "which comes first: certificate %zu is not used for it",
                                 pair->names[index], earlier + 1,
                                 certificates->pairs[earlier].certificate_file, position + 1);
                    break;
                }
            }
        }
    }
}

/* The pair serving server_name (exact names first, then "*." names), or NULL. */
static const struct tls_certificate *find_certificate(const struct tls_certificates *certificates,
                                                      const char *server_name)
{
    char name[TLS_HOST_NAME_MAX + 1], wildcard[TLS_HOST_NAME_MAX + 2];
    size_t length = strlen(server_name), index;
    const char *first_dot;

    if (length == 0 || length > TLS_HOST_NAME_MAX)
        return NULL;
    memcpy(name, server_name, length + 1);
    ascii_lowercase(name);
    for (index = 0; index < certificates->count; index++) {
        if (pair_has_name(&certificates->pairs[index], name))
            return &certificates->pairs[index];
    }
    first_dot = strchr(name, '.');
    if (first_dot == NULL || first_dot == name || first_dot[1] == '\0')
        return NULL;
    snprintf(wildcard, sizeof(wildcard), "*%s", first_dot);
    for (index = 0; index < certificates->count; index++) {
        if (pair_has_name(&certificates->pairs[index], wildcard))
            return &certificates->pairs[index];
    }
    return NULL;
}

/*
 * OpenSSL's servername callback (on the default context): moves the session
 * to the pair that serves the client's SNI name; the default stays otherwise.
 */
static int select_certificate_by_server_name(SSL *session, int *alert, void *argument)
{
    const struct tls_certificates *certificates = argument;
    const char *server_name = SSL_get_servername(session, TLSEXT_NAMETYPE_host_name);
    const struct tls_certificate *chosen;

    if (server_name == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    chosen = find_certificate(certificates, server_name);
    gim_log_debug("tls fd %d: SNI %s -> %s", SSL_get_fd(session), server_name,
                  chosen != NULL ? chosen->certificate_file : "default certificate");
    if (chosen == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    if (chosen->context != SSL_get_SSL_CTX(session) &&
        SSL_set_SSL_CTX(session, chosen->context) == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

int tls_certificates_load(struct tls_certificates **out, const char *certificate_files,
                          const char *private_key_files)
{
    struct tls_certificates *certificates;
    char **private_key_list = NULL;
    size_t private_key_count = 0, index;
    int status;

    *out = NULL;
    certificates = calloc(1, sizeof(*certificates));
    if (certificates == NULL)
        return GIM_ERR_NO_MEMORY;
    status = split_file_list("websocket.certFile", certificate_files,
                             &certificates->certificate_files, &certificates->count);
    if (status == GIM_OK)
        status = split_file_list("websocket.privateFile", private_key_files, &private_key_list,
                                 &private_key_count);
    if (status == GIM_OK && private_key_count != certificates->count) {
        gim_log_error("websocket.certFile lists %zu certificate file(s) but websocket.privateFile "
                      "lists %zu private key file(s): they pair by position, give as many of each",
                      certificates->count, private_key_count);
        status = GIM_ERR_INVALID;
    }
    if (status == GIM_OK) {
        certificates->pairs = calloc(certificates->count, sizeof(*certificates->pairs));
        if (certificates->pairs == NULL)
            status = GIM_ERR_NO_MEMORY;
    }
    for (index = 0; status == GIM_OK && index < certificates->count; index++)
        status = pair_load(&certificates->pairs[index], index + 1,
                           certificates->certificate_files[index], private_key_list[index]);
    free_string_list(private_key_list, private_key_count);
    if (status != GIM_OK) {
        tls_certificates_free(certificates);
        return status;
    }
    SSL_CTX_set_tlsext_servername_callback(certificates->pairs[0].context,
                                           select_certificate_by_server_name);
    SSL_CTX_set_tlsext_servername_arg(certificates->pairs[0].context, certificates);
    log_certificates(certificates);
    *out = certificates;
    return GIM_OK;
}

SSL_CTX *tls_certificates_default_context(const struct tls_certificates *certificates)
{
    return certificates->pairs[0].context;
}

void tls_certificates_free(struct tls_certificates *certificates)
{
    size_t index;

    if (certificates == NULL)
        return;
    for (index = 0; certificates->pairs != NULL && index < certificates->count; index++) {
        SSL_CTX_free(certificates->pairs[index].context);
        free_string_list(certificates->pairs[index].names, certificates->pairs[index].name_count);
    }
    free(certificates->pairs);
    free_string_list(certificates->certificate_files, certificates->count);
    free(certificates);
}

int tls_stream_attach(struct comet_connection *connection, SSL_CTX *context)
{
    SSL *session = SSL_new(context);

    if (session == NULL || SSL_set_fd(session, connection->handle.fd) != 1) {
        SSL_free(session);
        return GIM_ERR_NO_MEMORY;
    }
    SSL_set_accept_state(session);
    connection->tls = session;
    connection->stream = &tls_stream;
    return GIM_OK;
}
