#!/usr/bin/env bash
# The main job, end to end, on real models (fetched by scripts/fetch-models.sh into $CKPT_CACHE/models):
# SmolLM2-135M GGUF Q4_1 → HF (F32) → MLX 4-bit and GGUF Q4_K_M, each verified against its source
# on ckpt's own engine, loaded by the real runtimes when they are installed, and catalogued.
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

stepn 30 "$ckpt" inspect "$smol"
# GGUF → Hugging Face: names back, Q/K un-permuted, config.json and tokenizer.json rebuilt.
step "$ckpt" convert "$smol" "$out/smollm2-hf" --to hf --dtype f32
step "$ckpt" lint "$out/smollm2-hf"
step "$ckpt" verify "$smol" "$out/smollm2-hf"
# HF → MLX 4-bit (what mlx_lm.convert writes) and HF → GGUF Q4_K_M (what llama.cpp loads);
# each is verified against its source as part of the conversion.
step "$ckpt" convert "$out/smollm2-hf" "$out/smollm2-mlx-4bit" --to mlx --bits 4
step "$ckpt" convert "$out/smollm2-hf" "$out/smollm2-q4_k_m.gguf" --gguf-type Q4_K_M
step "$ckpt" verify "$out/smollm2-hf" "$out/smollm2-q4_k_m.gguf"
step "$ckpt" verify --tokenizer "$out/smollm2-hf" "$out/smollm2-q4_k_m.gguf"
step "$ckpt" tokenize "$out/smollm2-q4_k_m.gguf" --text "Hello from ckpt!"
# An encoder too: all-MiniLM-L6-v2 to F16 GGUF and back.
step "$ckpt" convert "$minilm" "$out/minilm-f16.gguf" --dtype f16
step "$ckpt" pack "$out/smollm2-hf" "$out/smollm2-hf.ckz"
step "$ckpt" unpack "$out/smollm2-hf.ckz" "$out/smollm2-hf-restored"
step "$ckpt" list
step "$ckpt" lineage 1

if [ -x "${CKPT_PYTHON:-}" ]; then
  printf '\n\033[1mthe real runtimes load what ckpt wrote\033[0m\n'
  "$CKPT_PYTHON" - "$out" <<'PY'
import sys, os
out = sys.argv[1]
try:
    import mlx.core as mx
    mx.set_default_device(mx.cpu)
    from mlx_lm import load, generate
    model, tok = load(os.path.join(out, "smollm2-mlx-4bit"))
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tok.apply_chat_template(msgs, add_generation_prompt=True)
    print("mlx-lm, smollm2-mlx-4bit:", repr(generate(model, tok, prompt=prompt, max_tokens=16, verbose=False)))
except ImportError as e:
    print("mlx-lm not installed:", e)
try:
    from llama_cpp import Llama
    llm = Llama(os.path.join(out, "smollm2-q4_k_m.gguf"), n_ctx=256, verbose=False)
    r = llm.create_chat_completion([{"role": "user", "content": "What is the capital of France?"}], max_tokens=16, temperature=0)
    print("llama.cpp, smollm2-q4_k_m.gguf:", repr(r["choices"][0]["message"]["content"]))
except ImportError as e:
    print("llama-cpp-python not installed:", e)
PY
fi
printf '\noutputs in %s:\n' "$out"; ls -la "$out"
