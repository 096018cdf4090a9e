#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages goim-c needs to build, run and test.
#
#   deploy/install-deps.sh              install (idempotent, non-interactive)
#   deploy/install-deps.sh --if-missing install only when something is missing (fast no-op otherwise)
#   deploy/install-deps.sh --check      exit 1 and list what is missing, install nothing
#   deploy/install-deps.sh --list       print the package list, one a line (deploy/Dockerfile)
#   ... --compose                       (with install, --if-missing or --check) also what `make compose-test`
#                                       needs: mmdebstrap, and docker.io unless dockerd exists
#
# Works as root or through sudo. Java 17 and Maven are for the real Kafka broker the
# integration tests start (tests/kafka); an existing Java 17+ and mvn are kept. Chromium, Node.js
# and npm are for the browser tests (tests/browser); an existing node and npm are kept. When
# another apt or dpkg holds the lock, it waits for it (up to 10 minutes), saying so.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config make
    libnng-dev libprotobuf-c-dev protobuf-c-compiler libhiredis-dev librdkafka-dev
    libmicrohttpd-dev libjansson-dev libjwt-dev libwslay-dev libssl-dev libcmocka-dev
    libpcre2-dev libcrypt-dev libsqlite3-dev libcurl4-openssl-dev
    clang-14 libclang-rt-14-dev redis-server clang-format python3 python3-venv python3-pip curl ca-certificates
    chromium
)

missing_packages() {
    local package
    for package in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            echo "$package"
        fi
    done
    if ! java_ok; then
        echo openjdk-17-jdk-headless
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        echo maven
    fi
    # Node.js and npm run the browser tests (tests/browser); an existing install is kept.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo nodejs
        echo npm
    fi
    if [ "$compose" = yes ]; then
        command -v mmdebstrap >/dev/null 2>&1 || echo mmdebstrap
        command -v dockerd >/dev/null 2>&1 || echo docker.io
    fi
}

java_ok() {
    command -v java >/dev/null 2>&1 || return 1
    local major
    major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$major" ] && [ "$major" -ge 17 ]
}

mode=install
compose=no
for argument in "$@"; do
    case "$argument" in
    --compose) compose=yes ;;
    *) mode=$argument ;;
    esac
done
if [ "$mode" = --list ]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi
mapfile -t missing < <(missing_packages)

case "$mode" in
--check)
    if [ "${#missing[@]}" -gt 0 ]; then
        printf 'missing: %s\n' "${missing[*]}"
        exit 1
    fi
    exit 0
    ;;
--if-missing)
    [ "${#missing[@]}" -eq 0 ] && exit 0
    ;;
install) ;;
*)
    echo "usage: $0 [--if-missing|--check|--list] [--compose]" >&2
    exit 2
    ;;
esac

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi
if [ "${#missing[@]}" -eq 0 ]; then
    missing=("${PACKAGES[@]}")
fi

# apt_get_waiting ARG...: runs apt-get ARG...; while it fails because another apt or dpkg holds
# its lock, says so once and tries again every 5 s, for up to 10 minutes in all. Returns
# apt-get's status (its output is shown on failure).
apt_get_waiting() {
    local deadline=$((SECONDS + 600)) output status said=no
    while :; do
        status=0
        output=$("${SUDO[@]}" apt-get "$@" </dev/null 2>&1) || status=$?
        if [ "$status" -eq 0 ]; then
            [ -z "$output" ] || printf '%s\n' "$output"
            return 0
        fi
        if ! grep -q -e 'Could not get lock' -e 'Unable to lock' -e 'Unable to acquire' <<<"$output" ||
            [ "$SECONDS" -ge "$deadline" ]; then
            printf '%s\n' "$output" >&2
            return "$status"
        fi
        if [ "$said" = no ]; then
            echo "install-deps: another apt or dpkg holds the package lock" \
                "($(grep -m 1 -o 'held by process [0-9]* ([^)]*)' <<<"$output" || echo "apt-get $1")):" \
                "waiting for it, up to 10 minutes" >&2
            said=yes
        fi
        sleep 5
    done
}

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_get_waiting update -qq
apt_get_waiting install -y -qq --no-install-recommends "${missing[@]}"
