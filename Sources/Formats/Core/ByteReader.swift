/// A cursor over untrusted bytes: every load is bounds-checked first, and every failure
/// names the absolute offset and the field being read.
public struct ByteReader {
    public let slice: ByteSlice
    /// Position relative to `slice`.
    public var offset: Int = 0

    public init(_ slice: ByteSlice, offset: Int = 0) {
        self.slice = slice
        self.offset = offset
    }

    public var remaining: Int { slice.count - offset }
    public var isAtEnd: Bool { offset >= slice.count }
    /// Absolute offset in the underlying file, for error messages.
    public var absoluteOffset: Int { slice.offset + offset }

    /// An error located at the current offset (or `at`, relative to the slice).
    public func error(_ reason: FormatError.Reason, field: String, at: Int? = nil) -> FormatError {
        FormatError(reason, file: slice.name, offset: slice.offset + (at ?? offset), field: field)
    }

    public mutating func read<T: FixedWidthInteger>(
        _: T.Type, _ field: @autoclosure () -> String
    ) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw error(.truncated(needed: size, available: max(0, remaining)), field: field())
        }
        defer { offset += size }
        return T(littleEndian: slice.raw.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    public mutating func readBigEndian<T: FixedWidthInteger>(
        _: T.Type, _ field: @autoclosure () -> String
    ) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw error(.truncated(needed: size, available: max(0, remaining)), field: field())
        }
        defer { offset += size }
        return T(bigEndian: slice.raw.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    public mutating func readFloat(_ field: @autoclosure () -> String) throws(FormatError) -> Float {
        Float(bitPattern: try read(UInt32.self, field()))
    }

    public mutating func readDouble(_ field: @autoclosure () -> String) throws(FormatError) -> Double {
        Double(bitPattern: try read(UInt64.self, field()))
    }

    /// The next `count` bytes as a slice (no copy).
    public mutating func bytes(_ count: Int, _ field: @autoclosure () -> String)
        throws(FormatError) -> ByteSlice
    {
        guard count >= 0 else {
            throw error(.invalid("negative length \(count)"), field: field())
        }
        guard remaining >= count else {
            throw error(.truncated(needed: count, available: max(0, remaining)), field: field())
        }
        defer { offset += count }
        return ByteSlice(buffer: slice.buffer, offset: slice.offset + offset, count: count)
    }

    /// The next `count` bytes decoded as UTF-8; invalid UTF-8 is an error.
    public mutating func string(_ count: Int, _ field: @autoclosure () -> String)
        throws(FormatError) -> String
    {
        let start = offset
        let b = try bytes(count, field())
        guard let s = String(validating: b.raw, as: UTF8.self) else {
            throw error(.invalid("invalid UTF-8"), field: field(), at: start)
        }
        return s
    }

    public mutating func skip(_ count: Int, _ field: @autoclosure () -> String) throws(FormatError) {
        _ = try bytes(count, field())
    }
}
