@testable import Formats

/// Writes pickles byte by byte for tests, so hostile inputs need no Python.
struct PickleBuilder {
    var bytes: [UInt8] = []
    /// The offset the next opcode will be written at.
    var offset: Int { bytes.count }

    mutating func op(_ o: PickleOpcode) { bytes.append(o.rawValue) }
    mutating func proto(_ v: UInt8) { bytes += [PickleOpcode.proto.rawValue, v] }

    mutating func global(_ module: String, _ name: String) {
        op(.global)
        bytes += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    mutating func string(_ s: String) {
        op(.binUnicode)
        let u = Array(s.utf8)
        bytes += le(UInt32(u.count)) + u
    }

    mutating func shortString(_ s: String) {
        op(.shortBinUnicode)
        let u = Array(s.utf8)
        bytes += [UInt8(u.count)] + u
    }

    mutating func int(_ v: Int32) {
        op(.binInt)
        bytes += le(v)
    }

    /// LONG1 with an 8-byte payload.
    mutating func long(_ v: Int) {
        op(.long1)
        bytes += [8] + le(Int64(v))
    }

    mutating func ints(_ values: [Int]) {
        op(.mark)
        for v in values { if let small = Int32(exactly: v) { int(small) } else { long(v) } }
        op(.tuple)
    }

    /// `('storage', torch.<cls>, key, 'cpu', numel)` + `BINPERSID`.
    mutating func storage(_ cls: String = "FloatStorage", key: String = "0", numel: Int) {
        op(.mark)
        string("storage")
        global("torch", cls)
        string(key)
        string("cpu")
        long(numel)
        op(.tuple)
        op(.binPersID)
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    /// - Returns: the offset of its `REDUCE`.
    @discardableResult
    mutating func tensor(
        _ cls: String = "FloatStorage", key: String = "0", numel: Int, offset: Int, size: [Int],
        stride: [Int]
    ) -> Int {
        global("torch._utils", "_rebuild_tensor_v2")
        op(.mark)
        storage(cls, key: key, numel: numel)
        long(offset)
        ints(size)
        ints(stride)
        op(.newFalse)
        global("collections", "OrderedDict")
        op(.emptyTuple)
        op(.reduce)
        op(.tuple)
        let at = bytes.count  // (`offset` is the parameter here)
        op(.reduce)
        return at
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    /// Runs the pickle in a fresh machine.
    func run(name: String = "test.pkl") throws(FormatError) -> (PickleValue, PickleMachine) {
        var m = PickleMachine(ByteBuffer(copying: bytes, name: name).all)
        let (v, _) = try m.load()
        return (v, m)
    }
}

/// Builds a legacy (pre-zip) torch checkpoint: the five pickles, then the storages.
struct LegacyBuilder {
    static let magic: [UInt8] = [
        0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E,
    ]
    static let version: [UInt8] = [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
    static let sysInfo: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]  // {} (read and ignored)

    /// Offset of the object pickle within the file.
    static let objectStart = magic.count + version.count + sysInfo.count

    /// - Parameters:
    ///   - object: the object pickle.
    ///   - keys: the storage key list.
    ///   - storages: each storage's element count field and raw bytes, in key order.
    static func file(object: [UInt8], keys: [String], storages: [(count: Int64, bytes: [UInt8])])
        -> [UInt8]
    {
        var keyList = PickleBuilder()
        keyList.proto(2)
        keyList.op(.mark)
        for k in keys { keyList.string(k) }
        keyList.op(.list)
        keyList.op(.stop)
        var out = magic + version + sysInfo + object + keyList.bytes
        for s in storages {
            out += withUnsafeBytes(of: s.count.littleEndian) { Array($0) } + s.bytes
        }
        return out
    }

    /// `{name: tensor}` as an object pickle; returns the bytes and the REDUCE offset in it.
    static func stateDict(
        _ name: String = "w", cls: String = "FloatStorage", numel: Int, offset: Int, size: [Int],
        stride: [Int]
    ) -> ([UInt8], Int) {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyDict)
        p.string(name)
        let at = p.tensor(cls, numel: numel, offset: offset, size: size, stride: stride)
        p.op(.setItem)
        p.op(.stop)
        return (p.bytes, at)
    }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
    }
}
