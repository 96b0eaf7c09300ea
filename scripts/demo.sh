#!/usr/bin/env bash
# The main job, end to end, on real models (fetched by scripts/fetch-models.sh into $CKPT_CACHE/models).
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-.build/release/ckpt}
models=${CKPT_CACHE:-$HOME/.cache/ckpt}/models
out=${CKPT_CACHE:-$HOME/.cache/ckpt}/demo
rm -rf "$out"; mkdir -p "$out"
smol=$models/smollm2-135m-instruct-q4_1.gguf
minilm=$models/all-minilm-l6-v2

export CKPT_CATALOG=$out/catalog.sqlite
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# Runs a step and shows the first N lines of its output.
stepn() { local n=$1; shift; printf '\n\033[1m$ %s | head -n %s\033[0m\n' "$*" "$n"; "$@" > "$out/.step"; head -n "$n" "$out/.step"; echo "  …"; }

stepn 45 "$ckpt" inspect "$smol"
step "$ckpt" convert "$smol" "$out/smollm2-135m.safetensors" --dtype bf16
stepn 8 "$ckpt" inspect "$out/smollm2-135m.safetensors"
step "$ckpt" convert "$smol" "$out/smollm2-135m-q4_k_m.gguf" --gguf-type Q4_K_M
step "$ckpt" convert "$smol" "$out/smollm2-135m-mlx-q4.safetensors" --bits 4 --group-size 32
step "$ckpt" convert "$minilm" "$out/minilm-f16.gguf" --dtype f16
stepn 8 "$ckpt" inspect "$out/minilm-f16.gguf"
step "$ckpt" convert "$out/minilm-f16.gguf" "$out/minilm.npz" --dtype f32
step "$ckpt" tokenize "$smol" --text "Hello from ckpt!"
step "$ckpt" list
step "$ckpt" lineage 1

if [ -x "${CKPT_PYTHON:-}" ]; then
  printf '\n\033[1mcross-check with the reference libraries\033[0m\n'
  "$CKPT_PYTHON" - "$smol" "$out/smollm2-135m.safetensors" "$out/minilm.npz" "$minilm/model.safetensors" <<'PY'
import sys, json, struct
import numpy as np, gguf, ml_dtypes
from safetensors import safe_open
from safetensors.numpy import load_file
from gguf.quants import dequantize
src, st, npz, minilm = sys.argv[1:]
r = gguf.GGUFReader(src)
with safe_open(st, "np") as f:
    names = list(f.keys())
print(f"our safetensors opened by the safetensors library: {len(names)} tensors")
# numpy has no bfloat16: read our BF16 bytes through ml_dtypes.
hdr_len = struct.unpack("<Q", open(st, "rb").read(8))[0]
hdr = json.loads(open(st, "rb").read(8 + hdr_len)[8:])
mm = np.memmap(st, dtype=np.uint8, mode="r")
worst = 0.0
for t in r.tensors[:40]:
    ref = dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])
    e = hdr[t.name]; b, en = e["data_offsets"]
    ours = np.frombuffer(mm[8 + hdr_len + b: 8 + hdr_len + en], dtype=ml_dtypes.bfloat16).astype(np.float32).reshape(e["shape"])
    worst = max(worst, float(np.max(np.abs(ref.astype(ml_dtypes.bfloat16).astype(np.float32) - ours))))
print(f"SmolLM2 GGUF → BF16 safetensors vs gguf-py dequantize (first 40 tensors): max |diff| = {worst}")
z = np.load(npz); m = load_file(minilm)
d = max(float(np.max(np.abs(z[k] - m[k].astype(np.float16).astype(np.float32)))) for k in m)
print(f"MiniLM safetensors → F16 GGUF → F32 npz vs numpy: {len(z.files)} arrays, max |diff| = {d}")
PY
fi
printf '\noutputs in %s:\n' "$out"; ls -la "$out"
