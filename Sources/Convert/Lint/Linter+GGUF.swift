import Formats

/// What llama.cpp refuses when it loads a GGUF (formats-gguf.md §1.8, §4.6, §5.6): typed
/// keys of the wrong type, missing required keys, a missing or inconsistent vocabulary, and
/// for the LLaMA family (`llama`, `qwen2`) missing, misshapen or extra tensors.
extension LintState {
    /// Keys llama.cpp reads as `uint32_t`, which must be stored as UINT32 (§1.8).
    static let ggufUInt32Keys = [
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "rope.dimension_count", "attention.key_length", "attention.value_length",
        "vocab_size",
    ]
    /// Keys llama.cpp reads as `float`, which must be FLOAT32.
    static let ggufFloat32Keys = [
        "attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon", "rope.freq_base", "rope.scaling.factor",
    ]
    /// Tokenizer models llama.cpp knows (llama-vocab.cpp).
    static let ggufTokenizerModels: Set<String> = ["llama", "gpt2", "bert", "t5", "rwkv", "plamo2", "none", "no_vocab"]

    mutating func lintGGUF(_ source: any TensorSource) {
        let m = source.metadata
        func typeName(_ v: MetadataValue) -> String { v.ggufType.map { "\($0)".uppercased() } ?? "?" }
        guard let arch = m["general.architecture"]?.stringValue else {
            // A plain tensor file (no model): nothing llama.cpp would run.
            add(.info, "gguf-key", file: path, "no general.architecture: a tensor file, not a model llama.cpp can load")
            return
        }
        // Per-layer arrays are allowed for the ffn/head counts (§1.8).
        let perLayerArrays: Set<String> = ["feed_forward_length", "attention.head_count", "attention.head_count_kv"]
        for key in Self.ggufUInt32Keys {
            guard let v = m["\(arch).\(key)"] else { continue }
            if case .uint32 = v { continue }
            if case .array = v, perLayerArrays.contains(key) { continue }
            add(.error, "gguf-key-type", file: path, tensor: nil,
                "\(arch).\(key) is \(typeName(v)); llama.cpp reads it only as UINT32 (\"wrong type\")")
        }
        for key in Self.ggufFloat32Keys {
            guard let v = m["\(arch).\(key)"] else { continue }
            if case .float32 = v { continue }
            add(.error, "gguf-key-type", file: path, "\(arch).\(key) is \(typeName(v)); llama.cpp reads it only as FLOAT32")
        }
        for (key, v) in m where key.hasPrefix("tokenizer.ggml.") && key.hasSuffix("_token_id") {
            if case .uint32 = v { continue }
            add(.error, "gguf-key-type", file: path, "\(key) is \(typeName(v)); llama.cpp reads it only as UINT32")
        }
        if let v = m["general.file_type"], v.ggufType != .uint32 {
            add(.error, "gguf-key-type", file: path, "general.file_type is \(typeName(v)); llama.cpp reads it only as UINT32")
        }
        lintGGUFVocabulary(m, arch: arch, source: source)
        if arch == "llama" || arch == "qwen2" { lintLlamaTensors(m, arch: arch, source: source) }
    }

    mutating func lintGGUFVocabulary(_ m: Metadata, arch: String, source: any TensorSource) {
        guard let model = m["tokenizer.ggml.model"]?.stringValue else {
            add(.error, "gguf-tokenizer", file: path,
                "no tokenizer.ggml.model: llama.cpp refuses the file (\"key not found\"), even vocab-only")
            return
        }
        guard Self.ggufTokenizerModels.contains(model) else {
            add(.error, "gguf-tokenizer", file: path, "tokenizer.ggml.model '\(model)' is not one llama.cpp knows")
            return
        }
        if model == "none" || model == "no_vocab" { return }
        guard let tokens = m["tokenizer.ggml.tokens"]?.arrayValue else {
            add(.error, "gguf-tokenizer", file: path, "no tokenizer.ggml.tokens: \"cannot find tokenizer vocab in model file\"")
            return
        }
        if model == "gpt2", m["tokenizer.ggml.merges"] == nil {
            add(.error, "gguf-tokenizer", file: path, "a gpt2 vocabulary without tokenizer.ggml.merges: llama.cpp refuses it")
        }
        for key in ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"] {
            if let a = m[key]?.arrayValue, a.count != tokens.count {
                add(.error, "gguf-tokenizer", file: path, "\(key) has \(a.count) entries for \(tokens.count) tokens")
            }
        }
        for (key, v) in m where key.hasPrefix("tokenizer.ggml.") && key.hasSuffix("_token_id") {
            if let id = v.intValue, id >= tokens.count {
                add(.warning, "gguf-tokenizer", file: path, "\(key) \(id) is outside the \(tokens.count)-token vocabulary (llama.cpp ignores it)")
            }
        }
        if m["tokenizer.chat_template"] == nil,
            tokens.contains(where: { t in Self.chatMarkers.contains { t.stringValue == $0 } })
        {
            add(.warning, "no-chat-template", file: path,
                "the vocabulary has chat tokens but there is no tokenizer.chat_template: llama.cpp's chat falls back to a guess")
        }
        if let embed = source.tensor(named: "token_embd.weight"), let rows = embed.shape.first, rows != tokens.count {
            add(.error, "gguf-shape", file: path, tensor: embed.name,
                "\(rows) embedding rows for \(tokens.count) tokens: llama.cpp requires n_vocab rows (\"wrong shape\")")
        }
    }

    /// The tensors llama.cpp requests for arch llama / qwen2, with their shapes, and nothing else.
    mutating func lintLlamaTensors(_ m: Metadata, arch: String, source: any TensorSource) {
        func u(_ key: String) -> Int? { m["\(arch).\(key)"]?.intValue.map(Int.init) }
        for key in ["context_length", "embedding_length", "block_count", "attention.layer_norm_rms_epsilon"]
        where m["\(arch).\(key)"] == nil {
            add(.error, "gguf-key", file: path, "no \(arch).\(key): \"key not found in model\"")
        }
        guard let embd = u("embedding_length"), let layers = u("block_count"), let heads = u("attention.head_count"),
            heads > 0, layers <= 4096
        else { return }
        let kvHeads = u("attention.head_count_kv") ?? heads
        let headDim = u("attention.key_length") ?? embd / heads
        let ff = u("feed_forward_length")
        if let rot = u("rope.dimension_count"), rot != headDim, arch == "llama" {
            add(.error, "gguf-key", file: path, "\(arch).rope.dimension_count \(rot) differs from the head size \(headDim): \"invalid n_rot\"")
        }
        var expected: [String: [Int]?] = [
            "token_embd.weight": nil, "output_norm.weight": [embd], "output.weight": nil, "rope_freqs.weight": nil,
        ]
        let optional: Set<String> = ["output.weight", "rope_freqs.weight"]
        var optionalNames = optional
        for i in 0..<layers {
            let p = "blk.\(i)."
            expected[p + "attn_norm.weight"] = [embd]
            expected[p + "attn_q.weight"] = [heads * headDim, embd]
            expected[p + "attn_k.weight"] = [kvHeads * headDim, embd]
            expected[p + "attn_v.weight"] = [kvHeads * headDim, embd]
            expected[p + "attn_output.weight"] = [embd, heads * headDim]
            expected[p + "ffn_norm.weight"] = [embd]
            expected[p + "ffn_gate.weight"] = ff.map { [$0, embd] }
            expected[p + "ffn_up.weight"] = ff.map { [$0, embd] }
            expected[p + "ffn_down.weight"] = ff.map { [embd, $0] }
            for (b, size) in [("attn_q", heads * headDim), ("attn_k", kvHeads * headDim), ("attn_v", kvHeads * headDim)] {
                expected[p + b + ".bias"] = [size]
                if arch == "llama" { optionalNames.insert(p + b + ".bias") }
            }
            expected[p + "attn_output.bias"] = [embd]
            optionalNames.insert(p + "attn_output.bias")
        }
        var present: Set<String> = []
        for t in source.tensors {
            present.insert(t.name)
            guard let shape = expected[t.name] else {
                add(.error, "gguf-extra-tensor", file: path, tensor: t.name,
                    "llama.cpp's \(arch) does not use this tensor: \"wrong number of tensors\"")
                continue
            }
            if let shape, t.shape != shape {
                add(.error, "gguf-shape", file: path, tensor: t.name,
                    "shape \(t.shape), llama.cpp's \(arch) expects \(shape) (\"wrong shape\")")
            }
        }
        for name in expected.keys.sorted() where !present.contains(name) && !optionalNames.contains(name) {
            add(.error, "gguf-missing-tensor", file: path, tensor: name, "llama.cpp's \(arch) requires this tensor")
        }
    }
}
