/*
 * ip_counter.h: distinct client IPs over the whole comet (registry ip_count).
 *
 * A mutex-protected multiset of addresses: loops add an address when a
 * connection authenticates and remove it when that connection closes; the
 * operations thread reads the number of distinct addresses. The critical
 * section is one hash lookup, so loops never wait long on it.
 */
#ifndef COMET_IP_COUNTER_H
#define COMET_IP_COUNTER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/string_map.h"

struct ip_counter {
    pthread_mutex_t lock;
    struct string_map addresses; /* text -> struct ip_count_entry */
};

/* Initialises an empty counter. */
void ip_counter_init(struct ip_counter *counter);

/* Frees the counter's entries and map. */
void ip_counter_destroy(struct ip_counter *counter);

/* Counts one more connection from address (16 bytes, IPv4 as ::ffff:a.b.c.d). */
void ip_counter_add(struct ip_counter *counter, const uint8_t address[16]);

/* Counts one connection less from address; the address goes at zero. */
void ip_counter_remove(struct ip_counter *counter, const uint8_t address[16]);

/* Returns the number of distinct addresses. */
size_t ip_counter_distinct(struct ip_counter *counter);

#endif
