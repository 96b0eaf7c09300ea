import Foundation
import Testing
import TestSupport

@testable import Formats

@Suite("PyTorch checkpoints built byte by byte")
struct TorchHostileTests {
    static let six: [Float] = [0, 1, 2, 3, 4, 5]

    func open(_ bytes: [UInt8]) throws(FormatError) -> TorchCheckpoint {
        try TorchCheckpoint(buffer: ByteBuffer(copying: bytes, name: "hand.pt"))
    }

    func floats(_ s: ByteSlice) -> [Float] {
        stride(from: 0, to: s.count, by: 4).map {
            Float(bitPattern: s.raw.loadUnaligned(fromByteOffset: $0, as: UInt32.self).littleEndian)
        }
    }

    @Test("a hand-built legacy checkpoint reads, contiguous and as a transposed view")
    func validLegacy() throws {
        for (size, stride, want) in [
            ([2, 3], [3, 1], Self.six), ([3, 2], [1, 3], [0, 3, 1, 4, 2, 5] as [Float]),
        ] {
            let (object, _) = LegacyBuilder.stateDict(
                numel: 6, offset: 0, size: size, stride: stride)
            let file = LegacyBuilder.file(
                object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
            let ckpt = try open(file)
            let w = try #require(ckpt.tensor(named: "w"))
            #expect(w.shape == size)
            #expect(floats(try ckpt.bytes(of: w)) == want)
        }
    }

    @Test("huge strides of size-1 dims and offsets of empty views are harmless, as in torch")
    func unusedStridesAndOffsets() throws {
        let cases: [(Int, [Int], [Int], [Float])] = [
            (0, [1, 2], [Int.max, 2], [0, 2]),  // strided: gathered
            (1, [2, 1], [2, Int.max], [1, 3]),
            (Int.max, [0], [1], []),  // empty: offset never used
            (3, [0, 5], [Int.max, Int.max], []),
        ]
        for (offset, size, stride, want) in cases {
            let (object, _) = LegacyBuilder.stateDict(
                numel: 6, offset: offset, size: size, stride: stride)
            let file = LegacyBuilder.file(
                object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
            let ckpt = try open(file)
            let w = try #require(ckpt.tensor(named: "w"))
            #expect(floats(try ckpt.bytes(of: w)) == want, "\(size) \(stride)")
        }
    }

    @Test(
        "a view reaching past its storage is refused at its REDUCE",
        arguments: [
            (1, [2, 3], [3, 1]),  // one element too far
            (0, [7], [1]),
            (0, [2, 2], [5, 1]),
            (0, [3], [Int.max / 2]),  // overflowing extent
            (Int.max, [1], [1]),
        ] as [(Int, [Int], [Int])])
    func outOfBounds(offset: Int, size: [Int], stride: [Int]) throws {
        let (object, at) = LegacyBuilder.stateDict(
            numel: 6, offset: offset, size: size, stride: stride)
        let file = LegacyBuilder.file(
            object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.offset == LegacyBuilder.objectStart + at)
        #expect(error.field == "pickle REDUCE")
        #expect(
            error.description.contains("reaches past its storage")
                || error.description.contains("overflow"))
    }

    @Test("negative sizes and mismatched stride counts are invalid")
    func badShapes() throws {
        for (size, stride) in [([-1], [1]), ([2, 3], [1])] {
            let (object, at) = LegacyBuilder.stateDict(
                numel: 6, offset: 0, size: size, stride: stride)
            let file = LegacyBuilder.file(
                object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
            let error = try #require(throws: FormatError.self) { try open(file) }
            #expect(error.offset == LegacyBuilder.objectStart + at)
        }
    }

    @Test("an element count that disagrees with the persistent id is refused at the count")
    func countMismatch() throws {
        let (object, _) = LegacyBuilder.stateDict(numel: 6, offset: 0, size: [6], stride: [1])
        let file = LegacyBuilder.file(
            object: object, keys: ["0"], storages: [(5, LegacyBuilder.floats(Self.six))])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.field == "storages[0].count")
        #expect(error.offset == file.count - 24 - 8)
    }

    @Test("storage data cut short is truncated")
    func truncatedData() throws {
        let (object, _) = LegacyBuilder.stateDict(numel: 6, offset: 0, size: [6], stride: [1])
        let file = LegacyBuilder.file(
            object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
        let error = try #require(throws: FormatError.self) { try open(Array(file.dropLast(3))) }
        #expect(error.reason == .truncated(needed: 24, available: 21))
        #expect(error.field == "storages[0].data")
    }

    @Test("a storage named in the pickle but missing from the key list has no data")
    func missingStorage() throws {
        let (object, _) = LegacyBuilder.stateDict(numel: 6, offset: 0, size: [6], stride: [1])
        let file = LegacyBuilder.file(object: object, keys: [], storages: [])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.reason == .invalid("storage '0' has no data"))
    }

    @Test("a key list naming an unknown storage is invalid")
    func unknownKey() throws {
        let (object, _) = LegacyBuilder.stateDict(numel: 6, offset: 0, size: [6], stride: [1])
        let file = LegacyBuilder.file(
            object: object, keys: ["0", "9"],
            storages: [(6, LegacyBuilder.floats(Self.six)), (0, [])])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.reason == .invalid("storage key '9' was not named in the pickle"))
    }

    @Test("a wrong magic number is not a checkpoint")
    func wrongMagic() throws {
        var file = LegacyBuilder.file(object: [0x80, 0x02, 0x7D, 0x2E], keys: [], storages: [])
        file[5] ^= 0x01
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.field == "magic_number")
        #expect(error.offset == 0)
        let junk = try #require(throws: FormatError.self) { try open(Array("hello".utf8)) }
        #expect(junk.field == "magic")
    }

    @Test("two tensors flattening to one name is an error, not last-wins")
    func duplicateNames() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyDict)
        p.op(.mark)
        p.string("a.b")
        p.tensor(numel: 6, offset: 0, size: [6], stride: [1])
        p.string("a")
        p.op(.emptyDict)
        p.string("b")
        p.tensor(numel: 6, offset: 0, size: [6], stride: [1])
        p.op(.setItem)
        p.op(.setItems)
        p.op(.stop)
        let file = LegacyBuilder.file(
            object: p.bytes, keys: ["0"], storages: [(6, LegacyBuilder.floats(Self.six))])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(error.reason == .invalid("tensor name 'a.b' occurs twice"))
    }

    @Test("a cyclic dict under a long key cannot build huge names")
    func longNames() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyDict)
        p.bytes += [PickleOpcode.binPut.rawValue, 0]
        p.string(String(repeating: "k", count: 10_000))
        p.bytes += [PickleOpcode.binGet.rawValue, 0]
        p.op(.setItem)
        p.op(.stop)
        let file = LegacyBuilder.file(object: p.bytes, keys: [], storages: [])
        let error = try #require(throws: FormatError.self) { try open(file) }
        #expect(
            error.reason
                == .limitExceeded("tensor name longer than \(TorchCheckpoint.maxNameBytes) bytes"))
    }

    @Test("a dict that contains itself is bounded, not followed forever")
    func cyclicDict() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyDict)
        p.bytes += [PickleOpcode.binPut.rawValue, 0]
        p.string("self")
        p.bytes += [PickleOpcode.binGet.rawValue, 0]
        p.op(.setItem)
        p.op(.stop)
        let file = LegacyBuilder.file(object: p.bytes, keys: [], storages: [])
        let error = try #require(throws: FormatError.self) { try open(file) }
        guard case .limitExceeded = error.reason else {
            Issue.record("expected limitExceeded, got \(error)")
            return
        }
    }

    @Test("a storage class outside the table is forbidden, an unsupported dtype names the tensor")
    func storageTypes() throws {
        let (evil, _) = LegacyBuilder.stateDict(
            cls: "EvilStorage", numel: 6, offset: 0, size: [6], stride: [1])
        let e1 = try #require(throws: FormatError.self) {
            try open(LegacyBuilder.file(object: evil, keys: [], storages: []))
        }
        #expect(e1.reason == .forbiddenGlobal("torch.EvilStorage"))
        let (complex, _) = LegacyBuilder.stateDict(
            cls: "ComplexDoubleStorage", numel: 1, offset: 0, size: [1], stride: [1])
        let e2 = try #require(throws: FormatError.self) {
            try open(
                LegacyBuilder.file(
                    object: complex, keys: ["0"], storages: [(1, [UInt8](repeating: 0, count: 16))])
            )
        }
        #expect(e2.field == "tensor 'w'")
        #expect(e2.description.contains("torch.complex128"))
    }
}
