/// Writes tensors as an `.npz` the way `np.savez` does (formats doc §2.3): one stored (not
/// compressed) member `NAME.npy` per tensor, in plan order, each a complete npy with numpy's
/// exact header; zip64 records where Python's zipfile would write them. `np.load` reads it.
///
/// Streaming: each tensor's bytes go straight to the file in `write`; the CRC-32 of a member
/// is computed over the header and those bytes before its local header is written, so
/// nothing is held back and nothing is rewritten. The file appears at `path` only on
/// `commit()` (`OutputFile`).
///
/// npz has no metadata (it is dropped), and numpy has no BF16, FP8 or quantized types:
/// `begin` throws `.unsupported` naming the first such tensor (cast with `--dtype`).
///
/// ```swift
/// var w = NPZWriter(path: "out.npz")
/// try w.begin(metadata: [:], plan: source.tensors)
/// for t in source.tensors {
///     let data = try source.bytes(of: t)   // keep it alive while `raw` is in use
///     try withExtendedLifetime(data) { try w.write(t, bytes: data.raw) }
/// }
/// try w.commit()
/// ```
public struct NPZWriter: TensorSink {
    public let path: String
    private var zip: ZipWriter?
    private var output: OutputFile?
    private var plan: [TensorInfo] = []
    private var headers: [[UInt8]] = []
    private var next = 0

    public init(path: String) {
        self.path = path
    }

    /// Checks the whole plan (numpy dtypes, byte counts, unique names) before any byte is
    /// written, then creates the temporary output.
    public mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        var seen = Set<String>()
        var headers: [[UInt8]] = []
        for t in plan {
            guard seen.insert(t.name).inserted else {
                throw FormatError(
                    .invalid("duplicate tensor name '\(t.name)'"), file: path, field: t.name)
            }
            guard (t.name + ".npy").utf8.count <= ZipLayout.maxNameLength else {
                throw FormatError(
                    .limitExceeded("tensor name longer than \(ZipLayout.maxNameLength) bytes"),
                    file: path, field: t.name)
            }
            headers.append(try NPYWriter.checkedHeader(t, file: path))
        }
        let output = try OutputFile(path: path)
        // The members' bytes, a lower bound on the archive (zip headers and the directory come
        // on top, their blocks allocated as written).
        try output.preallocate(Swift.zip(plan, headers).reduce(0) { $0 + $1.0.byteCount + $1.1.count })
        self.output = output
        self.zip = ZipWriter(output: output)
        self.plan = plan
        self.headers = headers
        next = 0
    }

    /// Writes the next tensor of the plan as member `NAME.npy`.
    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        guard zip != nil, let output, next < plan.count else {
            throw FormatError(
                .invalid("write without begin, or past the plan"), file: path, field: tensor.name)
        }
        let t = plan[next]
        guard tensor.name == t.name, bytes.count == t.byteCount else {
            throw FormatError(
                .invalid(
                    "expected '\(t.name)' with \(t.byteCount) bytes, got '\(tensor.name)' with \(bytes.count)"
                ),
                file: path, field: tensor.name)
        }
        let header = headers[next]
        let crc = header.withUnsafeBytes { h in CRC32.update(CRC32.checksum(h), bytes) }
        // Mutate in place: a local copy would duplicate the member list on every write.
        try zip?.beginMember(name: t.name + ".npy", size: header.count + bytes.count, crc: crc)
        try output.write(header)
        try output.write(bytes)
        next += 1
    }

    /// Writes the central directory and renames the file into place.
    public mutating func commit() throws(FormatError) {
        guard zip != nil, let output else {
            throw FormatError(.invalid("commit without begin"), file: path)
        }
        guard next == plan.count else {
            throw FormatError(
                .invalid("commit after \(next) of \(plan.count) tensors"), file: path,
                field: plan[next].name)
        }
        try zip?.finish()
        try output.commit()
        self.zip = nil
        self.output = nil
    }
}
