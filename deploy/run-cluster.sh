#!/usr/bin/env bash
# run-cluster.sh: runs a whole single-machine goim-c cluster in the foreground (`make run`).
#
#   deploy/run-cluster.sh [BIN_DIR]
#
# Starts Redis on a private port and directory (unless REDIS_ADDR names one), the embedded dev
# Kafka (librdkafka's mock cluster, not durable; unless KAFKA_BROKERS names real brokers), then
# logic, job and one comet on goim's default ports, prints the endpoints and a curl example, and
# stops everything on Ctrl-C (or when any daemon dies).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/release/bin}
run_dir=${GOIM_RUN_DIR:-$root/build/run}
redis_port=${GOIM_REDIS_PORT:-16379}
host=${HOST:-$(hostname)}
mkdir -p "$run_dir"

pids=()
stopping=0
# Stops the processes one by one, newest first (comet, job, logic, then Kafka and Redis), so
# that each daemon still has its backends while it shuts down.
stop_all() {
    trap - INT TERM EXIT
    stopping=1
    echo
    echo "stopping the cluster..."
    local index
    for ((index = ${#pids[@]} - 1; index >= 0; index--)); do
        kill -TERM "${pids[$index]}" 2>/dev/null || true
        wait "${pids[$index]}" 2>/dev/null || true
    done
    echo "stopped. logs are in $run_dir"
}
trap stop_all INT TERM EXIT

wait_port() { # host port seconds
    local deadline=$((SECONDS + $3))
    while ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        if ((SECONDS > deadline)); then
            echo "timed out waiting for $1:$2" >&2
            return 1
        fi
        sleep 0.2
    done
}

if [ -z "${REDIS_ADDR:-}" ]; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir" --save '' \
        --appendonly no --daemonize no --logfile "$run_dir/redis.log" &
    pids+=($!)
    REDIS_ADDR=127.0.0.1:$redis_port
    wait_port 127.0.0.1 "$redis_port" 10
fi
export REDIS_ADDR

job_flags=""
if [ -z "${KAFKA_BROKERS:-}" ]; then
    # librdkafka's mock broker hands a restarted group its partitions only after the session
    # timeout of the member that left: keep it short for the dev cluster. It also holds a fetch
    # with no data for the whole fetch.wait.max.ms (a real broker answers as soon as a record
    # arrives): the 500 ms default would add up to 0.5 s to every push, so poll it often.
    job_flags="-kafka.sessionTimeout 6s -kafka.fetchWaitMax 10ms"
    rm -f "$run_dir/kafka.bootstrap"
    "$bin/devkafka" -topic goim-push-topic -partitions 4 \
        -bootstrap-file "$run_dir/kafka.bootstrap" >"$run_dir/devkafka.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        [ -s "$run_dir/kafka.bootstrap" ] && break
        sleep 0.1
    done
    [ -s "$run_dir/kafka.bootstrap" ] || { echo "dev Kafka did not start" >&2; exit 1; }
    KAFKA_BROKERS=$(cat "$run_dir/kafka.bootstrap")
fi
export KAFKA_BROKERS

"$bin/logic" -host "$host" 2>"$run_dir/logic.log" &
pids+=($!)
"$bin/job" -host "$host" $job_flags 2>"$run_dir/job.log" &
pids+=($!)
"$bin/comet" -host "$host" -rpcServer.advertise tcp://127.0.0.1:3109 2>"$run_dir/comet.log" &
pids+=($!)
wait_port 127.0.0.1 3111 20
wait_port 127.0.0.1 3101 20

cat <<INFO

goim-c is running (host $host):
  HTTP push API  http://127.0.0.1:3111/goim/   (logic)
  TCP clients    127.0.0.1:3101               (comet)
  comet RPC      tcp://127.0.0.1:3109   logic RPC tcp://127.0.0.1:3119
  Redis          $REDIS_ADDR
  Kafka          $KAFKA_BROKERS$( [ -s "$run_dir/kafka.bootstrap" ] && echo " (embedded dev broker, not durable)")
  logs           $run_dir/*.log

Push to the TCP client authenticated as mid 123:
  curl -d hello 'http://127.0.0.1:3111/goim/push/mids?operation=1000&mids=123'

Ctrl-C stops everything.
INFO

# Wait until Ctrl-C or until any process exits.
wait -n "${pids[@]}" || true
[ "$stopping" -eq 1 ] || echo "a daemon exited; see $run_dir" >&2
