import Foundation
import Testing
import TestSupport

@testable import Formats

/// Random state dicts written by the real torch at test time, when the oracle Python has torch
/// (the committed fixtures cover the same ground without it).
@Suite("PyTorch checkpoints written by a live torch")
struct TorchOracleTests {
    static let torchAvailable: Bool = {
        guard Python.available, let r = try? Python.run("import torch") else { return false }
        return r.status == 0
    }()

    static let script = #"""
        import json, random, sys, torch
        out, seed = sys.argv[1], int(sys.argv[2])
        rng = random.Random(seed)
        torch.manual_seed(seed)
        NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
                 torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
        def make(dtype, n):
            if dtype.is_floating_point: return torch.randn(n).to(dtype)
            if dtype == torch.bool: return torch.rand(n) > 0.5
            if dtype == torch.uint8: return torch.randint(0, 256, (n,), dtype=dtype)
            return torch.randint(-100, 100, (n,), dtype=dtype)
        def view(t):
            for _ in range(rng.randint(0, 3)):
                op = rng.choice(["t", "slice", "permute", "expand", "narrow"])
                if op == "t" and t.dim() >= 2: t = t.transpose(0, t.dim() - 1)
                elif op == "slice" and t.dim() >= 1 and t.shape[0] > 0:
                    t = t[rng.randint(0, t.shape[0] - 1)::rng.randint(1, 3)]
                elif op == "permute" and t.dim() >= 2:
                    p = list(range(t.dim())); rng.shuffle(p); t = t.permute(*p)
                elif op == "expand" and 1 <= t.dim() < 4:
                    t = t.unsqueeze(0).expand(rng.randint(1, 3), *t.shape)
                elif op == "narrow" and t.dim() >= 1 and t.shape[-1] > 1:
                    t = t.narrow(-1, 1, t.shape[-1] - 1)
            return t
        bases = []
        for _ in range(6):
            shape = [rng.randint(1, 4) for _ in range(rng.randint(0, 3))]
            n = 1
            for d in shape: n *= d
            bases.append(make(rng.choice(list(NAMES)), n).view(shape))
        sd, expected = {}, []
        for i in range(24):
            t = view(rng.choice(bases))
            group = sd.setdefault(f"g{i % 3}", {})
            group[f"t{i}"] = t
        for g, d in sd.items():
            for k, t in d.items():
                raw = torch.empty(t.shape, dtype=t.dtype).copy_(t).reshape(-1).view(torch.uint8).numpy().tobytes()
                expected.append({"name": f"{g}.{k}", "dtype": NAMES[t.dtype],
                                 "shape": list(t.shape), "hex": raw.hex()})
        torch.save(sd, out + "/live.pt")
        torch.save(sd, out + "/live_legacy.pt", _use_new_zipfile_serialization=False)
        print(json.dumps(expected))
        """#

    @Test(
        "random views of shared storages match torch, zip and legacy",
        .enabled(if: torchAvailable), arguments: [1, 2, 3])
    func randomStateDicts(seed: Int) throws {
        let dir = TestPaths.temporaryDirectory("torch-oracle")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Python.run(Self.script, [dir, String(seed)])
        try #require(r.status == 0, "\(r.stderr)")
        let expected = try JSON.parse(r.stdout).arrayValue ?? []
        #expect(expected.count == 24)
        for file in ["live.pt", "live_legacy.pt"] {
            let ckpt = try TorchCheckpoint(path: dir + "/" + file)
            #expect(ckpt.tensors.map(\.name) == expected.map { $0["name"]?.stringValue ?? "" })
            for (info, want) in zip(ckpt.tensors, expected) {
                #expect(info.type.description == want["dtype"]?.stringValue, "\(file) \(info.name)")
                #expect(
                    info.shape == (want["shape"]?.arrayValue ?? []).map { Int($0.intValue ?? -1) })
                let hex = try ckpt.bytes(of: info).bytes.map { String(format: "%02x", $0) }.joined()
                #expect(hex == want["hex"]?.stringValue, "\(file) \(info.name)")
            }
        }
    }
}
