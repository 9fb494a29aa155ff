#!/usr/bin/env bash
# Short-lived processes: N processes (default 1000), each living about 20 ms and making one TCP
# connection and one UDP exchange to a test host in a network namespace. Prints the share of those
# flows that telltale attributed to the right executable, beside the share of the same traffic that
# nethogs (-t -C) attributed to it, both watching the same workload in the same run. Needs root.
#
# Usage: bench/short-lived.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
[ "$(id -u)" -eq 0 ] || { echo "short-lived: needs root (namespaces, capture)" >&2; exit 1; }
command -v nethogs >/dev/null || bash scripts/setup.sh
swift build -c release --product telltale >/dev/null
bin="$(swift build -c release --show-bin-path)"
out=bench/out; mkdir -p "$out"
ns=tt-bench-sl; dev=tt-bsl-a
cleanup() {
  [ -n "${tt_pid:-}" ] && kill -INT "$tt_pid" 2>/dev/null || true
  [ -n "${nh_pid:-}" ] && kill "$nh_pid" 2>/dev/null || true
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$dev" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip link add "$dev" type veth peer name tt-bsl-b netns "$ns"
ip addr add 198.18.70.1/24 dev "$dev"; ip link set "$dev" up
ip -n "$ns" addr add 198.18.70.2/24 dev tt-bsl-b; ip -n "$ns" link set tt-bsl-b up; ip -n "$ns" link set lo up
ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || true

# The test host: a TCP server that answers each request, and a UDP echo.
ip netns exec "$ns" python3 scripts/lab/echo-host.py 198.18.70.2 &
srv_pid=$!
sleep 0.5

# The observed program: a copy of python under a name of its own, so the right exe is unmistakable.
prog="$out/shortlived-client"
python_bin="$(python3 -c 'import sys, os; print(os.path.realpath(sys.executable))')"
cp "$python_bin" "$prog"
client='
import socket, time
t0 = time.time()
c = socket.create_connection(("198.18.70.2", 7000)); c.sendall(b"q" * 100); c.recv(300); c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1); u.sendto(b"u" * 100, ("198.18.70.2", 7001)); u.recvfrom(300)
time.sleep(max(0, 0.020 - (time.time() - t0)))
'

"$bin/telltale" capture -i "$dev" --format ndjson > "$out/shortlived-telltale.ndjson" 2>"$out/shortlived-telltale.log" &
tt_pid=$!
nethogs -t -C -d 1 "$dev" > "$out/shortlived-nethogs.txt" 2>/dev/null &
nh_pid=$!
sleep 2
start=$(date +%s.%N)
for i in $(seq "$n"); do "$prog" -c "$client"; done
end=$(date +%s.%N)
sleep 3
kill -INT "$tt_pid"; wait "$tt_pid" || true; tt_pid=
kill "$nh_pid" 2>/dev/null; wait "$nh_pid" 2>/dev/null || true; nh_pid=

python3 - "$n" "$out/shortlived-telltale.ndjson" "$out/shortlived-nethogs.txt" "$(realpath "$prog")" "$start" "$end" <<'PY'
import json, sys, collections
n, tt_file, nh_file, prog, start, end = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
flows = [json.loads(l) for l in open(tt_file) if l.strip()]
ours = [f for f in flows if f["remote_addr"] == "198.18.70.2" and f["remote_port"] in (7000, 7001)]
right = [f for f in ours if (f.get("process") or {}).get("exe") == prog]
wrong = [f for f in ours if f.get("process") and f["process"].get("exe") != prog]
reasons = collections.Counter(f["unattributed_reason"] for f in ours if not f.get("process"))
print(f"workload: {n} processes of ~20 ms, each one TCP connection and one UDP exchange ({end - start:.1f} s)")
print(f"telltale: {len(ours)} flows seen (expected {2 * n}); {len(right)} attributed to the right exe "
      f"= {100 * len(right) / max(1, 2 * n):.1f}% (aim >= 99.5%); wrong exe: {len(wrong)}; unattributed: {dict(reasons)}")
# nethogs -t prints, every refresh, "program/pid/uid<TAB>sent KB/s<TAB>received KB/s" per process.
rates = collections.defaultdict(float)
for line in open(nh_file):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 3 or "/" not in parts[0]: continue
    try: rates[parts[0].rsplit("/", 2)[0]] += float(parts[1]) + float(parts[2])
    except ValueError: pass
total = sum(rates.values())
named = sum(v for k, v in rates.items() if k.endswith("shortlived-client"))
print(f"nethogs:  {100 * named / total if total else 0:.1f}% of the traffic it saw attributed to the right program "
      f"(by its per-second rates; {len(rates)} program names, unknown: {100 * sum(v for k, v in rates.items() if k.startswith('unknown')) / total if total else 0:.1f}%)")
PY
