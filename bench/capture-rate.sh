#!/usr/bin/env bash
# Capture rate: raises the rate of a stream over a veth lab until the capture drops packets, for the
# daemon, for `run`, for `tcpdump -i any -w /dev/null` and for nethogs, each measured in this same run
# on the same stream; prints the highest rate each held without a drop and Telltale's ratio to
# tcpdump's. Then a burst from the observed command's first instruction under `run`, whole or not.
#
# Streams (from this namespace to the lab's namespace, over the veth tt-rate-h, offloads off):
#   udp: 64-byte datagrams at PPS a second; tcp: one connection at MB/s (1,448-byte segments).
# Drops are the capture's own counters: the kernel's (ring full) and, for Telltale, its queues too.
# nethogs reports no drop counter: its figure is the share of the stream's bytes it counted.
#
# Usage: sudo bench/capture-rate.sh [SECONDS_PER_STEP]     (default 3; about 6 minutes)
#        UDP_RATES="..." TCP_RATES="..." choose the steps.
# Wraps nothing itself: run it under `flock /tmp/telltale-live.lock` beside other live work.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"
read -ra udp_rates <<< "${UDP_RATES:-50000 100000 200000 300000 400000 600000 800000}"
read -ra tcp_rates <<< "${TCP_RATES:-50 100 200 300 400 600 800 1000}"
[ "$(id -u)" = 0 ] || { echo "capture-rate: needs root (namespaces, capture)" >&2; exit 1; }
command -v tcpdump >/dev/null && command -v nethogs >/dev/null || bash scripts/setup.sh --no-llama
swift build -c release --product telltale >/dev/null
bin="$(swift build -c release --show-bin-path)/telltale"
dir="$(mktemp -d /tmp/capture-rate.XXXXXX)"
compiler="$(command -v cc || command -v clang)"
"$compiler" -O2 -Wall -o "$dir/stream-load" bench/stream-load.c

ns=tt-rate-ns host_if=tt-rate-h ns_if=tt-rate-b host_ip=198.18.214.1 ns_ip=198.18.214.2 sink_ip=198.18.214.9
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip link del "$host_if" 2>/dev/null || true
ip netns add "$ns"
ip link add "$host_if" type veth peer name "$ns_if" netns "$ns"
ip addr add "$host_ip/24" dev "$host_if"
ip link set "$host_if" up
ip -n "$ns" addr add "$ns_ip/24" dev "$ns_if"
ip -n "$ns" link set "$ns_if" up
ip -n "$ns" link set lo up
ethtool -K "$host_if" tso off gso off gro off >/dev/null
ip netns exec "$ns" ethtool -K "$ns_if" tso off gso off gro off >/dev/null
# Datagrams go to a made-up neighbour: they cross the veth and the namespace drops them unanswered.
ip neigh replace "$sink_ip" lladdr 02:00:00:00:00:09 dev "$host_if" nud permanent
ip netns exec "$ns" "$dir/stream-load" sink 5201 &
sleep 0.3

load() {  # load udp RATE | load tcp RATE
  if [ "$1" = udp ]; then "$dir/stream-load" udp "$sink_ip" "$2" "$seconds"; else "$dir/stream-load" tcp "$ns_ip" 5201 "$2" "$seconds"; fi
}

# Each prints the packets the capture dropped (kernel and queues) while one step of load ran.
drops_tcpdump() {
  tcpdump -i any -w /dev/null 2> "$dir/tcpdump.err" & local pid=$!
  sleep 1; load "$@" > "$dir/load.out"; sleep 0.5
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$dir/tcpdump.err"
}
drops_daemon() {
  printf 'interfaces: [any]\ndatabase: %s/d.db\nlog_level: info\n' "$dir" > "$dir/d.yaml"
  rm -f "$dir"/d.db*
  "$bin" daemon --config "$dir/d.yaml" > "$dir/daemon.log" 2>&1 & local pid=$!
  for _ in $(seq 100); do grep -q capturing "$dir/daemon.log" && break; sleep 0.1; done
  sleep 0.5; load "$@" > /dev/null; sleep 0.5
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$dir/daemon.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
k = re.findall(r'kernel_dropped[=:"\s]+(\d+)', text); q = re.findall(r'queue_dropped[=:"\s]+(\d+)', text)
print(int(k[-1]) + int(q[-1]) if k and q else "?")
PY
}
drops_run() {
  local args
  if [ "$1" = udp ]; then args=(udp "$sink_ip" "$2" "$seconds"); else args=(tcp "$ns_ip" 5201 "$2" "$seconds"); fi
  "$bin" run --report "$dir/run.json" -- "$dir/stream-load" "${args[@]}" > /dev/null 2>&1 || true
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dropped"])' "$dir/run.json" 2>/dev/null || echo "?"
}
# nethogs: the share of the stream's bytes it put on the load program (it reports no drops).
share_nethogs() {
  nethogs -t -C -v 2 -d 1 > "$dir/nethogs.out" 2>/dev/null & local pid=$!
  sleep 1; local sent; sent=$(load "$@"); sleep 1.5
  kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  python3 - "$dir/nethogs.out" "$1" "$2" "$seconds" <<'PY'
import sys
path, kind, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
best = 0.0
for line in open(path, errors="replace"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 3 and "stream-load" in parts[0]:
        try: best = max(best, float(parts[1]))
        except ValueError: pass
# What went on the wire: IP packets with their headers.
truth = rate * seconds * (92 if kind == "udp" else 1e6 * 1500 / 1448)
print(f"{best / truth:.2f}" if truth else "?")
PY
}

declare -A held stopped
# The zero-drop rate of a tool: the highest step before its first drop.
record() {  # record KEY DROPS RATE
  [ -n "${stopped[$1]:-}" ] && return
  if [ "$2" = 0 ]; then held[$1]=$3; else stopped[$1]=1; fi
}
for kind in udp tcp; do
  if [ "$kind" = udp ]; then rates=("${udp_rates[@]}"); unit="datagrams/s"; else rates=("${tcp_rates[@]}"); unit="MB/s"; fi
  echo "== $kind stream ($unit), $seconds s a step: packets dropped per tool (nethogs: share of the bytes it counted)"
  printf '%10s %12s %10s %10s %10s %10s\n' rate "sender held" tcpdump daemon run nethogs
  for tool in tcpdump daemon run; do held[$kind/$tool]=0; done
  for rate in "${rates[@]}"; do
    t=$(drops_tcpdump "$kind" "$rate"); d=$(drops_daemon "$kind" "$rate"); r=$(drops_run "$kind" "$rate"); n=$(share_nethogs "$kind" "$rate")
    # What the sender achieved in the tcpdump step (it falls behind its pace when the machine cannot keep up).
    held_rate=$(sed -n 's/.*(\([0-9.]*\)\(\/s\| MB\/s\))$/\1/p' "$dir/load.out")
    printf '%10s %12s %10s %10s %10s %10s\n' "$rate" "$held_rate" "$t" "$d" "$r" "$n"
    record "$kind/tcpdump" "$t" "$rate"; record "$kind/daemon" "$d" "$rate"; record "$kind/run" "$r" "$rate"
  done
  td=${held[$kind/tcpdump]}
  for tool in daemon run; do
    v=${held[$kind/$tool]}
    ratio=$(python3 -c "import sys; t,v=float(sys.argv[1]),float(sys.argv[2]); print(f'{v/t:.2f}x' if t else 'n/a')" "$td" "$v")
    echo "zero-drop $kind rate: $tool $v $unit, tcpdump $td $unit: $ratio tcpdump's (aim: >= 0.8x)"
  done
  [ -z "${stopped[$kind/tcpdump]:-}" ] && echo "(tcpdump did not drop at the highest step: the ratio is a lower bound for it)"
  echo
done

echo "== a burst from the observed command's first instruction, under run"
for burst in "20000 20000000" "50000 50000000"; do
  set -- $burst
  "$bin" run --report "$dir/burst.json" -- "$dir/stream-load" burst "$ns_ip" 5201 "$1" "$2" first > "$dir/burst.out" 2>&1 || true
  python3 - "$dir/burst.json" "$1" "$2" <<'PY'
import json, sys
report = json.load(open(sys.argv[1])); datagrams, tcp_bytes = int(sys.argv[2]), int(sys.argv[3])
flows = report.get("flows", [])
udp = sum(f["packets_out"] for f in flows if f["proto"] == "udp" and f["remote_addr"] == "198.18.214.2" and f["remote_port"] == 20000)
tcp = [f for f in flows if f["proto"] == "tcp" and f["remote_port"] == 5201]
tcp_out = sum(f["bytes_out"] for f in tcp)
payload_floor = tcp_bytes  # IP bytes of the stream are at least its payload
whole = udp == datagrams and tcp_out >= payload_floor and report["dropped"] == 0
print(f"burst of {datagrams} datagrams + {tcp_bytes} TCP bytes: run saw {udp} datagrams, {tcp_out} TCP IP bytes "
      f"({tcp_out / tcp_bytes:.3f}x the payload), {report['dropped']} dropped: {'whole' if whole else 'NOT whole'}")
PY
done
