import Foundation
import Formats
import TestSupport

/// The manifest written by Tests/fixtures/make_numpy.py (expected values from numpy/zipfile).
enum NumPyManifest {
    nonisolated(unsafe) static let root: [String: Any] = {
        let url = URL(fileURLWithPath: TestPaths.fixture("numpy/manifest.json"))
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }()

    static func section(_ name: String) -> [String: Any] { root[name] as? [String: Any] ?? [:] }

    static func path(_ file: String) -> String { TestPaths.fixture("numpy/" + file) }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let a = it.next(), let b = it.next() {
            func v(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
            out.append(v(a) << 4 | v(b))
        }
        self = out
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }

    mutating func append<T: FixedWidthInteger>(le value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Builds small stored ZIP archives byte by byte, recording where each field lies so hostile
/// variants can be made by patching one field.
struct ZipBytes {
    var bytes: [UInt8] = []
    var localOffsets: [Int] = []
    var centralOffsets: [Int] = []
    var dataOffsets: [Int] = []
    var endOffset = 0

    init(_ members: [(name: String, data: [UInt8])], prefix: [UInt8] = []) {
        bytes = prefix
        var crcs: [UInt32] = []
        for m in members {
            let crc = m.data.withUnsafeBytes { CRC32.checksum($0) }
            crcs.append(crc)
            localOffsets.append(bytes.count)
            bytes.append(le: UInt32(0x0403_4B50))
            bytes.append(le: UInt16(20)); bytes.append(le: UInt16(0)); bytes.append(le: UInt16(0))
            bytes.append(le: UInt32(0)); bytes.append(le: crc)
            bytes.append(le: UInt32(m.data.count)); bytes.append(le: UInt32(m.data.count))
            bytes.append(le: UInt16(m.name.utf8.count)); bytes.append(le: UInt16(0))
            bytes.append(contentsOf: m.name.utf8)
            dataOffsets.append(bytes.count)
            bytes.append(contentsOf: m.data)
        }
        let cdStart = bytes.count
        for (i, m) in members.enumerated() {
            centralOffsets.append(bytes.count)
            bytes.append(le: UInt32(0x0201_4B50))
            bytes.append(le: UInt16(20)); bytes.append(le: UInt16(20))
            bytes.append(le: UInt16(0)); bytes.append(le: UInt16(0))
            bytes.append(le: UInt32(0)); bytes.append(le: crcs[i])
            bytes.append(le: UInt32(m.data.count)); bytes.append(le: UInt32(m.data.count))
            bytes.append(le: UInt16(m.name.utf8.count)); bytes.append(le: UInt16(0)); bytes.append(le: UInt16(0))
            bytes.append(le: UInt16(0)); bytes.append(le: UInt16(0)); bytes.append(le: UInt32(0))
            bytes.append(le: UInt32(localOffsets[i] - prefix.count))
            bytes.append(contentsOf: m.name.utf8)
        }
        endOffset = bytes.count
        bytes.append(le: UInt32(0x0605_4B50))
        bytes.append(le: UInt16(0)); bytes.append(le: UInt16(0))
        bytes.append(le: UInt16(members.count)); bytes.append(le: UInt16(members.count))
        bytes.append(le: UInt32(endOffset - cdStart)); bytes.append(le: UInt32(cdStart - prefix.count))
        bytes.append(le: UInt16(0))
    }

    var buffer: ByteBuffer { ByteBuffer(copying: bytes, name: "test.zip") }
}

/// The error a throwing closure raised, if it was a FormatError.
func formatError(_ body: () throws -> Void) -> FormatError? {
    do {
        try body()
        return nil
    } catch { return error as? FormatError }
}
