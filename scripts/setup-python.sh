#!/usr/bin/env bash
# The oracle venv ($CKPT_CACHE/venv, default ~/.cache/ckpt/venv): the real peers our tests compare against.
# torch/transformers/mlx are only needed to regenerate fixtures (make fixtures), not for tests.
set -euo pipefail
cache=${CKPT_CACHE:-$HOME/.cache/ckpt}
venv=$cache/venv
stamp=$venv/.ckpt-ready-v2
[ -f "$stamp" ] && exit 0
mkdir -p "$cache"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
echo "setting up the oracle venv in $venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check numpy safetensors gguf ml-dtypes "mlx[cpu]" tokenizers
touch "$stamp"
