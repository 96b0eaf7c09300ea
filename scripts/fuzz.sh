#!/usr/bin/env bash
# make fuzz: builds each reader's libFuzzer target with coverage and AddressSanitizer and runs
# it for FUZZ_SECONDS (default 60) from the committed fixtures as seed corpus. A crash leaves
# its input in fuzz/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"safetensors npy npz gguf pytorch detect"}
export CKPT_FUZZ=1
mkdir -p fuzz
for t in $targets; do
  swift build --scratch-path .build-fuzz -c debug --product "fuzz-$t" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
  corpus=fuzz/corpus-$t; mkdir -p "$corpus"
  case $t in
    safetensors) seeds="Tests/fixtures/safetensors" ;;
    npy|npz) seeds="Tests/fixtures/numpy" ;;
    gguf) seeds="Tests/fixtures/gguf" ;;
    pytorch) seeds="Tests/fixtures/torch" ;;
    detect) seeds="Tests/fixtures" ;;
  esac
  find $seeds -type f -size -512k \( ! -name '*.py' \) -exec cp -n {} "$corpus/" \; 2>/dev/null || true
  echo "== fuzz-$t for ${secs}s (corpus $corpus: $(ls "$corpus" | wc -l) seeds)"
  .build-fuzz/debug/fuzz-$t "$corpus" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 \
    -timeout=10 -artifact_prefix=fuzz/crash-$t- -print_final_stats=1 2>&1 | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|ERROR|SUMMARY" | tail -4
done
