/// The legacy (pre-1.6, `_use_new_zipfile_serialization=False`) layout, formats doc §3.6:
/// five pickles (magic number, protocol version, sys_info, the object, the storage keys),
/// then each storage's raw bytes, in key order, each preceded by its int64 element count.
extension TorchCheckpoint {
    /// `torch.serialization.MAGIC_NUMBER`, 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    /// `torch.serialization.PROTOCOL_VERSION`.
    static let legacyProtocolVersion = 1001

    static func loadLegacy(_ all: ByteSlice) throws(FormatError) -> Loaded {
        var machine = PickleMachine(all)
        let (magic, afterMagic) = try machine.load(from: 0)
        guard magic == PickleMachine.integer(legacyMagic) else {
            throw FormatError(
                .invalid("not a PyTorch checkpoint (legacy magic number missing)"), file: all.name,
                offset: all.offset, field: "magic_number")
        }
        let (version, afterVersion) = try machine.load(from: afterMagic)
        guard version == .int(legacyProtocolVersion) else {
            throw FormatError(
                .unsupported("legacy protocol version \(version) (only \(legacyProtocolVersion))"),
                file: all.name, offset: all.offset + afterMagic, field: "protocol_version")
        }
        // sys_info: byte order and type sizes of the saving host; current torch ignores it
        // (storage records are little-endian whatever the host).
        let (_, afterSysInfo) = try machine.load(from: afterVersion)
        let (root, afterObject) = try machine.load(from: afterSysInfo)
        let keysAt = all.offset + afterObject
        let (keyList, afterKeys) = try machine.load(from: afterObject)
        guard case .list(let keyValues)? = machine.arena.object(keyList) else {
            throw FormatError(
                .invalid("storage key list is not a list"), file: all.name, offset: keysAt,
                field: "deserialized_storage_keys")
        }
        var r = ByteReader(all, offset: afterKeys)
        var data: [String: ByteSlice] = [:]
        for (i, k) in keyValues.enumerated() {
            let field = "storages[\(i)]"
            guard let key = k.stringValue else {
                throw FormatError(
                    .invalid("storage key is a \(k.kind)"), file: all.name, offset: keysAt,
                    field: field)
            }
            guard let ref = machine.storages[key], case .storage(let s)? = machine.arena.object(ref)
            else {
                throw FormatError(
                    .invalid("storage key '\(key)' was not named in the pickle"), file: all.name,
                    offset: keysAt, field: field)
            }
            guard data[key] == nil else {
                throw FormatError(
                    .invalid("storage key '\(key)' listed twice"), file: all.name, offset: keysAt,
                    field: field)
            }
            let countAt = r.offset
            let count = try r.read(Int64.self, field + ".count")
            let elementSize = s.scalar.flatMap { $0.elementSize } ?? 1
            let (bytes, overflow) = Int(count).multipliedReportingOverflow(by: elementSize)
            guard count >= 0, !overflow, bytes == s.rootByteCount else {
                throw r.error(
                    .invalid(
                        "storage '\(key)' holds \(count) elements, its persistent id says "
                            + "\(s.rootByteCount / elementSize)"
                    ),
                    field: field + ".count", at: countAt)
            }
            data[key] = try r.bytes(s.rootByteCount, field + ".data")
        }
        return Loaded(machine: machine, root: root, storageData: data)
    }
}
