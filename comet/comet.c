/* comet.c: comet-wide queries over the loops (see comet.h). */
#include "comet/comet.h"

#include "comet/event_loop.h"

long comet_connection_count(const struct comet *comet)
{
    long total = 0;
    int index;

    for (index = 0; index < comet->loop_count; index++)
        total += atomic_load_explicit(&comet->loops[index]->authenticated, memory_order_relaxed);
    return total;
}

bool comet_serves_websocket(const struct comet *comet)
{
    const struct comet_config *config = comet->config;

    return (config->websocket_bind != NULL && config->websocket_bind[0] != '\0') ||
           config->websocket_tls_open;
}
