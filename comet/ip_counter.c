/* ip_counter.c: comet-wide distinct client address count (see ip_counter.h). */
#include "comet/ip_counter.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

struct ip_count_entry {
    char text[INET6_ADDRSTRLEN];
    long connections;
};

static void ip_text(const uint8_t address[16], char *out)
{
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(address, v4_prefix, sizeof(v4_prefix)) == 0)
        inet_ntop(AF_INET, address + 12, out, INET6_ADDRSTRLEN);
    else
        inet_ntop(AF_INET6, address, out, INET6_ADDRSTRLEN);
}

void ip_counter_init(struct ip_counter *counter)
{
    pthread_mutex_init(&counter->lock, NULL);
    string_map_init(&counter->addresses);
}

static void free_visit(void *value, void *context)
{
    (void)context;
    free(value);
}

void ip_counter_destroy(struct ip_counter *counter)
{
    string_map_each(&counter->addresses, free_visit, NULL);
    string_map_destroy(&counter->addresses);
    pthread_mutex_destroy(&counter->lock);
}

void ip_counter_add(struct ip_counter *counter, const uint8_t address[16])
{
    char text[INET6_ADDRSTRLEN];
    struct ip_count_entry *entry;

    ip_text(address, text);
    pthread_mutex_lock(&counter->lock);
    entry = string_map_get(&counter->addresses, text);
    if (entry == NULL) {
        entry = calloc(1, sizeof(*entry));
        if (entry != NULL) {
            memcpy(entry->text, text, sizeof(text));
            if (string_map_put(&counter->addresses, entry->text, entry, NULL) != GIM_OK) {
                free(entry);
                entry = NULL; /* out of memory: this address is not counted */
            }
        }
    }
    if (entry != NULL)
        entry->connections++;
    pthread_mutex_unlock(&counter->lock);
}

void ip_counter_remove(struct ip_counter *counter, const uint8_t address[16])
{
    char text[INET6_ADDRSTRLEN];
    struct ip_count_entry *entry;

    ip_text(address, text);
    pthread_mutex_lock(&counter->lock);
    entry = string_map_get(&counter->addresses, text);
    if (entry != NULL && --entry->connections <= 0) {
        string_map_remove_if(&counter->addresses, entry->text, entry);
        free(entry);
    }
    pthread_mutex_unlock(&counter->lock);
}

size_t ip_counter_distinct(struct ip_counter *counter)
{
    size_t count;

    pthread_mutex_lock(&counter->lock);
    count = counter->addresses.count;
    pthread_mutex_unlock(&counter->lock);
    return count;
}
