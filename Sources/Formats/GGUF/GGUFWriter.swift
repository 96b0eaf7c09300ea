/// Writes a GGUF version 3 file, little-endian, byte for byte as gguf-py's `GGUFWriter`.
///
/// Why a plan: GGUF puts every tensor's offset in the header, so `begin` lays out the whole
/// file from the plan (header, infos, contiguous aligned offsets) before any tensor data is
/// seen; `write` then streams each tensor in plan order and `commit` renames the finished
/// file into place. Only one tensor's bytes are ever held, and a writer dropped before
/// `commit` leaves nothing behind.
///
/// Metadata is written with exactly the widths its `MetadataValue` cases name (llama.cpp
/// checks them); an array uses its `elementType`, else its first element's type.
/// `general.alignment` is written only when the metadata has it, as gguf-py does, except that
/// a non-default `alignment` argument without the key appends it (a reader could not find
/// the data otherwise).
///
/// ```swift
/// var writer = GGUFWriter(path: "out.gguf")
/// try writer.begin(metadata: source.metadata, plan: source.tensors)
/// for t in source.tensors { try source.bytes(of: t).withBytes { try writer.write(t, bytes: $0) } }
/// try writer.commit()
/// ```
public struct GGUFWriter: TensorSink {
    /// The destination, created (atomically renamed into place) by `commit`.
    public let path: String
    /// The alignment requested at init; the effective one is known after `begin`.
    public let requestedAlignment: Int
    private var file: OutputFile?
    private var plan: [TensorInfo] = []
    private var next = 0
    private var alignment = GGUFLimits.defaultAlignment
    private var began = false

    /// A writer for `path` (nothing is created until `begin`).
    /// - Parameter alignment: data alignment, a power of two; overridden by a
    ///   `general.alignment` key in the metadata, which must then agree with a non-default value.
    public init(path: String, alignment: Int = GGUFLimits.defaultAlignment) {
        self.path = path
        requestedAlignment = alignment
    }

    /// Validates the plan, writes header, key/values, tensor infos and the padding before the
    /// data section.
    /// - Throws: `FormatError` for metadata GGUF cannot type (objects, null, empty untyped
    ///   arrays, mixed arrays), a bad alignment, a tensor name of 64 bytes or more, duplicate
    ///   names, more than 4 dimensions, a dtype GGUF lacks, or a byte count that does not match
    ///   the type and shape.
    public mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        guard !began else { throw fail(.invalid("begin called twice"), "plan") }
        began = true
        var metadata = metadata
        alignment = try resolveAlignment(&metadata)

        var encoder = GGUFEncoder(file: path)
        encoder.append(UInt32(littleEndian: 0x4655_4747))  // "GGUF"
        encoder.append(GGUFLimits.currentVersion)
        encoder.append(UInt64(plan.count))
        encoder.append(UInt64(metadata.count))
        for (key, value) in metadata {
            try encoder.append(key: key, value: value)
        }
        var names = Set<String>()
        var offset = 0
        for (i, t) in plan.enumerated() {
            let type = try ggmlType(of: t, index: i)
            guard names.insert(t.name).inserted else {
                throw fail(.invalid("duplicate tensor name '\(t.name)'"), "plan[\(i)].name")
            }
            encoder.appendTensorInfo(name: t.name, shape: t.shape, type: type, offset: offset)
            guard let padded = GGUFLimits.padded(t.byteCount, to: alignment),
                case (let sum, false) = offset.addingReportingOverflow(padded)
            else { throw fail(.invalid("data section size overflows"), "plan[\(i)]") }
            offset = sum
        }

        let out = try OutputFile(path: path)
        let header = encoder.bytes.count
        try out.preallocate(header + (alignment - header % alignment) % alignment + offset)
        try out.write(encoder.bytes)
        try writePadding(out)
        file = out
        self.plan = plan
    }

    /// Writes the next tensor of the plan, then zero padding to the alignment.
    /// - Throws: `FormatError` when `tensor` is not the next one planned or `bytes` has the
    ///   wrong size.
    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        guard let file else { throw fail(.invalid("write before begin"), "plan") }
        try checkNext(tensor, byteCount: bytes.count)
        try file.write(bytes)
        try writePadding(file)
        next += 1
    }

    /// The next planned tensor's range of the file (its padding written after it), for a
    /// caller that fills it in pieces.
    /// - Throws: as `write`.
    public mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        guard let file else { throw fail(.invalid("write before begin"), "plan") }
        try checkNext(tensor, byteCount: tensor.byteCount)
        let region = try file.reserve(tensor.byteCount)
        try writePadding(file)
        next += 1
        return region
    }

    /// Checks that `tensor` is the next one planned and has its planned size.
    private func checkNext(_ tensor: TensorInfo, byteCount: Int) throws(FormatError) {
        guard next < plan.count else {
            throw fail(.invalid("tensor '\(tensor.name)' is not in the plan"), "plan")
        }
        let planned = plan[next]
        guard tensor.name == planned.name else {
            throw fail(
                .invalid("got tensor '\(tensor.name)', expected '\(planned.name)' (plan order)"),
                "plan[\(next)]")
        }
        guard byteCount == planned.byteCount else {
            throw fail(
                .invalid(
                    "tensor '\(tensor.name)' has \(byteCount) bytes, planned \(planned.byteCount)"
                ),
                "plan[\(next)].byteCount")
        }
    }

    /// Renames the finished file into place.
    /// - Throws: `FormatError` when tensors of the plan are missing, or the OS refuses.
    public mutating func commit() throws(FormatError) {
        guard let file else { throw fail(.invalid("commit before begin"), "plan") }
        guard next == plan.count else {
            throw fail(.invalid("only \(next) of \(plan.count) tensors written"), "plan[\(next)]")
        }
        try file.commit()
        self.file = nil
    }

    // MARK: Helpers

    private func fail(_ reason: FormatError.Reason, _ field: String) -> FormatError {
        FormatError(reason, file: path, field: field)
    }

    private func writePadding(_ out: OutputFile) throws(FormatError) {
        let r = out.position % alignment
        if r != 0 { try out.writeZeros(alignment - r) }
    }

    private static func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }

    /// The metadata's `general.alignment` (which must be UINT32 and a power of two) or the
    /// requested one, appended to the metadata when it is not the default.
    private func resolveAlignment(_ metadata: inout Metadata) throws(FormatError) -> Int {
        let key = GGUFLimits.alignmentKey
        guard Self.isPowerOfTwo(requestedAlignment), requestedAlignment <= Int(UInt32.max) else {
            throw fail(
                .invalid("alignment \(requestedAlignment) is not a power of two"), "alignment")
        }
        guard let value = metadata[key] else {
            if requestedAlignment != GGUFLimits.defaultAlignment {
                metadata[key] = .uint32(UInt32(requestedAlignment))
            }
            return requestedAlignment
        }
        guard case .uint32(let a) = value, Self.isPowerOfTwo(Int(a)) else {
            throw fail(
                .invalid("must be a UINT32 power of two, got \(value)"), "metadata['\(key)']")
        }
        guard requestedAlignment == GGUFLimits.defaultAlignment || requestedAlignment == Int(a)
        else {
            throw fail(
                .invalid("\(a) conflicts with the requested alignment \(requestedAlignment)"),
                "metadata['\(key)']")
        }
        return Int(a)
    }

    /// The ggml type a planned tensor is stored as, after checking what ggml's reader checks.
    private func ggmlType(of t: TensorInfo, index i: Int) throws(FormatError) -> GGMLType {
        guard t.name.utf8.count <= GGUFLimits.maxTensorNameLength else {
            throw fail(
                .limitExceeded(
                    "name '\(t.name)' longer than \(GGUFLimits.maxTensorNameLength) bytes"),
                "plan[\(i)].name")
        }
        guard t.shape.count <= GGUFLimits.maxDimensions else {
            throw fail(
                .limitExceeded("\(t.shape.count) dimensions exceed \(GGUFLimits.maxDimensions)"),
                "plan[\(i)].shape")
        }
        let type: GGMLType
        switch t.type {
        case .ggml(let g): type = g
        case .dense(let d):
            guard let g = GGMLType(dense: d) else {
                throw fail(.unsupported("GGUF has no type for \(d.rawValue)"), "plan[\(i)].type")
            }
            type = g
        }
        guard t.type.byteCount(shape: t.shape) == t.byteCount else {
            throw fail(
                .invalid("\(t.byteCount) bytes do not fit \(type.name) shape \(t.shape)"),
                "plan[\(i)].byteCount")
        }
        return type
    }
}
