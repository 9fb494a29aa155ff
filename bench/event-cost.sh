#!/usr/bin/env bash
# What the kernel's socket events cost the programs Telltale observes, and the daemon at rest.
#
# The observed program (bench/socket-loop.c) runs two loops on loopback: 10-byte UDP sendto() calls
# on one socket, and TCP connect/send/close rounds. Each loop runs four ways in the same run,
# interleaved and repeated (best of REPEATS):
#   none      no Telltale at all;
#   events    the socket-event programs loaded (by `telltale capture` on an idle veth),
#             the loop's own packets not captured: what the events alone cost the program (aim:
#             under 10% added);
#   polling   the daemon capturing every interface, attributing by polling only (--no-kernel-events):
#             what capturing the loop's packets costs it, as with tcpdump;
#   daemon    the daemon capturing every interface, with its socket events.
# Then the daemon's CPU share of one core at rest on every interface, events loaded (aim: under 1%).
# Needs root.
#
# Usage: bench/event-cost.sh [UDP_CALLS] [TCP_ROUNDS] [REPEATS] [IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
udp_calls="${1:-200000}" tcp_rounds="${2:-5000}" repeats="${3:-5}" idle="${4:-20}"
[ "$(id -u)" -eq 0 ] || { echo "event-cost: needs root (capture, BPF)" >&2; exit 1; }

swift build -c release --product telltale >/dev/null
telltale="$(swift build -c release --show-bin-path)/telltale"
dir="$(mktemp -d /tmp/tt-event-cost.XXXXXX)"
compiler="$(command -v cc || command -v clang || true)"
[ -n "$compiler" ] || { echo "event-cost: needs a C compiler (cc or the Swift toolchain's clang)" >&2; exit 1; }
"$compiler" -O2 -Wall -pthread -o "$dir/socket-loop" bench/socket-loop.c

dummy=tt-ec-idle
daemon_pid=""
stop_daemon() {
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  daemon_pid=""
}
cleanup() { stop_daemon; ip link del "$dummy" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ip link del "$dummy" 2>/dev/null || true
ip link add "$dummy" type veth peer name "$dummy-p"
ip link set "$dummy" up

cat > "$dir/telltale.yaml" <<YAML
flush_interval: 1s
log_level: info
YAML

# Starts the daemon on every interface; "$1" is extra flags. Waits until it captures.
start_daemon() {
  rm -f "$dir"/flows.db*
  "$telltale" daemon --config "$dir/telltale.yaml" --db "$dir/flows.db" $1 >"$dir/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q "capturing" "$dir/daemon.log" && break; sleep 0.1; done
  grep -q "capturing" "$dir/daemon.log" || { cat "$dir/daemon.log" >&2; exit 1; }
  sleep 1
}

# The socket-event programs loaded, capturing only an idle interface (one end of an unused veth pair).
start_events_alone() {
  "$telltale" capture -i "$dummy" --format ndjson >/dev/null 2>"$dir/capture.log" &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q "capturing" "$dir/capture.log" && break; sleep 0.1; done
  sleep 1
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$dir/capture.log" >&2; exit 1; }
}

# One loop; prints wall and CPU nanoseconds per call.
loop() {
  if [ "$1" = udp ]; then "$dir/socket-loop" udp "$udp_calls" 9; else "$dir/socket-loop" tcp "$tcp_rounds"; fi \
    | awk '{ printf "%.1f %.1f\n", $1 / $3, $2 / $3 }'
}

declare -A best_wall best_cpu
record() {  # kind mode wall cpu
  local key="$1-$2"
  if [ -z "${best_wall[$key]:-}" ] || awk -v a="$3" -v b="${best_wall[$key]}" 'BEGIN { exit !(a < b) }'; then best_wall[$key]=$3; fi
  if [ -z "${best_cpu[$key]:-}" ] || awk -v a="$4" -v b="${best_cpu[$key]}" 'BEGIN { exit !(a < b) }'; then best_cpu[$key]=$4; fi
}

for round in $(seq "$repeats"); do
  for mode in none events polling daemon; do
    case "$mode" in
      none) ;;
      events) start_events_alone ;;
      polling) start_daemon "--no-kernel-events" ;;
      daemon) start_daemon "" ; grep -q "attribution=kernel-events" "$dir/daemon.log" \
                || { echo "event-cost: the socket events did not load:" >&2; cat "$dir/daemon.log" >&2; exit 1; } ;;
    esac
    for kind in udp tcp; do
      read -r wall cpu < <(loop "$kind")
      record "$kind" "$mode" "$wall" "$cpu"
    done
    stop_daemon
  done
  echo "event-cost: round $round of $repeats done" >&2
done

echo "Observed program, best of $repeats (ns per call; wall and CPU time of the program itself):"
printf '%-30s %10s %10s %12s %12s %14s %14s\n' "loop" "none" "events" "polling" "daemon" "events/none" "daemon/polling"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
for kind in udp tcp; do
  label=$([ "$kind" = udp ] && echo "UDP sendto, 10 bytes" || echo "TCP connect/send/close")
  for measure in wall cpu; do
    if [ "$measure" = wall ]; then
      n="${best_wall[$kind-none]}" e="${best_wall[$kind-events]}" p="${best_wall[$kind-polling]}" d="${best_wall[$kind-daemon]}"
    else
      n="${best_cpu[$kind-none]}" e="${best_cpu[$kind-events]}" p="${best_cpu[$kind-polling]}" d="${best_cpu[$kind-daemon]}"
    fi
    printf '%-30s %10s %10s %12s %12s %14s %14s\n' "$label ($measure)" "$n" "$e" "$p" "$d" "$(ratio "$e" "$n")" "$(ratio "$d" "$p")"
  done
done
echo "events/none: what the socket events add to the program (aim < 1.10); daemon/polling: the events' share"
echo "of a whole daemon's cost (capturing the loop's own packets costs the sender, with or without events)."

# The daemon at rest, events loaded, capturing on every interface.
start_daemon ""
tck=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
t0=$(ticks); s0=$(date +%s.%N)
sleep "$idle"
t1=$(ticks); s1=$(date +%s.%N)
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$daemon_pid/status")
stop_daemon
awk -v t="$((t1 - t0))" -v hz="$tck" -v a="$s0" -v b="$s1" -v rss="$rss" \
  'BEGIN { printf "Daemon at rest with socket events, %.0f s: %.2f%% of a core (aim < 1%%), %.1f MB resident\n", b - a, 100 * t / hz / (b - a), rss / 1024 }'
