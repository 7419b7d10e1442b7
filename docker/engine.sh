#!/usr/bin/env bash
# Make sure a Docker engine answers; install and start one where none does (Debian's docker.io, as root).
# The engine is started with --iptables=false: ports published on 127.0.0.1 go through its userland proxy,
# and it leaves the host's firewall alone. Its log: $LAB_DOCKERD_LOG (default .lab/dockerd.log).
# Exit 0 when an engine answers; else 1, with the reason on stderr.
set -uo pipefail
log=${LAB_DOCKERD_LOG:-.lab/dockerd.log}
say() { echo "docker/engine.sh: $*" >&2; }
answers() { docker info >/dev/null 2>&1; }

if answers; then say "an engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"; exit 0; fi
if ! command -v dockerd >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "no Docker engine, and cannot install one here (needs root and apt-get)"; exit 1
    fi
    say "installing Debian's docker.io, docker-compose and debootstrap"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap; } \
        >/dev/null 2>&1 || { say "apt-get install docker.io failed"; exit 1; }
fi
if [ "$(id -u)" != 0 ]; then say "no Docker engine answers, and only root can start one"; exit 1; fi
mkdir -p "$(dirname "$log")"
say "starting dockerd --iptables=false in the background (log: $log)"
setsid dockerd --iptables=false >>"$log" 2>&1 < /dev/null &
for _ in $(seq 60); do answers && { say "engine up ($(docker version -f '{{.Server.Version}}'))"; exit 0; }; sleep 0.5; done
say "dockerd did not answer within 30 s; the end of its log:"; tail -5 "$log" >&2; exit 1
