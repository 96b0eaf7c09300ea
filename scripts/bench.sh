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
echo "quantizers…" >&2
qg=$work/quant-4096.gguf
"$py" Benchmarks/peers.py make-quant-gguf "$qg"
.build/release/quantize-bench "$qg" "$work" | tee -a "$results"
"$py" Benchmarks/peers.py quant "$qg" | tee -a "$results"
echo "catalog…" >&2
.build/release/catalog-bench "$big" "$work" | tee -a "$results"
"$py" -c 'import json, subprocess, sys, time
t = time.perf_counter(); subprocess.run(["sha256sum", sys.argv[1]], stdout=subprocess.DEVNULL, check=True)
print(json.dumps({"bench": "sha256sum", "seconds": time.perf_counter() - t}))' "$big" | tee -a "$results"
echo "archives…" >&2
gguf=${CKPT_MODELS:-${CKPT_CACHE:-$HOME/.cache/ckpt}/models}/smollm2-135m-instruct-q4_1.gguf
minilm=${CKPT_MODELS:-${CKPT_CACHE:-$HOME/.cache/ckpt}/models}/all-minilm-l6-v2/model.safetensors
if [ -f "$gguf" ] && [ -f "$minilm" ]; then
    for d in bf16 f32; do
        [ -f "$work/smollm2-$d.safetensors" ] || .build/release/ckpt convert "$gguf" "$work/smollm2-$d.safetensors" --dtype $d --no-catalog >&2
    done
    cp -f "$minilm" "$work/minilm-f32.safetensors"
    .build/release/archive-bench "$work/smollm2-bf16.safetensors" "$work/smollm2-f32.safetensors" "$work/minilm-f32.safetensors" "$work" | tee -a "$results"
    "$py" Benchmarks/peers.py archive "$work/smollm2-bf16.safetensors" bfloat16 | tee -a "$results"
    "$py" Benchmarks/peers.py archive "$work/smollm2-f32.safetensors" float32 | tee -a "$results"
    "$py" Benchmarks/peers.py archive "$work/minilm-f32.safetensors" float32 | tee -a "$results"
fi
echo "conversions (SmolLM2-135M and a random-init 1.1B LLaMA, HF -> MLX 4-bit and GGUF Q4_K_M)…" >&2
# LLAMA_CPP_DIR: a folder with llama.cpp's convert_hf_to_gguf.py and its gguf-py (a llama.cpp
# checkout); its F16 output is then quantized by llama-cpp-python's llama_model_quantize.
llama_cpp_args=()
[ -n "${LLAMA_CPP_DIR:-}" ] && llama_cpp_args=(--llama-cpp "$LLAMA_CPP_DIR")
[ -f "$work/smollm2-hf/config.json" ] || .build/release/ckpt convert "$gguf" "$work/smollm2-hf" --to hf --dtype f32 --no-catalog >&2
"$py" Benchmarks/convert_bench.py .build/release/ckpt "$work" --smollm2-hf "$work/smollm2-hf" ${CKPT_BENCH_SKIP_1B:+--skip-1b} "${llama_cpp_args[@]}" | tee -a "$results"
echo "compute engine…" >&2
.build/release/compute-bench | tee "$work/compute.jsonl"
"$py" Benchmarks/peers.py torch-block | tee -a "$work/compute.jsonl" || echo "torch missing: no torch comparison" >&2
echo "decoding (SmolLM2-135M-shaped random-init LLaMA: F32, BF16, MLX 4-bit)…" >&2
decode=$work/decode.jsonl
: > "$decode"
"$py" Benchmarks/peers.py make-decode-models "$work" >&2
[ -x .build/release/decode-bench ] || swift build -c release --product decode-bench >&2
# OpenBLAS 0.3.21 (Debian 12) does not recognise AVX-512 CPUs it predates (Zen 4) and runs
# its Haswell kernels there; torch's oneDNN uses AVX-512. Name the core unless one is set.
blas_core=${OPENBLAS_CORETYPE:-}
[ -z "$blas_core" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null && blas_core=SkylakeX
for d in f32 bf16 mlx4; do
    OPENBLAS_CORETYPE=$blas_core .build/release/decode-bench speed "$d" "$work/decode-135m-$d" 2 | tee -a "$decode"
    # BF16 again with bfloat16 activations in the products: torch's and MLX's arithmetic for a
    # bfloat16 model (ckpt's default keeps them float32, for verification).
    [ "$d" = bf16 ] && OPENBLAS_CORETYPE=$blas_core .build/release/decode-bench speed "$d" "$work/decode-135m-$d" 2 --bf16-products | tee -a "$decode"
    "$py" Benchmarks/peers.py mlx-decode "$work/decode-135m-$d" "$d" | tee -a "$decode" || echo "mlx missing: no MLX comparison" >&2
    [ "$d" = mlx4 ] || "$py" Benchmarks/peers.py torch-decode "$work/decode-135m-$d" "$d" | tee -a "$decode" || echo "torch missing: no torch comparison" >&2
done
.build/release/decode-bench memory mlx4 "$work/decode-135m-mlx4" | tee -a "$decode"
"$py" - "$results" "$work/compute.jsonl" "$decode" <<'PY'
import json, sys
r = {}
for line in open(sys.argv[1]):
    d = json.loads(line); r[d.pop("bench")] = d
compute = [json.loads(line) for line in open(sys.argv[2])]
print("\nsummary")
for key, what in (("seconds_per_open", "open"), ("seconds_per_open_and_list", "open + list the tensors (Python: keys())")):
    o, p = r["safetensors_open"].get(key), r["python_safe_open"].get(key)
    if o and p:
        print(f"  {what}, 1.25 GiB safetensors: ckpt {o*1e6:.1f} µs, Python safe_open {p*1e6:.1f} µs  → {p/o:.1f}× faster (target ≥ 10×)")
m = r["memcpy"]["bytes_per_second"]
print(f"  memcpy bandwidth (2 threads): {m/1e9:.2f} GB/s")
rd = r["read_all_tensors"]
print(f"  read every tensor: {rd['bytes_per_second']/1e9:.2f} GB/s = {rd['ratio_to_memcpy']:.2f}× memcpy (target ≥ 0.7×)")
def ratio(ours, peer, target):
    if ours in r and peer in r:
        o, p = r[ours]["seconds"], r[peer]["seconds"]
        print(f"  {ours}: {o*1e3:.0f} ms vs {peer}: {p*1e3:.0f} ms → {p/o:.2f}× (target ≥ {target}×)")
for t in ("Q4_0", "Q8_0"):
    ratio(f"ckpt_quantize_{t}", f"gguf_py_quantize_{t}", 10)
for d in ("F32", "BF16"):
    for b in (4, 8):
        ratio(f"ckpt_affine_{d}_{b}bit_g64", f"mx_quantize_{d}_{b}bit_g64", 2)
for t in ("Q4_K", "Q6_K"):
    ratio(f"ckpt_convert_gguf_{t}", f"llama_cpp_quantize_{t}", 1)
if "catalog_list_10k" in r:
    print(f"  catalog list of 10,000 entries: {r['catalog_list_10k']['seconds']*1e3:.0f} ms (target < 100 ms)")
if "catalog_sha256" in r and "sha256sum" in r:
    c, s = r["catalog_sha256"]["seconds"], r["sha256sum"]["seconds"]
    print(f"  sha256 of 1.25 GiB: ckpt {r['catalog_sha256']['bytes_per_second']/1e9:.2f} GB/s ({c:.2f} s), sha256sum {s:.2f} s → {s/c:.2f}×")
w = r["write_new_file"]
print(f"  writing a new file of the output's size, nothing converted: {w['seconds']:.2f} s ({w['bytes_per_second']/1e9:.2f} GB/s): the floor under any conversion")
for name in ("smollm2-bf16", "smollm2-f32", "minilm-f32"):
    o, z, s = r.get(f"ckz_{name}"), r.get(f"zipnn_{name}"), r.get(f"zstd3_{name}")
    if o and z and s:
        print(f"  archive {name}: ratio ckz {o['ratio']:.3f}, ZipNN {z['ratio']:.3f}, zstd -3 {s['ratio']:.3f}"
              f" (ckz/zstd {o['ratio']/s['ratio']:.2f}×, target ≥ 1.25×; ≥ ZipNN)")
        print(f"    compress {o['compress_bytes_per_second']/1e6:.0f} MB/s vs ZipNN {z['compress_bytes_per_second']/1e6:.0f} MB/s;"
              f" decompress {o['decompress_bytes_per_second']/1e6:.0f} MB/s vs ZipNN {z['decompress_bytes_per_second']/1e6:.0f} MB/s")
for k in ("convert_f32_to_bf16", "convert_f32_to_f16"):
    c = r[k]
    print(f"  {k}: {c['seconds']:.2f} s, input {c['input_bytes_per_second']/1e9:.2f} GB/s = {c['input_bytes_per_second']/m:.2f}× memcpy; traffic-normalised {c['ratio_to_memcpy']:.2f}× (target ≥ 0.7×); {c['seconds']/w['seconds']:.1f}× the write floor")
for name in ("smollm2-135m", "llama-1.1b"):
    c, m = r.get(f"convert_{name}_ckpt_mlx4"), r.get(f"convert_{name}_mlx_lm_mlx4")
    if c and m:
        print(f"  HF -> MLX 4-bit, {name} ({c['weights_bytes']/2**30:.2f} GiB of weights): ckpt {c['seconds']:.1f} s, "
              f"{c['peak_rss']/2**20:.0f} MiB peak; mlx_lm.convert {m['seconds']:.1f} s, {m['peak_rss']/2**20:.0f} MiB"
              f" → time {c['seconds']/m['seconds']:.2f}× (target ≤ 0.5×), memory {c['peak_rss']/m['peak_rss']:.2f}× (target ≤ 0.25×);"
              f" largest tensor {c['largest_tensor_bytes']/2**20:.0f} MiB")
    g, l = r.get(f"convert_{name}_ckpt_gguf_q4km"), r.get(f"convert_{name}_llama_cpp_q4km")
    if g:
        line = f"  HF -> GGUF Q4_K_M, {name}: ckpt {g['seconds']:.1f} s, {g['peak_rss']/2**20:.0f} MiB peak"
        if l:
            line += f"; llama.cpp convert + quantize {l['seconds']:.1f} s → {g['seconds']/l['seconds']:.2f}× (target ≤ 1×)"
        else:
            line += " (set LLAMA_CPP_DIR to a llama.cpp checkout to time its converter)"
        print(line)
def each(name):
    return [c for c in compute if c["bench"] == name]
g = each("gemm")
if g:
    print("  engine F32 GEMM vs cblas_sgemm: " + ", ".join(f"{c['n']}: {c['ratio']:.2f}×" for c in g) + " (target ≥ 0.95×)")
for c in each("fusion"):
    print(f"  fused RMSNorm/SiLU-gate {c['shape']}: {c['fused_kernels']} kernels vs {c['unfused_kernels']}, {c['fused_s']*1e3:.1f} ms vs {c['unfused_s']*1e3:.1f} ms → {c['speedup']:.2f}× (target ≥ 3×)")
for c in each("q4_matvec"):
    print(f"  4-bit matvec {c['rows']}x{c['cols']}: {c['packed_gb_s']:.2f} GB/s packed, memcpy {c['memcpy_read_gb_s']:.2f} GB/s → {c['ratio']:.2f}× (target ≥ 0.6×)")
b, t = each("llama_block"), each("torch_llama_block")
if b and t:
    b, t = b[0], t[0]
    same = abs(b["checksum"] - t["checksum"]) <= 1e-3 * max(1.0, abs(t["checksum"]))
    print(f"  LLaMA block (hidden 576, 128 tokens, 2 threads): ckpt {b['seconds']*1e3:.1f} ms, torch {t['torch']} {t['seconds']*1e3:.1f} ms → {t['seconds']/b['seconds']:.2f}× torch (target ≥ 1×); checksums {b['checksum']:.4f} / {t['checksum']:.4f}" + ("" if same else " DIFFER"))
dec = {}
for line in open(sys.argv[3]):
    d = json.loads(line); dec[d.pop("bench")] = d
for d, variant in (("f32", ""), ("bf16", ""), ("bf16", "_bf16products"), ("mlx4", "")):
    o = dec.get(f"ckpt_decode_{d}{variant}")
    if not o:
        continue
    for phase in ("prefill", "decode"):
        key = f"{phase}_tokens_per_second"
        what = f"prefill {128} tokens" if phase == "prefill" else "decode 32 tokens"
        parts = [f"ckpt {o[key]:.1f} tok/s"]
        for peer, label in (("torch", "torch CPU 2 threads"), ("mlx", "MLX CPU")):
            p = dec.get(f"{peer}_decode_{d}")
            if p:
                parts.append(f"{label} {p[key]:.1f} tok/s → {o[key]/p[key]:.2f}× (target ≥ 1×)")
        label = d + (" (bf16 activations, as torch)" if variant else "")
        print(f"  {label} {what}: " + "; ".join(parts))
mem = dec.get("ckpt_forward_memory_mlx4")
if mem:
    print(f"  4-bit forward of 128 tokens: peak RSS growth {mem['peak_rss_growth']/2**20:.0f} MiB vs packed weights "
          f"{mem['packed_weight_bytes']/2**20:.0f} MiB + activations {mem['activation_peak_bytes']/2**20:.0f} MiB → {mem['ratio']:.2f}× (target ≤ 1.3×)")
PY
