import Testing
import Formats
@testable import Convert

/// Finding MLX affine triples and their bits/group size: from the config (per-module entry
/// first), inferred from shapes only when one pair fits, an error otherwise.
@Suite("MLX affine triples")
struct AffineTriplesTests {
    func triple(
        _ module: String, packed: [Int], scales: [Int], biases: [Int]? = nil, dtype: DType = .f16
    ) throws
        -> [TensorInfo]
    {
        [
            try #require(TensorInfo(name: module + ".weight", type: .dense(.u32), shape: packed)),
            try #require(TensorInfo(name: module + ".scales", type: .dense(dtype), shape: scales)),
            try #require(
                TensorInfo(name: module + ".biases", type: .dense(dtype), shape: biases ?? scales)),
        ]
    }

    static let q4g64: Metadata = [
        "quantization": .object([
            "group_size": .int64(64), "bits": .int64(4),
            "a.down": .object(["group_size": .int64(32), "bits": .int64(8)]),
        ])
    ]

    @Test("the config's global and per-module entries give bits, group size and the unpacked shape")
    func fromConfig() throws {
        let tensors =
            try triple("a.up", packed: [8, 8], scales: [8, 1])
            + triple("a.down", packed: [8, 16], scales: [8, 2])
        let t = try AffineTriples(tensors: tensors, config: Self.q4g64, file: "m")
        let up = try #require(t.layers["a.up.weight"])
        #expect((up.bits, up.groupSize, up.shape) == (4, 64, [8, 64]))
        let down = try #require(t.layers["a.down.weight"])
        #expect((down.bits, down.groupSize, down.shape) == (8, 32, [8, 64]))
        #expect(t.companions == ["a.up.scales", "a.up.biases", "a.down.scales", "a.down.biases"])
    }

    @Test(
        "without a config entry, one fitting (bits, group) pair is taken and several are an error")
    func inferred() throws {
        let unique = try AffineTriples(
            tensors: triple("x", packed: [8, 3], scales: [8, 1]), config: [:], file: "m")
        let x = try #require(unique.layers["x.weight"])
        #expect((x.bits, x.groupSize, x.shape) == (3, 32, [8, 32]))
        #expect {
            _ = try AffineTriples(
                tensors: triple("x", packed: [8, 4], scales: [8, 1]), config: [:], file: "m")
        } throws: { e in
            (e as? ConvertError)?.description.contains("fit several") == true
        }
    }

    @Test(
        "mismatched scales and biases are an error naming the tensor",
        arguments: [
            ([8, 8], [4, 1], [4, 1]), ([8, 8], [8, 1], [8, 2]), ([8, 8], [8, 0], [8, 0]),
        ])
    func hostile(_ shapes: ([Int], [Int], [Int])) throws {
        let tensors = try triple("bad", packed: shapes.0, scales: shapes.1, biases: shapes.2)
        #expect {
            _ = try AffineTriples(tensors: tensors, config: Self.q4g64, file: "m")
        } throws: { e in
            let d = (e as? ConvertError)?.description ?? ""
            return d.contains("bad.weight") && d.hasPrefix("m: ")
        }
    }

    @Test("a U32 weight without scales and biases is left alone")
    func notATriple() throws {
        let w = try #require(TensorInfo(name: "ids.weight", type: .dense(.u32), shape: [4, 4]))
        let t = try AffineTriples(tensors: [w], config: Self.q4g64, file: "m")
        #expect(t.layers.isEmpty)
    }
}
