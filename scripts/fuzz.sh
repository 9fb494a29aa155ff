#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer and AddressSanitizer.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET…]
#   SECONDS  how long each target runs (default 60; CI runs a few seconds, long runs by hand: 600 or more)
#   TARGET   packet dns clienthello quic http-host pcap gguf rules config http-request runtime-request
#            prompt-body egress-content metrics-head evidence-bundle (default: all)
#
# Builds the `fuzz` product into .build-fuzz with `-sanitize=fuzzer,address -D FUZZING`, then runs the
# targets one after the other, each starting from its seeds in Fuzz/corpus/TARGET. New inputs the
# fuzzer finds go to .build-fuzz/corpus/TARGET (kept between runs, never in the repository); a crash,
# leak, hang or runaway allocation goes to Fuzz/crashes/ (ignored by git) and its log beside it.
# Leaks inside the toolchain's own libraries are suppressed in Fuzz/lsan.supp, each with its reason.
# Prints each target's executions and whether it found anything; exits 1 when any target did.
#
# A finding is fixed in the parser, with a regression test in the parser's test target, and its
# input is copied into Fuzz/corpus/TARGET, which the normal suite replays (Tests/FuzzTests):
#   .build/debug/fuzz TARGET Fuzz/crashes/TARGET-crash-…   # replays one input without the fuzzer
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
all=(packet dns clienthello quic http-host pcap gguf rules config http-request runtime-request prompt-body egress-content
     metrics-head evidence-bundle)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for target in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $target "* ]] || { echo "fuzz: unknown target '$target' (one of: ${all[*]})" >&2; exit 64; }
done

echo "fuzz: building the fuzzer (.build-fuzz)…"
mkdir -p .build-fuzz
buildlog=.build-fuzz/build.log
# -enable-experimental-feature Extern: the harness declares libFuzzer's driver with @_extern(c).
# The linker's "Cannot export local symbol" warnings about the sanitizer's own helpers are noise.
if ! swift build -c debug --build-path .build-fuzz --product fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
    -Xswiftc -enable-experimental-feature -Xswiftc Extern \
    >"$buildlog" 2>&1; then
    grep -v "Cannot export local symbol" "$buildlog" | tail -n 30 >&2
    echo "fuzz: the build failed (full log: $buildlog)" >&2
    exit 2
fi
binary=$(swift build -c debug --build-path .build-fuzz --show-bin-path)/fuzz
mkdir -p Fuzz/crashes
# The fuzzer runs in a scratch directory: a rules input naming a list file must not reach the repository's.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

found=0
summary=()
for target in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$target
    mkdir -p "$corpus"
    log=Fuzz/crashes/$target.log
    echo "fuzz: $target for ${seconds}s…"
    status=0
    (cd "$scratch" && TELLTALE_FUZZ_TARGET=$target LSAN_OPTIONS=suppressions=$root/Fuzz/lsan.supp "$binary" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$root/Fuzz/crashes/$target-" \
        "$root/$corpus" "$root/Fuzz/corpus/$target") >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    coverage=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    if [[ $status -eq 0 ]]; then
        summary+=("$(printf '%-13s %10s runs  cov %6s  nothing found' "$target" "${runs:-?}" "${coverage:-?}")")
        rm -f "$log"
    else
        found=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        reason=$(grep -m 1 -E '^==[0-9]+==ERROR|deadly signal|Fatal error|timeout after|out-of-memory' "$log" || true)
        summary+=("$(printf '%-13s %10s runs  cov %6s  FOUND: %s (input %s, log %s)' "$target" "${runs:-?}" "${coverage:-?}" \
            "${reason:-exit $status}" "${artifact:-none}" "$log")")
    fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$found"
