#!/usr/bin/env bash
# What content inspection costs, beside the same runs without it, measured in one run:
#   (a) one SSL_write with the TLS probes attached: 20,000 writes of 64 bytes over TLS on loopback
#       (Python's ssl, the system libssl) with a daemon that inspects content, against the same
#       writes with a daemon that does not (aim: under 30 µs added per write);
#   (b) a 100 MB TLS upload's throughput, inspected against uninspected (aim: at least 0.7×);
#   (c) the daemon's CPU (utime+stime, share of one core) while a program makes 1,000 TLS writes a
#       second for SECONDS, inspected against uninspected;
#   (d) the daemon's resident memory per 1,000 fingerprinted prompts: 5,000 distinct prompts of
#       about 60 words sent to a stand-in runtime on loopback (/v1/chat/completions).
# Everything stays on loopback: the TLS peer is a Python TLS server on 127.0.0.1. Needs root.
# Usage: bench/content-cost.sh [SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
[ "$(id -u)" -eq 0 ] || { echo "content-cost: needs root (capture, uprobes)" >&2; exit 1; }
swift build -c release --product telltale >/dev/null
telltale="$(swift build -c release --show-bin-path)/telltale"
dir="$(mktemp -d /tmp/tt-content-bench.XXXXXX)"
daemon_pid="" server_pid="" runtime_pid=""
cleanup() {
  for p in $daemon_pid $server_pid $runtime_pid; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=bench.test -days 1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
# The TLS peer: reads and discards whatever each connection sends (a thread per connection).
cat > "$dir/sink.py" <<'PY'
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', 18843)); srv.listen(64)
def drain(c):
    try:
        with ctx.wrap_socket(c, server_side=True) as s:
            while s.recv(1 << 16): pass
    except (OSError, ssl.SSLError): pass
while True:
    c, _ = srv.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
PY
python3 "$dir/sink.py" "$dir/cert.pem" "$dir/key.pem" &
server_pid=$!
sleep 0.5

cat > "$dir/tls.py" <<'PY'
import socket, ssl, sys, time
mode, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', 18843)), server_hostname='bench.test')
data = b'x' * size
if mode == 'burst':
    t = time.perf_counter()
    for _ in range(count): s.sendall(data)
    print(time.perf_counter() - t)
else:  # paced: `count` writes a second of `size` bytes for argv[4] seconds
    seconds = float(sys.argv[4]); interval = 1.0 / count; start = time.perf_counter(); n = 0
    while time.perf_counter() - start < seconds:
        s.sendall(data); n += 1
        target = start + n * interval
        delay = target - time.perf_counter()
        if delay > 0: time.sleep(delay)
    print(n)
s.close()
PY

cat > "$dir/runtime.py" <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'{}')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', 18861), H).serve_forever()
PY
python3 "$dir/runtime.py" & runtime_pid=$!

cat > "$dir/prompts.py" <<'PY'
import http.client, json, random, sys
random.seed(7)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(3, 9))) for _ in range(5000)]
c = http.client.HTTPConnection('127.0.0.1', 18861)
for i in range(int(sys.argv[1])):
    text = ' '.join(random.choice(words) for _ in range(60))
    c.request('POST', '/v1/chat/completions', json.dumps({'messages': [{'role': 'user', 'content': text}]}))
    c.getresponse().read()
PY

start_daemon() {  # $1: extra flag (--inspect-content or nothing)
  rm -f "$dir/flows.db"*
  printf 'flush_interval: 1s\nlog_level: notice\n' > "$dir/telltale.yaml"
  "$telltale" daemon --config "$dir/telltale.yaml" --db "$dir/flows.db" $1 2> "$dir/daemon.log" &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q capturing "$dir/daemon.log" 2>/dev/null && break; sleep 0.1; done
  sleep 1
}
stop_daemon() { kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""; }
ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
hz=$(getconf CLK_TCK)

declare -A per_write upload cpu rss_before rss_after
for mode in off on; do
  flag=""; [ "$mode" = on ] && flag=--inspect-content
  start_daemon "$flag"
  # (a) best of 3 bursts of 20,000 small writes
  best=""
  for _ in 1 2 3; do
    t=$(python3 "$dir/tls.py" burst 20000 64)
    best=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(a if b=='' else min(a,float(b)))" "$t" "$best")
  done
  per_write[$mode]=$(python3 -c "print(round($best / 20000 * 1e6, 2))")
  # (b) 100 MB in 64 KiB writes
  t=$(python3 "$dir/tls.py" burst 1600 65536)
  upload[$mode]=$(python3 -c "print(round(1600 * 65536 / $t / 1e6, 1))")
  # (c) 1,000 writes a second of 256 bytes for SECONDS
  before=$(ticks)
  python3 "$dir/tls.py" paced 1000 256 "$seconds" >/dev/null
  after=$(ticks)
  cpu[$mode]=$(python3 -c "print(round(($after - $before) / $hz / $seconds * 100, 1))")
  # (d) 5,000 prompts
  rss_before[$mode]=$(rss_kb)
  python3 "$dir/prompts.py" 5000
  sleep 2
  rss_after[$mode]=$(rss_kb)
  [ "$mode" = on ] && grep -m1 "content inspection" "$dir/daemon.log" | sed 's/^/  daemon: /' || true
  stop_daemon
done

ratio() { python3 -c "print(round($1 / $2, 2))"; }
echo
echo "content inspection's cost (inspected beside uninspected, same run)"
printf '  SSL_write of 64 bytes:        %8s µs inspected, %8s µs uninspected: +%s µs per write (aim: under 30)\n' \
  "${per_write[on]}" "${per_write[off]}" "$(python3 -c "print(round(${per_write[on]} - ${per_write[off]}, 2))")"
printf '  100 MB TLS upload:            %8s MB/s inspected, %8s MB/s uninspected: %sx (aim: at least 0.7x)\n' \
  "${upload[on]}" "${upload[off]}" "$(ratio "${upload[on]}" "${upload[off]}")"
printf '  daemon CPU, 1,000 TLS writes/s: %6s%% of a core inspected, %6s%% uninspected\n' "${cpu[on]}" "${cpu[off]}"
on_growth=$(( ${rss_after[on]} - ${rss_before[on]} )); off_growth=$(( ${rss_after[off]} - ${rss_before[off]} ))
printf '  memory for 5,000 prompts:     %8s KiB inspected, %8s KiB uninspected: %s KiB per 1,000 prompts fingerprinted\n' \
  "$on_growth" "$off_growth" "$(( (on_growth - off_growth) / 5 ))"
