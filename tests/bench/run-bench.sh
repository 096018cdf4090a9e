#!/usr/bin/env bash
# run-bench.sh: `make bench`: starts a private single-machine goim-c cluster, runs the benchmark
# scenarios against it (tests/bench/scenarios.py), prints one table and writes
# build/bench/results.json.
#
#   tests/bench/run-bench.sh [BUILD_DIR]      (BUILD_DIR holds bin/ and bench/; default build/release)
#
# Environment: BENCH_SCENARIO (all | idle connect fanout mids broadcast atrest idle_ws fanout_ws
# gusher_atrest gusher_fanout, comma separated), BENCH_CONNS (default 15000), KAFKA_BROKERS (default: the embedded dev broker),
# BENCH_TIMEOUT (seconds for the whole run, default 1500), BENCH_RESULTS (where results.json goes,
# default build/bench/results.json), BENCH_RUN_DIR (logs, status files and Redis's directory,
# default build/bench; its *.log and *.status files are removed first), BENCH_JOB_FLAGS (extra job
# flags, word-split, appended last so they override ours, e.g. "-kafka.fetchWaitMax 500ms"),
# BENCH_LOGIC_FLAGS and BENCH_COMET_FLAGS (the same for logic and the comet); scenarios.py's own
# (BENCH_FANOUT_RATE, BENCH_FANOUT_STEPS, BENCH_FANOUT_MAX_P99_MS, BENCH_MIDS_RATE, BENCH_MIDS_CONNS,
# BENCH_ATREST_RATE, BENCH_PHASE_SECONDS, BENCH_GUSHER_*) pass through to it.
# Against a cluster that is already running (goim, goim-c, a deployment): set BENCH_COMET_ADDR
# (host:port of a comet's TCP listener) and BENCH_LOGIC_ADDR (host:port of logic's HTTP API), and
# BENCH_COMET_WS_ADDR for the WebSocket and gusher passes; nothing is started then, KAFKA_BROKERS is
# not used, and the comet is not restarted between passes. The gusher pass needs a JWT the cluster
# accepts: on our own cluster, a fresh RSA key pair (openssl, in BENCH_RUN_DIR) whose public half
# is logic's gusher.publicKey; on an external one, BENCH_GUSHER_KEY (the private key PEM whose
# public half its logic has as gusher.publicKey), else the gusher scenarios are skipped. BENCH_COMET_PID and BENCH_LOGIC_PID (optional, on
# this machine) add the comet's RSS and CPU and logic's CPU per request and per connect; without
# them those figures are left out ("-").
# Ports are private (Redis 26379, comet 23101 TCP / 23102 WebSocket / 23109 RPC / 23104 metrics,
# job metrics 23106, logic 23111/23119, gopusher API 28002; BENCH_*_PORT change them) so it can run beside `make run`
# and the integration tests.
# The scenarios run in passes (scenarios.py --passes: the TCP ones, the WebSocket ones, then the
# gusher ones), one scenarios.py process each; the comet is restarted between passes so that each population is
# measured on a fresh comet (its log of an earlier pass is kept as comet-pass<N>.log), and the table
# of every pass is printed at the end. Everything it started is stopped on success, failure or
# Ctrl-C. The cluster steps shared with deploy/run-cluster.sh are in deploy/cluster-lib.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../deploy/cluster-lib.sh
. "$root/deploy/cluster-lib.sh"
cluster_error_prefix="run-bench: "

build=${1:-$root/build/release}
run_dir=${BENCH_RUN_DIR:-$root/build/bench}
external=0
if [ -n "${BENCH_COMET_ADDR:-}" ] || [ -n "${BENCH_LOGIC_ADDR:-}" ]; then
    if [ -z "${BENCH_COMET_ADDR:-}" ] || [ -z "${BENCH_LOGIC_ADDR:-}" ]; then
        echo "run-bench: an external cluster needs both BENCH_COMET_ADDR and BENCH_LOGIC_ADDR" >&2
        exit 2
    fi
    external=1
fi
redis_port=${BENCH_REDIS_PORT:-26379}
comet_tcp=127.0.0.1:${BENCH_COMET_PORT:-23101}
comet_ws=127.0.0.1:${BENCH_COMET_WS_PORT:-23102}
comet_rpc=127.0.0.1:${BENCH_COMET_RPC_PORT:-23109}
logic_http=127.0.0.1:${BENCH_LOGIC_PORT:-23111}
logic_rpc=127.0.0.1:${BENCH_LOGIC_RPC_PORT:-23119}
logic_gopusher=127.0.0.1:${BENCH_LOGIC_GOPUSHER_PORT:-28002}
host=bench-$(hostname)
# The scenario names are checked before anything starts.
passes=$(python3 "$here/scenarios.py" --passes) || exit 2
mapfile -t pass_list <<<"$passes"
gusher_wanted=0
if grep -q gusher_ <<<"$passes"; then
    gusher_wanted=1
fi
mkdir -p "$run_dir"
rm -f "$run_dir"/*.log "$run_dir"/*.status "$run_dir"/*.tmp

# The comet and the load generator hold thousands of sockets.
ulimit -n "$(ulimit -Hn)"

trap cluster_stop_all EXIT
trap 'exit 130' INT TERM

# Waits until pattern occurs at least count times (default 1) in file.
wait_log() { # file pattern seconds [count]
    local deadline=$((SECONDS + $3)) count=${4:-1}
    until (($(grep -c -- "$2" "$1" 2>/dev/null || true) >= count)); do
        if ((SECONDS > deadline)); then
            echo "run-bench: timed out waiting for \"$2\" (${count}x) in $1" >&2
            return 1
        fi
        sleep 0.2
    done
}
start_comet() { # sets comet_pid; returns 0 once its TCP and WebSocket ports accept, else 1
    cluster_start_daemon "$build/bin" comet "$run_dir" "$host" -tcp.bind "$comet_tcp" \
        -websocket.bind "$comet_ws" -rpcServer.addr "$comet_rpc" \
        -rpcServer.advertise "tcp://$comet_rpc" -rpcClient.logic "$logic_rpc" \
        -metrics.addr "127.0.0.1:${BENCH_COMET_METRICS_PORT:-23104}" "${extra_comet_flags[@]}"
    comet_pid=$cluster_last_pid
    cluster_wait_port 127.0.0.1 "${comet_tcp##*:}" 20 || return 1
    cluster_wait_port 127.0.0.1 "${comet_ws##*:}" 20
}

job_flags=()
read -r -a extra_job_flags <<<"${BENCH_JOB_FLAGS:-}"
read -r -a extra_logic_flags <<<"${BENCH_LOGIC_FLAGS:-}"
read -r -a extra_comet_flags <<<"${BENCH_COMET_FLAGS:-}"
if ((external)); then
    comet_pid=${BENCH_COMET_PID:-0}
    logic_pid=${BENCH_LOGIC_PID:-0}
    kafka_kind="external cluster (comet $BENCH_COMET_ADDR, logic $BENCH_LOGIC_ADDR)"
    extra_job_flags=()
else
    cluster_start_redis "$redis_port" "$run_dir"
    kafka_kind=real
    # A real broker outlives the run: a group of its own starting at the end of the topic keeps
    # records an earlier run left undelivered (or another cluster's) out of this run's figures.
    job_flags=(-kafka.group "goim-bench-$(date +%s)-$$" -kafka.offsetReset latest)
    if [ -z "${KAFKA_BROKERS:-}" ]; then
        kafka_kind="embedded dev broker (librdkafka mock)"
        job_flags=("${cluster_dev_kafka_job_flags[@]}")
        cluster_start_dev_kafka "$build/bin" "$run_dir"
    fi
    export KAFKA_BROKERS

    gusher_logic_flags=()
    # a logic without gusher's master API leaves the gusher scenarios "pending" (its 404s)
    if ((gusher_wanted)) && "$build/bin/logic" -h 2>&1 | grep -q -- -gusher.publicKey; then
        # the bench's JWT issuer: scenarios.py signs with the private half
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
            -out "$run_dir/gusher-private.pem" 2>/dev/null
        openssl pkey -in "$run_dir/gusher-private.pem" -pubout -out "$run_dir/gusher-public.pem"
        gusher_logic_flags=(-gusher.publicKey "$run_dir/gusher-public.pem")
        export BENCH_GUSHER_KEY=$run_dir/gusher-private.pem
    fi
    cluster_start_daemon "$build/bin" logic "$run_dir" "$host" \
        -httpServer.addr "$logic_http" -rpcServer.addr "$logic_rpc" \
        -gopusher.addr "$logic_gopusher" "${gusher_logic_flags[@]}" "${extra_logic_flags[@]}"
    logic_pid=$cluster_last_pid
    cluster_start_daemon "$build/bin" job "$run_dir" "$host" -metrics.addr "127.0.0.1:${BENCH_JOB_METRICS_PORT:-23106}" \
        "${job_flags[@]}" "${extra_job_flags[@]}"
    cluster_wait_port 127.0.0.1 "${logic_http##*:}" 20
    start_comet
    # Measure the cluster, not its start: until the job's group join has been assigned the
    # partitions (about 3 s with either broker) and the job has read the comet from the registry,
    # pushes wait in Kafka and the first at-rest latencies would be seconds.
    wait_log "$run_dir/job.log" "kafka: assigned" 60
    wait_log "$run_dir/job.log" "comets: $host joined" 20
    export BENCH_COMET_ADDR=$comet_tcp BENCH_COMET_WS_ADDR=$comet_ws BENCH_LOGIC_ADDR=$logic_http
fi

export BENCH_LOADGEN=$build/bench/loadgen BENCH_PUSHER=$build/bench/pusher
export BENCH_RUN_DIR=$run_dir BENCH_KAFKA="$kafka_kind" BENCH_LOGIC_PID=$logic_pid
export BENCH_RESULTS=${BENCH_RESULTS:-$run_dir/results.json}
export BENCH_JOB_FLAGS_USED="${job_flags[*]}${extra_job_flags[*]:+ ${extra_job_flags[*]}}"
# A fresh comet for the next pass: the previous population's freed memory must not be reused by
# the next one. The job must see it leave the registry (withdrawn at exit, or expired) and come
# back. The old comet's log is kept as $1. Returns 1 if a step failed or timed out.
restart_comet() {
    local left joined
    left=$(grep -c -- "comets: $host left the registry" "$run_dir/job.log" || true)
    joined=$(grep -c -- "comets: $host joined" "$run_dir/job.log" || true)
    cluster_stop_pid "$comet_pid"
    mv "$run_dir/comet.log" "$run_dir/$1" || return 1
    wait_log "$run_dir/job.log" "comets: $host left the registry" 40 $((left + 1)) || return 1
    start_comet || return 1
    wait_log "$run_dir/job.log" "comets: $host joined" 20 $((joined + 1))
}
deadline=$((SECONDS + ${BENCH_TIMEOUT:-1500}))
status=0
pass=0
for pass_scenarios in "${pass_list[@]}"; do
    pass=$((pass + 1))
    if ((pass > 1 && !external)); then
        if ! kill -0 "$comet_pid" 2>/dev/null; then
            echo "run-bench: the comet (pid $comet_pid) died during the run; logs in $run_dir" >&2
            status=1
        fi
        if ! restart_comet "comet-pass$((pass - 1)).log"; then
            status=1
            break
        fi
    fi
    if ((SECONDS >= deadline)); then
        echo "run-bench: BENCH_TIMEOUT reached before the scenarios $pass_scenarios" >&2
        status=1
        break
    fi
    BENCH_SCENARIO=$pass_scenarios BENCH_COMET_PID=$comet_pid BENCH_TABLE=0 \
        BENCH_RESULTS_MERGE=$((pass > 1 ? 1 : 0)) \
        timeout --signal=TERM --kill-after=10 $((deadline - SECONDS)) \
        python3 "$here/scenarios.py" &
    driver=$!
    cluster_track_pid "$driver"
    pass_status=0
    wait "$driver" || pass_status=$?
    cluster_forget_pid "$driver"
    if ((pass_status != 0)); then
        status=$pass_status
    fi
    if ((pass_status == 124 || pass_status == 137)); then
        echo "run-bench: BENCH_TIMEOUT reached during the scenarios $pass_scenarios" >&2
        break
    fi
done
python3 "$here/scenarios.py" --report || status=1
for pid in "${cluster_pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run-bench: a daemon (pid $pid) died during the run; logs in $run_dir" >&2
        status=1
    fi
done
exit "$status"
