#!/usr/bin/env bash
# The cost of observation: the same inference (model, prompt, seed, threads, tokens) run by
# telltale-llama alone and under `telltale infer`, in one run. Prints the runner's own tokens per
# second in both cases and the wall time of each, best of RUNS. Needs root (capture).
#
# Usage: bench/infer-overhead.sh [MODEL]     (TOKENS=450 THREADS=2 RUNS=5)
# On the tiny model a short generation lasts a few milliseconds and overlaps the observer's start-up
# (process events, the first /proc scan); 450 tokens (its context is 512) measures generation itself.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "infer-overhead: needs root (telltale infer captures)" >&2; exit 1; }
model="${1:-models/tiny.gguf}"
tokens="${TOKENS:-450}"; threads="${THREADS:-2}"; runs="${RUNS:-5}"
[ -s "$model" ] || python3 scripts/make-tiny-model.py --output "$model"
swift build -c release --product telltale >/dev/null
swift build -c release --product telltale-llama >/dev/null
bin="$(swift build -c release --show-bin-path)"
out=bench/out; mkdir -p "$out"

args=(--model "$model" --prompt "The quick brown fox" --max-tokens "$tokens" --seed 7 --threads "$threads")
best_plain=""; best_plain_tps=0; best_infer=""; best_infer_tps=0
for _ in $(seq "$runs"); do
  s=$(date +%s%N); "$bin/telltale-llama" "${args[@]}" --temperature 0 --json > "$out/plain.json"; e=$(date +%s%N)
  t=$((e - s)); [ -z "$best_plain" ] || [ "$t" -lt "$best_plain" ] && best_plain=$t
  tps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens_per_second"])' "$out/plain.json")
  best_plain_tps=$(python3 -c "print(max($best_plain_tps, $tps))")
  s=$(date +%s%N); "$bin/telltale" infer "${args[@]}" --report "$out/infer.json" > /dev/null; e=$(date +%s%N)
  t=$((e - s)); [ -z "$best_infer" ] || [ "$t" -lt "$best_infer" ] && best_infer=$t
  tps=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(dict(r["runtime"])["tokens_per_second"])' "$out/infer.json")
  best_infer_tps=$(python3 -c "print(max($best_infer_tps, $tps))")
done
python3 - "$best_plain" "$best_infer" "$best_plain_tps" "$best_infer_tps" "$tokens" "$threads" <<'PY'
import sys
plain, infer, ptps, itps = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"inference of {sys.argv[5]} tokens on {sys.argv[6]} threads, best of the runs")
print(f"telltale-llama alone:      {ptps:10.1f} tokens/s   {plain/1e9:6.3f} s wall")
print(f"under telltale infer:      {itps:10.1f} tokens/s   {infer/1e9:6.3f} s wall (capture, attribution, audit)")
print(f"generation speed under observation: {100 * itps / ptps:.1f}% of unobserved; wall-time overhead {(infer - plain)/1e9:.3f} s")
PY
