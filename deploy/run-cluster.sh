#!/usr/bin/env bash
# run-cluster.sh: runs a whole single-machine goim-c cluster in the foreground (`make run`).
#
#   deploy/run-cluster.sh [BIN_DIR]
#
# Starts Redis on a private port and directory (unless REDIS_ADDR names one), the embedded dev
# Kafka (librdkafka's mock cluster, not durable; unless KAFKA_BROKERS names real brokers), then
# logic, job and one comet on goim's default ports, prints the endpoints and a curl example, and
# stops everything on Ctrl-C (or when any daemon dies). The steps shared with
# tests/bench/run-bench.sh are in deploy/cluster-lib.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=cluster-lib.sh
. "$here/cluster-lib.sh"

bin=${1:-$root/build/release/bin}
run_dir=${GOIM_RUN_DIR:-$root/build/run}
redis_port=${GOIM_REDIS_PORT:-16379}
host=${HOST:-$(hostname)}
mkdir -p "$run_dir"

# Stops everything cluster-lib.sh started (newest first), saying so.
stop_cluster() {
    echo
    echo "stopping the cluster..."
    cluster_stop_all
    echo "stopped. logs are in $run_dir"
}
trap stop_cluster EXIT
# Ctrl-C (or SIGTERM) is how this script is meant to end: exit 0, the EXIT trap stops the cluster.
trap 'exit 0' INT TERM

if [ -z "${REDIS_ADDR:-}" ]; then
    cluster_start_redis "$redis_port" "$run_dir"
fi
export REDIS_ADDR

job_flags=()
if [ -z "${KAFKA_BROKERS:-}" ]; then
    job_flags=("${cluster_dev_kafka_job_flags[@]}")
    cluster_start_dev_kafka "$bin" "$run_dir"
fi
export KAFKA_BROKERS

cluster_start_daemon "$bin" logic "$run_dir" "$host"
cluster_start_daemon "$bin" job "$run_dir" "$host" "${job_flags[@]}"
cluster_start_daemon "$bin" comet "$run_dir" "$host" -rpcServer.advertise tcp://127.0.0.1:3109
cluster_wait_port 127.0.0.1 3111 20
cluster_wait_port 127.0.0.1 3101 20

cat <<INFO

goim-c is running (host $host):
  HTTP push API  http://127.0.0.1:3111/goim/   (logic)
  demo page      http://127.0.0.1:3111/demo/?node=127.0.0.1   (browser client, pushes, cluster view)
  TCP clients    127.0.0.1:3101               (comet)
  comet RPC      tcp://127.0.0.1:3109   logic RPC tcp://127.0.0.1:3119
  metrics        http://127.0.0.1:3111/metrics (logic)  :3104/metrics (comet)  :3106/metrics (job)
  Redis          $REDIS_ADDR
  Kafka          $KAFKA_BROKERS$( [ -s "$run_dir/kafka.bootstrap" ] && echo " (embedded dev broker, not durable)")
  logs           $run_dir/*.log

Push to the TCP client authenticated as mid 123:
  curl -d hello 'http://127.0.0.1:3111/goim/push/mids?operation=1000&mids=123'

Ctrl-C stops everything.
INFO

# Wait until Ctrl-C (whose trap exits) or until any process exits.
wait -n "${cluster_pids[@]}" || true
echo "a daemon exited; see $run_dir" >&2
