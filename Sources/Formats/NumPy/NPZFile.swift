/// An `.npz` archive (`np.savez`, `np.savez_compressed`, `mx.savez`) as a `TensorSource`
/// (formats doc §2.3).
///
/// Each member `NAME.npy` is the tensor `NAME`, in archive order. Like numpy's `NpzFile`, a
/// member without the `.npy` suffix is an array too when it starts with the npy magic (keeping
/// its full name); other members (numpy would hand them out as raw bytes) are not tensors and
/// are listed in `otherMembers`. A `.npy` member that is not a valid npy is an error, and so
/// are two members giving the same tensor name.
///
/// Headers are parsed when the archive is opened (deflated members: only their first bytes
/// are inflated). `bytes(of:)` returns a stored member's data in place, CRC-checked, and
/// inflates a deflated member into a buffer of exactly its size.
///
/// ```swift
/// let npz = try NPZFile(path: "weights.npz")
/// for t in npz.tensors { let b = try npz.bytes(of: t) }
/// ```
public struct NPZFile: TensorSource {
    public var format: CheckpointFormat { .npz }
    /// npz carries no metadata.
    public var metadata: Metadata { [:] }
    public let tensors: [TensorInfo]
    public let archive: ZipArchive
    /// Members that are not arrays (not `.npy` and not starting with the npy magic).
    public let otherMembers: [String]
    private let members: [String: (entry: ZipEntry, header: NPYHeader, tensor: Int)]

    /// Maps `path` and reads its directory and npy headers.
    public init(path: String) throws(FormatError) {
        try self.init(buffer: ByteBuffer(mapping: path))
    }

    /// Reads an npz held in memory (tests, fuzzers) or mapped by the caller.
    ///
    /// - Throws: `FormatError` from the ZIP layer or from a member's npy header (named
    ///   `archive:member`), or `.invalid` for duplicate tensor names.
    public init(buffer: ByteBuffer) throws(FormatError) {
        let archive = try ZipArchive(buffer: buffer)
        var tensors: [TensorInfo] = []
        var members: [String: (entry: ZipEntry, header: NPYHeader, tensor: Int)] = [:]
        var other: [String] = []
        for (i, entry) in archive.entries.enumerated() {
            let isNPY = entry.name.hasSuffix(".npy")
            let head = try archive.leadingBytes(of: entry, count: NPYHeader.maxPrefixLength)
            guard isNPY || (head.count >= 6 && head.slice6 == NPYHeader.magic) else {
                other.append(entry.name)
                continue
            }
            let name = isNPY ? String(entry.name.dropLast(4)) : entry.name
            let header: NPYHeader
            do {
                header = try NPYHeader.parse(head, total: entry.uncompressedSize)
            } catch {
                // Locate the error in the archive: stored members are already at absolute
                // offsets of the archive; inflated ones are offsets inside the member.
                var e = error
                if entry.method != ZipEntry.Method.stored {
                    e.file = "\(buffer.name):\(entry.name)"
                } else {
                    e.field = "'\(entry.name)'.\(e.field ?? "")"
                }
                throw e
            }
            guard members[name] == nil else {
                throw FormatError(
                    .invalid("two members give the tensor name '\(name)'"), file: buffer.name,
                    offset: entry.localHeaderOffset, field: "central_directory[\(i)].file_name")
            }
            members[name] = (entry, header, tensors.count)
            tensors.append(try NPYFile.tensorInfo(header, name: name, file: i))
        }
        self.archive = archive
        self.tensors = tensors
        self.members = members
        self.otherMembers = other
    }

    /// The tensor as dense row-major little-endian bytes (see the type's documentation).
    ///
    /// - Throws: `.invalid` for an unknown tensor, a CRC mismatch or a corrupt deflate stream.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let (entry, header, index) = members[tensor.name] else {
            throw FormatError(
                .invalid("no tensor named '\(tensor.name)'"), file: archive.buffer.name)
        }
        let member = try archive.data(of: entry)
        let data = try member.slice(
            header.dataOffset, header.byteCount, field: "'\(entry.name)'.data")
        return try NPYFile.dense(
            data, info: tensors[index], name: "\(archive.buffer.name):\(tensor.name)")
    }
}

extension ByteSlice {
    /// The first six bytes (the npy magic's length); the caller checked `count >= 6`.
    fileprivate var slice6: [UInt8] { Array(raw[0..<6]) }
}
