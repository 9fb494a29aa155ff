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
log=$(mktemp /tmp/telltale-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  # The suite prints thousands of lines; what failed is repeated last, where a reader of the tail sees it.
  echo "test: the suite failed (exit $status); the failures:"
  grep -E '✘|recorded an issue|Expectation failed|error:|Fatal error' "$log" | grep -v '^◇' | tail -n 60 || true
fi
exit "$status"
