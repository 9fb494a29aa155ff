#!/usr/bin/env bash
# The daemon over a long run: MINUTES (default 60) of RATE new UDP flows a second (default 500), each
# flow one datagram from a short-lived sender process, with one alert a second (a rule on one of the
# destination ports) and readers (report, status, alerts, verdicts every 10 s). At the end: the
# flows sent and stored, drops of every kind, and resident memory sampled every 30 s with the slope
# of its least-squares line over the last half of the run (aim: under 0.1 MB/min: memory flat).
# Load goes only into the veth pair to the namespace tt-bench-ns (198.18.0.0/24); needs root.
# Usage: bench/soak.sh [MINUTES] [RATE]   (TELLTALE=PATH: a telltale already built)
set -euo pipefail
. "$(dirname "$0")/veth-lab.sh"
cd "$(dirname "$0")/.."
minutes=${1:-60} rate=${2:-500}
case "$minutes$rate" in *[!0-9]*) echo "soak: usage: bench/soak.sh [MINUTES] [RATE]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (capture, namespaces)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "soak: needs the sqlite3 shell (scripts/setup.sh)" >&2; exit 1; }

ns=tt-bench-ns host_if=tt-bench-h ns_if=tt-bench-n
host_ip=198.18.0.1 ns_ip=198.18.0.2
sink_ip=198.18.0.99 sink_mac=02:00:5e:18:00:99

# TELLTALE=PATH measures a binary already built (the package's, say) instead of building one.
if [ -n "${TELLTALE:-}" ]; then
  telltale=$TELLTALE
else
  swift build -c release --product telltale >/dev/null
  telltale="$(swift build -c release --show-bin-path)/telltale"
fi
dir="$(mktemp -d /tmp/tt-soak.XXXXXX)"
veth_lab_build_load "$dir"

daemon_pid="" loader_pid="" reader_pid=""
cleanup() {
  for pid in "$loader_pid" "$reader_pid"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  veth_lab_remove
  [ -n "${KEEP:-}" ] && echo "soak: kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
veth_lab_make

mkdir -m 0755 "$dir/rules"
cat > "$dir/rules/50-soak.yaml" <<'YAML'
rules:
  - name: soak/alert-port
    to: [{port: 20000}]
    action: alert
    severity: low
YAML
chmod 0644 "$dir/rules/50-soak.yaml"
cat > "$dir/telltale.yaml" <<YAML
flush_interval: 1s
retention: {max_age: forever, max_size: unlimited}
timeouts: {udp_idle: 5s}
rules: $dir/rules
alerts: {log: false, desktop: false}
log_level: notice
YAML
chmod 0600 "$dir/telltale.yaml"

"$telltale" daemon --config "$dir/telltale.yaml" -i "$host_if" --db "$dir/soak.db" 2>"$dir/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 50); do
  sqlite3 "$dir/soak.db" 'SELECT 1 FROM daemon_state' 2>/dev/null | grep -q 1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$dir/daemon.log" >&2; exit 1; }
  sleep 0.2
done

seconds=$((minutes * 60))
# The load: each second a new process sends one datagram on each of RATE port pairs and exits.
(
  end=$(( $(date +%s) + seconds ))
  while [ "$(date +%s)" -lt "$end" ]; do
    next=$(( $(date +%s) + 1 ))
    ip netns exec "$ns" "$dir/udp-load" flows "$sink_ip" "$rate" "$((rate * 2))" >>"$dir/load.out"
    while [ "$(date +%s)" -lt "$next" ]; do sleep 0.05; done
  done
) &
loader_pid=$!
# The readers, as people and scripts read a running daemon.
(
  while true; do
    "$telltale" report --db "$dir/soak.db" --since 1m >/dev/null 2>&1 || echo "report failed" >>"$dir/readers.err"
    "$telltale" status --db "$dir/soak.db" >/dev/null 2>&1 || echo "status failed" >>"$dir/readers.err"
    "$telltale" alerts --db "$dir/soak.db" --since 1m >/dev/null 2>&1 || echo "alerts failed" >>"$dir/readers.err"
    "$telltale" verdicts --db "$dir/soak.db" --since 10m >/dev/null 2>&1 || echo "verdicts failed" >>"$dir/readers.err"
    sleep 10
  done
) &
reader_pid=$!

started=$(date +%s)
echo "soak: $minutes min at $rate new flows/s into $host_if, daemon pid $daemon_pid; resident memory every 30 s:"
while kill -0 "$loader_pid" 2>/dev/null; do
  t=$(( $(date +%s) - started ))
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$daemon_pid/status")
  echo "$t $rss" >>"$dir/rss.txt"
  printf '  %5d s  %7.1f MB\n' "$t" "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')"
  for _ in $(seq 1 30); do kill -0 "$loader_pid" 2>/dev/null || break; sleep 1; done
done
wait "$loader_pid" || true
loader_pid=""
kill "$reader_pid" 2>/dev/null || true
reader_pid=""
# The last flows end with their idle timeout, then the daemon writes them and stops.
sleep 8
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""

sent=$(awk '{ n += $7 } END { print n + 0 }' "$dir/load.out")
not_sent=$(awk -F'[()]' '{ split($2, a, " "); n += a[1] } END { print n + 0 }' "$dir/load.out")
stored=$(sqlite3 "$dir/soak.db" "SELECT count(*) FROM flows WHERE remote_addr = '$sink_ip' AND proto = 'udp'")
alerted=$(sqlite3 "$dir/soak.db" "SELECT count(*) FROM flows WHERE verdict = 'alert'")
alerts=$(sqlite3 "$dir/soak.db" "SELECT count(*) FROM alerts")
drops=$(sqlite3 "$dir/soak.db" 'SELECT coalesce(sum(dropped), 0) || " kernel, " || coalesce(sum(interface_dropped), 0) || " interface, " || coalesce(sum(queue_dropped), 0) || " queue" FROM capture_stats')
events=$(sqlite3 "$dir/soak.db" 'SELECT coalesce(event_dropped, 0) FROM daemon_state')
slope=$(awk -v half="$((seconds / 2))" '$1 >= half { n++; x += $1; y += $2 / 1024; xx += $1 * $1; xy += $1 * $2 / 1024 }
  END { if (n < 2) { print "n/a"; exit } d = n * xx - x * x; printf "%.3f", d == 0 ? 0 : (n * xy - x * y) / d * 60 }' "$dir/rss.txt")
first=$(awk 'NR == 1 { printf "%.1f", $2 / 1024 }' "$dir/rss.txt")
last=$(awk 'END { printf "%.1f", $2 / 1024 }' "$dir/rss.txt")
echo
echo "flows sent:        $sent ($not_sent datagrams not sent by the kernel)"
echo "flows stored:      $stored$([ "$stored" -ge "$sent" ] && echo " (all)" || echo " — $((sent - stored)) missing")"
echo "alert flows:       $alerted of about $seconds expected (one a second); alerts stored: $alerts (repeats of one program, destination and rule are folded)"
echo "capture drops:     $drops; socket events dropped: $events"
echo "readers:           $( [ -s "$dir/readers.err" ] && sort "$dir/readers.err" | uniq -c | tr '\n' ' ' || echo "every read answered")"
echo "resident memory:   $first MB at the start, $last MB at the end; slope over the last half: $slope MB/min (aim < 0.1)"
