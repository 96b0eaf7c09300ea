#!/usr/bin/env bash
# The oracle venv ($CKPT_CACHE/venv, default ~/.cache/ckpt/venv): the real peers our tests compare against.
# Tests need numpy, safetensors, gguf, ml-dtypes, mlx, tokenizers, mlx-lm (which brings
# transformers, without torch) and llama-cpp-python (built from source by pip the first time:
# about 6 minutes on 2 cores); torch only regenerates fixtures (make fixtures); --bench adds
# the benchmarks' peers. mlx-lm and llama-cpp-python are pinned: tests compare with their
# output byte for byte or within measured tolerances.
set -euo pipefail
cache=${CKPT_CACHE:-$HOME/.cache/ckpt}
venv=$cache/venv
stamp=$venv/.ckpt-ready-v3
if [ ! -f "$stamp" ]; then
mkdir -p "$cache"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
echo "setting up the oracle venv in $venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check numpy safetensors gguf ml-dtypes "mlx[cpu]" tokenizers \
  "mlx-lm==0.32.2" "llama-cpp-python==0.3.36"
touch "$stamp"
fi
# The benchmarks' peers (make bench): torch (CPU) and ZipNN.
if [ "${1:-}" = "--bench" ] && [ ! -f "$venv/.ckpt-bench-ready-v1" ]; then
  echo "installing the benchmark peers into $venv (torch, zipnn)" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check torch zipnn
  touch "$venv/.ckpt-bench-ready-v1"
fi
