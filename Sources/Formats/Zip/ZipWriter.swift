/// Writes a ZIP archive of stored members byte for byte as Python's `zipfile` does under
/// `np.savez` (formats doc §2.3): every local header has the zip64 extra with the real
/// sizes and 0xFFFFFFFF in the 32-bit fields (numpy's `force_zip64=True`), version 4.5,
/// the fixed 1980-01-01 timestamp numpy uses, Unix mode 0600; the central directory gets a
/// zip64 extra only above `zip64Limit`, and a zip64 end record when the count or the
/// directory's offset or size needs it.
///
/// The CRC and size of a member are written in its local header, so the caller computes the
/// CRC before writing the data (no data descriptors, no seeking back).
package struct ZipWriter {
    /// Python zipfile's `ZIP64_LIMIT` (2^31 − 1): above it a value goes to a zip64 extra.
    package static let zip64Limit = (1 << 31) - 1
    /// Python zipfile's `ZIP_FILECOUNT_LIMIT`.
    static let fileCountLimit = 0xFFFF
    /// 4.5: the version needed for zip64 (APPNOTE 4.4.3.2); zipfile writes it for both
    /// "made by" and "needed" once a member is opened with force_zip64.
    static let version: UInt16 = 45
    /// Made by Unix (3 << 8), as zipfile writes on Linux and macOS.
    static let madeBy: UInt16 = 3 << 8 | version
    /// MS-DOS date of 1980-01-01 (numpy's fixed `date_time`), time 00:00:00.
    static let dosDate: UInt16 = 0x21
    /// `0o600 << 16`: the mode zipfile gives members opened for writing.
    static let externalAttributes: UInt32 = 0o600 << 16

    private struct Member {
        var name: [UInt8]
        var flags: UInt16
        var crc: UInt32
        var size: Int
        var offset: Int
    }

    let output: OutputFile
    private var members: [Member] = []
    private var expectedEnd: Int?

    package init(output: OutputFile) {
        self.output = output
    }

    /// The size of the local header `beginMember` writes for `name`.
    package static func localHeaderSize(name: String) -> Int {
        ZipLayout.localHeaderSize + name.utf8.count + 20
    }

    /// Writes the local header of a stored member of `size` bytes whose data has CRC-32
    /// `crc`; the caller then writes exactly `size` bytes to `output`.
    package mutating func beginMember(name: String, size: Int, crc: UInt32) throws(FormatError) {
        try finishMember()
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= ZipLayout.maxNameLength else {
            throw FormatError(
                .limitExceeded(
                    "member name of \(nameBytes.count) bytes exceeds \(ZipLayout.maxNameLength)"),
                file: output.path, field: name)
        }
        let flags: UInt16 = nameBytes.allSatisfy { $0 < 0x80 } ? 0 : ZipLayout.flagUTF8
        let m = Member(name: nameBytes, flags: flags, crc: crc, size: size, offset: output.position)
        var h: [UInt8] = []
        h.reserveCapacity(Self.localHeaderSize(name: name))
        h.le(ZipLayout.localHeaderSignature)
        h.le(Self.version)
        h.le(flags)
        h.le(UInt16(0))  // stored
        h.le(UInt16(0))  // time
        h.le(Self.dosDate)
        h.le(crc)
        h.le(UInt32.max)  // sizes are in the zip64 extra
        h.le(UInt32.max)
        h.le(UInt16(nameBytes.count))
        h.le(UInt16(20))
        h += nameBytes
        h.le(ZipLayout.zip64ExtraID)
        h.le(UInt16(16))
        h.le(UInt64(size))  // uncompressed, then compressed
        h.le(UInt64(size))
        try output.write(h)
        members.append(m)
        expectedEnd = output.position + size
    }

    private mutating func finishMember() throws(FormatError) {
        if let end = expectedEnd, output.position != end {
            preconditionFailure(
                "ZipWriter: member data is \(output.position - end) bytes off its declared size")
        }
        expectedEnd = nil
    }

    /// Writes the central directory and end records; the caller then commits `output`.
    package mutating func finish() throws(FormatError) {
        try finishMember()
        let start = output.position
        for m in members {
            var zip64: [UInt64] = []
            var size32 = UInt32(truncatingIfNeeded: m.size)
            var offset32 = UInt32(truncatingIfNeeded: m.offset)
            if m.size > Self.zip64Limit {
                zip64 += [UInt64(m.size), UInt64(m.size)]
                size32 = .max
            }
            if m.offset > Self.zip64Limit {
                zip64.append(UInt64(m.offset))
                offset32 = .max
            }
            var c: [UInt8] = []
            c.le(ZipLayout.centralHeaderSignature)
            c.le(Self.madeBy)
            c.le(Self.version)
            c.le(m.flags)
            c.le(UInt16(0))
            c.le(UInt16(0))
            c.le(Self.dosDate)
            c.le(m.crc)
            c.le(size32)
            c.le(size32)
            c.le(UInt16(m.name.count))
            c.le(UInt16(zip64.isEmpty ? 0 : 4 + 8 * zip64.count))
            c.le(UInt16(0))  // comment
            c.le(UInt16(0))  // disk
            c.le(UInt16(0))  // internal attributes
            c.le(Self.externalAttributes)
            c.le(offset32)
            c += m.name
            if !zip64.isEmpty {
                c.le(ZipLayout.zip64ExtraID)
                c.le(UInt16(8 * zip64.count))
                for v in zip64 { c.le(v) }
            }
            try output.write(c)
        }
        let end = output.position
        var count = members.count
        var size = end - start
        var offset = start
        var e: [UInt8] = []
        if count > Self.fileCountLimit || offset > Self.zip64Limit || size > Self.zip64Limit {
            e.le(ZipLayout.zip64EndSignature)
            e.le(UInt64(44))
            e.le(Self.version)
            e.le(Self.version)
            e.le(UInt32(0))
            e.le(UInt32(0))
            e.le(UInt64(count))
            e.le(UInt64(count))
            e.le(UInt64(size))
            e.le(UInt64(offset))
            e.le(ZipLayout.zip64LocatorSignature)
            e.le(UInt32(0))
            e.le(UInt64(end))
            e.le(UInt32(1))
            count = min(count, 0xFFFF)
            size = min(size, 0xFFFF_FFFF)
            offset = min(offset, 0xFFFF_FFFF)
        }
        e.le(ZipLayout.endSignature)
        e.le(UInt16(0))
        e.le(UInt16(0))
        e.le(UInt16(count))
        e.le(UInt16(count))
        e.le(UInt32(size))
        e.le(UInt32(offset))
        e.le(UInt16(0))
        try output.write(e)
    }
}

extension [UInt8] {
    /// Appends `v` little-endian.
    fileprivate mutating func le<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}
