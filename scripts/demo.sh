#!/usr/bin/env bash
# One command on a fresh Debian 12 machine (as root): install dependencies,
# build, and run the labs: (1) client, attacker and server namespaces with
# xdpd guarding the server, real traffic, and a summary of what passed and why;
# (2) the load balancer: a VIP over three backends, spread by weight, one
# backend dying and taken out by health checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
./build/xdpd lab "$@"
echo
./build/xdpd lab --lb "$@"
