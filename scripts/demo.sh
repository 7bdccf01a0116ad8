#!/usr/bin/env bash
# One command on a fresh Debian 12 machine (as root): install dependencies,
# build, and run the lab: client, attacker and server namespaces with xdpd
# guarding the server, real traffic, and a summary of what passed and why.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./build/xdpd lab "$@"
