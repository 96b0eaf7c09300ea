import CZlib

/// Member extraction: stored members are slices of the buffer, deflated ones are inflated
/// into a buffer of exactly the recorded size; both are CRC-checked.
extension ZipArchive {
    /// The member's extracted bytes.
    ///
    /// Stored members are returned in place (no copy); deflated members are inflated with
    /// zlib into a new buffer of exactly `uncompressedSize` bytes (a stream producing more or
    /// less is an error, so a lying size cannot make ckpt allocate or write past it).
    ///
    /// - Throws: `FormatError` at the member's data offset: `.invalid` on a CRC mismatch or a
    ///   corrupt or mis-sized deflate stream.
    public func data(of entry: ZipEntry) throws(FormatError) -> ByteSlice {
        let field = "'\(entry.name)'.data"
        let stored = try buffer.all.slice(entry.dataOffset, entry.compressedSize, field: field)
        let out: ByteSlice
        if entry.method == ZipEntry.Method.stored {
            out = stored
        } else {
            out = try Self.inflateMember(stored, size: entry.uncompressedSize, name: "\(buffer.name):\(entry.name)", field: field)
        }
        let crc = CRC32.checksum(out.raw)
        guard crc == entry.crc32 else {
            throw FormatError(
                .invalid(
                    "CRC-32 0x\(String(crc, radix: 16)) ≠ recorded 0x\(String(entry.crc32, radix: 16))"),
                file: buffer.name, offset: entry.dataOffset, field: field)
        }
        return out
    }

    /// Inflates a raw deflate stream that must produce exactly `size` bytes.
    private static func inflateMember(_ input: ByteSlice, size: Int, name: String, field: String)
        throws(FormatError) -> ByteSlice
    {
        func fail(_ why: String, _ at: Int) -> FormatError {
            FormatError(.invalid(why), file: input.name, offset: input.offset + at, field: field)
        }
        let result = try ByteBuffer.make(count: size, name: name) { (out) throws(FormatError) in
            var stream = z_stream()
            // -15: raw deflate, no zlib header (APPNOTE 4.4.5 method 8).
            guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw fail("zlib inflateInit2 failed", 0)
            }
            defer { inflateEnd(&stream) }
            // zlib counts in 32-bit uInt: feed input and output in chunks of at most 1 GiB.
            let chunk = 1 << 30
            var inPos = 0
            var outPos = 0
            while true {
                let inN = min(chunk, input.count - inPos)
                let outN = min(chunk, size - outPos)
                // Both pointers stay inside their buffers: inPos + inN <= input.count and
                // outPos + outN <= size; zlib writes at most avail_out bytes.
                stream.next_in = UnsafeMutablePointer(
                    mutating: input.raw.baseAddress.map { ($0 + inPos).assumingMemoryBound(to: Bytef.self) })
                stream.avail_in = uInt(inN)
                stream.next_out = out.baseAddress.map { ($0 + outPos).assumingMemoryBound(to: Bytef.self) }
                stream.avail_out = uInt(outN)
                let rc = inflate(&stream, Z_NO_FLUSH)
                inPos += inN - Int(stream.avail_in)
                outPos += outN - Int(stream.avail_out)
                switch rc {
                case Z_STREAM_END:
                    guard outPos == size else {
                        throw fail("deflate stream ends after \(outPos) of \(size) bytes (uncompressed_size lies)", inPos)
                    }
                    guard inPos == input.count else {
                        throw fail("\(input.count - inPos) compressed bytes after the end of the deflate stream", inPos)
                    }
                    return
                case Z_OK:
                    continue  // zlib returns Z_OK only after progress, so this terminates
                case Z_BUF_ERROR:
                    if outPos == size {
                        throw fail("deflate stream inflates to more than \(size) bytes (uncompressed_size lies)", inPos)
                    }
                    throw fail("deflate stream truncated after \(inPos) bytes", inPos)
                default:
                    let msg = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw fail("corrupt deflate stream: \(msg)", inPos)
                }
            }
        }
        return result.all
    }
}

/// CRC-32 (ISO 3309, the one ZIP uses) through zlib.
package enum CRC32 {
    /// Continues `crc` over `bytes` (start from 0).
    package static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        let p = base.assumingMemoryBound(to: Bytef.self)
        return UInt32(crc32_z(uLong(crc), p, z_size_t(bytes.count)))
    }

    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }
}
