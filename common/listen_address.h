/*
 * listen_address.h: a listen setting written goim's way ("host:port",
 * ":port", "[v6]:port") turned into a socket address to bind.
 */
#ifndef GIM_LISTEN_ADDRESS_H
#define GIM_LISTEN_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Resolves address numerically into *out (an empty host is every IPv4
 * interface, as goim's ":3111"; port 0 lets the kernel pick). setting names
 * the setting in messages ("gopusher.addr"). Returns GIM_OK, or
 * GIM_ERR_INVALID with a text in error[0..error_size). Pointers stay the
 * caller's.
 */
int gim_listen_address_resolve(const char *setting, const char *address,
                               struct sockaddr_storage *out, char *error, size_t error_size);

#endif
