#!/usr/bin/env bash
# make bench: every figure as a ratio against a peer (or the machine) measured in this run.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${CKPT_PYTHON:-${CKPT_CACHE:-$HOME/.cache/ckpt}/venv/bin/python}
work=${CKPT_CACHE:-$HOME/.cache/ckpt}/bench
mkdir -p "$work"
big=$work/big-f32.safetensors
echo "preparing $big (~1.25 GiB F32)…" >&2
"$py" Benchmarks/peers.py make-big "$big"
results=$work/results.jsonl
: > "$results"
.build/release/ckpt-bench "$big" "$work" | tee -a "$results"
"$py" Benchmarks/peers.py open "$big" | tee -a "$results"
"$py" - "$results" <<'PY'
import json, sys
r = {}
for line in open(sys.argv[1]):
    d = json.loads(line); r[d.pop("bench")] = d
print("\nsummary")
o, p = r["safetensors_open"]["seconds_per_open"], r["python_safe_open"]["seconds_per_open"]
print(f"  open 1.25 GiB safetensors: ckpt {o*1e6:.1f} µs, Python safe_open {p*1e6:.1f} µs  → {p/o:.1f}× faster (target ≥ 10×)")
m = r["memcpy"]["bytes_per_second"]
print(f"  memcpy bandwidth (2 threads): {m/1e9:.2f} GB/s")
rd = r["read_all_tensors"]
print(f"  read every tensor: {rd['bytes_per_second']/1e9:.2f} GB/s = {rd['ratio_to_memcpy']:.2f}× memcpy (target ≥ 0.7×)")
w = r["write_new_file"]
print(f"  writing a new file of the output's size, nothing converted: {w['seconds']:.2f} s ({w['bytes_per_second']/1e9:.2f} GB/s): the floor under any conversion")
for k in ("convert_f32_to_bf16", "convert_f32_to_f16"):
    c = r[k]
    print(f"  {k}: {c['seconds']:.2f} s, input {c['input_bytes_per_second']/1e9:.2f} GB/s = {c['input_bytes_per_second']/m:.2f}× memcpy; traffic-normalised {c['ratio_to_memcpy']:.2f}× (target ≥ 0.7×); {c['seconds']/w['seconds']:.1f}× the write floor")
PY
