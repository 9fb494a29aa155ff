#!/usr/bin/env bash
# The CPU of `telltale top` at one refresh a second with 10,000 open flows, beside `nethogs -t` at
# the same load in the same run. A generator in the namespace tt-bench-ns (198.18.0.0/24, created here
# and removed on exit) keeps 10,000 UDP flows open across a veth pair: 10,000 datagrams a second, one
# per flow per second. Measured, each over SECONDS, as a share of one core (utime+stime from
# /proc/PID/stat):
#   (1) the daemon recording that load (for scale);
#   (2) `top` reading the daemon's database (the daemon checkpoints all 10,000 open flows every 3 s);
#   (3) `top` capturing by itself (no daemon; open flows handed out every second);
#   (4) `nethogs -t -d 1` on the same interface.
# top runs full-screen in a 200x50 tmux pane, as a person would run it. Aim: top under 5% of a core.
# Needs root. Usage: bench/top-cost.sh [SECONDS]   (default 30)
set -euo pipefail
. "$(dirname "$0")/veth-lab.sh"
cd "$(dirname "$0")/.."
seconds="${1:-30}"
[ "$(id -u)" -eq 0 ] || { echo "top-cost: needs root (capture, namespaces)" >&2; exit 1; }
for tool in tmux nethogs; do
  command -v "$tool" >/dev/null || { echo "top-cost: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done

ns=tt-bench-ns host_if=tt-bench-h ns_if=tt-bench-n
host_ip=198.18.0.1 ns_ip=198.18.0.2
# The datagrams go to an address with a made-up neighbour entry: they cross the veth (where the
# capture is) and the host drops them as not its own, so nothing answers and nothing leaves the pair.
sink_ip=198.18.0.99 sink_mac=02:00:5e:18:00:99
flows=10000

swift build -c release --product telltale >/dev/null
telltale="$(swift build -c release --show-bin-path)/telltale"
dir="$(mktemp -d /tmp/tt-top-bench.XXXXXX)"
veth_lab_build_load "$dir"

daemon_pid="" sender="" peer_pid=""
tmux_socket="tt-top-bench-$$"
cleanup() {
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; fi
  if [ -n "$sender" ]; then kill "$sender" 2>/dev/null || true; fi
  veth_lab_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

veth_lab_make

cat > "$dir/telltale.yaml" <<YAML
flush_interval: 1s
retention: {max_age: forever, max_size: unlimited}
timeouts: {udp_idle: 600s}
log_level: info
YAML

tck=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
now() { date +%s.%N; }
rows=()
measure() {  # SECONDS LABEL PID [LABEL PID]...: the processes over the same interval
  local span=$1; shift
  local -a labels=() pids=() t0=() t1=()
  while [ $# -gt 0 ]; do labels+=("$1"); pids+=("$2"); shift 2; done
  local w0 w1 i rss
  for i in "${!pids[@]}"; do t0[$i]=$(ticks "${pids[$i]}"); done
  w0=$(now)
  sleep "$span"
  for i in "${!pids[@]}"; do t1[$i]=$(ticks "${pids[$i]}"); done
  w1=$(now)
  for i in "${!pids[@]}"; do
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${pids[$i]}/status")
    rows+=("$(awk -v l="${labels[$i]}" -v a="${t0[$i]}" -v b="${t1[$i]}" -v t="$tck" -v x="$w0" -v y="$w1" -v r="$rss" \
      'BEGIN { printf "%-52s %8.2f %9.1f", l, (b - a) / t / (y - x) * 100, r / 1024 }')")
    echo "  ${rows[-1]}"
  done
}
open_flows() { sqlite3 "$dir/top.db" 'SELECT count(*) FROM flows WHERE open = 1' 2>/dev/null || echo "?"; }

# The load runs for the whole benchmark: 10,000 flows, each with a datagram every second.
total=$((seconds * 3 + 60))
ip netns exec "$ns" "$dir/udp-load" rate "$sink_ip" "$flows" "$total" "$flows" > "$dir/load.out" &
sender=$!

# A pane of 200x50 whose pid is top's own (exec), so /proc/PID/stat is top's alone.
start_top() {  # ARGS...
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  tmux -L "$tmux_socket" new-session -d -s top -x 200 -y 50 "exec $telltale top $*"
  sleep 1
  tmux -L "$tmux_socket" list-panes -t top -F '#{pane_pid}'
}

echo "(1)+(2) the daemon records 10,000 open flows; top reads its database, ${seconds}s"
"$telltale" daemon --config "$dir/telltale.yaml" -i "$host_if" --db "$dir/top.db" 2>"$dir/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do
  [ "$(open_flows)" -ge "$flows" ] 2>/dev/null && break
  sleep 0.5
done
echo "  open flows in the database: $(open_flows)"
top_pid=$(start_top --db "$dir/top.db" --interval 1)
sleep 8  # past the baseline and the first rates
tmux -L "$tmux_socket" capture-pane -p -t top | head -6 | sed 's/^/  | /'
measure "$seconds" "(1) daemon, 10,000 open flows (for scale)" "$daemon_pid" \
  "(2) top reading the daemon's database, 1 refresh/s" "$top_pid"
tmux -L "$tmux_socket" capture-pane -p -t top | sed -n '4p;$p' | sed 's/^/  | /'
tmux -L "$tmux_socket" kill-server
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""

echo "(3) top capturing by itself at the same load, ${seconds}s"
top_pid=$(start_top --source capture -i "$host_if" --interval 1)
sleep 8
tmux -L "$tmux_socket" capture-pane -p -t top | head -6 | sed 's/^/  | /'
measure "$seconds" "(3) top capturing by itself, 1 refresh/s" "$top_pid"
tmux -L "$tmux_socket" capture-pane -p -t top | sed -n '4p;$p' | sed 's/^/  | /'
tmux -L "$tmux_socket" kill-server

echo "(4) nethogs -t -C at the same load, ${seconds}s"
nethogs -t -C -d 1 "$host_if" > "$dir/nethogs.out" 2>&1 &
peer_pid=$!
sleep 8
measure "$seconds" "(4) nethogs -t -C -d 1 (peer; -C counts UDP too)" "$peer_pid"
kill "$peer_pid"; wait "$peer_pid" 2>/dev/null || true; peer_pid=""
echo "  nethogs printed $(grep -c . "$dir/nethogs.out") lines"

kill "$sender" 2>/dev/null || true; wait "$sender" 2>/dev/null || true; sender=""
sed 's/^/  sender: /' "$dir/load.out" || true

echo
printf '%-52s %8s %9s\n' "process" "CPU %" "RSS MB"
printf '%s\n' "${rows[@]}"
echo "CPU: percent of one core over ${seconds}s (one tick is $(awk -v t="$tck" -v s="$seconds" 'BEGIN { printf "%.3f", 100 / t / s }')%); $(nproc) cores; aim: top under 5%"
