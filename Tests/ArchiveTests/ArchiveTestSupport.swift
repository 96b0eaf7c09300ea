import Archive
import Foundation
import Formats
import TestSupport

/// Packing and comparing helpers shared by the archive suites.
enum ArchiveTest {
    /// Every regular file under `root`, relative and sorted (a file: its own name).
    static func files(_ root: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue
        else {
            return [URL(fileURLWithPath: root).lastPathComponent]
        }
        let all = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
        return all.filter { rel in
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &d)
                && !d.boolValue
        }.sorted()
    }

    /// Whether `a` and `b` (files or directories) hold the same files with the same bytes
    /// (equal bytes: equal sha256). Returns the first difference, or nil.
    static func difference(_ a: String, _ b: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: a, isDirectory: &isDir) else { return "\(a) is missing" }
        if !isDir.boolValue {
            return FileManager.default.contentsEqual(atPath: a, andPath: b) ? nil : "\(a) differs"
        }
        let fa = files(a), fb = files(b)
        guard fa == fb else { return "file lists differ: \(fa) vs \(fb)" }
        for f in fa
        where !FileManager.default.contentsEqual(atPath: a + "/" + f, andPath: b + "/" + f) {
            return "\(f) differs"
        }
        return nil
    }

    /// Packs `source` into a fresh temporary directory; returns the archive path and summary.
    static func pack(_ source: String, level: Int = 3) throws -> (
        path: String, summary: PackSummary
    ) {
        let dir = TestPaths.temporaryDirectory("ckz")
        let path = dir + "/a.ckz"
        let summary = try ArchiveWriter(level: level).pack(source, to: path)
        return (path, summary)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        try ByteBuffer(mapping: path).all.bytes
    }

    /// The archive's bytes with the index rewritten by `edit` (and its CRC fixed), so a test
    /// reaches the table checks behind the CRC.
    static func editIndex(_ archive: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        let indexOffset = Int(load(UInt64.self, archive, 16))
        var index = Array(archive[indexOffset..<(archive.count - 4)])
        edit(&index)
        let crc = index.withUnsafeBytes { crc32($0) }
        var out = Array(archive[..<indexOffset]) + index
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(index.count + 4).littleEndian) { b in
            for k in 0..<8 { out[24 + k] = b[k] }
        }
        return out
    }

    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ at: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }

    static func store<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8], _ at: Int) {
        withUnsafeBytes(of: value.littleEndian) { b in
            for k in 0..<b.count { bytes[at + k] = b[k] }
        }
    }

    /// CRC-32 (zlib's polynomial), bitwise: an independent check of the archive's checksums.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    /// Offset in the index of chunk entry `i` (the file table's size depends on the paths).
    static func chunkEntryOffset(_ index: [UInt8], _ i: Int) -> Int {
        let fileCount = Int(load(UInt32.self, index, 0))
        var at = 16
        for _ in 0..<fileCount { at += 4 + Int(load(UInt32.self, index, at)) + 25 }
        return at + 24 * i
    }
}
