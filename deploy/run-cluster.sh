#!/usr/bin/env bash
# run-cluster.sh: runs a whole single-machine goim-c cluster in the foreground (`make run`).
#
#   deploy/run-cluster.sh [BIN_DIR]
#
# Starts Redis on a private port and directory (unless REDIS_ADDR names one), the embedded dev
# Kafka (librdkafka's mock cluster, not durable; unless KAFKA_BROKERS names real brokers), then
# logic, job and one comet on goim's default ports, every one bound to 127.0.0.1 (a development
# cluster: nothing is reachable from other machines), prints the endpoints and a curl example,
# and stops everything on Ctrl-C (or when any daemon dies): the daemons first, then the brokers.
# The steps shared with tests/bench/run-bench.sh are in deploy/cluster-lib.sh.
set -euo pipefail
# Job control: every process started here gets a process group of its own, so the terminal's
# Ctrl-C reaches this script alone, and the daemons are stopped in order (comet, job, logic, then
# Kafka and Redis) instead of all at once (a daemon would then lose its brokers while stopping).
set -m

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
    echo "stopping the cluster (comet, job, logic, then Kafka and Redis)..."
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

cluster_start_daemon "$bin" logic "$run_dir" "$host" \
    -httpServer.addr 127.0.0.1:3111 -rpcServer.addr 127.0.0.1:3119 -gopusher.addr 127.0.0.1:8002
cluster_start_daemon "$bin" job "$run_dir" "$host" -metrics.addr 127.0.0.1:3106 "${job_flags[@]}"
cluster_start_daemon "$bin" comet "$run_dir" "$host" -addrs 127.0.0.1 \
    -tcp.bind 127.0.0.1:3101 -websocket.bind 127.0.0.1:3102 -rpcServer.addr 127.0.0.1:3109 \
    -rpcServer.advertise tcp://127.0.0.1:3109 -metrics.addr 127.0.0.1:3104
cluster_wait_port 127.0.0.1 3111 20
cluster_wait_port 127.0.0.1 3101 20

cat <<INFO

goim-c is running (host $host), every port on 127.0.0.1 only:
  HTTP push API  http://127.0.0.1:3111/goim/   (logic)
  demo page      http://127.0.0.1:3111/demo/?node=127.0.0.1   (browser client, pushes, cluster view)
  TCP clients    127.0.0.1:3101               (comet)
  WebSocket      ws://127.0.0.1:3102/sub      (comet; gopusher clients: /ws/{app_key}/{user_tag})
  gopusher API   http://127.0.0.1:8002/api/   (logic; no super admin unless -gopusher.authAccount)
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
exited=
wait -n -p exited "${cluster_pids[@]}" || true
echo "process $exited of the cluster exited by itself; see the logs in $run_dir" >&2
