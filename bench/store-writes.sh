#!/usr/bin/env bash
# Sustained flow writes: flows per second that FlowWriter commits (realistic rows, interning included,
# one transaction per batch as the daemon does) beside the sqlite3 shell inserting the same rows into
# the same schema in one transaction (WAL, synchronous=NORMAL). Aim: at least half the plain rate.
# Usage: bench/store-writes.sh [FLOWS] [BATCH]      (defaults 200000 and 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
flows="${1:-200000}"
batch="${2:-5000}"
command -v sqlite3 >/dev/null || { echo "store-writes: needs the sqlite3 shell (scripts/setup.sh)" >&2; exit 1; }

swift build -c release --product store-bench >/dev/null
bin="$(swift build -c release --show-bin-path)/store-bench"

dir="$(mktemp -d /tmp/tt-store-bench.XXXXXX)"
trap 'rm -rf "$dir"' EXIT

"$bin" "$dir" "$flows" "$batch" | tee "$dir/ours.out"
ours_s=$(awk '$1=="RESULT" && $2=="ours" {print $4}' "$dir/ours.out")

# The plain insert: the same rows as multi-row INSERTs through the sqlite3 shell, timed end to end.
start=$(date +%s.%N)
sqlite3 "$dir/peer.db" < "$dir/peer.sql" >/dev/null
end=$(date +%s.%N)
peer_s=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')

ours_n=$(sqlite3 "$dir/ours.db" 'SELECT count(*) FROM flows')
peer_n=$(sqlite3 "$dir/peer.db" 'SELECT count(*) FROM flows')
[ "$ours_n" -eq "$flows" ] && [ "$peer_n" -eq "$flows" ] || {
  echo "store-writes: row counts differ: FlowWriter $ours_n, sqlite3 $peer_n, expected $flows" >&2; exit 1; }

# The same interned rows on both sides.
interned='SELECT (SELECT count(*) FROM hostnames) || "/" || (SELECT count(*) FROM processes) || "/" || (SELECT count(*) FROM executables)'
[ "$(sqlite3 "$dir/ours.db" "$interned")" = "$(sqlite3 "$dir/peer.db" "$interned")" ] || {
  echo "store-writes: interned rows differ: $(sqlite3 "$dir/ours.db" "$interned") vs $(sqlite3 "$dir/peer.db" "$interned")" >&2; exit 1; }

awk -v n="$flows" -v o="$ours_s" -v p="$peer_s" -v b="$batch" 'BEGIN {
  ro = n / o; rp = n / p
  printf "FlowWriter (batches of %d):  %8.0f flows/s  (%d flows in %.2f s)\n", b, ro, n, o
  printf "sqlite3 shell, one txn:      %8.0f flows/s  (%d flows in %.2f s)\n", rp, n, p
  printf "ratio: %.2fx of the plain insert rate (aim: at least 0.50x) %s\n", ro / rp, (ro / rp >= 0.5 ? "- met" : "- NOT met")
}'
