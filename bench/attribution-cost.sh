#!/usr/bin/env bash
# CPU time per new-flow attribution with 1,000 idle processes holding 20,000 sockets, beside the CPU
# time `ss -tunap` takes to answer the same question once. Needs root (reads every process's fds).
# Usage: bench/attribution-cost.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-50}"
[ "$(id -u)" -eq 0 ] || { echo "attribution-cost: needs root" >&2; exit 1; }

swift build -c release --product attribution-bench >/dev/null
bin="$(swift build -c release --show-bin-path)/attribution-bench"

# 1,000 idle processes, each holding 10 UDP and 10 TCP listening sockets on loopback.
python3 - <<'PY' &
import os, signal, socket, sys, time
children = []
for i in range(1000):
    pid = os.fork()
    if pid == 0:
        held = []
        for j in range(10):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0)); held.append(u)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(('127.0.0.1', 0)); t.listen(); held.append(t)
        signal.pause()
        os._exit(0)
    children.append(pid)
def stop(*_):
    for c in children:
        try: os.kill(c, signal.SIGKILL)
        except ProcessLookupError: pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
signal.pause()
PY
load=$!
trap 'kill -TERM $load 2>/dev/null || true; wait $load 2>/dev/null || true' EXIT

for _ in $(seq 1 60); do
  n=$(ss -tuan | wc -l)
  [ "$n" -ge 20000 ] && break
  sleep 1
done
echo "load: $(pgrep -c -P $load) idle processes, $(ss -tuan | wc -l) sockets"

"$bin" "$iterations" | tee /tmp/tt-attr-bench.out

# ss -tunap: CPU time (user + system) of one full answer, averaged over 5 runs.
ss_us=$(python3 - <<'PY'
import resource, subprocess
runs = 5
total = 0.0
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(['ss', '-tunap'], stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(total / runs * 1e6)
PY
)
printf 'ss -tunap: %.1f µs CPU per answer\n' "$ss_us"
for label in new-process old-process; do
  ours=$(awk -v l="$label" '$1=="RESULT" && $2==l {print $3}' /tmp/tt-attr-bench.out)
  awk -v o="$ours" -v s="$ss_us" -v l="$label" 'BEGIN { printf "ratio (%s): telltale %.1f µs vs ss %.1f µs = %.4fx of ss\n", l, o, s, o / s }'
done
