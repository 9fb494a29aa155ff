#!/usr/bin/env bash
# Ships this machine's finished flows into ClickHouse as they finish, each once, resuming after a
# restart from the last flow ClickHouse accepted.
#
#   scripts/clickhouse/ship.sh [--db /var/lib/telltale/telltale.db] [--state FILE] [--batch-seconds 5]
#                              [-- clickhouse-client options such as --host 192.0.2.20]
#
# `telltale report --follow` prints flows as they finish; every few seconds (or 5,000 lines) the
# lines waiting go to `clickhouse-client ... INSERT ... FORMAT JSONEachRow` in one insert, and only
# after ClickHouse accepted them is the last "seq" saved in the state file. A crash between the
# insert and the save sends that batch again on restart: the table's ReplacingMergeTree (host, uid)
# folds such repeats.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=/var/lib/telltale/telltale.db
state=/var/lib/telltale-ship/last-seq
batch_seconds=5
telltale=${TELLTALE:-telltale}
while [ $# -gt 0 ]; do
  case "$1" in
    --db) db=$2; shift 2 ;;
    --state) state=$2; shift 2 ;;
    --batch-seconds) batch_seconds=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "ship: unknown option $1" >&2; exit 2 ;;
  esac
done
client=(clickhouse-client "$@")
mkdir -p "$(dirname "$state")"
host=$(hostname)
resume=()
if [ -s "$state" ]; then resume=(--after-seq "$(cat "$state")"); fi

batch=$(mktemp)
trap 'rm -f "$batch"' EXIT
flush() {
  [ -s "$batch" ] || return 0
  local last
  last=$(tail -n 1 "$batch" | jq -r .seq)
  jq -c --arg host "$host" -f "$here/flatten.jq" < "$batch" \
    | "${client[@]}" --query "INSERT INTO telltale.flows FORMAT JSONEachRow"
  echo "$last" > "$state.tmp" && mv "$state.tmp" "$state"
  : > "$batch"
}

lines=0
deadline=$((SECONDS + batch_seconds))
exec 3< <(exec "$telltale" report --db "$db" --by flow --follow --format ndjson "${resume[@]}")
report=$!
# SIGTERM/SIGINT end the report; what it printed is still inserted before the script exits.
trap 'kill -TERM "$report" 2>/dev/null || true' TERM INT
while true; do
  if IFS= read -r -t 1 line <&3; then
    printf '%s\n' "$line" >> "$batch"
    lines=$((lines + 1))
  elif [ $? -le 128 ]; then
    break   # the report ended: stopped, or it failed (its message is on standard error)
  fi
  if [ "$lines" -ge 5000 ] || [ "$SECONDS" -ge "$deadline" ]; then
    flush
    lines=0
    deadline=$((SECONDS + batch_seconds))
  fi
done
flush
wait "$report" 2>/dev/null || true
