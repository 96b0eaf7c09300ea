#!/usr/bin/env bash
# The oracle venv (git-ignored, in cache/venv): the real peers our tests compare against.
# torch/transformers/mlx are only needed to regenerate fixtures (make fixtures), not for tests.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=cache/venv
stamp=$venv/.ckpt-ready-v1
[ -f "$stamp" ] && exit 0
mkdir -p cache
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check numpy safetensors gguf ml-dtypes
touch "$stamp"
