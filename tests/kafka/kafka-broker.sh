#!/usr/bin/env bash
# tests/kafka/kafka-broker.sh: fetch and run a real single-node Apache Kafka
# broker (KRaft mode, combined broker+controller) for goim-c's integration
# tests. Needs only Java 17 and Maven; the jars come from the Maven registry
# through tests/kafka/pom.xml and are cached outside the work tree.
#
# Usage:
#   kafka-broker.sh fetch
#       Download the broker jars into the cache dir (idempotent; no-op when
#       the cache is already complete).
#   kafka-broker.sh classpath
#       Print the jar directory (fetching first if needed); use as
#       java -cp "$(kafka-broker.sh classpath)/*" ...
#   kafka-broker.sh start <port> <data-dir> [controller-port]
#       Fetch if needed, write <data-dir>/server.properties, format the storage
#       (once; an already formatted <data-dir> is reused) and exec the broker in
#       the foreground, listening on PLAINTEXT://127.0.0.1:<port>. Broker logs
#       go to <data-dir>/logs/server.log; warnings also go to stderr. Stop it
#       with SIGTERM (clean shutdown) or SIGKILL.
#
# Environment:
#   GOIM_CACHE       cache root (default: $HOME/.cache/goim-c); jars go to
#                    $GOIM_CACHE/kafka-<version>/
#   KAFKA_HEAP_OPTS  JVM heap flags (default: -Xms128m -Xmx512m)
#   KAFKA_JVM_OPTS   extra JVM flags (default: none)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"

die() { echo "kafka-broker.sh: $*" >&2; exit 1; }

usage() {
    sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# The pom is the single source of truth for the Kafka version.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)"
[ -n "$KAFKA_VERSION" ] || die "cannot read <kafka.version> from $POM"

CACHE_ROOT="${GOIM_CACHE:-${HOME:-/tmp}/.cache/goim-c}"
JAR_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
# The marker holds a hash of the pom, so editing the pom invalidates the cache.
MARKER="$JAR_DIR/.complete"

pom_hash() { cksum < "$POM" | cut -d ' ' -f 1; }

is_complete() {
    [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$(pom_hash)" ] \
        && [ -f "$JAR_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]
}

do_fetch() {
    is_complete && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) is required to fetch the Kafka jars"
    mkdir -p "$CACHE_ROOT"
    # Serialise concurrent fetches (parallel test runs) when flock exists.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$CACHE_ROOT/.kafka-$KAFKA_VERSION.lock"
        flock 9
        if is_complete; then exec 9>&-; return 0; fi
    fi
    local tmp="$CACHE_ROOT/.kafka-$KAFKA_VERSION.tmp.$$"
    rm -rf "$tmp"
    echo "kafka-broker.sh: fetching Apache Kafka $KAFKA_VERSION jars into $JAR_DIR" >&2
    # Run from a scratch dir so Maven leaves nothing (e.g. target/) in the
    # tree; its output is shown only on failure.
    if ! (cd "$CACHE_ROOT" && mvn -B -q -f "$POM" \
            dependency:copy-dependencies \
            -DincludeScope=runtime \
            -DoutputDirectory="$tmp" </dev/null >"$tmp.log" 2>&1); then
        cat "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        die "mvn failed to fetch the Kafka jars"
    fi
    rm -f "$tmp.log"
    [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "fetch incomplete: kafka_2.13-$KAFKA_VERSION.jar missing"; }
    pom_hash > "$tmp/.complete"
    rm -rf "$JAR_DIR"
    mv "$tmp" "$JAR_DIR"
    if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
}

# Print a free TCP port on 127.0.0.1 other than $1.
free_port() {
    local avoid="$1" p
    if command -v python3 >/dev/null 2>&1; then
        for _ in 1 2 3 4 5; do
            p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
            [ "$p" != "$avoid" ] && { echo "$p"; return 0; }
        done
    fi
    # Fallback: probe ports above the broker port for one nobody listens on.
    for ((p = avoid + 1; p < avoid + 200 && p < 65536; p++)); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found for the controller listener"
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not
# starting with '-' (Kafka's own Uuid.randomUuid() rule).
cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        case "$id" in -*) ;; *) echo "$id"; return 0 ;; esac
    done
}

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

do_start() {
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    local port="$1" data_dir="$2" cport="${3:-}"
    is_port "$port" || die "bad port: $port"
    if [ -z "$cport" ]; then cport="$(free_port "$port")"; fi
    is_port "$cport" || die "bad controller port: $cport"
    [ "$cport" != "$port" ] || die "controller port must differ from broker port"
    command -v java >/dev/null 2>&1 || die "java (17+) is required"

    do_fetch

    mkdir -p "$data_dir"
    data_dir="$(cd "$data_dir" && pwd)"
    mkdir -p "$data_dir/kraft-logs" "$data_dir/logs"
    local props="$data_dir/server.properties" log4j="$data_dir/log4j.properties"

    cat > "$props" <<EOF
# Generated by tests/kafka/kafka-broker.sh: single-node KRaft test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data_dir/kraft-logs

# Single node: every replication factor is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1

num.partitions=4
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
auto.leader.rebalance.enable=false

# Small footprint for a 2-core test machine.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=67108864
log.retention.hours=24
EOF

    cat > "$log4j" <<EOF
# Generated by tests/kafka/kafka-broker.sh: broker log to a file, warnings to stderr.
log4j.rootLogger=INFO, file, stderr
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$data_dir/logs/server.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.Threshold=WARN
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF

    local cp="$JAR_DIR/*"
    local log_opts=(-Dlog4j.configuration="file:$log4j" -Dkafka.logs.dir="$data_dir/logs")

    # Format once; --ignore-formatted keeps an existing data dir (restart).
    if [ ! -f "$data_dir/kraft-logs/meta.properties" ]; then
        java -Xmx256m "${log_opts[@]}" -cp "$cp" kafka.tools.StorageTool format \
            --config "$props" --cluster-id="$(cluster_id)" --ignore-formatted \
            </dev/null >"$data_dir/logs/format.log" 2>&1 \
            || { cat "$data_dir/logs/format.log" >&2; die "storage format failed"; }
    fi

    # shellcheck disable=SC2086  # KAFKA_*_OPTS are flag lists, split on purpose
    exec java ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        ${KAFKA_JVM_OPTS:-} "${log_opts[@]}" \
        -cp "$cp" kafka.Kafka "$props" </dev/null
}

[ $# -ge 1 ] || usage
cmd="$1"; shift
case "$cmd" in
    fetch)     [ $# -eq 0 ] || usage; do_fetch ;;
    classpath) [ $# -eq 0 ] || usage; do_fetch; echo "$JAR_DIR" ;;
    start)     do_start "$@" ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
