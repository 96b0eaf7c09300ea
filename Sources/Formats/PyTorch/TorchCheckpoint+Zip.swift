extension TorchCheckpoint {
    static func loadZip(_ buffer: ByteBuffer) throws(FormatError) -> Loaded {
        throw FormatError(.unsupported("zip"), file: buffer.name)
    }
}
