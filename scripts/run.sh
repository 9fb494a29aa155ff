#!/usr/bin/env bash
# Sets up everything that is missing, builds Telltale, and runs the main job: a local AI stack under
# observation — the bundled tiny model served by telltale-llama on loopback, and telltale-chat, a small
# chatbot client, asking it a question — recorded in a local SQLite file, then the report.
#   scripts/run.sh                         the main job
#   scripts/run.sh ARGS…                   `telltale ARGS…` instead (e.g. scripts/run.sh capture --duration 10)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "run: building (release)…"
swift build -c release --product telltale 2>&1 | tail -n 1
swift build -c release --product telltale-llama 2>&1 | tail -n 1
swift build -c release --product telltale-chat 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"

if [ "$#" -gt 0 ]; then
  exec "$bin/telltale" "$@"
fi

model=models/tiny.gguf
# Written again when the generator changed since.
[ -s "$model" ] && [ "$model" -nt scripts/make-tiny-model.py ] || python3 scripts/make-tiny-model.py --output "$model"
mkdir -p var
echo "run: a chatbot client asks the bundled model, served on loopback, under observation (telltale infer --chat)…"
status=0
"$bin/telltale" infer --chat --model "$model" --prompt "What stays on this machine?" --max-tokens 32 \
  --db var/telltale.db --report var/audit || status=$?
echo
echo "run: what the database holds for this machine (telltale report --db var/telltale.db):"
"$bin/telltale" report --db var/telltale.db --by flow --since 1h || true
echo
echo "run: the audit is in var/audit.md and var/audit.json; exit status $status (0 clean, 3 violation)"
exit "$status"
