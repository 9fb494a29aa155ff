#!/usr/bin/env bash
# Replay throughput: packets per second of `telltale replay` beside softflowd -r (a flow-aggregating
# peer in C) and tcpdump -r FILE -w /dev/null (the floor: reading the file and nothing more),
# measured in the same run on the same file (best of RUNS, file in the page cache).
#
# Two captures of the same traffic: with whole frames (reading 1.8 GB dominates every tool), and cut
# to 128 bytes a frame as flow monitors capture (headers only: the tools' own work dominates).
#
# Usage: bench/replay.sh [PACKETS] [RUNS]     (defaults: 2200000 packets, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
packets="${1:-2200000}"
runs="${2:-3}"
out=bench/out
mkdir -p "$out"

command -v softflowd >/dev/null && command -v tcpdump >/dev/null || bash scripts/setup.sh
swift build -c release --product telltale >/dev/null
swift build -c release --product bench-capture >/dev/null
bin="$(swift build -c release --show-bin-path)"
for snap in 65535 128; do
file="$out/replay-$packets-$snap.pcap"
[ -s "$file" ] || "$bin/bench-capture" "$file" "$packets" 7 "$snap"
cat "$file" > /dev/null   # into the page cache
best() {  # best wall time in seconds over $runs runs of "$@"
  local best=""
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s%N)
    local t=$(( end - start ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  echo "$best"
}

# softflowd exports NetFlow over UDP: to a port on loopback where nothing listens. Its control
# socket can leave it blocked in accept() before it reads anything, so it runs without one
# (-c none); -m lets it hold every flow of the capture, as telltale does.
softflowd_once() {
  timeout 300 softflowd -r "$file" -v 9 -6 -d -m 1000000 -n 127.0.0.1:9 -c none -p "$out/softflowd.pid"
}
t_telltale=$(best "$bin/telltale" replay --quiet --format ndjson "$file")
t_softflowd=$(best softflowd_once)
t_tcpdump=$(best tcpdump -r "$file" -w /dev/null)
flows=$("$bin/telltale" replay --quiet --format ndjson "$file" | wc -l)

python3 - "$packets" "$flows" "$t_telltale" "$t_softflowd" "$t_tcpdump" "$snap" "$(du -h "$file" | cut -f1)" <<'PY'
import sys
packets, flows = int(sys.argv[1]), int(sys.argv[2])
t = {"telltale replay": int(sys.argv[3]), "softflowd -r": int(sys.argv[4]), "tcpdump -r -w /dev/null": int(sys.argv[5])}
print(f"capture: {packets} packets, {flows} flows (telltale), snap length {sys.argv[6]}, {sys.argv[7]}")
for name, ns in t.items():
    print(f"{name:26s} {ns/1e9:8.3f} s  {packets/(ns/1e9)/1e6:8.2f} Mpps")
tt, sf, td = t["telltale replay"], t["softflowd -r"], t["tcpdump -r -w /dev/null"]
print(f"telltale vs softflowd: {sf/tt:.2f}x faster (aim: >= 2x)")
print(f"telltale vs tcpdump floor: {tt/td:.2f}x the floor's time (aim: <= 1.5x)")
PY
echo
done
