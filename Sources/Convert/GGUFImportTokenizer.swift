import Formats

/// `tokenizer.json` and `tokenizer_config.json` rebuilt from a GGUF's embedded vocabulary
/// (formats-gguf.md §5), so that Hugging Face `tokenizers` gives the ids llama.cpp gives.
///
/// - `gpt2` (byte-level BPE: SmolLM2, Qwen2, Llama 3): vocabulary and merges as stored, the
///   pre-tokenizer that `tokenizer.ggml.pre` names (the inverse of llama.cpp's mapping in
///   `llama-vocab.cpp`, with the split regexes transformers' GGUF loader uses), ByteLevel
///   decoder. A `pre` with no known Hugging Face equivalent is refused, not guessed.
/// - `llama` (SentencePiece): BPE with byte fallback, merges recovered from the vocabulary and
///   ranked by score as transformers' `generate_merges` does, and the `▁` normalizer of
///   Llama 2's own tokenizer.json (what llama.cpp's `add_space_prefix` means).
///
/// Control tokens become special added tokens, user-defined ones plain added tokens.
public struct GGUFImportTokenizer {
    /// The `tokenizer.json` document.
    public var tokenizer: Metadata
    /// The `tokenizer_config.json` document.
    public var tokenizerConfig: Metadata

    /// llama.cpp's token types (llama.h `llama_token_type`).
    static let control: Int64 = 3, userDefined: Int64 = 4, unknown: Int64 = 2

    static let llama3Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Builds both documents from GGUF metadata.
    /// - Parameter contextLength: `model_max_length` (the GGUF's `{arch}.context_length`).
    /// - Throws: `ConvertError` naming the key when the vocabulary is missing, malformed, or of
    ///   a kind (tokenizer model, pre-tokenizer) that has no faithful `tokenizer.json` here.
    public init(metadata m: Metadata, contextLength: Int?, file: String) throws(ConvertError) {
        func fail(_ key: String, _ why: String) -> ConvertError {
            ConvertError("\(key): \(why)", file: file)
        }
        guard let model = m["tokenizer.ggml.model"]?.stringValue else {
            throw fail("tokenizer.ggml.model", "missing: the GGUF holds no tokenizer")
        }
        guard let list = m["tokenizer.ggml.tokens"]?.arrayValue else {
            throw fail("tokenizer.ggml.tokens", "missing")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(list.count)
        for (i, t) in list.enumerated() {
            guard let s = t.stringValue else { throw fail("tokenizer.ggml.tokens[\(i)]", "not a string") }
            tokens.append(s)
        }
        let n = tokens.count
        var types = [Int64](repeating: 1, count: n)
        if let raw = m["tokenizer.ggml.token_type"]?.arrayValue {
            guard raw.count >= n else { throw fail("tokenizer.ggml.token_type", "fewer entries than tokens") }
            for i in 0..<n {
                guard let v = raw[i].intValue else { throw fail("tokenizer.ggml.token_type[\(i)]", "not an integer") }
                types[i] = v
            }
        }
        func id(_ key: String, default d: Int?) -> Int? {
            if let v = m["tokenizer.ggml.\(key)"]?.intValue { return v >= 0 && v < n ? Int(v) : nil }
            return d.flatMap { $0 < n ? $0 : nil }
        }
        func flag(_ key: String) -> Bool? { m["tokenizer.ggml.\(key)"]?.boolValue }

        var vocab = Metadata()
        vocab.reserveCapacity(n)
        for (i, t) in tokens.enumerated() {
            guard vocab.updateValue(.int64(Int64(i)), forKey: t) == nil else {
                throw fail("tokenizer.ggml.tokens[\(i)]", "duplicate token \(t.debugDescription)")
            }
        }

        var doc = Metadata()
        doc["version"] = .string("1.0")
        doc["truncation"] = .null
        doc["padding"] = .null
        doc["added_tokens"] = .array(
            tokens.indices.compactMap { i -> MetadataValue? in
                switch types[i] {
                case Self.control, Self.unknown: Self.addedToken(i, tokens[i], special: true)
                case Self.userDefined: Self.addedToken(i, tokens[i], special: false)
                default: nil
                }
            })
        let bos: Int?, eos: Int?, unk: Int?, addBOS: Bool
        let addEOS = flag("add_eos_token") ?? false
        switch model {
        case "gpt2":
            guard let mergeList = m["tokenizer.ggml.merges"]?.arrayValue else {
                throw fail("tokenizer.ggml.merges", "missing (required for gpt2)")
            }
            let pre = m["tokenizer.ggml.pre"]?.stringValue ?? "default"
            guard let (normalizer, preTokenizer, ignoreMerges, addBOSDefault) = Self.byteLevelPre(pre) else {
                throw fail("tokenizer.ggml.pre", "pre-tokenizer '\(pre)' has no tokenizer.json equivalent in ckpt")
            }
            bos = id("bos_token_id", default: nil)
            eos = id("eos_token_id", default: nil)
            unk = id("unknown_token_id", default: nil)
            addBOS = flag("add_bos_token") ?? addBOSDefault
            var merges: [MetadataValue] = []
            merges.reserveCapacity(mergeList.count)
            for (rank, v) in mergeList.enumerated() {
                // llama.cpp splits at the first space at position ≥ 1.
                guard let s = v.stringValue, let k = s.unicodeScalars.indices.dropFirst().first(where: { s.unicodeScalars[$0] == " " })
                else { throw fail("tokenizer.ggml.merges[\(rank)]", "not 'left right'") }
                let left = String(s.unicodeScalars[..<k])
                let right = String(s.unicodeScalars[s.unicodeScalars.index(after: k)...])
                merges.append(.array([.string(left), .string(right)]))
            }
            doc["normalizer"] = normalizer
            doc["pre_tokenizer"] = preTokenizer
            doc["post_processor"] = Self.template(bos: addBOS ? bos : nil, eos: addEOS ? eos : nil, tokens)
                ?? .object([
                    "type": .string("ByteLevel"), "add_prefix_space": .bool(true),
                    "trim_offsets": .bool(false), "use_regex": .bool(true),
                ])
            doc["decoder"] = .object([
                "type": .string("ByteLevel"), "add_prefix_space": .bool(true),
                "trim_offsets": .bool(true), "use_regex": .bool(true),
            ])
            doc["model"] = Self.bpe(
                vocab: vocab, merges: merges, unknown: nil, byteFallback: false, ignoreMerges: ignoreMerges)
        case "llama":
            bos = id("bos_token_id", default: 1)
            eos = id("eos_token_id", default: 2)
            unk = id("unknown_token_id", default: 0)
            addBOS = flag("add_bos_token") ?? true
            let prefix = flag("add_space_prefix") ?? true
            var scores = [Double](repeating: 0, count: n)
            if let raw = m["tokenizer.ggml.scores"]?.arrayValue {
                guard raw.count >= n else { throw fail("tokenizer.ggml.scores", "fewer entries than tokens") }
                for i in 0..<n {
                    guard let v = raw[i].doubleValue else { throw fail("tokenizer.ggml.scores[\(i)]", "not a number") }
                    scores[i] = v
                }
            }
            let replace: MetadataValue = .object([
                "type": .string("Replace"), "pattern": .object(["String": .string(" ")]),
                "content": .string("\u{2581}"),
            ])
            doc["normalizer"] = prefix
                ? .object([
                    "type": .string("Sequence"),
                    "normalizers": .array([
                        .object(["type": .string("Prepend"), "prepend": .string("\u{2581}")]), replace,
                    ]),
                ]) : replace
            doc["pre_tokenizer"] = .null
            doc["post_processor"] = Self.template(bos: addBOS ? bos : nil, eos: addEOS ? eos : nil, tokens) ?? .null
            var decoders: [MetadataValue] = [
                .object([
                    "type": .string("Replace"), "pattern": .object(["String": .string("\u{2581}")]),
                    "content": .string(" "),
                ]),
                .object(["type": .string("ByteFallback")]), .object(["type": .string("Fuse")]),
            ]
            if prefix {
                decoders.append(.object([
                    "type": .string("Strip"), "content": .string(" "), "start": .int64(1), "stop": .int64(0),
                ]))
            }
            doc["decoder"] = .object(["type": .string("Sequence"), "decoders": .array(decoders)])
            let merges = SentencePieceMerges.generate(tokens: tokens, scores: scores)
            doc["model"] = Self.bpe(
                vocab: vocab, merges: merges.map { .array([.string($0.0), .string($0.1)]) },
                unknown: unk.map { tokens[$0] }, byteFallback: true, ignoreMerges: false)
        default:
            throw fail("tokenizer.ggml.model", "tokenizer model '\(model)' (gpt2 and llama are rebuilt)")
        }
        tokenizer = doc

        var config = Metadata()
        config["add_bos_token"] = .bool(addBOS)
        config["add_eos_token"] = .bool(addEOS)
        var decoder = Metadata()
        for i in tokens.indices where [Self.control, Self.unknown, Self.userDefined].contains(types[i]) {
            decoder[String(i)] = .object([
                "content": .string(tokens[i]), "lstrip": .bool(false), "normalized": .bool(false),
                "rstrip": .bool(false), "single_word": .bool(false),
                "special": .bool(types[i] != Self.userDefined),
            ])
        }
        config["added_tokens_decoder"] = .object(decoder)
        for (key, value) in [("bos_token", bos), ("eos_token", eos), ("unk_token", unk), ("pad_token", id("padding_token_id", default: nil))] {
            if let value { config[key] = .string(tokens[value]) }
        }
        if let t = m["tokenizer.chat_template"]?.stringValue { config["chat_template"] = .string(t) }
        config["clean_up_tokenization_spaces"] = .bool(false)
        if let contextLength { config["model_max_length"] = .int64(Int64(contextLength)) }
        config["tokenizer_class"] = .string("PreTrainedTokenizerFast")
        tokenizerConfig = config
    }

    static func addedToken(_ id: Int, _ content: String, special: Bool) -> MetadataValue {
        .object([
            "id": .int64(Int64(id)), "content": .string(content), "single_word": .bool(false),
            "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false),
            "special": .bool(special),
        ])
    }

    static func bpe(
        vocab: Metadata, merges: [MetadataValue], unknown: String?, byteFallback: Bool, ignoreMerges: Bool
    ) -> MetadataValue {
        .object([
            "type": .string("BPE"), "dropout": .null, "unk_token": unknown.map { .string($0) } ?? .null,
            "continuing_subword_prefix": .null, "end_of_word_suffix": .null,
            "fuse_unk": .bool(byteFallback), "byte_fallback": .bool(byteFallback),
            "ignore_merges": .bool(ignoreMerges), "vocab": .object(vocab), "merges": .array(merges),
        ])
    }

    /// TemplateProcessing adding `bos` before and `eos` after, or nil when it adds nothing.
    static func template(bos: Int?, eos: Int?, _ tokens: [String]) -> MetadataValue? {
        guard bos != nil || eos != nil else { return nil }
        func special(_ i: Int) -> MetadataValue {
            .object(["SpecialToken": .object(["id": .string(tokens[i]), "type_id": .int64(0)])])
        }
        func sequence(_ s: String, _ type: Int64) -> MetadataValue {
            .object(["Sequence": .object(["id": .string(s), "type_id": .int64(type)])])
        }
        let pre = bos.map { [special($0)] } ?? [], post = eos.map { [special($0)] } ?? []
        var specials = Metadata()
        for i in [bos, eos].compactMap({ $0 }) {
            specials[tokens[i]] = .object([
                "id": .string(tokens[i]), "ids": .array([.int64(Int64(i))]),
                "tokens": .array([.string(tokens[i])]),
            ])
        }
        return .object([
            "type": .string("TemplateProcessing"),
            "single": .array(pre + [sequence("A", 0)] + post),
            "pair": .array(pre + [sequence("A", 0)] + post + pre + [sequence("B", 1)] + post),
            "special_tokens": .object(specials),
        ])
    }

    /// The normalizer, pre-tokenizer, `ignore_merges` and default `add_bos` of a byte-level
    /// vocabulary, by `tokenizer.ggml.pre`; nil for a name without a known equivalent.
    static func byteLevelPre(_ pre: String) -> (MetadataValue, MetadataValue, Bool, Bool)? {
        func byteLevel(useRegex: Bool) -> MetadataValue {
            .object([
                "type": .string("ByteLevel"), "add_prefix_space": .bool(false), "trim_offsets": .bool(true),
                "use_regex": .bool(useRegex),
            ])
        }
        func split(_ regex: String) -> MetadataValue {
            .object([
                "type": .string("Sequence"),
                "pretokenizers": .array([
                    .object([
                        "type": .string("Split"), "pattern": .object(["Regex": .string(regex)]),
                        "behavior": .string("Isolated"), "invert": .bool(false),
                    ]),
                    byteLevel(useRegex: false),
                ]),
            ])
        }
        switch pre {
        case "gpt-2", "gpt2", "phi-2":
            return (.null, byteLevel(useRegex: true), false, false)
        case "smollm":
            let digits: MetadataValue = .object(["type": .string("Digits"), "individual_digits": .bool(true)])
            return (.null, .object(["type": .string("Sequence"), "pretokenizers": .array([digits, byteLevel(useRegex: true)])]), false, false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
            return (.null, split(llama3Split), true, true)
        case "qwen2", "deepseek-r1-qwen", "megrez":
            return (.object(["type": .string("NFC")]), split(qwen2Split), false, false)
        default:
            return nil
        }
    }
}
