#!/usr/bin/env bash
# What exporting costs the daemon: its CPU share of one core at 10,000 packets/s with no export, and
# with IPFIX (to a real nfcapd on loopback) plus Prometheus metrics (textfile and endpoint), same
# load, same run; beside softflowd exporting IPFIX of the same load to the same kind of collector.
# Two loads, each 10,000 datagrams/s: (1) 1,000 long UDP flows (checkpoints every 3 s: the metrics'
# work), (2) 10,000 new flows a second, each ending after 2 s idle (10,000 finished flows/s: IPFIX's
# heaviest case, 20,000 records/s). Load goes only into a veth pair to the namespace tt-export-ns,
# which the script creates (198.18.0.0/24) and removes. Needs root.
# Usage: bench/export-cost.sh [SECONDS]     (measured interval per scenario, default 20)
set -euo pipefail
. "$(dirname "$0")/veth-lab.sh"
cd "$(dirname "$0")/.."
seconds="${1:-20}"
[ "$(id -u)" -eq 0 ] || { echo "export-cost: needs root (capture, namespaces)" >&2; exit 1; }
for tool in nfcapd nfdump softflowd sqlite3; do
  command -v "$tool" >/dev/null || { echo "export-cost: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done

ns=tt-export-ns host_if=tt-export-h ns_if=tt-export-n
host_ip=198.18.0.1 ns_ip=198.18.0.2
sink_ip=198.18.0.99 sink_mac=02:00:5e:18:00:99

swift build -c release --product telltale >/dev/null
telltale="$(swift build -c release --show-bin-path)/telltale"
dir="$(mktemp -d /tmp/tt-export-bench.XXXXXX)"
veth_lab_build_load "$dir"

daemon_pid="" collector_pid="" peer_pid=""
stop_pid() { if [ -n "$1" ]; then kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
  stop_pid "$daemon_pid"; stop_pid "$peer_pid"; stop_pid "$collector_pid"
  veth_lab_remove
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

veth_lab_make

base="flush_interval: 1s
retention: {max_age: forever, max_size: unlimited}
timeouts: {udp_idle: 2s, active: 3s}
alerts: {log: false, desktop: false}
log_level: info"
printf '%s\n' "$base" > "$dir/plain.yaml"
mkdir -p "$dir/textfile" "$dir/nf"
printf '%s\nexport:\n  metrics: {textfile: %s, listen: "127.0.0.1:24752", interval: 5s}\n  ipfix: {collector: "127.0.0.1:24750", transport: udp}\n' \
  "$base" "$dir/textfile/telltale.prom" > "$dir/export.yaml"

tck=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
now() { date +%s.%N; }

start_daemon() { veth_lab_start_daemon "$dir/$2.yaml" "$host_if" "$1"; }  # NAME CONFIG

rows=()
measure() {  # LABEL PID SECONDS
  local t0 w0 t1 w1
  t0=$(ticks "$2"); w0=$(now)
  sleep "$3"
  t1=$(ticks "$2"); w1=$(now)
  rows+=("$(awk -v l="$1" -v a="$t0" -v b="$t1" -v t="$tck" -v x="$w0" -v y="$w1" \
    'BEGIN { printf "%-52s %8.2f", l, (b - a) / t / (y - x) * 100 }')")
  echo "  ${rows[-1]}"
}

load() {  # SHAPE: long | new
  if [ "$1" = long ]; then
    ip netns exec "$ns" "$dir/udp-load" rate "$sink_ip" 10000 $((seconds + 6)) 1000 > "$dir/load.out" &
  else
    ip netns exec "$ns" "$dir/udp-load" flows "$sink_ip" $((10000 * (seconds + 6))) 10000 > "$dir/load.out" &
  fi
  sender=$!
}

collector_start() {
  nfcapd -w "$dir/nf" -p "$1" -b 127.0.0.1 -t 3600 -B 4194304 > "$dir/nfcapd.log" 2>&1 &
  collector_pid=$!
  sleep 0.5
  kill -0 "$collector_pid" 2>/dev/null || { cat "$dir/nfcapd.log" >&2; exit 1; }
}
collector_stop() {  # prints the flows and bytes nfcapd received
  stop_pid "$collector_pid"; collector_pid=""
  nfdump -q -N -R "$dir/nf" -o "fmt:%byt" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { n++; b += $1 } END { printf "%d records, %d bytes", n, b }'
  rm -f "$dir"/nf/nfcapd.*
}

for shape in long new; do
  case "$shape" in
    long) title="1,000 long flows at 10,000 packets/s" ;;
    new) title="10,000 new flows/s at 10,000 packets/s" ;;
  esac
  echo "$title, ${seconds}s each"

  start_daemon "$shape-plain" plain
  load "$shape"; sleep 3
  measure "telltale, no export ($shape)" "$daemon_pid" "$seconds"
  wait "$sender"; stop_pid "$daemon_pid"; daemon_pid=""

  collector_start 24750
  start_daemon "$shape-export" export
  load "$shape"; sleep 3
  measure "telltale, IPFIX + metrics ($shape)" "$daemon_pid" "$seconds"
  wait "$sender"; sleep 3
  dropped=$(awk '/^telltale_export_dropped_total/ { s += $2 } END { print s + 0 }' "$dir/textfile/telltale.prom")
  stop_pid "$daemon_pid"; daemon_pid=""
  finished=$(sqlite3 "$dir/$shape-export.db" 'SELECT count(*) FROM flows WHERE seq IS NOT NULL')
  echo "  collector: $(collector_stop); the daemon finished $finished flows; export drops: $dropped"

  collector_start 24751
  softflowd -d -i "$host_if" -n 127.0.0.1:24751 -v 10 -t udp=2s -t maxlife=3s -P udp > "$dir/softflowd.log" 2>&1 &
  peer_pid=$!
  sleep 1
  load "$shape"; sleep 3
  measure "softflowd -v 10 (IPFIX) ($shape)" "$peer_pid" "$seconds"
  wait "$sender"; sleep 3
  stop_pid "$peer_pid"; peer_pid=""
  echo "  collector: $(collector_stop)"
done

echo
printf '%-52s %8s\n' "scenario" "CPU %"
printf '%s\n' "${rows[@]}"
echo "CPU: percent of one core, utime+stime from /proc/PID/stat over ${seconds}s (one tick is $(awk -v t="$tck" -v s="$seconds" 'BEGIN { printf "%.3f", 100 / t / s }')%); $(nproc) cores"
