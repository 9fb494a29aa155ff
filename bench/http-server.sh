#!/usr/bin/env bash
# The model server before and after the one HTTP layer, and that layer beside Hummingbird 2, in one run.
#
#   base   telltale-llama --serve built from BASE (default 7acba20, the tree before the HTTP target)
#   ours   telltale-llama --serve built from this tree
#   layer  http-bench (bench/HTTPBench): our HTTP layer alone, serving base's /v1/models bytes and a
#          stream of EVENTS server-sent events of EVENT_BYTES
#   hb     bench/HummingbirdBench: Hummingbird 2 serving the same bytes and the same stream
#
# Figures: requests/s of GET /v1/models (a new connection per request, CLIENTS at once, DURATION s),
# with `ab` when it is installed (apache2-utils) and threads of bench/http_load.py otherwise; for
# the model servers the median time to the first token of a streamed /v1/chat/completions on MODEL
# (greedy, 16 tokens, RUNS runs) and to its end; for the bare servers the median time to read the
# whole event stream; peak resident memory (VmHWM) of each server after its load; the stripped size
# of each executable. Each pair is printed with its ratio.
# Usage: bench/http-server.sh [MODEL.gguf]   env: BASE=7acba20 CLIENTS=8 DURATION=5 RUNS=9 ROUNDS=3 EVENTS=2000 EVENT_BYTES=200
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
model=${1:-models/tiny.gguf}
base=${BASE:-7acba20}
clients=${CLIENTS:-8}
seconds=${DURATION:-5}
runs=${RUNS:-9}
events=${EVENTS:-2000}
event_bytes=${EVENT_BYTES:-200}
export PATH=/opt/swift/usr/bin:$PATH
[ -f "$model" ] || python3 scripts/make-tiny-model.py --output "$model" >/dev/null

# The base tree in a worktree of its own, built in a scratch path of its own.
base_src=/tmp/http-base-src
if [ ! -d "$base_src" ]; then git worktree add --detach "$base_src" "$base" >/dev/null; fi
(cd "$base_src" && swift build -c release --product telltale-llama --scratch-path /tmp/http-base >/dev/null)
base_exe=/tmp/http-base/release/telltale-llama
swift build -c release --product telltale-llama >/dev/null
swift build -c release --product http-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
ours_exe=$bin/telltale-llama
layer_exe=$bin/http-bench
hb_exe=""
if (cd bench/HummingbirdBench && swift build -c release --scratch-path /tmp/http-hb >/tmp/http-hb-build.log 2>&1); then
  hb_exe=/tmp/http-hb/release/HummingbirdBench
else
  echo "Hummingbird bench did not build (see /tmp/http-hb-build.log); its column is left empty" >&2
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Starts a server, waits for its "listening on …PORT" line; sets PORT and PID.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 600); do
    PORT=$(grep -o 'listening on [^ ]*' "$work/$name.out" 2>/dev/null | grep -o '[0-9]*\(/v1\)\?$' | grep -o '^[0-9]*' || true)
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$work/$name.err" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
peak() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rps() {
  if command -v ab >/dev/null; then
    # Connection: close, as every client of the model server does; Hummingbird keeps an HTTP/1.0
    # connection open otherwise, and ab would wait on it.
    ab -q -c "$clients" -t "$seconds" -n 10000000 -H "Connection: close" "http://127.0.0.1:$1$2" 2>/dev/null | awk '/Requests per second/ {printf "%.0f", $4}'
  else
    python3 bench/http_load.py rps "$1" "$2" "$clients" "$seconds" | cut -d' ' -f1
  fi
}
size() { local s; s=$(mktemp); strip -o "$s" "$1" 2>/dev/null && stat -c %s "$s"; rm -f "$s"; }

# The machine may be shared: each pair runs side by side and is measured in alternation, ROUNDS
# times, and the median of each is kept, so that load from elsewhere falls on both alike.
rounds=${ROUNDS:-3}
median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x not in ("", "nan")]; print(f"{statistics.median(v):.1f}" if v else "")' "$@"; }
declare -A fig port pid samples

start base "$base_exe" --model "$model" --serve --port 0 --threads 2 --model-name tiny --no-hash
port[base]=$PORT; pid[base]=$PID
start ours "$ours_exe" --model "$model" --serve --port 0 --threads 2 --model-name tiny --no-hash
port[ours]=$PORT; pid[ours]=$PID
curl -s "http://127.0.0.1:${port[ours]}/v1/models" >"$work/models.json"
for _ in $(seq "$rounds"); do
  for side in base ours; do samples[$side.rps]+=" $(rps "${port[$side]}" /v1/models)"; done
done
# The streamed requests take turns between the two servers, request by request.
{ read -r first total ok; fig[base.first]=$first; fig[base.total]=$total
  read -r first total ok; fig[ours.first]=$first; fig[ours.total]=$total
} < <(python3 bench/http_load.py first-token "${port[base]},${port[ours]}" $((runs * rounds)))
for side in base ours; do
  fig[$side.rps]=$(median ${samples[$side.rps]})
  fig[$side.peak]=$(peak "${pid[$side]}")
  exe=${side}_exe
  fig[$side.size]=$(size "${!exe}")
done

start layer "$layer_exe" "$work/models.json" "$events" "$event_bytes"
port[layer]=$PORT; pid[layer]=$PID
sides=(layer)
if [ -n "$hb_exe" ]; then
  start hb "$hb_exe" "$work/models.json" "$events" "$event_bytes" $((20000 + RANDOM % 20000))
  port[hb]=$PORT; pid[hb]=$PID
  sleep 0.5  # its line is printed before the service binds
  sides+=(hb)
fi
for _ in $(seq "$rounds"); do
  for side in "${sides[@]}"; do
    samples[$side.rps]+=" $(rps "${port[$side]}" /v1/models)"
    read -r stream count < <(python3 bench/http_load.py stream "${port[$side]}" /v1/stream "$runs")
    samples[$side.stream]+=" $stream"
    fig[$side.events]=$count
  done
done
for side in "${sides[@]}"; do
  for k in rps stream; do fig[$side.$k]=$(median ${samples[$side.$k]}); done
  fig[$side.peak]=$(peak "${pid[$side]}")
done
fig[layer.size]=$(size "$layer_exe")
[ -n "$hb_exe" ] && fig[hb.size]=$(size "$hb_exe")

row() {  # label, left, right, unit
  python3 - "$@" <<'PY'
import sys
label, a, b, unit = sys.argv[1:]
def num(x):
    try: return float(x)
    except ValueError: return None
x, y = num(a), num(b)
ratio = f"{x / y:.2f}" if x is not None and y else "-"
print(f"  {label:<34} {a or '-':>12} {b or '-':>12} {ratio:>7}  {unit}")
PY
}
load=$(command -v ab >/dev/null && echo "ab" || echo "python threads")
echo "model $model; $clients clients for ${seconds}s ($load), a new connection per request; $runs streamed runs; medians of $rounds alternating rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model server                         after(ours)    before(base)   ratio"
row "GET /v1/models requests/s" "${fig[ours.rps]}" "${fig[base.rps]}" "req/s (higher is better)"
row "first token, streamed chat" "${fig[ours.first]}" "${fig[base.first]}" "ms median (lower is better)"
row "whole stream, 16 tokens" "${fig[ours.total]}" "${fig[base.total]}" "ms median (lower is better)"
row "peak resident memory" "${fig[ours.peak]}" "${fig[base.peak]}" "KiB (lower is better)"
row "telltale-llama, stripped" "${fig[ours.size]}" "${fig[base.size]}" "bytes (lower is better)"
echo "HTTP layer alone                     ours          hummingbird    ratio"
row "GET /v1/models requests/s" "${fig[layer.rps]}" "${fig[hb.rps]:-}" "req/s (higher is better)"
row "$events events of $event_bytes B, read whole" "${fig[layer.stream]}" "${fig[hb.stream]:-}" "ms median (lower is better)"
row "events received" "${fig[layer.events]}" "${fig[hb.events]:-}" "count"
row "peak resident memory" "${fig[layer.peak]}" "${fig[hb.peak]:-}" "KiB (lower is better)"
row "server executable, stripped" "${fig[layer.size]}" "${fig[hb.size]:-}" "bytes (lower is better)"
