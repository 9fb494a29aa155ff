#!/usr/bin/env bash
# Sets up everything that is missing, builds Telltale and runs the whole test suite.
# Tests that need root (network namespaces, live capture) skip with a reason when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "test: building…"
swift build --build-tests 2>&1 | tail -n 3
echo "test: running the suite…"
# Serially: the live tests share the machine's interfaces and CPU, and floods of one would starve another.
swift test --skip-build --no-parallel "$@"
