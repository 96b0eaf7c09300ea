import Formats

/// Decodes one row of a packed weight matrix into floats.
///
/// The quantized matmul kernel only needs rows, so any packing plugs in here: the MLX
/// affine and GGML legacy blocks below, and the Quantize module's block codecs (K-quants,
/// IQ types) through `ClosureRowDequantizer`.
public protocol RowDequantizer: Sendable {
    /// Output features (N).
    var rows: Int { get }
    /// Input features (K), the length of a decoded row.
    var columns: Int { get }
    /// Packed bytes read per row (scales included), for bandwidth figures.
    var bytesPerRow: Int { get }
    /// Writes `columns` floats of `row` (0 ..< rows) to `out`.
    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>)
    /// The dot product of `row` with `x` (`columns` floats), for matrix-vector products.
    /// `scratch` holds `columns` floats. The default decodes the row, then multiplies;
    /// packings override it to multiply codes directly (one pass over the packed bytes).
    func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Float
}

extension RowDequantizer {
    public func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>)
        -> Float
    {
        dequantize(row: row, into: scratch)
        return Compute.dot(x, scratch, columns)
    }
}

/// A row dequantizer from a closure (e.g. wrapping a Quantize block codec).
public struct ClosureRowDequantizer: RowDequantizer {
    public let rows: Int
    public let columns: Int
    public let bytesPerRow: Int
    let body: @Sendable (Int, UnsafeMutablePointer<Float>) -> Void

    /// Wraps `body(row, out)`, which writes `columns` floats of `row`.
    public init(
        rows: Int, columns: Int, bytesPerRow: Int,
        _ body: @escaping @Sendable (_ row: Int, _ out: UnsafeMutablePointer<Float>) -> Void
    ) {
        self.rows = rows
        self.columns = columns
        self.bytesPerRow = bytesPerRow
        self.body = body
    }

    /// Calls the closure.
    public func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) { body(row, out) }
}

/// A packed [rows, columns] weight that stays packed inside the graph.
public struct QuantizedWeight: Sendable {
    /// Decodes rows for the kernels.
    public let dequantizer: any RowDequantizer
    public var rows: Int { dequantizer.rows }
    public var columns: Int { dequantizer.columns }

    /// A weight decoded by any row dequantizer (e.g. a Quantize codec).
    public init(_ dequantizer: any RowDequantizer) { self.dequantizer = dequantizer }

    /// MLX affine weights (formats doc §4.2-4.4): `packed` U32 [rows, columns·bits/32],
    /// `scales` and `biases` [rows, columns/groupSize] of `scaleDType` (F32, F16, BF16).
    /// - Throws: `ComputeError` when sizes disagree or bits/group are not supported.
    public static func affine(
        packed: ByteSlice, scales: ByteSlice, biases: ByteSlice, scaleDType: DType,
        rows: Int, columns: Int, bits: Int, groupSize: Int
    ) throws(ComputeError) -> QuantizedWeight {
        QuantizedWeight(
            try AffineRows(
                packed: packed, scales: scales, biases: biases, scaleDType: scaleDType,
                rows: rows, columns: columns, bits: bits, groupSize: groupSize))
    }

    /// GGML block weights (formats-gguf.md §2.4): `bytes` holds rows × (columns / 32) blocks.
    /// - Throws: `ComputeError` for types without a built-in decoder or wrong sizes.
    public static func ggml(_ type: GGMLType, bytes: ByteSlice, rows: Int, columns: Int)
        throws(ComputeError) -> QuantizedWeight
    {
        QuantizedWeight(try GGMLRows(type: type, bytes: bytes, rows: rows, columns: columns))
    }
}

/// Checks `rows × perRow` bytes against `count`.
func checkedBytes(_ rows: Int, _ perRow: Int, _ count: Int, _ what: String) throws(ComputeError) {
    let (n, o) = rows.multipliedReportingOverflow(by: perRow)
    guard rows >= 0, perRow >= 0, !o, n == count else {
        throw ComputeError(
            .shape("\(what): \(count) bytes, expected \(rows) rows × \(perRow)"),
            op: "quantized_matmul")
    }
}

/// MLX affine rows: `w = scale · q + bias` per group of `groupSize` codes, codes a
/// little-endian bit stream of U32 words (formats doc §4.3).
struct AffineRows: RowDequantizer {
    let rows: Int
    let columns: Int
    let bits: Int
    let groupSize: Int
    let packed: ByteSlice
    let scales: ByteSlice
    let biases: ByteSlice
    let scaleDType: DType
    let packedRowBytes: Int
    let groups: Int

    var bytesPerRow: Int { packedRowBytes + 2 * groups * (scaleDType.byteSize ?? 4) }

    init(
        packed: ByteSlice, scales: ByteSlice, biases: ByteSlice, scaleDType: DType,
        rows: Int, columns: Int, bits: Int, groupSize: Int
    ) throws(ComputeError) {
        let op = "quantized_matmul"
        guard [1, 2, 3, 4, 5, 6, 8].contains(bits) else {
            throw ComputeError(.unsupported("affine bits \(bits)"), op: op)
        }
        guard groupSize > 0, columns > 0, columns % groupSize == 0, (groupSize * bits) % 32 == 0
        else {
            throw ComputeError(.shape("columns \(columns) with group size \(groupSize)"), op: op)
        }
        guard [.f32, .f16, .bf16].contains(scaleDType), let sz = scaleDType.byteSize else {
            throw ComputeError(.dtype("scales of \(scaleDType.rawValue)"), op: op)
        }
        self.rows = rows
        self.columns = columns
        self.bits = bits
        self.groupSize = groupSize
        self.packed = packed
        self.scales = scales
        self.biases = biases
        self.scaleDType = scaleDType
        packedRowBytes = columns * bits / 8
        groups = columns / groupSize
        try checkedBytes(rows, packedRowBytes, packed.count, "packed")
        try checkedBytes(rows, groups * sz, scales.count, "scales")
        try checkedBytes(rows, groups * sz, biases.count, "biases")
    }

    @inline(__always)
    func scalar(_ s: ByteSlice, _ i: Int) -> Float {
        switch scaleDType {
        case .f16:
            Scalars.fromHalf(
                s.raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian)
        case .bf16:
            Scalars.fromBFloat(
                s.raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian)
        default:
            Float(
                bitPattern: s.raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian
            )
        }
    }

    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows)
        // In bounds: init checked packed = rows × packedRowBytes, scales = rows × groups.
        let base = packed.raw.baseAddress.unsafelyUnwrapped + row * packedRowBytes
        let mask = UInt32((1 << bits) - 1)
        for g in 0..<groups {
            let s = scalar(scales, row * groups + g)
            let b = scalar(biases, row * groups + g)
            let o = out + g * groupSize
            let first = g * groupSize
            switch bits {
            case 4:
                let p = base + first / 2
                for j in 0..<(groupSize / 2) {
                    let byte = p.load(fromByteOffset: j, as: UInt8.self)
                    o[2 * j] = s * Float(byte & 0xF) + b
                    o[2 * j + 1] = s * Float(byte >> 4) + b
                }
            case 8:
                let p = base + first
                for j in 0..<groupSize {
                    o[j] = s * Float(p.load(fromByteOffset: j, as: UInt8.self)) + b
                }
            default:
                for j in 0..<groupSize {
                    let bitpos = (first + j) * bits
                    let byte = bitpos / 8, off = bitpos % 8
                    // A code spans at most 2 bytes (bits ≤ 8), and the last code of a row
                    // ends on the row's last byte, so byte + 1 is read only when needed.
                    var v = UInt32(base.load(fromByteOffset: byte, as: UInt8.self)) >> off
                    if off + bits > 8 {
                        v |=
                            UInt32(base.load(fromByteOffset: byte + 1, as: UInt8.self)) << (8 - off)
                    }
                    o[j] = s * Float(v & mask) + b
                }
            }
        }
    }
}

/// GGML block rows (formats-gguf.md §2.4, §2.6): each row is `columns / blockSize` blocks.
struct GGMLRows: RowDequantizer {
    let type: GGMLType
    let rows: Int
    let columns: Int
    let bytes: ByteSlice
    let bytesPerRow: Int

    init(type: GGMLType, bytes: ByteSlice, rows: Int, columns: Int) throws(ComputeError) {
        guard GGMLBlocks.supported.contains(type) else {
            throw ComputeError(
                .unsupported("\(type.name) has no built-in row decoder; pass a RowDequantizer"),
                op: "quantized_matmul")
        }
        guard columns > 0, columns % type.blockSize == 0 else {
            throw ComputeError(
                .shape("columns \(columns) not a multiple of \(type.blockSize)"),
                op: "quantized_matmul")
        }
        self.type = type
        self.rows = rows
        self.columns = columns
        self.bytes = bytes
        bytesPerRow = columns / type.blockSize * type.bytesPerBlock
        try checkedBytes(rows, bytesPerRow, bytes.count, type.name)
    }

    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows)
        // In bounds: init checked bytes.count == rows × bytesPerRow.
        let base = bytes.raw.baseAddress.unsafelyUnwrapped + row * bytesPerRow
        let (bpb, bs) = (type.bytesPerBlock, type.blockSize)
        for blk in 0..<(columns / bs) {
            GGMLBlocks.decode(type, base + blk * bpb, out + blk * bs)
        }
    }
}
