#!/usr/bin/env bash
# The oracle venv ($CKPT_CACHE/venv, default ~/.cache/ckpt/venv): the real peers our tests compare against.
# Tests need numpy, safetensors, gguf, ml-dtypes, mlx and tokenizers; torch and transformers
# only regenerate fixtures (make fixtures); --bench adds the benchmarks' peers.
set -euo pipefail
cache=${CKPT_CACHE:-$HOME/.cache/ckpt}
venv=$cache/venv
stamp=$venv/.ckpt-ready-v2
if [ ! -f "$stamp" ]; then
mkdir -p "$cache"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
echo "setting up the oracle venv in $venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check numpy safetensors gguf ml-dtypes "mlx[cpu]" tokenizers
touch "$stamp"
fi
# The benchmarks' peers (make bench): torch (CPU), ZipNN, llama.cpp's quantizer (built from
# source by pip: slow the first time).
if [ "${1:-}" = "--bench" ] && [ ! -f "$venv/.ckpt-bench-ready-v1" ]; then
  echo "installing the benchmark peers into $venv (torch, zipnn, llama-cpp-python)" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check torch zipnn llama-cpp-python
  touch "$venv/.ckpt-bench-ready-v1"
fi
