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

def open_time(path, n=200):
    from safetensors import safe_open
    def run():
        for _ in range(n):
            with safe_open(path, "np") as f:
                f.keys()
    return best(3, run) / n

if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "make-big":
        make_big(path)
    elif cmd == "open":
        print(json.dumps({"bench": "python_safe_open", "seconds_per_open": open_time(path)}))
