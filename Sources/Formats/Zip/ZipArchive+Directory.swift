/// Central directory entries and the local headers they point to.
extension ZipArchive {
    /// Reads central directory entry `i` and checks its local header against it.
    static func readCentralEntry(
        _ r: inout ByteReader, _ i: Int, prefix: Int, file: ByteSlice, cdStart: Int
    ) throws(FormatError) -> ZipEntry {
        let f = "central_directory[\(i)]"
        let start = r.offset
        let signature = try r.read(UInt32.self, "\(f).signature")
        guard signature == ZipLayout.centralHeaderSignature else {
            throw r.error(
                .invalid("bad signature 0x\(String(signature, radix: 16))"), field: "\(f).signature", at: start)
        }
        _ = try r.read(UInt16.self, "\(f).version_made_by")
        _ = try r.read(UInt16.self, "\(f).version_needed")
        let flagsAt = r.offset
        let flags = try r.read(UInt16.self, "\(f).flags")
        let methodAt = r.offset
        let method = try r.read(UInt16.self, "\(f).compression_method")
        _ = try r.read(UInt32.self, "\(f).modification_time")
        let crc = try r.read(UInt32.self, "\(f).crc32")
        let compressedAt = r.offset
        let compressed32 = try r.read(UInt32.self, "\(f).compressed_size")
        let uncompressed32 = try r.read(UInt32.self, "\(f).uncompressed_size")
        let nameLengthAt = r.offset
        let nameLength = Int(try r.read(UInt16.self, "\(f).file_name_length"))
        let extraLength = Int(try r.read(UInt16.self, "\(f).extra_field_length"))
        let commentLength = Int(try r.read(UInt16.self, "\(f).file_comment_length"))
        let diskStart = try r.read(UInt16.self, "\(f).disk_number_start")
        _ = try r.read(UInt16.self, "\(f).internal_attributes")
        _ = try r.read(UInt32.self, "\(f).external_attributes")
        let offsetAt = r.offset
        let offset32 = try r.read(UInt32.self, "\(f).local_header_offset")

        guard nameLength <= ZipLayout.maxNameLength else {
            throw r.error(
                .limitExceeded("name of \(nameLength) bytes exceeds limit \(ZipLayout.maxNameLength)"),
                field: "\(f).file_name_length", at: nameLengthAt)
        }
        let nameBytes = try r.bytes(nameLength, "\(f).file_name")
        let name = try decodeName(nameBytes, flags: flags, field: "\(f).file_name")
        let extra = try r.bytes(extraLength, "\(f).extra_field")
        try r.skip(commentLength, "\(f).file_comment")

        guard flags & (ZipLayout.flagEncrypted | ZipLayout.flagStrongEncryption) == 0 else {
            throw r.error(.unsupported("encrypted member '\(name)'"), field: "\(f).flags", at: flagsAt)
        }
        guard method == ZipEntry.Method.stored || method == ZipEntry.Method.deflated else {
            throw r.error(
                .unsupported("compression method \(method) of '\(name)' (only 0 stored and 8 deflated)"),
                field: "\(f).compression_method", at: methodAt)
        }

        // Zip64 extra: each field is present only when its 32-bit slot holds the placeholder.
        var uncompressed = UInt64(uncompressed32)
        var compressed = UInt64(compressed32)
        var localOffset = UInt64(offset32)
        var disk = UInt32(diskStart)
        let needs = (uncompressed32 == .max, compressed32 == .max, offset32 == .max, diskStart == .max)
        if needs.0 || needs.1 || needs.2 || needs.3 {
            guard let z = try findExtra(extra, id: ZipLayout.zip64ExtraID, field: "\(f).extra_field") else {
                throw r.error(
                    .invalid("32-bit size or offset is 0xFFFFFFFF but there is no zip64 extra field"),
                    field: "\(f).extra_field", at: compressedAt)
            }
            var zr = ByteReader(z)
            if needs.0 { uncompressed = try zr.read(UInt64.self, "\(f).zip64.uncompressed_size") }
            if needs.1 { compressed = try zr.read(UInt64.self, "\(f).zip64.compressed_size") }
            if needs.2 { localOffset = try zr.read(UInt64.self, "\(f).zip64.local_header_offset") }
            if needs.3 { disk = try zr.read(UInt32.self, "\(f).zip64.disk_number_start") }
        }
        guard disk == 0 else {
            throw r.error(.unsupported("member on disk \(disk)"), field: "\(f).disk_number_start", at: offsetAt - 8)
        }
        let limit = UInt64(file.count)
        guard compressed <= limit else {
            throw r.error(
                .invalid("compressed size \(compressed) exceeds the file size \(limit)"),
                field: "\(f).compressed_size", at: compressedAt)
        }
        guard localOffset <= limit, Int(localOffset) <= cdStart - prefix else {
            throw r.error(
                .invalid("local header offset \(localOffset) is past the central directory"),
                field: "\(f).local_header_offset", at: offsetAt)
        }
        let uncompressedSize: Int
        if method == ZipEntry.Method.stored {
            guard uncompressed == compressed else {
                throw r.error(
                    .invalid("stored member with compressed size \(compressed) ≠ uncompressed size \(uncompressed)"),
                    field: "\(f).uncompressed_size", at: compressedAt + 4)
            }
            uncompressedSize = Int(compressed)
        } else {
            // Refuse a size no deflate stream of this length can produce before allocating it.
            let (bound, overflow) = compressed.multipliedReportingOverflow(by: UInt64(ZipLayout.maxDeflateRatio))
            guard uncompressed <= UInt64(ZipLayout.maxInflatedSize), overflow || uncompressed <= bound + 64 else {
                throw r.error(
                    .limitExceeded(
                        "uncompressed size \(uncompressed) from \(compressed) compressed bytes (cap \(ZipLayout.maxInflatedSize), ratio \(ZipLayout.maxDeflateRatio):1)"),
                    field: "\(f).uncompressed_size", at: compressedAt + 4)
            }
            uncompressedSize = Int(uncompressed)
        }

        let headerOffset = Int(localOffset) + prefix
        let dataOffset = try checkLocalHeader(
            file, at: headerOffset, name: nameBytes, compressedSize: Int(compressed), field: f)
        return ZipEntry(
            name: name, method: method, compressedSize: Int(compressed),
            uncompressedSize: uncompressedSize, crc32: crc, localHeaderOffset: headerOffset,
            dataOffset: dataOffset)
    }

    /// Validates the local header at `offset` (signature, same name, no encryption) and
    /// returns where the member's data starts; the data range must lie inside the file.
    private static func checkLocalHeader(
        _ file: ByteSlice, at offset: Int, name: ByteSlice, compressedSize: Int, field f: String
    ) throws(FormatError) -> Int {
        var r = ByteReader(file, offset: offset)
        let signature = try r.read(UInt32.self, "\(f).local_header.signature")
        guard signature == ZipLayout.localHeaderSignature else {
            throw r.error(
                .invalid("bad local header signature 0x\(String(signature, radix: 16))"),
                field: "\(f).local_header.signature", at: offset)
        }
        _ = try r.read(UInt16.self, "\(f).local_header.version_needed")
        let flagsAt = r.offset
        let flags = try r.read(UInt16.self, "\(f).local_header.flags")
        try r.skip(18, "\(f).local_header")  // method, time, date, crc, sizes: central wins
        let nameLengthAt = r.offset
        let nameLength = Int(try r.read(UInt16.self, "\(f).local_header.file_name_length"))
        let extraLength = Int(try r.read(UInt16.self, "\(f).local_header.extra_field_length"))
        guard flags & (ZipLayout.flagEncrypted | ZipLayout.flagStrongEncryption) == 0 else {
            throw r.error(.unsupported("encrypted member"), field: "\(f).local_header.flags", at: flagsAt)
        }
        guard nameLength == name.count else {
            throw r.error(
                .invalid("local name length \(nameLength) ≠ central directory's \(name.count)"),
                field: "\(f).local_header.file_name_length", at: nameLengthAt)
        }
        let nameAt = r.offset
        let localName = try r.bytes(nameLength, "\(f).local_header.file_name")
        guard localName == name else {
            throw r.error(
                .invalid("local header name differs from the central directory's"),
                field: "\(f).local_header.file_name", at: nameAt)
        }
        try r.skip(extraLength, "\(f).local_header.extra_field")
        let dataOffset = r.absoluteOffset
        guard compressedSize <= file.count - dataOffset else {
            throw FormatError(
                .truncated(needed: compressedSize, available: file.count - dataOffset),
                file: file.name, offset: dataOffset, field: "\(f).data")
        }
        return dataOffset
    }

    /// The data of extra field `id` in an extra area, if present; records must tile the area.
    private static func findExtra(_ extra: ByteSlice, id: UInt16, field: String) throws(FormatError) -> ByteSlice? {
        var r = ByteReader(extra)
        var found: ByteSlice?
        while !r.isAtEnd {
            let header = r.offset
            let tag = try r.read(UInt16.self, "\(field)[\(header)].id")
            let length = Int(try r.read(UInt16.self, "\(field)[\(header)].length"))
            let data = try r.bytes(length, "\(field)[\(header)].data")
            if tag == id, found == nil { found = data }
        }
        return found
    }

    /// UTF-8 when flag bit 11 says so (invalid UTF-8 is an error), else CP437 (APPNOTE D).
    private static func decodeName(_ bytes: ByteSlice, flags: UInt16, field: String) throws(FormatError) -> String {
        if flags & ZipLayout.flagUTF8 != 0 || bytes.raw.allSatisfy({ $0 < 0x80 }) {
            guard let s = String(validating: bytes.raw, as: UTF8.self) else {
                throw FormatError(.invalid("name is not valid UTF-8"), file: bytes.name, offset: bytes.offset, field: field)
            }
            return s
        }
        return CP437.decode(bytes.raw)
    }

    /// Members must not overlap one another or the central directory (Python's zipfile
    /// refuses "overlapped entries"; overlap is how some zip bombs multiply their output).
    static func checkNoOverlap(_ entries: [ZipEntry], cdStart: Int, file: String) throws(FormatError) {
        let order = entries.indices.sorted { entries[$0].localHeaderOffset < entries[$1].localHeaderOffset }
        for (k, i) in order.enumerated() {
            let e = entries[i]
            let next = k + 1 < order.count ? entries[order[k + 1]].localHeaderOffset : cdStart
            // dataOffset + compressedSize <= file size was checked, so this cannot overflow.
            guard e.dataOffset + e.compressedSize <= next else {
                throw FormatError(
                    .invalid("data of '\(e.name)' (\(e.compressedSize) bytes) overlaps the next record at \(next)"),
                    file: file, offset: e.dataOffset, field: "central_directory[\(i)].compressed_size")
            }
        }
    }
}
