#!/usr/bin/env bash
# make fuzz: one libFuzzer target per reader (Fuzz/<Reader>/), built with coverage and
# AddressSanitizer, each run for FUZZ_SECONDS (default 60) from the committed fixtures as seed
# corpus. A crash leaves its input as fuzz/crash-<target>-* and fails the run.
#
# SwiftPM cannot link an executable whose main comes from libFuzzer, so the format layer is
# built by SwiftPM with the sanitizers (its own scratch folder) and each target is linked here.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"safetensors npy npz gguf pytorch detect"}
scratch=.build-fuzz
swift build --scratch-path "$scratch" -c debug --target Formats -Xswiftc -sanitize=fuzzer,address \
  2>&1 | grep -E "error|Build" | tail -2
objs=()
for m in Formats CKernels OrderedCollections InternalCollectionsUtilities; do objs+=("$scratch"/debug/$m.build/*.o); done
mkdir -p fuzz "$scratch/bin"
status=0
for t in $targets; do
  case $t in
    safetensors) dir=Safetensors seeds="Tests/fixtures/safetensors" ;;
    npy) dir=NPY seeds="Tests/fixtures/numpy" ;;
    npz) dir=NPZ seeds="Tests/fixtures/numpy" ;;
    gguf) dir=GGUF seeds="Tests/fixtures/gguf" ;;
    pytorch) dir=PyTorch seeds="Tests/fixtures/torch" ;;
    detect) dir=Detect seeds="Tests/fixtures" ;;
    *) echo "error: unknown fuzz target $t" >&2; exit 2 ;;
  esac
  bin=$scratch/bin/fuzz-$t
  swiftc -sanitize=fuzzer,address -parse-as-library -g -I "$scratch/debug/Modules" -I Sources/CZlib \
    -Xcc -fmodule-map-file="$scratch/debug/CKernels.build/module.modulemap" -I Sources/CKernels/include \
    Fuzz/$dir/*.swift Fuzz/Shared/*.swift "${objs[@]}" -lz -o "$bin" 2>&1 | { grep -vE "warning|^\s*$" || true; }
  corpus=fuzz/corpus-$t; mkdir -p "$corpus"
  find $seeds -type f -size -256k ! -name '*.py' ! -name '*.json' -exec cp -n {} "$corpus/" \; 2>/dev/null || true
  echo "== fuzz-$t for ${secs}s ($(ls "$corpus" | wc -l) inputs in $corpus)"
  if ! "$bin" "$corpus" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
      -artifact_prefix="fuzz/crash-$t-" -print_final_stats=1 > "fuzz/log-$t.txt" 2>&1; then
    echo "   CRASH: see fuzz/log-$t.txt and fuzz/crash-$t-*"; status=1
  fi
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "fuzz/log-$t.txt" | sed 's/^/   /'
done
exit $status
