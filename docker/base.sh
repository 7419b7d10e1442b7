#!/usr/bin/env bash
# Build the lab's base image from Debian's packages, for machines that reach no image registry.
# It stands in for python:3.11-slim: Debian 12's own Python 3.11 with venv and pip, nothing else.
# Usage: docker/base.sh TAG   (needs root for debootstrap; measured here: about 46 s, 177 MB)
set -euo pipefail
tag=${1:?usage: docker/base.sh TAG}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d "${TMPDIR:-/tmp}/lab-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v debootstrap >/dev/null || { echo "docker/base.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
echo "docker/base.sh: debootstrap of Debian 12 (bookworm) from $mirror into $work"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
# What a slim image leaves out: apt's lists and caches, docs and man pages.
rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/*
tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "Debian 12 minbase + python3 (docker/base.sh)" - "$tag" >/dev/null
echo "docker/base.sh: imported $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
