import Foundation
import Formats
import Quantize
import Verify

/// A Hugging Face BERT encoder directory (`BertModel`, e.g. all-MiniLM-L6-v2) seen as the GGUF
/// of llama.cpp's arch `bert` (`BertModel` in convert_hf_to_gguf.py): llama.cpp tensor names,
/// norms, biases and token-type embeddings F32, the pooler dropped, hparams with
/// `bert.attention.causal = false` and the sentence-transformers pooling type, and the
/// WordPiece vocabulary in llama.cpp's phantom-space form (`▁word`, `piece` for `##piece`).
public struct GGUFBertExportSource: TensorSource {
    public var format: CheckpointFormat { .gguf }
    public let metadata: Metadata
    public let tensors: [TensorInfo]
    /// The directory read.
    public let directory: ModelDirectory
    /// Output name → (directory tensor, dtype to cast to or nil).
    let entries: [String: (TensorInfo, DType?)]

    /// gguf-py `tensor_mapping.py` for BERT: directory names (with or without `bert.`).
    static let topNames: [String: String] = [
        "embeddings.word_embeddings": "token_embd",
        "embeddings.position_embeddings": "position_embd",
        "embeddings.token_type_embeddings": "token_types",
        "embeddings.LayerNorm": "token_embd_norm",
    ]
    static let layerNames: [String: String] = [
        "attention.self.query": "attn_q", "attention.self.key": "attn_k",
        "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
        "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
        "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
    ]

    /// The llama.cpp name of a BERT tensor, nil when the converter drops it (pooler,
    /// `position_ids`), or an error when it has none.
    static func ggufName(_ hfName: String, file: String) throws(FormatError) -> String? {
        var name = hfName
        if name.hasPrefix("bert.") { name = String(name.dropFirst(5)) }
        if name.hasPrefix("pooler.") || name.hasSuffix("position_ids") { return nil }
        for suffix in [".weight", ".bias"] where name.hasSuffix(suffix) {
            let stem = String(name.dropLast(suffix.count))
            if let g = topNames[stem] { return g + suffix }
            let prefix = "encoder.layer."
            guard stem.hasPrefix(prefix) else { break }
            let rest = stem.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]),
                let g = layerNames[String(rest[rest.index(after: dot)...])]
            else { break }
            return "blk.\(layer).\(g)\(suffix)"
        }
        throw FormatError(
            .unsupported("tensor without a llama.cpp name for arch bert"), file: file, field: hfName
        )
    }

    /// Opens the GGUF view of a BERT `directory`; `weightType` casts its 2-D weights.
    /// - Throws: `FormatError` for a configuration, tensor or tokenizer that cannot be converted.
    public init(directory: ModelDirectory, weightType: DType? = nil, name: String? = nil)
        throws(FormatError)
    {
        self.directory = directory
        let c = directory.configuration
        let file = directory.path + "/" + ModelDirectory.configurationName
        func count(_ key: String) throws(FormatError) -> Int {
            guard let v = c[key]?.intValue, v > 0, v <= Int64(LlamaConfiguration.maxCount) else {
                throw FormatError(.invalid("missing or not a count"), file: file, field: key)
            }
            return Int(v)
        }
        var infos: [TensorInfo] = []
        var entries: [String: (TensorInfo, DType?)] = [:]
        for t in directory.tensors {
            guard let target = try Self.ggufName(t.name, file: directory.path) else { continue }
            guard case .dense(let dtype) = t.type, dtype.isFloatingPoint, dtype.byteSize != nil
            else {
                throw FormatError(
                    .unsupported("\(t.type) tensor"), file: directory.path, field: t.name)
            }
            let keepF32 =
                t.shape.count <= 1 || target.hasSuffix("_norm.weight")
                || !target.hasSuffix(".weight") || target == "token_types.weight"
            let out: DType = keepF32 ? .f32 : (weightType ?? dtype)
            guard let info = TensorInfo(name: target, type: .dense(out), shape: t.shape),
                entries[target] == nil
            else {
                throw FormatError(
                    .invalid("shape \(t.shape) or duplicate name \(target)"), file: directory.path,
                    field: t.name)
            }
            infos.append(info)
            entries[target] = (t, out == dtype ? nil : out)
        }
        tensors = infos
        self.entries = entries

        var m = Metadata()
        m["general.architecture"] = .string("bert")
        m["general.type"] = .string("model")
        m["general.name"] = .string(name ?? URL(fileURLWithPath: directory.path).lastPathComponent)
        m["bert.block_count"] = .uint32(UInt32(try count("num_hidden_layers")))
        if let n = c["max_position_embeddings"]?.intValue {
            m["bert.context_length"] = .uint32(UInt32(clamping: n))
        }
        m["bert.embedding_length"] = .uint32(UInt32(try count("hidden_size")))
        m["bert.feed_forward_length"] = .uint32(UInt32(try count("intermediate_size")))
        m["bert.attention.head_count"] = .uint32(UInt32(try count("num_attention_heads")))
        guard let eps = c["layer_norm_eps"]?.doubleValue, eps.isFinite, eps >= 0 else {
            throw FormatError(
                .invalid("missing or not a number"), file: file, field: "layer_norm_eps")
        }
        m["bert.attention.layer_norm_epsilon"] = .float32(Float(eps))
        m["general.file_type"] = .uint32(GGUFExportHParams.fileType(infos))
        m["bert.attention.causal"] = .bool(false)
        if let pooling = try Self.poolingType(directory.path) {
            m["bert.pooling_type"] = .uint32(pooling)
        }
        m["general.quantization_version"] = .uint32(2)
        let vocabulary = try count("vocab_size")
        m["tokenizer.ggml.token_type_count"] = .uint32(
            UInt32(clamping: c["type_vocab_size"]?.intValue ?? 1))
        for (k, v) in try Self.vocabulary(
            directory: directory.path, count: vocabulary, configuration: c)
        {
            m[k] = v
        }
        metadata = m
    }

    /// llama.cpp's `LLAMA_POOLING_TYPE` from sentence-transformers' `modules.json` (mean 1,
    /// cls 2, last 3), as `_try_set_pooling_type`; nil without a Pooling module.
    static func poolingType(_ path: String) throws(FormatError) -> UInt32? {
        let modules = path + "/modules.json"
        guard FileManager.default.fileExists(atPath: modules) else { return nil }
        let list = try JSON.parse(try ByteBuffer(mapping: modules).all, field: "modules.json")
        guard
            let pooling = list.arrayValue?.first(where: {
                $0["type"]?.stringValue == "sentence_transformers.models.Pooling"
            }), let dir = pooling["path"]?.stringValue
        else { return nil }
        let config = try JSON.parse(
            try ByteBuffer(mapping: path + "/" + dir + "/config.json").all, field: "config.json")
        if config["pooling_mode_mean_tokens"]?.boolValue == true { return 1 }
        if config["pooling_mode_cls_token"]?.boolValue == true { return 2 }
        if config["pooling_mode_lasttoken"]?.boolValue == true { return 3 }
        throw FormatError(
            .unsupported("pooling mode (mean, cls, last)"), file: path + "/" + dir + "/config.json")
    }

    /// The WordPiece vocabulary as `BertModel.set_vocab` writes it.
    static func vocabulary(directory: String, count n: Int, configuration: Metadata)
        throws(FormatError)
        -> Metadata
    {
        let path = directory + "/tokenizer.json"
        let root = try JSON.parse(try ByteBuffer(mapping: path).all, field: "tokenizer.json")
        guard root["model"]?["type"]?.stringValue == "WordPiece",
            let vocab = root["model"]?["vocab"]?.objectValue
        else {
            throw FormatError(
                .unsupported("a BERT tokenizer other than WordPiece"), file: path,
                field: "model.type")
        }
        var byID: [Int: String] = [:]
        for (token, id) in vocab {
            guard let i = id.intValue, i >= 0, i < Int64(Tokenizers.maxVocabularySize) else {
                throw FormatError(.invalid("bad id"), file: path, field: "model.vocab.\(token)")
            }
            byID[Int(i)] = token
        }
        var special: Set<Int> = []
        var addedByContent: [String: Int] = [:]
        for (k, t) in (root["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let i = t["id"]?.intValue, i >= 0, i < Int64(Tokenizers.maxVocabularySize),
                let content = t["content"]?.stringValue
            else {
                throw FormatError(
                    .invalid("expected id and content"), file: path, field: "added_tokens[\(k)]")
            }
            byID[Int(i)] = content
            if t["special"]?.boolValue == true { special.insert(Int(i)) }
            if addedByContent[content] == nil { addedByContent[content] = Int(i) }
        }
        var tokens: [MetadataValue] = [], types: [MetadataValue] = []
        for i in 0..<n {
            guard let t = byID[i] else {
                tokens.append(.string("[PAD\(i)]"))
                types.append(.int32(GGUFExportTokenizer.unused))
                continue
            }
            // Phantom space: word starts get ▁, continuations lose ##, [BRACKETED] stay.
            let phantom: String
            if t.hasPrefix("[") && t.hasSuffix("]") {
                phantom = t
            } else if t.hasPrefix("##") {
                phantom = String(t.dropFirst(2))
            } else {
                phantom = "\u{2581}" + t
            }
            tokens.append(.string(phantom))
            types.append(
                .int32(
                    special.contains(i) || GGUFExportTokenizer.looksSpecial(t)
                        ? GGUFExportTokenizer.control : GGUFExportTokenizer.normal))
        }
        var m = Metadata()
        m["tokenizer.ggml.model"] = .string("bert")
        m["tokenizer.ggml.pre"] = .string("default")
        m["tokenizer.ggml.tokens"] = .array(tokens, elementType: .string)
        m["tokenizer.ggml.token_type"] = .array(types, elementType: .int32)
        let specials = try GGUFExportSpecialTokens(
            directory: directory, tokenizer: root, addedByContent: addedByContent,
            configuration: configuration, vocabularySize: n)
        for (k, v) in specials.metadata { m[k] = v }
        // gguf-py's reading of BERT's pair template leaves add_sep false although the single
        // template ends with [SEP], which llama.cpp appends anyway (WPM); say what happens.
        if m["tokenizer.ggml.add_eos_token"] == .bool(true),
            let eos = m["tokenizer.ggml.eos_token_id"],
            m["tokenizer.ggml.seperator_token_id"] == eos
        {
            m["tokenizer.ggml.add_sep_token"] = .bool(true)
        }
        return m
    }

    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let (source, cast) = entries[tensor.name] else {
            throw FormatError(.invalid("no such tensor"), file: directory.path, field: tensor.name)
        }
        let raw = try directory.bytes(of: source)
        guard let cast, case .dense(let from) = source.type else { return raw }
        let name = directory.path + ":" + source.name
        return try ByteBuffer.make(count: tensor.byteCount, name: name) { out throws(FormatError) in
            do {
                try Scalars.convert(raw.raw, from: from, to: cast, into: out)
            } catch {
                throw FormatError(.invalid("\(error)"), file: name)
            }
        }.all
    }
}
