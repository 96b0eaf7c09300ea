"""The peers' side of `make bench`: builds the benchmark inputs and times the Python
libraries on them. Prints one JSON object per line, like ckpt-bench."""
import json, os, sys, time

def best(repeats, fn):
    b = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); fn(); b = min(b, time.perf_counter() - t)
    return b

def make_big(path, gib=1.25):
    """A ~1.25 GiB F32 safetensors file shaped like a small LLM (many 2-D tensors)."""
    import numpy as np
    from safetensors.numpy import save_file
    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    tensors, total, i = {}, 0, 0
    while total < gib * (1 << 30):
        shape = (2048, 2048) if i % 4 else (8192, 2048)
        tensors[f"model.layers.{i}.weight"] = rng.standard_normal(shape, dtype=np.float32)
        total += tensors[f"model.layers.{i}.weight"].nbytes
        i += 1
    save_file(tensors, path + ".part", metadata={"format": "pt"})
    os.replace(path + ".part", path)

def open_time(path, keys, n=1000):
    """safe_open alone (the header parsed and validated), or with keys() (a list of names)."""
    from safetensors import safe_open
    def run():
        for _ in range(n):
            with safe_open(path, "np") as f:
                if keys:
                    f.keys()
    return best(3, run) / n

def weights():
    import numpy as np
    return np.random.default_rng(1).standard_normal((4096, 4096), dtype=np.float32)

def quant_peers(gguf_path):
    """gguf-py's quantize, mx.quantize and llama.cpp's quantizer on 4096×4096 float32."""
    import numpy as np
    w = weights()
    try:
        import gguf
        from gguf.quants import quantize
        for t in ("Q4_0", "Q8_0"):
            s = best(2, lambda: quantize(w, gguf.GGMLQuantizationType[t]))
            print(json.dumps({"bench": f"gguf_py_quantize_{t}", "seconds": s}))
    except ImportError:
        pass
    try:
        import mlx.core as mx
        for dt, name in ((mx.float32, "F32"), (mx.bfloat16, "BF16")):
            a = mx.array(w).astype(dt); mx.eval(a)
            for bits in (4, 8):
                def q():
                    mx.eval(*mx.quantize(a, group_size=64, bits=bits))
                print(json.dumps({"bench": f"mx_quantize_{name}_{bits}bit_g64", "seconds": best(3, q)}))
    except ImportError:
        pass
    try:
        import llama_cpp, ctypes, tempfile
        for t, ftype in (("Q4_K", 15), ("Q6_K", 18)):
            out = os.path.join(tempfile.gettempdir(), f"llama-quant-bench-{t}.gguf")
            params = llama_cpp.llama_model_quantize_default_params()
            params.nthread = 2
            params.ftype = ftype
            params.pure = True
            def q():
                rc = llama_cpp.llama_model_quantize(gguf_path.encode(), out.encode(), ctypes.byref(params))
                assert rc == 0, rc
            print(json.dumps({"bench": f"llama_cpp_quantize_{t}", "seconds": best(2, q)}))
            os.remove(out)
    except ImportError:
        pass

def make_quant_gguf(path):
    """One 4096×4096 F32 tensor with llama names, for llama-quantize and ckpt alike."""
    if os.path.exists(path):
        return
    import gguf
    w = gguf.GGUFWriter(path + ".part", "llama")
    w.add_block_count(1); w.add_context_length(2048); w.add_embedding_length(4096)
    w.add_feed_forward_length(4096); w.add_head_count(32); w.add_head_count_kv(32)
    w.add_layer_norm_rms_eps(1e-5); w.add_file_type(0)
    w.add_tensor("blk.0.ffn_up.weight", weights())
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    os.replace(path + ".part", path)

def lcg(n, seed):
    """compute-bench's `random(n, seed:)`: the same LCG, the same float32 values."""
    import numpy as np
    out, s, m = np.empty(n, dtype=np.float32), seed, (1 << 64) - 1
    for i in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & m
        out[i] = (s >> 40) % 2001 - 1000
    return out / np.float32(1000)

def torch_block(threads=2, repeats=10):
    """compute-bench's `block`: a LLaMA block with SmolLM2-135M sizes (hidden 576, 9 query
    heads, 3 kv heads, head dim 64, ffn 1536), 128 tokens, torch float32 on `threads` threads,
    the same weights and input, timed the same way (best of `repeats` after a warm-up).
    Pre-norm RMSNorm (eps 1e-5, unit weight), q/k/v projections, RoPE (half-split pairing,
    base 10000), causal grouped-query attention (scale 1/√64), output projection and
    residual, RMSNorm, SwiGLU MLP (silu(m W1ᵀ) · m W3ᵀ) W2ᵀ and residual. The checksum (sum
    of the output) is printed beside compute-bench's to show both compute the same thing."""
    import numpy as np, torch, torch.nn.functional as F
    torch.set_num_threads(threads)
    hidden, heads, kv, ffn, t = 576, 9, 3, 1536, 128
    hd, half = hidden // heads, hidden // heads // 2
    def w(r, c, seed):
        return torch.from_numpy((lcg(r * c, seed) * np.float32(0.04)).reshape(r, c))
    wq, wk, wv = w(hidden, hidden, 1), w(kv * hd, hidden, 2), w(kv * hd, hidden, 3)
    wo, w1, w3, w2 = w(hidden, hidden, 4), w(ffn, hidden, 5), w(ffn, hidden, 6), w(hidden, ffn, 7)
    n1 = torch.ones(hidden)
    x = torch.from_numpy(lcg(t * hidden, 8).reshape(t, hidden))
    # Angles in float64 as the engine's table: position · base^(-2i/dims).
    theta = np.arange(t, dtype=np.float64)[:, None] * 10000.0 ** (-2 * np.arange(half) / hd)
    cos = torch.from_numpy(np.cos(theta).astype(np.float32))
    sin = torch.from_numpy(np.sin(theta).astype(np.float32))
    def rms(v):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-5) * n1
    def rope(v):
        a, b = v[..., :half], v[..., half:]
        return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
    def block():
        h = rms(x)
        q = rope(F.linear(h, wq).view(1, t, heads, hd).transpose(1, 2))
        k = rope(F.linear(h, wk).view(1, t, kv, hd).transpose(1, 2))
        v = F.linear(h, wv).view(1, t, kv, hd).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x2 = x + F.linear(a.transpose(1, 2).reshape(t, hidden), wo)
        m = rms(x2)
        return x2 + F.linear(F.silu(F.linear(m, w1)) * F.linear(m, w3), w2)
    with torch.inference_mode():
        y = block()
        seconds = best(repeats, block)
    print(json.dumps({"bench": "torch_llama_block", "hidden": hidden, "tokens": t,
                      "threads": threads, "seconds": seconds, "torch": torch.__version__,
                      "checksum": float(y.double().sum())}))
def archive_peers(path, dtype):
    """ZipNN (PyPI `zipnn`, 2 threads, the file's float dtype, as its zipnn_compress_file
    does) and plain `zstd -3` (the CLI, 2 threads) on the same file: ratio and speeds."""
    import subprocess, tempfile
    name = os.path.splitext(os.path.basename(path))[0]
    data = open(path, "rb").read()
    n = len(data)
    try:
        from zipnn import ZipNN
        z = ZipNN(input_format="byte", bytearray_dtype=dtype, threads=2)
        out = {}
        def c(): out["c"] = z.compress(data)
        tc = best(3, c)
        def d(): out["d"] = z.decompress(out["c"])
        td = best(3, d)
        # zipnn 0.5 does not always restore whole-file bytes exactly: reported, not hidden.
        print(json.dumps({"bench": f"zipnn_{name}", "identical": int(bytes(out["d"]) == data),
                          "ratio": n / len(out["c"]), "compress_seconds": tc,
                          "decompress_seconds": td, "compress_bytes_per_second": n / tc,
                          "decompress_bytes_per_second": n / td}))
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        zst = os.path.join(tmp, "x.zst")
        tc = best(3, lambda: subprocess.run(["zstd", "-3", "-T2", "-q", "-f", path, "-o", zst], check=True))
        td = best(3, lambda: subprocess.run(["zstd", "-d", "-q", "-f", zst, "-o", os.path.join(tmp, "x")], check=True))
        print(json.dumps({"bench": f"zstd3_{name}", "ratio": n / os.path.getsize(zst), "compress_seconds": tc,
                          "decompress_seconds": td, "compress_bytes_per_second": n / tc,
                          "decompress_bytes_per_second": n / td}))

DECODE_PROMPT, DECODE_STEPS = 128, 32

def decode_prompt(vocab, n=DECODE_PROMPT):
    """The prompt ids decode-bench uses too: (7919·i + 13) mod vocab."""
    return [(7919 * i + 13) % vocab for i in range(n)]

def make_decode_models(work):
    """SmolLM2-135M-shaped random-init LLaMA (convert_bench.make_llama, BF16), the same
    weights widened to F32, and mlx_lm.convert's 4-bit (group 64) of the BF16 directory."""
    import shutil, subprocess, numpy as np
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from convert_bench import make_llama, write_safetensors
    from safetensors.numpy import load_file
    bf16 = os.path.join(work, "decode-135m-bf16")
    make_llama(bf16, "llama-135m", os.path.join(work, "smollm2-hf"))  # made by bench.sh before this
    f32 = os.path.join(work, "decode-135m-f32")
    if not os.path.exists(os.path.join(f32, "config.json")):
        os.makedirs(f32, exist_ok=True)
        for f in os.listdir(bf16):
            src = os.path.join(bf16, f)
            if f.endswith(".safetensors"):
                # safetensors.numpy has no bfloat16: read the raw bytes and widen the halves.
                with open(src, "rb") as fh:
                    n = int.from_bytes(fh.read(8), "little"); header = json.loads(fh.read(n)); data = fh.read()
                tensors = []
                for name, info in header.items():
                    if name == "__metadata__":
                        continue
                    a, b = info["data_offsets"]
                    x = (np.frombuffer(data[a:b], np.uint16).astype(np.uint32) << 16).view(np.float32)
                    tensors.append((name, "F32", info["shape"], x.tobytes()))
                write_safetensors(os.path.join(f32, f), tensors)
            elif f == "config.json":
                c = json.load(open(src)); c["torch_dtype"] = "float32"
                json.dump(c, open(os.path.join(f32, f), "w"), indent=2)
            elif f == "model.safetensors.index.json":
                c = json.load(open(src)); c["metadata"]["total_size"] *= 2
                json.dump(c, open(os.path.join(f32, f), "w"), indent=2)
            else:
                shutil.copy(src, f32)
    mlx4 = os.path.join(work, "decode-135m-mlx4")
    if not os.path.exists(os.path.join(mlx4, "config.json")):
        shutil.rmtree(mlx4, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "mlx_lm", "convert", "--hf-path", bf16, "--mlx-path", mlx4,
                        "-q", "--q-bits", "4", "--q-group-size", "64"], check=True, stdout=subprocess.DEVNULL)
    print(json.dumps({"bench": "decode_models", "bf16": bf16, "f32": f32, "mlx4": mlx4}))

def timed_decode(prefill, step, repeats=2):
    """(prefill tokens/s, decode tokens/s): best of `repeats` after a warm-up; a run is a
    prefill of DECODE_PROMPT tokens then DECODE_STEPS greedy one-token steps."""
    bp = bd = float("inf")
    for _ in range(repeats + 1):
        t = time.perf_counter(); state, nxt = prefill(); tp = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(DECODE_STEPS):
            state, nxt = step(state, nxt)
        td = time.perf_counter() - t
        bp, bd = min(bp, tp), min(bd, td)
    return DECODE_PROMPT / bp, DECODE_STEPS / bd

def torch_decode(path, name, threads=2):
    """transformers LlamaForCausalLM on torch CPU (`threads` threads), its own KV cache."""
    import torch
    from transformers import LlamaForCausalLM
    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if name.endswith("bf16") else torch.float32
    model = LlamaForCausalLM.from_pretrained(path, torch_dtype=dtype).eval()
    ids = torch.tensor([decode_prompt(model.config.vocab_size)])
    def prefill():
        out = model(ids, use_cache=True)
        return out.past_key_values, out.logits[0, -1].argmax().view(1, 1)
    def step(past, nxt):
        out = model(nxt, past_key_values=past, use_cache=True)
        return out.past_key_values, out.logits[0, -1].argmax().view(1, 1)
    with torch.inference_mode():
        p, d = timed_decode(prefill, step)
    print(json.dumps({"bench": f"torch_decode_{name}", "threads": threads, "prefill_tokens_per_second": p,
                      "decode_tokens_per_second": d, "torch": torch.__version__}))

def mlx_decode(path, name):
    """mlx_lm's model on MLX's CPU device (mx.set_default_device(mx.cpu)), its KV cache."""
    import mlx.core as mx
    from mlx_lm import load
    from mlx_lm.models.cache import make_prompt_cache
    mx.set_default_device(mx.cpu)
    model, _ = load(path)
    ids = mx.array([decode_prompt(model.args.vocab_size)])
    def prefill():
        cache = make_prompt_cache(model)
        nxt = mx.argmax(model(ids, cache=cache)[0, -1]).reshape(1, 1)
        mx.eval(nxt)
        return cache, nxt
    def step(cache, nxt):
        nxt = mx.argmax(model(nxt, cache=cache)[0, -1]).reshape(1, 1)
        mx.eval(nxt)
        return cache, nxt
    # MLX's CPU 4-bit matmul runs about 1 token/s here: one timed run after the warm-up.
    p, d = timed_decode(prefill, step, repeats=1 if name == "mlx4" else 2)
    print(json.dumps({"bench": f"mlx_decode_{name}", "prefill_tokens_per_second": p,
                      "decode_tokens_per_second": d, "mlx": mx.__version__}))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "torch-block":
        torch_block()
        sys.exit(0)
    path = sys.argv[2]
    if cmd == "make-decode-models":
        make_decode_models(path)
    elif cmd == "torch-decode":
        torch_decode(path, sys.argv[3])
    elif cmd == "mlx-decode":
        mlx_decode(path, sys.argv[3])
    elif cmd == "make-big":
        make_big(path)
    elif cmd == "make-quant-gguf":
        make_quant_gguf(path)
    elif cmd == "quant":
        quant_peers(path)
    elif cmd == "archive":
        archive_peers(path, sys.argv[3])
    elif cmd == "open":
        print(json.dumps({"bench": "python_safe_open", "seconds_per_open": open_time(path, False),
                          "seconds_per_open_and_list": open_time(path, True)}))
