import Compute
import Formats
import Foundation
import Testing
import TestSupport

/// MLX affine weights built in the test from random codes (formats doc §4.3 bit stream).
struct AffineCase: Sendable, CustomStringConvertible {
    var bits: Int
    var group: Int
    var scaleDType: DType
    var description: String { "\(bits)-bit g\(group) \(scaleDType.rawValue)" }

    /// (weight, expected dequantized [rows, cols]).
    func make(rows: Int, cols: Int, seed: UInt64) throws -> (QuantizedWeight, [Float]) {
        var r = Rand(seed)
        let groups = cols / group
        var packed = [UInt8](repeating: 0, count: rows * cols * bits / 8)
        var scales: [UInt8] = [], biases: [UInt8] = []
        var expected = [Float](repeating: 0, count: rows * cols)
        func store(_ v: Float, _ out: inout [UInt8]) -> Float {
            switch scaleDType {
            case .f16:
                let h = Float16(v)
                withUnsafeBytes(of: h.bitPattern.littleEndian) { out += $0 }
                return Float(h)
            case .bf16:
                // Exact: the test's scales and biases have few significant bits.
                let b = UInt16(truncatingIfNeeded: v.bitPattern >> 16)
                withUnsafeBytes(of: b.littleEndian) { out += $0 }
                return Float(bitPattern: UInt32(b) << 16)
            default:
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
                return v
            }
        }
        for row in 0..<rows {
            for g in 0..<groups {
                // Scales of either sign (MLX stores negative scales), values exact in BF16.
                let s = store(Float(Int(r.next() % 64) - 32) / 256, &scales)
                let b = store(Float(Int(r.next() % 64) - 32) / 64, &biases)
                for j in 0..<group {
                    let i = g * group + j
                    let q = Int(r.next() % UInt64(1 << bits))
                    let bitpos = (row * cols + i) * bits
                    for k in 0..<bits where (q >> k) & 1 == 1 {
                        packed[(bitpos + k) / 8] |= UInt8(1 << ((bitpos + k) % 8))
                    }
                    expected[row * cols + i] = s * Float(q) + b
                }
            }
        }
        let w = try QuantizedWeight.affine(
            packed: ByteBuffer(copying: packed).all, scales: ByteBuffer(copying: scales).all,
            biases: ByteBuffer(copying: biases).all, scaleDType: scaleDType,
            rows: rows, columns: cols, bits: bits, groupSize: group)
        return (w, expected)
    }
}

func identity(_ n: Int) throws -> Tensor {
    var v = [Float](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    return try Tensor(v, shape: [n, n])
}

func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
    var t = [Float](repeating: 0, count: a.count)
    for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
    return t
}

@Suite("Compute quantized matmul")
struct QuantizedTests {
    static let affineCases: [AffineCase] =
        [2, 3, 4, 5, 6, 8].flatMap { bits in
            [
                AffineCase(bits: bits, group: 64, scaleDType: .f16),
                AffineCase(bits: bits, group: 32, scaleDType: .bf16),
            ]
        } + [AffineCase(bits: 4, group: 128, scaleDType: .f32)]

    @Test(
        "MLX affine weights decode exactly and multiply like dequantize-then-matmul",
        arguments: affineCases, [1, 3, 7])
    func affine(c: AffineCase, m: Int) throws {
        let (rows, cols) = (33, 256)
        let (w, deq) = try c.make(rows: rows, cols: cols, seed: UInt64(c.bits * 100 + c.group))
        // x = I recovers W.T exactly (each output is one product with 1 plus zeros).
        let eye = try identity(cols).quantizedMatmul(w).floats()
        #expect(eye == transpose(deq, rows: rows, cols: cols))
        let x = try randn([m, cols], seed: 4)
        let y = try x.quantizedMatmul(w)
        #expect(y.shape == [m, rows])
        let dense = try x.matmul(try Tensor(deq, shape: [rows, cols]).transposed())
        #expect(closeness(try y.floats(), try dense.floats(), rtol: 1e-4, atol: 1e-4) <= 1)
        try expectMatchesReference(y, rtol: 1e-4, atol: 1e-4)
    }

    struct GGMLFixture: Sendable, CustomStringConvertible {
        var type: String
        var rows: Int
        var columns: Int
        var description: String { type }

        static func all() -> [GGMLFixture] {
            guard
                let d = FileManager.default.contents(
                    atPath: TestPaths.fixture("compute_quant/manifest.json")),
                let list = try? JSONSerialization.jsonObject(with: d) as? [[String: Any]]
            else { return [] }
            return list.map {
                GGMLFixture(
                    type: $0["type"] as? String ?? "", rows: $0["rows"] as? Int ?? 0,
                    columns: $0["columns"] as? Int ?? 0)
            }
        }
    }

    @Test(
        "GGML blocks decode like gguf-py and multiply like dequantize-then-matmul",
        arguments: GGMLFixture.all())
    func ggml(f: GGMLFixture) throws {
        let type = try #require(GGMLType(name: f.type))
        let blocks = try ByteBuffer(mapping: TestPaths.fixture("compute_quant/\(f.type).blocks"))
        let deqBytes = try ByteBuffer(
            mapping: TestPaths.fixture("compute_quant/\(f.type).dequant.f32"))
        let deq = try Tensor(bytes: deqBytes.all, dtype: .f32, shape: [f.rows, f.columns])
        let w = try QuantizedWeight.ggml(type, bytes: blocks.all, rows: f.rows, columns: f.columns)
        let want = transpose(try deq.floats(), rows: f.rows, cols: f.columns)
        let eye = try identity(f.columns).quantizedMatmul(w).floats()
        #expect(closeness(eye, want, rtol: 1e-6, atol: 1e-7) <= 1)
        for m in [1, 7] {
            let x = try randn([m, f.columns], seed: UInt64(m))
            let y = try x.quantizedMatmul(w).floats()
            let dense = try x.matmul(try deq.transposed()).floats()
            #expect(closeness(y, dense, rtol: 1e-4, atol: 1e-5) <= 1)
        }
    }

    @Test("quantized embedding decodes only the rows asked for")
    func embedding() throws {
        let c = AffineCase(bits: 4, group: 32, scaleDType: .f16)
        let (w, deq) = try c.make(rows: 50, cols: 64, seed: 3)
        let ids = try Tensor(int32s: [49, 0, 7, 7], shape: [2, 2])
        let e = try Tensor.embedding(ids, table: w)
        #expect(e.shape == [2, 2, 64])
        let got = try e.floats()
        #expect(Array(got[0..<64]) == Array(deq[(49 * 64)..<(50 * 64)]))
        #expect(Array(got[(3 * 64)...]) == Array(deq[(7 * 64)..<(8 * 64)]))
        #expect(try e.floats(options: EvalOptions(backend: .reference)) == got)
        let stats = try eval([e]).stats
        #expect(stats.allocatedBytes == 4 * 64 * 4)
        let bad = try Tensor.embedding(try Tensor(int32s: [50], shape: [1]), table: w)
        #expect(throws: ComputeError.self) { try bad.floats() }
        #expect(throws: ComputeError.self) {
            try bad.floats(options: EvalOptions(backend: .reference))
        }
    }

    @Test("the dequantized matrix is never allocated; packed bytes are counted as read")
    func packedStays() throws {
        let c = AffineCase(bits: 4, group: 64, scaleDType: .f16)
        let (w, _) = try c.make(rows: 512, cols: 256, seed: 1)
        for m in [1, 16] {
            let e = try eval([try randn([m, 256], seed: 2).quantizedMatmul(w)])
            #expect(e.stats.allocatedBytes == m * 512 * 4)
            #expect(e.stats.bytesRead >= 512 * (128 + 16))
            #expect(e.stats.kernels == 1)
        }
    }

    @Test("other block types plug in through a RowDequantizer")
    func plugIn() throws {
        let rows = 5, cols = 7
        let deq = ClosureRowDequantizer(rows: rows, columns: cols, bytesPerRow: cols) { row, out in
            for j in 0..<cols { out[j] = Float(row * 10 + j) }
        }
        let y = try identity(cols).quantizedMatmul(QuantizedWeight(deq)).floats()
        #expect(y[0 * rows + 2] == 20)
        #expect(y[3 * rows + 4] == 43)
    }

    @Test("bad packed sizes and unsupported types throw before anything runs")
    func hostile() throws {
        let b = ByteBuffer(copying: [UInt8](repeating: 0, count: 18 * 4))
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.ggml(.Q4_0, bytes: b.all, rows: 3, columns: 32)
        }
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.ggml(.Q4_0, bytes: b.all, rows: 2, columns: 48)
        }
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.ggml(.Q2_K, bytes: b.all, rows: 1, columns: 256)
        }
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.ggml(.Q4_0, bytes: b.all, rows: Int.max / 2, columns: 64)
        }
        let ok = try QuantizedWeight.ggml(.Q4_0, bytes: b.all, rows: 4, columns: 32)
        #expect(throws: ComputeError.self) { try randn([2, 31], seed: 1).quantizedMatmul(ok) }
        let s = ByteBuffer(copying: [UInt8](repeating: 0, count: 4))
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.affine(
                packed: b.all, scales: s.all, biases: s.all, scaleDType: .f16,
                rows: 1, columns: 64, bits: 7, groupSize: 64)
        }
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.affine(
                packed: b.all, scales: s.all, biases: s.all, scaleDType: .f16,
                rows: 2, columns: 64, bits: 4, groupSize: 64)
        }
    }
}
