#!/usr/bin/env bash
# Make sure nginx is here for PROXY=nginx (lab/proxy.py): Debian's nginx-light, installed as root with apt-get where
# none is found. The lab runs it itself, in the foreground, with a configuration of its own: the package's own
# service is not started (no init system here) and is not needed.
# Exit 0 when nginx is found; else 1, with the package to install on stderr.
set -uo pipefail
say() { echo "deploy/nginx.sh: $*" >&2; }
found() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }

if found; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "nginx is not installed, and cannot be installed here (needs root and apt-get): install Debian's nginx-light"
    exit 1
fi
say "installing Debian's nginx-light"
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; } >/dev/null 2>&1 \
    || { say "apt-get install nginx-light failed"; exit 1; }
found || { say "nginx-light installed, but no nginx binary found"; exit 1; }
