#!/usr/bin/env bash
# check-comet-layers.sh: `make test` checks that comet's layers call downwards only: no file of
# comet/ includes a comet header of a higher layer (what goes up goes through callbacks set at
# creation, see docs/internals.md). Every comet file must be placed in the table below; a new
# file that is not fails the check until it is.
#
#   tests/check-comet-layers.sh [ROOT]      (ROOT: the repository, default: this script's)
#
# Prints every offending #include and exits 1, or prints nothing and exits 0.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}

# Layer of each comet file, lowest first. A file may include headers of its own layer or below.
#   0 base:       configuration, containers and indexes, counters, the process object, logic calls
#   1 loop:       epoll, timer wheel, inbox
#   2 connection: bytes, stream (plain/TLS), lifetime and references, output queue, the set
#   3 framing:    goim frames back to back (TCP), one message per WebSocket message (wslay)
#   4 protocol:   client protocols (goim)
#   5 delivery:   workers, listeners and routes, push jobs, paced broadcast, drain, RPC service
#   6 process:    main, metrics export, operations thread
declare -A layer=(
    [config.h]=0 [config.c]=0 [inbox.h]=0 [inbox.c]=0 [timer_wheel.h]=0 [timer_wheel.c]=0
    [string_map.h]=0 [string_map.c]=0 [latch.h]=0 [latch.c]=0 [deadline_queue.h]=0 [deadline_queue.c]=0 [ip_counter.h]=0 [ip_counter.c]=0
    [online.h]=0 [online.c]=0 [room.h]=0 [room.c]=0 [metrics.h]=0 [comet.h]=0
    [logic_calls.h]=0 [logic_calls.c]=0 [redis_writer.h]=0 [redis_writer.c]=0 [gopusher_presence.h]=0 [gopusher_presence.c]=0
    [gusher_command.h]=0 [gusher_command.c]=0 [gusher_presence.h]=0 [gusher_presence.c]=0
    [event_loop.h]=1 [event_loop.c]=1
    [connection.h]=2 [connection.c]=2 [stream.h]=2 [stream.c]=2
    [framing.h]=3 [framing_goim_stream.c]=3 [websocket.h]=3 [websocket.c]=3
    [protocol.h]=4 [protocol_goim.h]=4 [protocol_goim.c]=4 [protocol_gopusher.h]=4 [protocol_gopusher.c]=4
    [protocol_gusher.h]=4 [protocol_gusher.c]=4
    [push_job.h]=5 [push_job.c]=5 [broadcast_pacer.h]=5 [broadcast_pacer.c]=5 [worker.h]=5
    [worker.c]=5 [listener.h]=5 [listener.c]=5 [rpc_service.h]=5 [rpc_service.c]=5
    [main.c]=6 [metrics.c]=6 [operations.h]=6 [operations.c]=6
)

status=0
for path in "$root"/comet/*.[ch]; do
    file=$(basename "$path")
    own=${layer[$file]:-}
    if [ -z "$own" ]; then
        echo "comet/$file: not placed in a layer (tests/check-comet-layers.sh)"
        status=1
        continue
    fi
    while IFS=: read -r line included; do
        target=${layer[$included]:-}
        if [ -z "$target" ]; then
            echo "comet/$file:$line: includes comet/$included, which is in no layer"
            status=1
        elif ((target > own)); then
            echo "comet/$file:$line: layer $own includes comet/$included of layer $target"
            status=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"comet/' "$path" |
        sed 's|^\([0-9]*\):.*"comet/\([^"]*\)".*|\1:\2|')
done
exit $status
