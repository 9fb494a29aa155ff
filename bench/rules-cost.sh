#!/bin/sh
# Rule evaluation cost per new flow with 10,000 rules and 100,000 list entries, beside the 5 µs aim.
# Usage: bench/rules-cost.sh   (from the repository root)
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product rules-bench >&2
"$(swift build -c release --show-bin-path)/rules-bench" rules
