#!/usr/bin/env bash
# Name extraction's cost on the packet path: replays a capture rich in DNS lookups and TLS
# handshakes (release build) with and without name extraction, and prints packets/s for both.
# Usage: bench/names-overhead.sh [CONNECTIONS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-20000}"
runs="${2:-5}"
mkdir -p bench/out
capture=bench/out/names-rich.pcap
python3 bench/make-names-capture.py "$capture" "$connections"
swift build -c release --product telltale >/dev/null
bin="$(swift build -c release --show-bin-path)/telltale"
frames=$(( connections * (8 + 2 * 8) ))

best() {  # fastest of $runs runs, in nanoseconds
  local best_ns=0
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$bin" replay --format ndjson --quiet "$@" "$capture" >/dev/null
    end=$(date +%s%N)
    local ns=$((end - start))
    if [ "$best_ns" -eq 0 ] || [ "$ns" -lt "$best_ns" ]; then best_ns=$ns; fi
  done
  echo "$best_ns"
}

named=$("$bin" replay --format ndjson --quiet "$capture" | grep -c '"name_source":"sni"' || true)
with_ns=$(best)
without_ns=$(best --no-names)
awk -v f="$frames" -v w="$with_ns" -v wo="$without_ns" -v n="$named" 'BEGIN {
  pw = f / (w / 1e9); pwo = f / (wo / 1e9)
  printf "capture: %d frames, %d flows named by SNI\n", f, n
  printf "with names:    %12.0f packets/s  (%.3f s)\n", pw, w / 1e9
  printf "without names: %12.0f packets/s  (%.3f s)\n", pwo, wo / 1e9
  printf "difference:    %+.1f%% time with names (ratio %.3f)\n", (w - wo) * 100 / wo, w / wo
}'
