#!/usr/bin/env bash
# Build every image of the lab from docker/lab.Dockerfile: the five services (model-sync, scoring-sync,
# model-async, scoring-async, redis) and the load generator. Called by `make docker-build`.
#   docker/build.sh IMAGE LOCAL_BASE BASE SERVICE=PORT...   (BASE may be "": then it is chosen)
# Without BASE: the official python:3.11-slim when it is here or can be pulled, else LOCAL_BASE (built by
# docker/base.sh from Debian's packages when missing), and it says so. Each build's output: .lab/docker-build/.
set -euo pipefail
image=${1:?usage: docker/build.sh IMAGE LOCAL_BASE BASE SERVICE=PORT...}; local_base=${2:?}; base=${3:-}; shift 3
logs=.lab/docker-build; mkdir -p "$logs"
say() { echo "docker-build: $*"; }
if [ -z "$base" ]; then
    if docker image inspect python:3.11-slim >/dev/null 2>&1 || docker pull -q python:3.11-slim >/dev/null 2>&1; then
        base=python:3.11-slim
    else
        say "python:3.11-slim cannot be pulled (no registry reachable): the base is $local_base, Debian 12's own Python 3.11 (docker/base.sh)"
        docker image inspect "$local_base" >/dev/null 2>&1 || docker/base.sh "$local_base"
        base=$local_base
    fi
fi
build() {  # NAME TARGET [BUILD ARGS...]
    local name=$1 target=$2 start=$SECONDS; shift 2
    # The legacy builder: Debian's engine has no BuildKit plugin for this client, and both build the same layers.
    if ! DOCKER_BUILDKIT=0 docker build -f docker/lab.Dockerfile --target "$target" --build-arg "BASE=$base" "$@" \
            -t "$image-$name" . >"$logs/$name.log" 2>&1; then
        say "$image-$name FAILED; the end of $logs/$name.log:"; tail -25 "$logs/$name.log"; exit 1
    fi
    say "$image-$name built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$image-$name" | awk '{printf "%.0f MB", $1/1e6}'))"
}
say "base $base"
for pair in "$@"; do  # the Makefile's SERVICES and their PORT_ values
    build "${pair%=*}" service --build-arg "SERVICE=${pair%=*}" --build-arg "PORT=${pair#*=}"
done
build lab lab
