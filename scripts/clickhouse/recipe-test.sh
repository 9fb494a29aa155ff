#!/usr/bin/env bash
# The ClickHouse recipe end to end, with real parts: a private clickhouse-server (Debian's), the
# schema, a live daemon, scripts/clickhouse/ship.sh inserting from `report --follow`, and the three
# queries. A model runtime (a Python program the default rules name model-runtime) sends to a
# stand-in internet host (198.18.77.2, in a network namespace made here); curl talks to loopback.
# Needs root. Run it under the shared lock:
#   flock /tmp/telltale-live.lock scripts/clickhouse/recipe-test.sh [path/to/telltale]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
telltale=${1:-$repo/.build/debug/telltale}
[ "$(id -u)" -eq 0 ] || { echo "recipe-test: needs root (capture, a network namespace)" >&2; exit 77; }
command -v clickhouse-server >/dev/null || { echo "recipe-test: clickhouse-server is not installed (scripts/setup.sh)" >&2; exit 77; }

work=$(mktemp -d /tmp/telltale-clickhouse.XXXXXX)
ns=tt-fleet-ch
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip link del ttfleetch0 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "recipe-test: FAIL: $*" >&2; exit 1; }

# ClickHouse on its own ports and files.
mkdir -p "$work/ch/data/tmp" "$work/ch/data/user_files" "$work/ch/data/format_schemas" "$work/ch/log"
sed -e "s#/var/lib/clickhouse/#$work/ch/data/#g" -e "s#/var/log/clickhouse-server/#$work/ch/log/#g" \
    -e "s#<http_port>8123</http_port>#<http_port>18123</http_port>#" -e "s#<tcp_port>9000</tcp_port>#<tcp_port>19000</tcp_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>19009</interserver_http_port>#" \
    -e "s#<listen_host>::1</listen_host>##" /etc/clickhouse-server/config.xml > "$work/ch/config.xml"
cp /etc/clickhouse-server/users.xml "$work/ch/"
clickhouse-server --config-file="$work/ch/config.xml" > "$work/ch/server.out" 2>&1 &
pids+=($!)
ch=(clickhouse-client --port 19000)
for _ in $(seq 1 50); do "${ch[@]}" --query "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
"${ch[@]}" --query "SELECT version()" >/dev/null || fail "clickhouse-server did not start: $(tail -5 "$work/ch/log/clickhouse-server.err.log")"
"${ch[@]}" --multiquery < "$here/schema.sql"

# The stand-in internet: 198.18.77.2 in a namespace, reached through a veth without offloads.
ip netns add "$ns"
ip link add ttfleetch0 type veth peer name ttfleetch1
ip link set ttfleetch1 netns "$ns"
ip addr add 198.18.77.1/30 dev ttfleetch0 && ip link set ttfleetch0 up
ip -n "$ns" addr add 198.18.77.2/30 dev ttfleetch1 && ip -n "$ns" link set ttfleetch1 up && ip -n "$ns" link set lo up
ethtool -K ttfleetch0 tso off gso off gro off >/dev/null 2>&1 || true

cat > "$work/telltale.yaml" <<YAML
timeouts: {udp_idle: 2s, tcp_closed: 1s, active: 3s}
alerts: {log: false, desktop: false}
YAML
"$telltale" daemon --config "$work/telltale.yaml" -i lo -i ttfleetch0 --db "$work/t.db" --rules "$repo/rules" \
  > "$work/daemon.log" 2>&1 &
pids+=($!)
touch "$work/daemon.log"
for _ in $(seq 1 50); do grep -q "capturing" "$work/daemon.log" && break; sleep 0.2; done
grep -q "capturing" "$work/daemon.log" || fail "the daemon did not start: $(tail -5 "$work/daemon.log")"

TELLTALE="$telltale" "$here/ship.sh" --db "$work/t.db" --state "$work/last-seq" --batch-seconds 1 -- --port 19000 \
  > "$work/ship.log" 2>&1 &
ship=$!
pids+=($ship)
sleep 1

# Traffic: a model runtime reaching the stand-in internet, and curl on loopback.
mkdir -p "$work/bin"
cat > "$work/bin/llama_cpp.server" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"x" * 300, ("198.18.77.2", 9999))
time.sleep(0.5)
PY
python3 "$work/bin/llama_cpp.server"
python3 -m http.server 18089 --bind 127.0.0.1 > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:18089/ && break; sleep 0.2; done
for _ in 1 2; do curl -s -o /dev/null http://127.0.0.1:18089/; done

# Wait until the report has finished flows for both, then until the shipper has inserted every flow
# up to the last of them. (Flows keep finishing meanwhile: every clickhouse-client call, the test's
# and the shipper's, is a loopback flow itself; so the test compares up to a place, not a moving count.)
# curl made at least three connections (the one that found the server up, then two): all three,
# since the report may show the first ones (and refused attempts) before the last has ended.
target=0
for _ in $(seq 1 60); do
  printed=$("$telltale" report --db "$work/t.db" --by flow --after-seq 0 --format ndjson 2>/dev/null)
  if [ "$(printf '%s\n' "$printed" | grep -c '"remote_addr":"198.18.77.2"')" -ge 1 ] \
     && [ "$(printf '%s\n' "$printed" | grep -c '"remote_port":18089')" -ge 3 ]; then
    target=$(printf '%s\n' "$printed" | jq -s 'map(.seq) | max')
    break
  fi
  sleep 0.5
done
[ "$target" -gt 0 ] || fail "the report has no finished flows of the runtime and curl"
for _ in $(seq 1 60); do
  [ -s "$work/last-seq" ] && [ "$(cat "$work/last-seq")" -ge "$target" ] && break
  sleep 0.5
done
expected=$("$telltale" report --db "$work/t.db" --by flow --after-seq 0 --format ndjson | jq -s --argjson t "$target" 'map(select(.seq <= $t)) | length')
got=$("${ch[@]}" --query "SELECT count() FROM telltale.flows FINAL WHERE seq <= $target")
[ "$got" -eq "$expected" ] && [ "$expected" -ge 4 ] || fail "ClickHouse has $got flows up to seq $target, the report $expected: $(cat "$work/ship.log")"

# Restart the shipper: it resumes after the last flow inserted and inserts nothing twice. (The
# inserts are loopback flows themselves, so flows keep finishing while this runs.)
kill -TERM "$ship"; wait "$ship" || true
[ -s "$work/last-seq" ] || fail "the shipper saved no place"
TELLTALE="$telltale" "$here/ship.sh" --db "$work/t.db" --state "$work/last-seq" --batch-seconds 1 -- --port 19000 \
  > "$work/ship2.log" 2>&1 &
ship=$!
pids+=($ship)
sleep 3
kill -TERM "$ship"; wait "$ship" || true
last=$(cat "$work/last-seq")
twice=$("${ch[@]}" --query "SELECT count() - uniqExact(uid) FROM telltale.flows")
[ "$twice" -eq 0 ] || fail "$twice flows were inserted twice"

# Every flow the report printed up to the saved place is in ClickHouse, once, with the same bytes.
diff <("$telltale" report --db "$work/t.db" --by flow --after-seq 0 --format ndjson \
        | jq -r --argjson last "$last" 'select(.seq <= $last) | "\(.uid) \(.bytes_out) \(.bytes_in) \(.process.exe)"' | sort) \
     <("${ch[@]}" --query "SELECT uid, bytes_out, bytes_in, ifNull(exe, 'null') FROM telltale.flows ORDER BY uid" | tr '\t' ' ' | sort) \
  || fail "the flows in ClickHouse differ from the report's"
shipped=$("${ch[@]}" --query "SELECT count() FROM telltale.flows")

# The three queries.
"${ch[@]}" --multiquery < "$here/queries.sql" > "$work/answers.tsv"
cat "$work/answers.tsv"
q1=$("${ch[@]}" --query "$(sed -n '/^-- 1\./,/^FORMAT/p' "$here/queries.sql" | grep -v '^--')")
runtime=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
echo "$q1" | grep -q "$(hostname)"$'\t'"$runtime" || fail "query 1 does not name this machine's model runtime: $q1"
echo "$q1" | grep -q "198.18.77.2" || fail "query 1 does not name the destination: $q1"
q2=$("${ch[@]}" --query "$(sed -n '/^-- 2\./,/^FORMAT/p' "$here/queries.sql" | grep -v '^--')")
echo "$q2" | grep -q "curl" || fail "query 2 does not list curl: $q2"
q3=$("${ch[@]}" --query "$(sed -n '/^-- 3\./,/^FORMAT/p' "$here/queries.sql" | grep -v '^--')")
echo "$q3" | grep -q "curl" || fail "query 3 does not list curl as new: $q3"
echo "recipe-test: ok ($shipped flows shipped once, bytes equal, three queries answered)"
