/* listen_address.c: goim-style listen settings to socket addresses (see listen_address.h). */
#include "common/listen_address.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"

int gim_listen_address_resolve(const char *setting, const char *address,
                               struct sockaddr_storage *out, char *error, size_t error_size)
{
    const char *colon = strrchr(address, ':'), *host_start = address;
    struct addrinfo hints, *found = NULL;
    size_t host_length;
    char host[256];
    int result;

    if (colon == NULL || colon[1] == '\0') {
        snprintf(error, error_size, "%s: \"%s\" is not host:port", setting, address);
        return GIM_ERR_INVALID;
    }
    host_length = (size_t)(colon - address);
    if (host_length >= 2 && address[0] == '[' && address[host_length - 1] == ']') {
        host_start++;
        host_length -= 2;
    }
    if (host_length >= sizeof(host)) {
        snprintf(error, error_size, "%s: host too long", setting);
        return GIM_ERR_INVALID;
    }
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host_length == 0 ? AF_INET : AF_UNSPEC; /* ":port": every IPv4 interface */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    result = getaddrinfo(host_length ? host : NULL, colon + 1, &hints, &found);
    if (result != 0 || found == NULL) {
        snprintf(error, error_size, "%s: \"%s\": %s", setting, address,
                 result ? gai_strerror(result) : "no address");
        return GIM_ERR_INVALID;
    }
    memcpy(out, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    return GIM_OK;
}
