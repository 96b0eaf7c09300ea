/// Writes one array as an `.npy` file, header byte for byte as numpy 2.x writes it
/// (formats doc §2.1): `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, the
/// growth-axis spare spaces, then spaces and `\n` so the data starts at a multiple of 64;
/// version 1.0 unless the header does not fit a u16 length.
///
/// It is a `TensorSink` for a plan of exactly one tensor:
///
/// ```swift
/// var w = NPYWriter(path: "w.npy")
/// try w.begin(metadata: [:], plan: [info])
/// try w.write(info, bytes: raw)
/// try w.commit()
/// ```
///
/// numpy has no BF16, FP8 or quantized types: those throw `.unsupported` naming the tensor
/// (cast first, e.g. `--dtype f32`).
public struct NPYWriter: TensorSink {
    public let path: String
    private var output: OutputFile?
    private var plan: TensorInfo?
    private var written = false

    public init(path: String) {
        self.path = path
    }

    /// numpy's `ARRAY_ALIGN`.
    public static let alignment = 64
    /// numpy's `GROWTH_AXIS_MAX_DIGITS`: spare spaces for growing axis 0 in place.
    static let growthAxisMaxDigits = 21

    /// The complete npy preamble (magic, version, length, header text and padding) numpy
    /// writes for a C-order little-endian array of `dtype` and `shape`.
    ///
    /// - Throws: `.unsupported` when numpy has no such dtype.
    public static func header(dtype: DType, shape: [Int], tensorName: String = "")
        throws(FormatError) -> [UInt8]
    {
        guard let descr = NPYDescr.numpyDescr(for: dtype) else {
            throw FormatError(
                .unsupported(
                    "tensor '\(tensorName)' is \(dtype.rawValue), which numpy cannot represent; cast it (e.g. --dtype f32)"
                ),
                field: tensorName)
        }
        let dims = shape.map(String.init)
        let tuple = shape.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
        if let first = shape.first {
            text += String(repeating: " ", count: max(0, growthAxisMaxDigits - String(first).count))
        }
        let body = Array(text.utf8)
        // numpy's _wrap_header: hlen counts the final '\n'; padding is never zero.
        for (major, lengthSize) in [(UInt8(1), 2), (UInt8(2), 4)] {
            let hlen = body.count + 1
            let pad = alignment - (8 + lengthSize + hlen) % alignment
            let total = hlen + pad
            if major == 1 && total > Int(UInt16.max) { continue }
            var out = NPYHeader.magic + [major, 0]
            if major == 1 {
                Swift.withUnsafeBytes(of: UInt16(total).littleEndian) { out += $0 }
            } else {
                Swift.withUnsafeBytes(of: UInt32(total).littleEndian) { out += $0 }
            }
            out += body
            out += [UInt8](repeating: 0x20, count: pad)
            out.append(0x0A)
            return out
        }
        preconditionFailure("unreachable: a version 2.0 header fits any plain-dtype header")
    }

    public mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        guard plan.count == 1, let t = plan.first else {
            throw FormatError(
                .invalid("an npy file holds exactly one array, the plan has \(plan.count)"),
                file: path)
        }
        let header = try Self.checkedHeader(t, file: path)
        self.plan = t
        let output = try OutputFile(path: path)
        try output.preallocate(header.count + t.byteCount)
        self.output = output
    }

    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        guard let plan, let output, !written else {
            throw FormatError(
                .invalid("write without begin, or a second tensor"), file: path, field: tensor.name)
        }
        guard tensor.name == plan.name, bytes.count == plan.byteCount else {
            throw FormatError(
                .invalid(
                    "expected '\(plan.name)' with \(plan.byteCount) bytes, got '\(tensor.name)' with \(bytes.count)"
                ),
                file: path, field: tensor.name)
        }
        try output.write(try Self.checkedHeader(plan, file: path))
        try output.write(bytes)
        written = true
    }

    public mutating func commit() throws(FormatError) {
        guard let output, written else {
            throw FormatError(.invalid("commit before the tensor was written"), file: path)
        }
        try output.commit()
        self.output = nil
    }

    /// The header for `t`, after checking that it is a dense numpy type whose byte count
    /// matches its shape.
    static func checkedHeader(_ t: TensorInfo, file: String) throws(FormatError) -> [UInt8] {
        guard let dtype = t.type.dense else {
            throw FormatError(
                .unsupported(
                    "tensor '\(t.name)' is \(t.type), a quantized type numpy cannot hold; dequantize it first"
                ),
                file: file, field: t.name)
        }
        guard t.type.byteCount(shape: t.shape) == t.byteCount else {
            throw FormatError(
                .invalid(
                    "tensor '\(t.name)': \(t.byteCount) bytes do not match \(dtype.rawValue) \(t.shape)"
                ),
                file: file, field: t.name)
        }
        do {
            return try header(dtype: dtype, shape: t.shape, tensorName: t.name)
        } catch { throw error.inFile(file) }
    }
}
