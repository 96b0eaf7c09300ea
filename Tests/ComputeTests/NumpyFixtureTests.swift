import Compute
import Formats
import Foundation
import Testing
import TestSupport

/// One case of Tests/fixtures/compute/manifest.json (written by make_compute.py).
struct FixtureCase: Sendable, CustomStringConvertible {
    struct Array: Sendable {
        var file: String
        var shape: [Int]
        var dtype: String
    }
    var name: String
    var inputs: [Array]
    var output: Array
    var params: [String: Double]
    var description: String { name }

    static func all() -> [FixtureCase] {
        let path = TestPaths.fixture("compute/manifest.json")
        guard let data = FileManager.default.contents(atPath: path),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        func array(_ d: Any?) -> Array {
            let d = d as? [String: Any] ?? [:]
            return Array(
                file: d["file"] as? String ?? "", shape: d["shape"] as? [Int] ?? [],
                dtype: d["dtype"] as? String ?? "F32")
        }
        return list.map { c in
            FixtureCase(
                name: c["name"] as? String ?? "", inputs: (c["inputs"] as? [Any] ?? []).map(array),
                output: array(c["output"]), params: c["params"] as? [String: Double] ?? [:])
        }
    }

    static func load(_ a: Array) throws -> Tensor {
        let bytes = try ByteBuffer(mapping: TestPaths.fixture("compute/" + a.file))
        return try Tensor(bytes: bytes.all, dtype: a.dtype == "I32" ? .i32 : .f32, shape: a.shape)
    }

    func graph() throws -> Tensor {
        let x = try inputs.map(Self.load)
        let p = { (k: String) in Float(params[k] ?? 0) }
        switch name {
        case "add_broadcast": return try x[0] + x[1]
        case "mul_scalar_4097": return try x[0] * x[1]
        case "sub_outer": return try x[0] - x[1]
        case "exp": return try x[0].exp()
        case "tanh": return try x[0].tanh()
        case "erf": return try x[0].erf()
        case "silu": return try x[0].silu()
        case "gelu_erf": return try x[0].gelu()
        case "gelu_tanh": return try x[0].gelu(approximate: true)
        case "sum_axes_0_2": return try x[0].sum(axes: [0, 2])
        case "mean_axis_1": return try x[0].mean(axes: [1])
        case "max_axis_0": return try x[0].max(axes: [0])
        case "logsumexp_last": return try x[0].logsumexp(axes: [-1])
        case "softmax_last": return try x[0].softmax(axis: -1)
        case "matmul_batched": return try x[0].matmul(x[1])
        case "matmul_bt": return try x[0].matmul(try x[1].transposed())
        case "rms_norm": return try x[0].rmsNorm(weight: x[1], eps: p("eps"))
        case "layer_norm": return try x[0].layerNorm(weight: x[1], bias: x[2], eps: p("eps"))
        case "rope_interleaved":
            return try x[0].rope(base: p("base"), layout: .interleaved, offset: Int(p("offset")))
        case "rope_half_split":
            return try x[0].rope(base: p("base"), layout: .halfSplit, offset: Int(p("offset")))
        case "attention_gqa_causal":
            return try Tensor.attention(q: x[0], k: x[1], v: x[2], causal: true)
        case "take_rows": return try x[0].take(x[1], axis: 0)
        case "cast_f16": return try x[0].cast(.f16)
        case "cast_bf16": return try x[0].cast(.bf16)
        default: throw ComputeError(.unsupported("fixture \(name)"), op: "test")
        }
    }
}

@Suite("Compute against numpy fixtures")
struct NumpyFixtureTests {
    @Test("the manifest lists every case") func manifest() {
        #expect(FixtureCase.all().count == 24)
    }

    @Test(
        "each op matches numpy on both backends", arguments: FixtureCase.all(),
        [BackendKind.cpu, .reference])
    func matches(c: FixtureCase, backend: BackendKind) throws {
        let t = try c.graph()
        #expect(t.shape == c.output.shape)
        let got = try t.floats(options: EvalOptions(backend: backend))
        let want = try FixtureCase.load(c.output).floats()
        let exact = c.name.hasPrefix("cast") || c.name == "take_rows"
        let tol: Float = exact ? 0 : 2e-6
        let close = closeness(got, want, rtol: exact ? 0 : tol, atol: exact ? 1e-30 : 1e-6)
        #expect(close <= 1, "\(c.name): off by \(close)× tolerance")
    }
}
