"""HF -> MLX and HF -> GGUF conversions, ckpt next to its peers (mlx_lm.convert; llama.cpp's
converter + quantizer when a llama.cpp checkout is given), on SmolLM2-135M (an F32 HF directory
made by `ckpt convert` from the real GGUF) and on a random-init LLaMA of 1.1B parameters
(TinyLlama's shape, BF16) written here with SmolLM2's tokenizer. Wall time and peak resident
memory of each run come from /usr/bin/time. Prints one JSON object per line.

usage: convert_bench.py CKPT WORKDIR --smollm2-hf DIR [--skip-1b] [--llama-cpp DIR]
"""
import json, os, shutil, subprocess, sys, time

SHAPES = {
    # name: hidden, layers, intermediate, heads, kv heads, vocab
    "llama-135m": (576, 30, 1536, 9, 3, 49152),  # SmolLM2-135M's shape (decode bench)
    "llama-1.1b": (2048, 22, 5632, 32, 4, 49152),
}
SHARD_BYTES = 2 << 30




def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, bytes-like)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".part", "wb") as f:
        f.write(len(h).to_bytes(8, "little")); f.write(h)
        for _, _, _, data in tensors:
            f.write(data)
    os.replace(path + ".part", path)


def make_llama(path, name, tokenizer_dir=None):
    """A random-init Llama HF directory in BF16 (config, shards + index, a tokenizer)."""
    import numpy as np
    if os.path.exists(os.path.join(path, "config.json")):
        return
    hidden, layers, inter, heads, kv, vocab = SHAPES[name]
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(0)
    hd = hidden // heads
    shapes = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", (hidden,)), (p + "self_attn.q_proj.weight", (heads * hd, hidden)),
                   (p + "self_attn.k_proj.weight", (kv * hd, hidden)), (p + "self_attn.v_proj.weight", (kv * hd, hidden)),
                   (p + "self_attn.o_proj.weight", (hidden, heads * hd)), (p + "post_attention_layernorm.weight", (hidden,)),
                   (p + "mlp.gate_proj.weight", (inter, hidden)), (p + "mlp.up_proj.weight", (inter, hidden)),
                   (p + "mlp.down_proj.weight", (hidden, inter))]
    shapes += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    shards, current, size = [], [], 0
    for n, shape in shapes:
        x = (rng.standard_normal(shape, dtype=np.float32) * 0.02) if len(shape) > 1 else np.ones(shape, np.float32)
        bf16 = (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        if current and size + len(bf16) > SHARD_BYTES:
            shards.append(current); current, size = [], 0
        current.append((n, "BF16", shape, bf16)); size += len(bf16)
    shards.append(current)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(path, fname), shard)
        for n, _, _, data in shard:
            weight_map[n] = fname; total += len(data)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(path, "model.safetensors.index.json"), "w"), indent=2)
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
               "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
               "num_key_value_heads": kv, "vocab_size": vocab, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
               "max_position_embeddings": 2048, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
               "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2},
              open(os.path.join(path, "config.json"), "w"), indent=2)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json") if tokenizer_dir else ():
        src = tokenizer_dir
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), path)


def measured(cmd, env=None):
    """Runs cmd under /usr/bin/time: (seconds, peak RSS bytes)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-2000:] + r.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss = [int(line.split()[1]) for line in r.stderr.splitlines() if line.startswith("MAXRSS ")]
    return seconds, rss[-1] * 1024


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ckpt, work = sys.argv[1], sys.argv[2]
    smollm2 = sys.argv[sys.argv.index("--smollm2-hf") + 1]
    names = ["smollm2-135m"] + ([] if "--skip-1b" in sys.argv else ["llama-1.1b"])
    llama_cpp = sys.argv[sys.argv.index("--llama-cpp") + 1] if "--llama-cpp" in sys.argv else None
    py = sys.executable
    # The timing is of the conversion; its verification is measured apart.
    help_text = subprocess.run([ckpt, "convert", "--help"], capture_output=True, text=True).stdout
    no_verify = ["--no-verify"] if "--no-verify" in help_text else []
    for name in names:
        if name == "smollm2-135m":
            src, largest = smollm2, 49152 * 576 * 4
        else:
            src = os.path.join(work, name + "-hf")
            make_llama(src, name, smollm2)
            hidden, layers, inter, heads, kv, vocab = SHAPES[name]
            largest = vocab * hidden * 2
        weights = sum(os.path.getsize(os.path.join(src, f)) for f in os.listdir(src) if f.endswith(".safetensors"))
        runs = {}
        out = os.path.join(work, name + "-ckpt-mlx4")
        shutil.rmtree(out, ignore_errors=True)
        runs["ckpt_mlx4"] = measured([ckpt, "convert", src, out, "--to", "mlx", "--bits", "4", "--no-catalog"] + no_verify)
        out2 = os.path.join(work, name + "-mlxlm-mlx4")
        shutil.rmtree(out2, ignore_errors=True)
        runs["mlx_lm_mlx4"] = measured([py, "-m", "mlx_lm", "convert", "--hf-path", src, "--mlx-path", out2,
                                        "-q", "--q-bits", "4", "--q-group-size", "64"])
        gg = os.path.join(work, name + "-ckpt-q4km.gguf")
        runs["ckpt_gguf_q4km"] = measured([ckpt, "convert", src, gg, "--gguf-type", "Q4_K_M", "--no-catalog"] + no_verify)
        if llama_cpp:
            f16 = os.path.join(work, name + "-llamacpp-f16.gguf")
            q = os.path.join(work, name + "-llamacpp-q4km.gguf")
            a = measured([py, os.path.join(llama_cpp, "convert_hf_to_gguf.py"), src, "--outfile", f16, "--outtype", "f16"])
            b = measured([py, "-c", "import llama_cpp, sys; p = llama_cpp.llama_model_quantize_default_params(); "
                          "p.ftype = 15; sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))",
                          f16, q])
            runs["llama_cpp_q4km"] = (a[0] + b[0], max(a[1], b[1]))
        for k, (s, rss) in runs.items():
            print(json.dumps({"bench": f"convert_{name}_{k}", "seconds": s, "peak_rss": rss,
                              "weights_bytes": weights, "largest_tensor_bytes": largest}), flush=True)


if __name__ == "__main__":
    main()
