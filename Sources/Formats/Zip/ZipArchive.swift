/// A ZIP archive read in place: the central directory (zip64 aware) is parsed and every
/// member's local header checked when it is opened; members are then read as slices of the
/// buffer (stored) or inflated (deflated), CRC-checked either way.
///
/// npz files (`np.savez`, `mx.savez`) and PyTorch checkpoints are ZIP archives. Sizes and
/// offsets are taken from the central directory, since both write placeholders in local
/// headers (formats doc §2.3, §3.2). Data before the first member (a prefix) is handled the
/// way Python's `zipfile` handles it: offsets are shifted by the distance between where the
/// central directory says it starts and where it really ends.
///
/// ```swift
/// let zip = try ZipArchive(buffer: ByteBuffer(mapping: "weights.npz"))
/// if let e = zip.entry(named: "w.npy") { let bytes = try zip.data(of: e) }
/// ```
public struct ZipArchive: Sendable {
    /// The archive's bytes; member data slices point into it.
    public let buffer: ByteBuffer
    /// Members in central-directory order.
    public let entries: [ZipEntry]
    private let index: [String: Int]

    /// Maps `path` and parses it (see `init(buffer:)`).
    public init(path: String) throws(FormatError) {
        try self.init(buffer: ByteBuffer(mapping: path))
    }

    /// Parses the end of central directory record (and the zip64 one when present), the
    /// central directory, and each member's local header.
    ///
    /// - Throws: `FormatError` naming the offset and field: `.truncated`/`.invalid` for a
    ///   malformed archive, `.unsupported` for multi-disk archives, encryption and methods
    ///   other than stored/deflated, `.limitExceeded` over `ZipLayout`'s caps.
    public init(buffer: ByteBuffer) throws(FormatError) {
        self.buffer = buffer
        let file = buffer.all
        let end = try Self.findEndRecord(file)
        var r = ByteReader(file, offset: end + 4)
        let disk = try r.read(UInt16.self, "end_of_central_directory.disk_number")
        let cdDisk = try r.read(UInt16.self, "end_of_central_directory.central_directory_disk")
        let diskEntries = try r.read(UInt16.self, "end_of_central_directory.disk_entries")
        let totalEntries = try r.read(UInt16.self, "end_of_central_directory.total_entries")
        let cdSize32 = try r.read(UInt32.self, "end_of_central_directory.central_directory_size")
        let cdOffset32 = try r.read(UInt32.self, "end_of_central_directory.central_directory_offset")

        var count = Int(totalEntries)
        var cdSize = Int(cdSize32)
        var cdOffset = Int(cdOffset32)
        var cdEnd = end  // where the central directory must end: the (zip64) end record
        if let z = try Self.readZip64End(file, endRecord: end) {
            count = z.count
            cdSize = z.size
            cdOffset = z.offset
            cdEnd = z.position
        } else {
            guard disk == 0, cdDisk == 0, diskEntries == totalEntries else {
                throw FormatError(
                    .unsupported("multi-disk archive (disk \(disk), central directory on disk \(cdDisk))"),
                    file: buffer.name, offset: end + 4, field: "end_of_central_directory.disk_number")
            }
        }
        guard count <= ZipLayout.maxEntryCount else {
            throw FormatError(
                .limitExceeded("\(count) entries exceeds limit \(ZipLayout.maxEntryCount)"),
                file: buffer.name, offset: end + 10, field: "end_of_central_directory.total_entries")
        }
        // The central directory ends right where the end record starts; any shift between
        // that and the recorded offset is a prefix before the archive (Python's `concat`).
        guard cdSize <= cdEnd, cdOffset <= cdEnd - cdSize else {
            throw FormatError(
                .invalid("central directory at \(cdOffset) + size \(cdSize) runs past its end record at \(cdEnd)"),
                file: buffer.name, offset: end + 16, field: "end_of_central_directory.central_directory_offset")
        }
        let prefix = cdEnd - cdSize - cdOffset
        let cdStart = cdEnd - cdSize
        guard count <= cdSize / ZipLayout.centralHeaderSize else {
            throw FormatError(
                .invalid("\(count) entries cannot fit in a \(cdSize)-byte central directory"),
                file: buffer.name, offset: end + 10, field: "end_of_central_directory.total_entries")
        }

        let directory = try file.slice(cdStart, cdSize, field: "central_directory")
        var reader = ByteReader(directory)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(count)
        var index: [String: Int] = [:]
        for i in 0..<count {
            let at = reader.absoluteOffset
            let e = try Self.readCentralEntry(&reader, i, prefix: prefix, file: file, cdStart: cdStart)
            if let first = index[e.name] {
                throw FormatError(
                    .invalid("duplicate member name '\(e.name)' (also central directory[\(first)])"),
                    file: buffer.name, offset: at + ZipLayout.centralHeaderSize, field: "central_directory[\(i)].file_name")
            }
            index[e.name] = i
            entries.append(e)
        }
        guard reader.isAtEnd else {
            throw reader.error(
                .invalid("\(reader.remaining) bytes left after \(count) entries"),
                field: "central_directory")
        }
        try Self.checkNoOverlap(entries, cdStart: cdStart, file: buffer.name)
        self.entries = entries
        self.index = index
    }

    /// The member named `name`, if present.
    public func entry(named name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    // MARK: - End records

    /// Offset of the end of central directory record: the last signature, scanning back at
    /// most 65535 + 22 bytes, whose comment ends exactly at the end of the file.
    private static func findEndRecord(_ file: ByteSlice) throws(FormatError) -> Int {
        let n = file.count
        guard n >= ZipLayout.endRecordSize else {
            throw FormatError(
                .truncated(needed: ZipLayout.endRecordSize, available: n),
                file: file.name, offset: 0, field: "end_of_central_directory")
        }
        let raw = file.raw
        let lowest = max(0, n - ZipLayout.maxEndRecordSearch)
        var p = n - ZipLayout.endRecordSize
        while p >= lowest {
            // p + 22 <= n, so the 4-byte signature and the u16 at p + 20 are in bounds.
            if raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian == ZipLayout.endSignature {
                let comment = Int(raw.loadUnaligned(fromByteOffset: p + 20, as: UInt16.self).littleEndian)
                if p + ZipLayout.endRecordSize + comment == n { return p }
            }
            p -= 1
        }
        throw FormatError(
            .invalid("no end of central directory record in the last \(n - lowest) bytes (not a zip archive?)"),
            file: file.name, offset: n - ZipLayout.endRecordSize, field: "end_of_central_directory")
    }

    private struct Zip64End { var count: Int, size: Int, offset: Int, position: Int }

    /// The zip64 end record, if a locator precedes the end record. Like Python's zipfile, the
    /// record is expected right before the locator (the locator's own offset is used only as
    /// a fallback, since a prefix shifts it).
    private static func readZip64End(_ file: ByteSlice, endRecord: Int) throws(FormatError) -> Zip64End? {
        let loc = endRecord - ZipLayout.zip64LocatorSize
        guard loc >= 0 else { return nil }
        var r = ByteReader(file, offset: loc)
        guard try r.read(UInt32.self, "zip64_locator.signature") == ZipLayout.zip64LocatorSignature else {
            return nil
        }
        let disk = try r.read(UInt32.self, "zip64_locator.disk")
        let recordOffset = try r.read(UInt64.self, "zip64_locator.offset")
        let disks = try r.read(UInt32.self, "zip64_locator.total_disks")
        guard disk == 0, disks <= 1 else {
            throw FormatError(
                .unsupported("multi-disk archive (\(disks) disks)"), file: file.name,
                offset: loc + 4, field: "zip64_locator.disk")
        }
        var position = loc - ZipLayout.zip64EndRecordSize
        func hasSignature(_ p: Int) -> Bool {
            p >= 0 && p <= file.count - 4
                && file.raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian
                    == ZipLayout.zip64EndSignature
        }
        if !hasSignature(position) {
            guard recordOffset <= UInt64(loc), hasSignature(Int(recordOffset)) else {
                throw FormatError(
                    .invalid("no zip64 end of central directory record at \(recordOffset) or \(position)"),
                    file: file.name, offset: loc + 8, field: "zip64_locator.offset")
            }
            position = Int(recordOffset)
        }
        var z = ByteReader(file, offset: position + 4)
        _ = try z.read(UInt64.self, "zip64_end_of_central_directory.record_size")
        _ = try z.read(UInt16.self, "zip64_end_of_central_directory.version_made_by")
        _ = try z.read(UInt16.self, "zip64_end_of_central_directory.version_needed")
        let diskNumber = try z.read(UInt32.self, "zip64_end_of_central_directory.disk_number")
        let cdDisk = try z.read(UInt32.self, "zip64_end_of_central_directory.central_directory_disk")
        let diskEntries = try z.read(UInt64.self, "zip64_end_of_central_directory.disk_entries")
        let totalAt = z.absoluteOffset
        let total = try z.read(UInt64.self, "zip64_end_of_central_directory.total_entries")
        let sizeAt = z.absoluteOffset
        let size = try z.read(UInt64.self, "zip64_end_of_central_directory.central_directory_size")
        let offset = try z.read(UInt64.self, "zip64_end_of_central_directory.central_directory_offset")
        guard diskNumber == 0, cdDisk == 0, diskEntries == total else {
            throw FormatError(
                .unsupported("multi-disk archive (disk \(diskNumber), central directory on disk \(cdDisk))"),
                file: file.name, offset: position + 16, field: "zip64_end_of_central_directory.disk_number")
        }
        guard total <= UInt64(ZipLayout.maxEntryCount) else {
            throw FormatError(
                .limitExceeded("\(total) entries exceeds limit \(ZipLayout.maxEntryCount)"),
                file: file.name, offset: totalAt, field: "zip64_end_of_central_directory.total_entries")
        }
        guard size <= UInt64(position), offset <= UInt64(position) else {
            throw FormatError(
                .invalid("central directory offset \(offset) / size \(size) beyond the record at \(position)"),
                file: file.name, offset: sizeAt, field: "zip64_end_of_central_directory.central_directory_size")
        }
        return Zip64End(count: Int(total), size: Int(size), offset: Int(offset), position: position)
    }
}
