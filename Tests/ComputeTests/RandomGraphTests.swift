import Compute
import Formats
import Testing

/// Random op chains over random shapes: the CPU backend (fused and unfused, 1 or all
/// threads) must agree with the reference on every one, and never crash.
@Suite("Compute random graphs")
struct RandomGraphTests {
    static func graph(seed: UInt64) throws -> Tensor {
        var r = Rand(seed)
        let dims = [1, 3, 7, 33]
        func pick<T>(_ xs: [T]) -> T { xs[Int(r.next() % UInt64(xs.count))] }
        var x = try randn([pick(dims), pick(dims)], seed: seed &+ 100)
        for step in 0..<8 {
            let a = x.shape[0], b = x.rank > 1 ? x.shape[1] : 1
            switch r.next() % 9 {
            case 0:
                x = try x.unary(
                    pick([.neg, .tanh, .sigmoid, .silu, .abs, .square, .geluErf, .geluTanh]))
            case 1: x = try x.tanh().exp()
            case 2:
                let shapes = x.rank == 2 ? [[b], [a, 1], [1], [a, b]] : [[1], x.shape]
                x = try x.binary(
                    pick([.add, .sub, .mul, .maximum, .minimum]),
                    try randn(pick(shapes), seed: seed &+ UInt64(step)))
            case 3: if x.rank == 2 { x = try x.transposed() }
            case 4:
                let axis = Int(r.next() % UInt64(x.rank))
                if x.shape[axis] > 2 {
                    x = try x.slice(axis: axis, start: 1, end: x.shape[axis], step: 2)
                }
            case 5:
                if x.rank == 2 {
                    x = try x.reduce(
                        pick([.sum, .max, .mean, .logsumexp]), axes: [Int(r.next() % 2)],
                        keepDims: true)
                }
            case 6: x = try x.softmax(axis: -1)
            case 7:
                if x.rank == 2 { x = try Tensor.concat([x, try x * 0.5], axis: Int(r.next() % 2)) }
            default: x = try (x * x + 1).rsqrt() * x
            }
        }
        return x
    }

    @Test("random chains agree across backends, fusion and threads", arguments: 0..<48)
    func chain(seed: Int) throws {
        let y = try Self.graph(seed: UInt64(seed))
        let ref = try eval([y], options: EvalOptions(backend: .reference)).arrays[0]
        let fused = try eval([y]).arrays[0]
        let unfused = try eval([y], options: EvalOptions(fusion: false, threads: 1)).arrays[0]
        #expect(fused.shape == y.shape && ref.shape == y.shape)
        #expect(closeness(fused.floats, ref.floats, rtol: 1e-4, atol: 1e-5) <= 1)
        #expect(fused == unfused)
    }

    @Test("results feed later graphs without copies")
    func resultsAsTensors() throws {
        let x = try randn([7, 33], seed: 1)
        let first = try eval([try x.softmax(axis: -1)]).arrays[0]
        let again = try eval([try first.tensor.sum(axes: [1])]).arrays[0].floats
        #expect(again.allSatisfy { Swift.abs($0 - 1) < 1e-5 })
    }

    @Test("constants over misaligned or odd-sized slices are read correctly")
    func misaligned() throws {
        let values: [Float] = [1.5, -2, 3, 4e-3, 5]
        var bytes: [UInt8] = [0xAA]  // one byte of padding: every float is misaligned
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let buf = ByteBuffer(copying: bytes)
        let t = try Tensor(bytes: try buf.all.slice(1, 20), dtype: .f32, shape: [5])
        #expect(try t.floats() == values)
        #expect(try t.floats(options: EvalOptions(backend: .reference)) == values)
        let ints = try Tensor(bytes: try buf.all.slice(1, 20), dtype: .i32, shape: [5])
        #expect(try ints.int32s() == values.map { Int32(bitPattern: $0.bitPattern) })
        #expect(throws: ComputeError.self) {
            try Tensor(bytes: try buf.all.slice(1, 19), dtype: .f32, shape: [5])
        }
        #expect(throws: ComputeError.self) { try Tensor(bytes: buf.all, dtype: .u8, shape: [21]) }
        #expect(throws: ComputeError.self) {
            try Tensor(bytes: buf.all, dtype: .f32, shape: [Int.max, 2])
        }
        #expect(throws: ComputeError.self) { try Tensor([1, 2], shape: [-1, -2]) }
    }
}
