/// The validated header of an npy file (formats doc §2.1): version, dtype, order, shape and
/// where the data lies.
public struct NPYHeader: Sendable, Hashable {
    public var major: UInt8
    public var descr: NPYDescr
    /// Column-major data (`fortran_order: True`).
    public var fortranOrder: Bool
    /// Row-major shape, as in the header (`()` for a 0-d array).
    public var shape: [Int]
    /// Offset of the array data from the start of the npy bytes.
    public var dataOffset: Int
    /// Size of the array data: product(shape) × itemsize.
    public var byteCount: Int

    /// `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// numpy's `_MAX_HEADER_SIZE` (10,000): `np.load` refuses longer header text by default.
    public static let maxHeaderLength = 10_000
    /// numpy 2.x `NPY_MAXDIMS` (64).
    public static let maxDimensions = 64
    /// Bytes before the header text that sniffing needs: magic, version, v2 length field.
    public static let maxPrefixLength = 12 + maxHeaderLength

    /// Parses and checks the header at the start of `bytes`, which may be only a prefix of
    /// the npy (enough to hold the header: `maxPrefixLength` bytes or the whole file).
    ///
    /// - Parameter total: the size of the whole npy; the data must end exactly there.
    /// - Throws: `FormatError` at the offending byte: bad magic or version, header over
    ///   `maxHeaderLength`, a dict with missing, extra or duplicate keys, a malformed literal,
    ///   an unsupported descr, a shape whose byte size overflows or does not match `total`.
    public static func parse(_ bytes: ByteSlice, total: Int) throws(FormatError) -> NPYHeader {
        var r = ByteReader(bytes)
        let magic = try r.bytes(6, "magic")
        guard magic.bytes == Self.magic else {
            throw r.error(
                .invalid("not an npy file (magic is not \\x93NUMPY)"), field: "magic", at: 0)
        }
        let major = try r.read(UInt8.self, "version.major")
        let minor = try r.read(UInt8.self, "version.minor")
        guard (1...3).contains(major), minor == 0 else {
            throw r.error(
                .unsupported("npy version \(major).\(minor) (1.0, 2.0, 3.0 are defined)"),
                field: "version", at: 6)
        }
        let lengthAt = r.offset
        let length =
            major == 1
            ? Int(try r.read(UInt16.self, "header_length"))
            : Int(try r.read(UInt32.self, "header_length"))
        guard length <= maxHeaderLength else {
            throw r.error(
                .limitExceeded(
                    "header of \(length) bytes exceeds numpy's limit \(maxHeaderLength)"),
                field: "header_length", at: lengthAt)
        }
        let textStart = r.absoluteOffset
        let text = try r.bytes(length, "header")
        // v1/v2 are latin1, v3 UTF-8; the keys and values ckpt accepts are ASCII either way,
        // and strings are checked as UTF-8 by the scanner.
        var s = PythonLiteralScanner(text: text.bytes, base: textStart, file: bytes.name)
        let dict = try parseDictionary(&s)
        let dataOffset = r.offset

        var elements = 1
        for (i, d) in dict.shape.enumerated() {
            let (n, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw FormatError(
                    .limitExceeded("element count overflows at shape[\(i)] = \(d)"),
                    file: bytes.name, offset: dict.shapeOffset, field: "header.shape")
            }
            elements = n
        }
        guard let byteCount = dict.descr.dtype.byteCount(elements: elements) else {
            throw FormatError(
                .limitExceeded("byte size of \(elements) elements overflows"),
                file: bytes.name, offset: dict.shapeOffset, field: "header.shape")
        }
        guard total - dataOffset == byteCount else {
            let available = total - dataOffset
            let reason: FormatError.Reason =
                available < byteCount
                ? .truncated(needed: byteCount, available: available)
                : .invalid("\(available - byteCount) bytes after the \(byteCount)-byte array data")
            throw FormatError(
                reason, file: bytes.name, offset: bytes.offset + dataOffset, field: "data")
        }
        return NPYHeader(
            major: major, descr: dict.descr, fortranOrder: dict.fortranOrder, shape: dict.shape,
            dataOffset: dataOffset, byteCount: byteCount)
    }

    private struct Dictionary {
        var descr: NPYDescr
        var fortranOrder: Bool
        var shape: [Int]
        var shapeOffset: Int
    }

    /// `{'descr': ..., 'fortran_order': ..., 'shape': ...}`: exactly these keys, once each.
    private static func parseDictionary(_ s: inout PythonLiteralScanner) throws(FormatError)
        -> Dictionary
    {
        // ast.literal_eval strips leading spaces and tabs.
        s.skipSpace()
        try s.expect("{", "header")
        var descr: NPYDescr?
        var fortran: Bool?
        var shape: [Int]?
        var shapeOffset = 0
        s.skipSpace()
        while s.peek != UInt8(ascii: "}") {
            let keyAt = s.position
            let key = try s.string("header.key")
            s.skipSpace()
            try s.expect(":", "header.\(key)")
            s.skipSpace()
            let valueAt = s.position
            func duplicate() -> FormatError {
                s.error(.invalid("duplicate key '\(key)'"), "header.\(key)", at: keyAt)
            }
            switch key {
            case "descr":
                guard descr == nil else { throw duplicate() }
                guard s.peek != UInt8(ascii: "[") else {
                    throw s.error(.unsupported("structured dtype (a list descr)"), "header.descr")
                }
                let text = try s.string("header.descr")
                guard let d = NPYDescr(text) else {
                    throw s.error(
                        .unsupported("descr '\(text)' (no ckpt dtype)"), "header.descr", at: valueAt
                    )
                }
                descr = d
            case "fortran_order":
                guard fortran == nil else { throw duplicate() }
                fortran = try s.bool("header.fortran_order")
            case "shape":
                guard shape == nil else { throw duplicate() }
                shapeOffset = s.base + valueAt
                shape = try s.intTuple("header.shape", maxCount: maxDimensions)
            default:
                throw s.error(
                    .invalid("unexpected key '\(key)' (numpy allows descr, fortran_order, shape)"),
                    "header.key", at: keyAt)
            }
            s.skipSpace()
            if s.peek == UInt8(ascii: ",") {
                s.position += 1
                s.skipSpace()
            } else if s.peek != UInt8(ascii: "}") {
                throw s.error(.invalid("expected ',' or '}'\(s.describeNext)"), "header")
            }
        }
        s.position += 1
        s.skipSpace()
        guard s.atEnd else {
            throw s.error(.invalid("text after the header dict\(s.describeNext)"), "header")
        }
        guard let descr, let fortran, let shape else {
            let missing = [
                descr == nil ? "descr" : nil, fortran == nil ? "fortran_order" : nil,
                shape == nil ? "shape" : nil,
            ]
            throw s.error(
                .invalid("header dict lacks \(missing.compactMap { $0 }.joined(separator: ", "))"),
                "header", at: 0)
        }
        return Dictionary(
            descr: descr, fortranOrder: fortran, shape: shape, shapeOffset: shapeOffset)
    }
}
