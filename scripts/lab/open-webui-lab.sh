#!/usr/bin/env bash
# The Open WebUI lab, run by hand (too heavy for CI): Open WebUI, as shipped, with llama-cpp-python's
# server on the tiny model as its OpenAI backend, watched by the daemon with the built-in rules. The
# lab's DNS answers every name with a namespace host (198.18.86.2) serving HTTP on 80 and HTTPS on
# 443 (self-signed: TLS clients fail after their ClientHello), so whatever Open WebUI reaches for is
# seen by name and fails fast. One chat turn goes through Open WebUI's API; then the script prints the
# names Open WebUI looked up, `telltale report --by program` and `telltale alerts`.
#
# Usage: sudo scripts/lab/open-webui-lab.sh [SECONDS]
#   SECONDS   how long to watch after the chat turn (default 20)
# Environment:
#   PYTHON             the interpreter with llama-cpp-python[server] (scripts/setup.sh; default python3)
#   OPEN_WEBUI_VENV    the venv holding open-webui, made and filled when missing
#                      (default /tmp/telltale-open-webui-venv; the first install takes about 5.5
#                      minutes on 2 cores and 7.3 GB, torch included)
#   OPEN_WEBUI_VERSION the open-webui release to install (default 0.12.4)
#   TELLTALE           the telltale executable (default .build/debug/telltale: swift build first)
#   KEEP=1             keep the work directory (its path is printed) instead of removing it
# Needs root (a network namespace, a mount namespace for Open WebUI's resolver, live capture).
# Nothing outside the work directory and the venv is changed: the namespace goes on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

watch_seconds=${1:-20}
python=${PYTHON:-python3}
venv=${OPEN_WEBUI_VENV:-/tmp/telltale-open-webui-venv}
version=${OPEN_WEBUI_VERSION:-0.12.4}
telltale=${TELLTALE:-.build/debug/telltale}
runtime_port=18995
webui_port=18996
ns=tt-owui-ns link=tt-owui-a peer=tt-owui-b
host_ip=198.18.86.2 resolver=127.0.86.53

say() { printf 'open-webui-lab: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "needs root (namespaces, capture)"; exit 1; }
[ -x "$telltale" ] || { say "no telltale at $telltale: run swift build, or set TELLTALE"; exit 1; }
telltale=$(realpath "$telltale")
"$python" -c 'import llama_cpp.server.app' 2>/dev/null \
  || { say "$python lacks llama-cpp-python's server: run scripts/setup.sh, or set PYTHON"; exit 1; }

if [ ! -x "$venv/bin/open-webui" ]; then
  say "installing open-webui $version into $venv (several minutes, several GB)"
  started=$(date +%s)
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --only-binary=:all: "open-webui==$version"
  say "installed in $(( $(date +%s) - started )) s"
fi

model=models/tiny.gguf
[ -f "$model" ] || "$python" scripts/make-tiny-model.py --output "$model"
model=$(realpath "$model")

work=$(mktemp -d /tmp/telltale-open-webui-lab.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$link" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
wait_for() {  # wait_for SECONDS FILE TEXT
  local end=$(( $(date +%s) + $1 ))
  until grep -q -- "$3" "$2" 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || { say "gave up waiting for '$3' in $2:"; tail -n 30 "$2" >&2; exit 1; }
    sleep 0.5
  done
}

# The stand-in internet.
ip netns del "$ns" 2>/dev/null || true
ip link del "$link" 2>/dev/null || true
ip netns add "$ns"
ip link add "$link" type veth peer name "$peer" netns "$ns"
ip addr add 198.18.86.1/24 dev "$link"
ip link set "$link" up
ip -n "$ns" addr add "$host_ip/24" dev "$peer"
ip -n "$ns" link set "$peer" up
ip -n "$ns" link set lo up
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lab.test -days 1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
ip netns exec "$ns" "$python" scripts/lab/stand-in-web.py "$host_ip" "$work/cert.pem" "$work/key.pem" >"$work/web.log" 2>&1 &
pids+=($!)
# The lab's resolver: every A query gets the namespace host, other types an empty answer.
"$python" scripts/lab/lab-resolver.py "$resolver" "$host_ip" >"$work/dns.log" 2>&1 &
pids+=($!)
printf 'nameserver %s\n' "$resolver" >"$work/resolv.conf"

# The daemon first, with the built-in rules.
cat >"$work/telltale.yaml" <<EOF
interfaces: [any]
database: $work/flows.db
flush_interval: 100ms
timeouts: {tcp_closed: 200ms, udp_idle: 1s}
log_level: info
alerts: {log: true, desktop: false}
EOF
"$telltale" daemon --config "$work/telltale.yaml" >"$work/daemon.log" 2>&1 &
daemon=$!
pids+=("$daemon")
wait_for 15 "$work/daemon.log" capturing

# The runtime, as its documentation starts it.
"$python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$runtime_port" >"$work/runtime.log" 2>&1 &
pids+=($!)
wait_for 60 "$work/runtime.log" "Uvicorn running on"

# Open WebUI as shipped, but for its backend (the runtime), no login (one local admin), and a data
# directory and home of its own; the lab's resolver through a bind mount in its own mount namespace.
mkdir -p "$work/data" "$work/home"
say "starting Open WebUI (its first start migrates a database and reaches for models: minutes)"
(cd "$work" && exec unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
  "$work/resolv.conf" env HOME="$work/home" DATA_DIR="$work/data" WEBUI_AUTH=False ENABLE_OLLAMA_API=False \
  OPENAI_API_BASE_URL="http://127.0.0.1:$runtime_port/v1" OPENAI_API_KEY=none \
  "$venv/bin/open-webui" serve --host 127.0.0.1 --port "$webui_port") >"$work/open-webui.log" 2>&1 &
pids+=($!)
end=$(( $(date +%s) + 600 ))
until curl -fsS -o /dev/null "http://127.0.0.1:$webui_port/health" 2>/dev/null; do
  [ "$(date +%s)" -lt "$end" ] || { say "Open WebUI did not come up:"; tail -n 40 "$work/open-webui.log" >&2; exit 1; }
  sleep 2
done
say "Open WebUI is up"

# One chat turn through Open WebUI's API, as its front end does it.
api="http://127.0.0.1:$webui_port/api"
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"email": "admin@localhost", "password": "admin"}' \
  "$api/v1/auths/signin" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
model_id=$(curl -fsS -H "Authorization: Bearer $token" "$api/models" \
  | "$python" -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])')
curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"model\": \"$model_id\", \"stream\": false, \"messages\": [{\"role\": \"user\", \"content\": \"What stays on this machine?\"}]}" \
  "$api/chat/completions" >"$work/answer.json" || say "the chat turn failed: $(cat "$work/answer.json" 2>/dev/null)"
say "chat answer: $(head -c 300 "$work/answer.json")"
sleep "$watch_seconds"
kill -TERM "$daemon"
wait "$daemon" 2>/dev/null || true

echo "== names looked up through the lab's resolver (name, query type)"
sort "$work/dns.log" | uniq -c | sort -rn
echo "== requests that reached the stand-in internet in full"
cat "$work/web.log"
echo "== telltale report --by program"
"$telltale" report --db "$work/flows.db" --by program
echo "== telltale alerts"
"$telltale" alerts --db "$work/flows.db"
