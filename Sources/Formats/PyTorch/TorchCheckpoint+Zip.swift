/// The zip layout (`torch.save` since 1.6, formats doc §3.2): `<archive>/data.pkl`, one
/// record `<archive>/data/<key>` per storage, `<archive>/byteorder`, `<archive>/version` (or
/// `.data/version`). `<archive>` is whatever folder the first member is in.
extension TorchCheckpoint {
    static func loadZip(_ buffer: ByteBuffer) throws(FormatError) -> Loaded {
        let zip = try ZipArchive(buffer: buffer)
        func fail(_ reason: FormatError.Reason, _ entry: ZipEntry?, _ field: String) -> FormatError
        {
            FormatError(
                reason, file: buffer.name, offset: entry?.localHeaderOffset ?? 0, field: field)
        }
        guard let first = zip.entries.first else {
            throw fail(.invalid("empty zip archive"), nil, "archive")
        }
        // Readers take the folder of the first member as the archive name; every record is
        // looked up relative to it, and all members must be inside it (formats doc §3.2).
        guard let slash = first.name.firstIndex(of: "/"), slash != first.name.startIndex else {
            throw fail(
                .invalid("first member '\(first.name)' is not inside an archive folder"), first,
                "archive")
        }
        let prefix = String(first.name[...slash])
        for e in zip.entries where !e.name.hasPrefix(prefix) {
            throw fail(
                .invalid("member '\(e.name)' is outside the archive folder '\(prefix)'"), e,
                "archive")
        }
        if let e = zip.entry(named: prefix + "constants.pkl") {
            throw fail(
                .unsupported("TorchScript archive (torch.jit.save), not a torch.save checkpoint"),
                e, e.name)
        }
        guard let pickleEntry = zip.entry(named: prefix + "data.pkl") else {
            throw fail(.invalid("no '\(prefix)data.pkl' record"), nil, "data.pkl")
        }
        if let e = zip.entry(named: prefix + "byteorder") {
            let text = String(decoding: try zip.data(of: e).bytes, as: UTF8.self)
            switch text {
            case "little": break
            case "big": throw fail(.unsupported("big-endian storages (byteorder 'big')"), e, e.name)
            default: throw fail(.invalid("byteorder '\(text.prefix(20))'"), e, e.name)
            }
        }
        guard
            let versionEntry = zip.entry(named: prefix + ".data/version")
                ?? zip.entry(named: prefix + "version")
        else { throw fail(.invalid("no version record"), nil, "version") }
        let versionText = String(decoding: try zip.data(of: versionEntry).bytes, as: UTF8.self)
        guard let version = Int(versionText.trimmingWhitespace()), version >= 1 else {
            throw fail(
                .invalid("version '\(versionText.prefix(20))' is not a positive integer"),
                versionEntry, versionEntry.name)
        }

        var machine = PickleMachine(try zip.data(of: pickleEntry))
        let (root, _) = try machine.load()
        var data: [String: ByteSlice] = [:]
        for key in machine.storageKeys {
            guard let ref = machine.storages[key], case .storage(let s)? = machine.arena.object(ref)
            else { continue }
            let recordName = prefix + "data/" + key
            guard let e = zip.entry(named: recordName) else {
                throw fail(
                    .invalid("storage '\(key)' has no record '\(recordName)'"), pickleEntry,
                    "data.pkl")
            }
            // Stored records are sliced in place without a CRC pass (torch's reader does the
            // same for mmap loads); deflated ones (not written by torch) are inflated and checked.
            let bytes =
                e.method == ZipEntry.Method.stored
                ? try buffer.all.slice(e.dataOffset, e.compressedSize, field: e.name)
                : try zip.data(of: e)
            guard bytes.count >= s.rootByteCount else {
                throw fail(
                    .invalid(
                        "record holds \(bytes.count) bytes, storage '\(key)' needs \(s.rootByteCount)"
                    ),
                    e, e.name)
            }
            data[key] = try bytes.slice(0, s.rootByteCount, field: e.name)
        }
        return Loaded(machine: machine, root: root, storageData: data)
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace (no Foundation here).
    fileprivate func trimmingWhitespace() -> String {
        let space: Set<Character> = [" ", "\t", "\r", "\n", "\r\n"]
        guard let start = firstIndex(where: { !space.contains($0) }),
            let end = lastIndex(where: { !space.contains($0) })
        else { return "" }
        return String(self[start...end])
    }
}
