#!/usr/bin/env bash
# Sets up everything that is missing, builds Telltale, and runs it.
# With no arguments it runs the demonstration job; otherwise it runs `telltale` with the arguments given:
#   scripts/run.sh                          capture on every interface for 20 s and print the flows
#   scripts/run.sh replay capture.pcap      any telltale subcommand
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "run: building (release)…"
swift build -c release --product telltale 2>&1 | tail -n 3
bin="$(swift build -c release --show-bin-path)/telltale"

if [ "$#" -gt 0 ]; then
  exec "$bin" "$@"
fi

echo "run: capturing on every interface for 20 seconds (Ctrl-C stops early)…"
exec "$bin" capture --duration 20
