#!/usr/bin/env bash
# run-bench.sh: `make bench`: starts a private single-machine goim-c cluster, runs the benchmark
# scenarios against it (tests/bench/scenarios.py), prints one table and writes
# build/bench/results.json.
#
#   tests/bench/run-bench.sh [BUILD_DIR]      (BUILD_DIR holds bin/ and bench/; default build/release)
#
# Environment: BENCH_SCENARIO (all | idle connect fanout mids broadcast atrest, comma separated),
# BENCH_CONNS (default 15000), KAFKA_BROKERS (default: the embedded dev broker), BENCH_TIMEOUT
# (seconds for the whole run, default 1500), BENCH_RESULTS (where results.json goes, default
# build/bench/results.json), BENCH_JOB_FLAGS (extra job flags, word-split, appended last so they
# override ours, e.g. "-kafka.fetchWaitMax 500ms"). Ports are private (Redis 26379, comet
# 23101/23109, logic 23111/23119) so it can run beside `make run` and the integration tests.
# Everything it started is stopped on success, failure or Ctrl-C. The cluster steps shared with
# deploy/run-cluster.sh are in deploy/cluster-lib.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../deploy/cluster-lib.sh
. "$root/deploy/cluster-lib.sh"
cluster_error_prefix="run-bench: "

build=${1:-$root/build/release}
run_dir=$root/build/bench
redis_port=${BENCH_REDIS_PORT:-26379}
comet_tcp=127.0.0.1:${BENCH_COMET_PORT:-23101}
comet_rpc=127.0.0.1:${BENCH_COMET_RPC_PORT:-23109}
logic_http=127.0.0.1:${BENCH_LOGIC_PORT:-23111}
logic_rpc=127.0.0.1:${BENCH_LOGIC_RPC_PORT:-23119}
host=bench-$(hostname)
mkdir -p "$run_dir"
rm -f "$run_dir"/*.log "$run_dir"/*.status "$run_dir"/*.tmp

# The comet and the load generator hold thousands of sockets.
ulimit -n "$(ulimit -Hn)"

trap cluster_stop_all EXIT
trap 'exit 130' INT TERM

cluster_start_redis "$redis_port" "$run_dir"

job_flags=()
read -r -a extra_job_flags <<<"${BENCH_JOB_FLAGS:-}"
kafka_kind=real
if [ -z "${KAFKA_BROKERS:-}" ]; then
    kafka_kind="embedded dev broker (librdkafka mock)"
    job_flags=("${cluster_dev_kafka_job_flags[@]}")
    cluster_start_dev_kafka "$build/bin" "$run_dir"
fi
export KAFKA_BROKERS

cluster_start_daemon "$build/bin" logic "$run_dir" "$host" \
    -httpServer.addr "$logic_http" -rpcServer.addr "$logic_rpc"
cluster_start_daemon "$build/bin" job "$run_dir" "$host" "${job_flags[@]}" "${extra_job_flags[@]}"
cluster_start_daemon "$build/bin" comet "$run_dir" "$host" -tcp.bind "$comet_tcp" \
    -rpcServer.addr "$comet_rpc" -rpcServer.advertise "tcp://$comet_rpc" \
    -rpcClient.logic "$logic_rpc"
comet_pid=$cluster_last_pid
cluster_wait_port 127.0.0.1 "${logic_http##*:}" 20
cluster_wait_port 127.0.0.1 "${comet_tcp##*:}" 20
# Measure the cluster, not its start: until the job's group join has been assigned the
# partitions (about 3 s with either broker) and the job has read the comet from the registry,
# pushes wait in Kafka and the first at-rest latencies would be seconds.
wait_log() { # file pattern seconds
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            echo "run-bench: timed out waiting for \"$2\" in $1" >&2
            return 1
        fi
        sleep 0.2
    done
}
wait_log "$run_dir/job.log" "kafka: assigned" 60
wait_log "$run_dir/job.log" "comets: $host joined" 20

export BENCH_LOADGEN=$build/bench/loadgen BENCH_PUSHER=$build/bench/pusher
export BENCH_COMET_ADDR=$comet_tcp BENCH_LOGIC_ADDR=$logic_http BENCH_COMET_PID=$comet_pid
export BENCH_RUN_DIR=$run_dir BENCH_KAFKA="$kafka_kind"
export BENCH_RESULTS=${BENCH_RESULTS:-$run_dir/results.json}
export BENCH_JOB_FLAGS_USED="${job_flags[*]}${extra_job_flags[*]:+ ${extra_job_flags[*]}}"
timeout --signal=TERM --kill-after=10 "${BENCH_TIMEOUT:-1500}" \
    python3 "$here/scenarios.py" &
driver=$!
cluster_track_pid "$driver"
status=0
wait "$driver" || status=$?
for pid in "${cluster_pids[@]}"; do
    if [ "$pid" != "$driver" ] && ! kill -0 "$pid" 2>/dev/null; then
        echo "run-bench: a daemon (pid $pid) died during the run; logs in $run_dir" >&2
        status=1
    fi
done
exit "$status"
