# shellcheck shell=bash
# cluster-lib.sh: the steps shared by deploy/run-cluster.sh (`make run`) and
# tests/bench/run-bench.sh (`make bench`) to run a private single-machine goim-c cluster: start a
# private redis-server, start the embedded dev Kafka (deploy/devkafka), start the daemons, wait
# for a port, and stop everything that was started, newest first, with bounded waits.
#
# Source it from bash (`. "$here/cluster-lib.sh"`) in a script running with `set -euo pipefail`;
# it is not a program. Every process started through it is recorded in the array cluster_pids,
# and cluster_stop_all stops them in reverse order. Functions return 0 on success and 1 (after a
# message on stderr) on failure, so a plain call stops a `set -e` script. Their messages start
# with cluster_error_prefix, which the sourcing script may set (e.g. "run-bench: ").

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "cluster-lib.sh is sourced by run-cluster.sh and run-bench.sh, not run" >&2
    exit 2
fi

# PIDs of the processes started through this file (and those passed to cluster_track_pid), in
# the order they were started.
cluster_pids=()
# PID of the process most recently started by cluster_start_daemon.
cluster_last_pid=
# Prepended to every message this file writes to stderr.
cluster_error_prefix=

# Job flags to use with the dev broker. librdkafka's mock broker hands a restarted group its
# partitions only after the session timeout of the member that left: keep it short. It also
# holds a fetch with no data for the whole fetch.wait.max.ms (a real broker answers as soon as a
# record arrives): librdkafka's 500 ms default would add up to 0.5 s to every push, so poll it
# often.
# shellcheck disable=SC2034 # read by the sourcing scripts
cluster_dev_kafka_job_flags=(-kafka.sessionTimeout 6s -kafka.fetchWaitMax 10ms)

# cluster_track_pid PID
# Records PID (a child of the calling shell) in cluster_pids so that cluster_stop_all stops it,
# after every process recorded before it. Returns 0.
cluster_track_pid() {
    cluster_pids+=("$1")
}

# cluster_stop_all
# Removes the INT, TERM and EXIT traps (so it runs once), then stops every process in
# cluster_pids, newest first (comet, job, logic, then Kafka and Redis, so that each daemon still
# has its backends while it shuts down): SIGTERM, up to 10 s for it to exit, then SIGKILL, then
# reaps it. Meant to be the EXIT trap. Returns 0, even if some processes were already gone.
cluster_stop_all() {
    trap - INT TERM EXIT
    while [ ${#cluster_pids[@]} -gt 0 ]; do
        cluster_stop_pid "${cluster_pids[${#cluster_pids[@]} - 1]}"
    done
    return 0
}

# cluster_forget_pid PID
# Removes PID from cluster_pids without signalling it (for a process the caller has already
# waited for, whose PID may be reused). Returns 0.
cluster_forget_pid() {
    local kept=() pid
    for pid in "${cluster_pids[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    cluster_pids=("${kept[@]}")
}

# cluster_stop_pid PID
# Stops one recorded process (a child of the calling shell): SIGTERM, up to 10 s for it to exit,
# then SIGKILL, then reaps it and removes it from cluster_pids (cluster_stop_all uses it for each;
# run-bench.sh to restart a daemon). Returns 0, even if it was already gone.
cluster_stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    cluster_forget_pid "$pid"
}

# cluster_wait_port HOST PORT SECONDS
# Waits until a TCP connection to HOST:PORT succeeds, trying every 0.2 s. Returns 0 once it
# does, 1 (with a message) after SECONDS without success.
cluster_wait_port() {
    local deadline=$((SECONDS + $3))
    while ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        if ((SECONDS > deadline)); then
            echo "${cluster_error_prefix}timed out waiting for $1:$2" >&2
            return 1
        fi
        sleep 0.2
    done
}

# cluster_start_redis PORT RUN_DIR
# Starts a private, non-persistent redis-server on 127.0.0.1:PORT with its working directory and
# redis.log in RUN_DIR, records its PID, waits up to 10 s for the port, then sets and exports
# REDIS_ADDR=127.0.0.1:PORT. Returns 0, or 1 if the port did not open in time (the process stays
# recorded for cluster_stop_all).
cluster_start_redis() {
    local port=$1 run_dir=$2
    redis-server --port "$port" --bind 127.0.0.1 --dir "$run_dir" --save '' \
        --appendonly no --daemonize no --logfile "$run_dir/redis.log" &
    cluster_track_pid $!
    cluster_wait_port 127.0.0.1 "$port" 10 || return 1
    export REDIS_ADDR=127.0.0.1:$port
}

# cluster_start_dev_kafka BIN_DIR RUN_DIR
# Starts BIN_DIR/devkafka (librdkafka's mock cluster, not durable) with the topic
# goim-push-topic in 4 partitions, its output in RUN_DIR/devkafka.log, records its PID, waits up
# to 10 s for it to write its bootstrap address to RUN_DIR/kafka.bootstrap (removed first), then
# sets and exports KAFKA_BROKERS to that address. Returns 0, or 1 if no address appeared in time.
cluster_start_dev_kafka() {
    local bin_dir=$1 run_dir=$2
    local bootstrap=$run_dir/kafka.bootstrap
    rm -f "$bootstrap"
    "$bin_dir/devkafka" -topic goim-push-topic -partitions 4 \
        -bootstrap-file "$bootstrap" >"$run_dir/devkafka.log" 2>&1 &
    cluster_track_pid $!
    for _ in $(seq 1 100); do
        [ -s "$bootstrap" ] && break
        sleep 0.1
    done
    if [ ! -s "$bootstrap" ]; then
        echo "${cluster_error_prefix}dev Kafka did not start" >&2
        return 1
    fi
    KAFKA_BROKERS=$(cat "$bootstrap")
    export KAFKA_BROKERS
}

# cluster_start_daemon BIN_DIR NAME RUN_DIR HOST [FLAG...]
# Starts BIN_DIR/NAME (logic, job or comet) in the background as `NAME -host HOST FLAG...`, its
# stderr (the log) to RUN_DIR/NAME.log and its stdout inherited, records its PID and sets
# cluster_last_pid to it. It does not wait for the daemon to be ready (see cluster_wait_port).
# Returns 0.
cluster_start_daemon() {
    local bin_dir=$1 name=$2 run_dir=$3 host=$4
    shift 4
    "$bin_dir/$name" -host "$host" "$@" 2>"$run_dir/$name.log" &
    cluster_last_pid=$!
    cluster_track_pid "$cluster_last_pid"
}
