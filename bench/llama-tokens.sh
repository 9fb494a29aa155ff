#!/usr/bin/env bash
# Tokens per second of telltale-llama beside llama-cpp-python's high-level API (llama_cpp.Llama) on
# the same model, prompt, greedy sampling, seed, thread count, context and token count, in one run.
# Both figures are completion tokens over the whole call (prompt evaluation, sampling, decoding,
# detokenizing; not the model load), best of RUNS.
# Usage: bench/llama-tokens.sh [MODEL.gguf]   env: TOKENS=200 THREADS=2 RUNS=5 PROMPT="..."
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/tiny.gguf}
tokens=${TOKENS:-200}  # llama-cpp-python 0.3.36 fails a 256-token completion of this prompt on the tiny model
threads=${THREADS:-2}
runs=${RUNS:-5}
prompt=${PROMPT:-"The packet left the machine through the loopback interface and"}
[ -f "$model" ] || python3 scripts/make-tiny-model.py --output "$model" >/dev/null
swift build -c release --product telltale-llama >/dev/null
exe=$(swift build -c release --show-bin-path)/telltale-llama

ours=0
for _ in $(seq "$runs"); do
  tps=$("$exe" --model "$model" --prompt "$prompt" --max-tokens "$tokens" --threads "$threads" \
    --context-length 512 --no-hash --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["completion_tokens"] / (j["prompt_seconds"] + j["generation_seconds"]))')
  ours=$(python3 -c "print(max($ours, $tps))")
done

peer=$(python3 - "$model" "$prompt" "$tokens" "$threads" "$runs" <<'PY'
import sys, time
from llama_cpp import Llama
model, prompt, tokens, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
best = 0.0
for _ in range(runs):
    # A fresh instance per run (untimed load): reusing one fails its next decode in this version.
    llm = Llama(model, n_ctx=512, n_threads=threads, n_threads_batch=threads, seed=0, verbose=False)
    start = time.perf_counter()
    result = llm.create_completion(prompt, max_tokens=tokens, temperature=0.0)
    elapsed = time.perf_counter() - start
    best = max(best, result["usage"]["completion_tokens"] / elapsed)
print(best)
PY
)
printf 'model %s, %s tokens, %s threads, greedy, best of %s\n' "$model" "$tokens" "$threads" "$runs"
printf 'telltale-llama             %10.1f tokens/s\n' "$ours"
printf 'llama-cpp-python (Llama)   %10.1f tokens/s\n' "$peer"
python3 -c "print(f'ratio telltale-llama / llama-cpp-python: {$ours / $peer:.3f}')"
