#!/usr/bin/env bash
# The daemon's cost at rest and under load: CPU share of one core (utime+stime from /proc/PID/stat over
# the measured interval) and resident memory (VmRSS, VmHWM), in three scenarios, each with a fresh
# daemon: (a) idle on lo, (b) about 10,000 packets/s, (c) 100,000 concurrent flows. Load goes only
# into a veth pair to the namespace tt-bench-ns that this script creates (198.18.0.0/24) and removes
# on exit. Aims: under 1% of a core idle, under 64 MB resident with 100,000 open flows. Needs root.
# Usage: bench/daemon-cost.sh [SECONDS] [--packaged]
#   SECONDS     measured interval per scenario (default 20)
#   --packaged  measure the daemon as the Debian package builds it (scripts/package-deb.sh's flags and
#               build directory .build-deb), not the release build of scripts/run.sh
set -euo pipefail
. "$(dirname "$0")/veth-lab.sh"
cd "$(dirname "$0")/.."
seconds=20 packaged=""
for arg in "$@"; do
  case "$arg" in
    --packaged) packaged=1 ;;
    [0-9]*) seconds="$arg" ;;
    *) echo "daemon-cost: unknown argument $arg (usage: bench/daemon-cost.sh [SECONDS] [--packaged])" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "daemon-cost: needs root (capture, namespaces)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "daemon-cost: needs the sqlite3 shell (scripts/setup.sh)" >&2; exit 1; }

ns=tt-bench-ns host_if=tt-bench-h ns_if=tt-bench-n
host_ip=198.18.0.1 ns_ip=198.18.0.2
# The datagrams go to an address with a made-up neighbour entry: they cross the veth (where the daemon
# captures) and the host drops them as not its own, so nothing answers and nothing leaves the pair.
sink_ip=198.18.0.99 sink_mac=02:00:5e:18:00:99

if [ -n "$packaged" ]; then
  # The same flags as scripts/package-deb.sh, in its build directory.
  build=(-c release --scratch-path .build-deb -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now)
else
  build=(-c release)
fi
swift build "${build[@]}" --product telltale >/dev/null
telltale="$(swift build "${build[@]}" --show-bin-path)/telltale"
echo "daemon: $telltale ($([ -n "$packaged" ] && echo "as packaged" || echo "release build, shared Swift libraries, as scripts/run.sh runs it"))"
dir="$(mktemp -d /tmp/tt-daemon-bench.XXXXXX)"
veth_lab_build_load "$dir"

daemon_pid=""
trap veth_lab_cleanup EXIT
trap 'exit 130' INT TERM

veth_lab_make

# Long idle and active timeouts, so the 100,000 flows stay open while they are measured.
cat > "$dir/telltale.yaml" <<YAML
flush_interval: 1s
retention: {max_age: forever, max_size: unlimited}
timeouts: {udp_idle: 600s, active: 600s}
log_level: info
YAML

tck=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }

start_daemon() { veth_lab_start_daemon "$dir/telltale.yaml" "$2" "$1"; }  # NAME INTERFACE
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=""
}

rows=()
measure() {  # LABEL SECONDS AIM: CPU share over SECONDS from now, and the memory at the end
  local t0 w0 t1 w1
  t0=$(ticks "$daemon_pid"); w0=$(now)
  sleep "$2"
  t1=$(ticks "$daemon_pid"); w1=$(now)
  local rss hwm
  rss=$(status_kb "$daemon_pid" VmRSS); hwm=$(status_kb "$daemon_pid" VmHWM)
  rows+=("$(awk -v l="$1" -v a="$t0" -v b="$t1" -v t="$tck" -v x="$w0" -v y="$w1" -v r="$rss" -v h="$hwm" -v aim="$3" \
    'BEGIN { printf "%-38s %8.2f %9.1f %9.1f   %s", l, (b - a) / t / (y - x) * 100, r / 1024, h / 1024, aim }')")
  echo "  ${rows[-1]}"
}
frames() { sqlite3 "$dir/$1.db" 'SELECT coalesce(sum(frames), 0) || " frames, " || coalesce(sum(dropped + interface_dropped), 0) || " dropped by the kernel" FROM capture_stats'; }

# Idle is measured twice as long: CPU time comes in clock ticks (1/CLK_TCK s).
idle_seconds=$((seconds * 2))
echo "(a) idle on lo, ${idle_seconds}s"
start_daemon idle lo
sleep 3
measure "(a) idle on lo" "$idle_seconds" "< 1%"
stop_daemon
echo "  capture: $(frames idle)"

echo "(b) 10,000 packets/s over 1,000 UDP flows, ${seconds}s"
start_daemon load "$host_if"
ip netns exec "$ns" "$dir/udp-load" rate "$sink_ip" 10000 $((seconds + 5)) 1000 > "$dir/rate.out" &
sender=$!
sleep 3
measure "(b) 10,000 packets/s" "$seconds" ""
wait "$sender"
sed 's/^/  sender: /' "$dir/rate.out"
stop_daemon
echo "  capture: $(frames load)"

echo "(c) 100,000 concurrent UDP flows"
start_daemon flows "$host_if"
sleep 2
# The sender keeps its sockets open while the flows are measured: a datagram flow ends with the
# process that owns its socket, so a sender that exited would leave ended flows to measure.
ip netns exec "$ns" "$dir/udp-load" flows "$sink_ip" 100000 10000 $((seconds + 8)) > "$dir/flows.out" &
sender=$!
measure "(c) 100,000 flows arriving (10k/s)" 10 ""
sleep 2
open_flows=$(sqlite3 "$dir/flows.db" 'SELECT count(*) FROM flows WHERE open = 1' 2>/dev/null || echo "?")
measure "(c) 100,000 flows open" "$seconds" "< 64 MB"
kill "$sender" 2>/dev/null || true
wait "$sender" || true
sed 's/^/  sender: /' "$dir/flows.out"
echo "  flows written as open while measured: $open_flows"
stop_daemon
echo "  capture: $(frames flows); flows recorded at shutdown: $(sqlite3 "$dir/flows.db" 'SELECT count(*) FROM flows')"

echo
printf '%-38s %8s %9s %9s   %s\n' "scenario" "CPU %" "RSS MB" "HWM MB" "aim"
printf '%s\n' "${rows[@]}"
echo "CPU: percent of one core, utime+stime from /proc/PID/stat (one tick is $(awk -v t="$tck" -v s="$idle_seconds" 'BEGIN { printf "%.3f", 100 / t / s }')% idle, $(awk -v t="$tck" -v s="$seconds" 'BEGIN { printf "%.3f", 100 / t / s }')% loaded); RSS: VmRSS at the end of the interval (the capture ring and shared Swift libraries included); HWM: VmHWM; $(nproc) cores"
