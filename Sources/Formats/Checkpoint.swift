#if canImport(Glibc)
import Glibc
#endif

/// Opening any checkpoint ckpt reads, by content rather than by name.
public enum Checkpoint {
    /// Recognises the format of the file or directory at `path` from its first bytes (the
    /// extension only breaks ties): `GGUF` magic, `\x93NUMPY`, a zip holding `data.pkl`
    /// (PyTorch) or `.npy` members (npz), a pickle (legacy PyTorch), or a safetensors header.
    public static func detectFormat(_ path: String) throws(FormatError) -> CheckpointFormat {
        if isDirectory(path) { return try ModelDirectory(path: path).format }
        return try detectFormat(ByteBuffer(mapping: path))
    }

    /// Detects the format of in-memory or mapped bytes.
    public static func detectFormat(_ buffer: ByteBuffer) throws(FormatError) -> CheckpointFormat {
        let b = buffer.all
        func starts(_ magic: [UInt8]) -> Bool {
            b.count >= magic.count && magic.indices.allSatisfy { b[$0] == magic[$0] }
        }
        if starts(Array("GGUF".utf8)) { return .gguf }
        if starts([0x93] + Array("NUMPY".utf8)) { return .npy }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            let zip = try ZipArchive(buffer: buffer)
            let isTorch = zip.entries.contains { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
            return isTorch ? .pytorch : .npz
        }
        if starts([0x80]) { return .pytorch }  // pickle PROTO opcode: the legacy torch format
        if b.count >= 9 {
            let c = b[8]
            if c == UInt8(ascii: "{") || c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                return .safetensors
            }
        }
        let lower = buffer.name.lowercased()
        if lower.hasSuffix(".safetensors") { return .safetensors }
        throw FormatError(
            .invalid("unrecognised checkpoint format (not safetensors, npy, npz, GGUF or PyTorch)"),
            file: buffer.name, offset: 0, field: "magic")
    }

    /// Opens a checkpoint file or model directory, validating its whole header.
    ///
    /// ```swift
    /// let source = try Checkpoint.open("model.gguf")
    /// for t in source.tensors { print(t.name, t.type, t.shape) }
    /// ```
    public static func open(_ path: String) throws(FormatError) -> any TensorSource {
        if isDirectory(path) { return try ModelDirectory(path: path) }
        let buffer = try ByteBuffer(mapping: path)
        return try open(buffer)
    }

    /// Opens mapped or in-memory bytes (the name is used in errors).
    public static func open(_ buffer: ByteBuffer) throws(FormatError) -> any TensorSource {
        switch try detectFormat(buffer) {
        case .gguf: return try GGUFFile(buffer: buffer)
        case .npy: return try NPYFile(buffer: buffer, name: buffer.name)
        case .npz: return try NPZFile(buffer: buffer)
        case .pytorch: return try TorchCheckpoint(buffer: buffer)
        case .safetensors: return try SafetensorsFile(buffer: buffer)
        case .hf, .mlx:
            throw FormatError(.invalid("a model directory is not a file"), file: buffer.name)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
