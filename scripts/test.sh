#!/usr/bin/env bash
# Runs the whole test suite (unit, BPF_PROG_TEST_RUN, end-to-end in namespaces)
# with CTest. Needs root: the tests load programs into the running kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 300 "$@"
