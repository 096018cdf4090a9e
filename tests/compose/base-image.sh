#!/usr/bin/env bash
# tests/compose/base-image.sh: builds the image debian:bookworm-slim locally from Debian's packages
# (mmdebstrap | docker import), for machines that reach Debian's mirrors but no container registry.
#
#   tests/compose/base-image.sh [--force]
#
# Does nothing when the image already exists (unless --force). The mirrors are those of this
# machine's own apt configuration (/etc/apt/sources.list and /etc/apt/sources.list.d/*.list and
# *.sources), read now, so the image's apt-get reaches what the host's does. The host's locally
# added CA certificates (/usr/local/share/ca-certificates/*.crt) are trusted inside the image too.
set -euo pipefail

image=debian:bookworm-slim
if [ "${1:-}" != --force ] && docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap is missing (deploy/install-deps.sh)" >&2; exit 1; }

sources=()
[ -s /etc/apt/sources.list ] && grep -q '^[[:space:]]*deb ' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
for file in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$file" ] && sources+=("$file")
done
if [ ${#sources[@]} -eq 0 ]; then
    echo "base-image: no apt sources found in /etc/apt" >&2
    exit 1
fi

# Trust the host's locally added CAs (none on most machines: then this does nothing).
hook='if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" &&
    chroot "$1" update-ca-certificates >/dev/null 2>&1; fi'

echo "base-image: building $image from ${sources[*]}" >&2
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --customize-hook="$hook" bookworm - "${sources[@]}" |
    docker import -c 'CMD ["bash"]' - "$image" >/dev/null
echo "base-image: $image built" >&2
