#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Hugging Face or MLX model directory: `config.json` plus safetensors or PyTorch weights.
///
/// Weights are found as transformers looks for them: `model.safetensors.index.json` and its
/// shards; else `model.safetensors`; else every `*.safetensors` in the folder, names sorted
/// (mlx_lm globs `model*.safetensors` the same way); else `pytorch_model.bin.index.json`
/// and its shards, or `pytorch_model.bin`, read by the pickle-safe `TorchCheckpoint`.
/// `format` is `.mlx` when `config.json` has a `quantization` key or the weights carry
/// `__metadata__` `format` = `mlx`, else `.hf`.
///
/// ```swift
/// let model = try ModelDirectory(path: "all-minilm-l6-v2")
/// print(model.format, model.configuration["hidden_size"] ?? .null, model.tensors.count)
/// ```
public struct ModelDirectory: TensorSource {
    /// Largest `config.json` accepted; real ones are a few KB.
    public static let maxConfigurationBytes = 16 << 20
    public static let configurationName = "config.json"
    public static let indexName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"
    public static let torchIndexName = "pytorch_model.bin.index.json"
    public static let torchSingleFileName = "pytorch_model.bin"

    /// The directory.
    public let path: String
    /// `config.json`'s members, in file order.
    public let configuration: Metadata
    /// The weight files read, in shard order (absolute or as given with `path`).
    public let weightFiles: [String]
    /// The index file, when the weights came through one.
    public let indexFile: String?
    public let format: CheckpointFormat
    /// The weights.
    public let weights: ShardedSource

    /// `config.json`, as `TensorSource` metadata.
    public var metadata: Metadata { configuration }
    public var tensors: [TensorInfo] { weights.tensors }

    /// Opens the directory at `path`, validating `config.json` and every weight file.
    /// - Throws: `FormatError` when `config.json` is missing or not a JSON object, when there
    ///   are no weights, or for any error of the weights themselves.
    public init(path: String) throws(FormatError) {
        self.path = path
        let configPath = path + "/" + Self.configurationName
        guard Self.isFile(configPath) else {
            throw FormatError(.invalid("not a model directory: no config.json"), file: path)
        }
        let buffer = try ByteBuffer(mapping: configPath)
        guard buffer.count <= Self.maxConfigurationBytes else {
            throw FormatError(
                .limitExceeded(
                    "config.json of \(buffer.count) bytes exceeds \(Self.maxConfigurationBytes)"),
                file: configPath, offset: 0)
        }
        guard case .object(let configuration) = try JSON.parse(buffer.all, field: "config") else {
            throw FormatError(
                .invalid("config.json is not a JSON object"), file: configPath, offset: 0,
                field: "config")
        }
        self.configuration = configuration

        let names = try Self.listing(path)
        if names.contains(Self.indexName) {
            indexFile = path + "/" + Self.indexName
            weights = try ShardedSource(index: path + "/" + Self.indexName)
        } else if names.contains(Self.singleFileName) {
            indexFile = nil
            weights = try ShardedSource(files: [path + "/" + Self.singleFileName])
        } else {
            let files = names.filter {
                $0.hasSuffix(".safetensors") && Self.isFile(path + "/" + $0)
            }
            if !files.isEmpty {
                indexFile = nil
                weights = try ShardedSource(files: files.map { path + "/" + $0 })
            } else if names.contains(Self.torchIndexName) {
                indexFile = path + "/" + Self.torchIndexName
                weights = try ShardedSource(index: path + "/" + Self.torchIndexName)
            } else if names.contains(Self.torchSingleFileName) {
                indexFile = nil
                weights = try ShardedSource(files: [path + "/" + Self.torchSingleFileName])
            } else {
                throw FormatError(
                    .invalid("no weights (*.safetensors or pytorch_model.bin) in the model directory"),
                    file: path)
            }
        }
        weightFiles = weights.files
        let mlx =
            configuration["quantization"] != nil || weights.metadata["format"]?.stringValue == "mlx"
        format = mlx ? .mlx : .hf
    }

    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        try weights.bytes(of: tensor)
    }

    /// The names in `path`, sorted byte-wise.
    static func listing(_ path: String) throws(FormatError) -> [String] {
        guard let dir = opendir(path) else {
            throw FormatError(.io("cannot list: \(String(cString: strerror(errno)))"), file: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
