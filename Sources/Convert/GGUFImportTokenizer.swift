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
        guard let model = m["tokenizer.ggml.model"]?.stringValue else {
            throw ConvertError(
                "tokenizer.ggml.model: missing: the GGUF holds no tokenizer", file: file)
        }
        let v = try Vocabulary(metadata: m, file: file)
        let parts: Parts
        switch model {
        case "gpt2": parts = try Self.byteLevel(v)
        case "llama": parts = try Self.sentencePiece(v)
        default:
            throw v.fail(
                "tokenizer.ggml.model", "tokenizer model '\(model)' (gpt2 and llama are rebuilt)")
        }
        let tokens = v.tokens
        let addEOS = v.flag("add_eos_token") ?? false
        var doc = Metadata()
        doc["version"] = .string("1.0")
        doc["truncation"] = .null
        doc["padding"] = .null
        doc["added_tokens"] = .array(
            tokens.indices.compactMap { i -> MetadataValue? in
                v.isAdded(i) ? Self.addedToken(i, tokens[i], special: v.isSpecial(i)) : nil
            })
        doc["normalizer"] = parts.normalizer
        doc["pre_tokenizer"] = parts.preTokenizer
        doc["post_processor"] =
            Self.template(
                bos: parts.addBOS ? parts.bos : nil, eos: addEOS ? parts.eos : nil, tokens)
            ?? parts.plainPostProcessor
        doc["decoder"] = parts.decoder
        doc["model"] = parts.model
        tokenizer = doc

        var config = Metadata()
        // A byte-level vocabulary carries BOS/EOS in tokenizer.json's post-processor only, as
        // SmolLM2's, Qwen2's and Llama 3's own tokenizer_config.json do: llama.cpp's converter
        // adds `add_bos_token` itself for some of them and refuses a second one
        // ("Duplicated key name"). SentencePiece configs (Llama 2) keep the flags.
        if model == "llama" {
            config["add_bos_token"] = .bool(parts.addBOS)
            config["add_eos_token"] = .bool(addEOS)
        }
        var decoder = Metadata()
        for i in tokens.indices where v.isAdded(i) {
            decoder[String(i)] = .object([
                "content": .string(tokens[i]), "lstrip": .bool(false), "normalized": .bool(false),
                "rstrip": .bool(false), "single_word": .bool(false),
                "special": .bool(v.isSpecial(i)),
            ])
        }
        config["added_tokens_decoder"] = .object(decoder)
        for (key, value) in [
            ("bos_token", parts.bos), ("eos_token", parts.eos), ("unk_token", parts.unk),
            ("pad_token", v.id("padding_token_id", default: nil)),
        ] {
            if let value { config[key] = .string(tokens[value]) }
        }
        if let t = m["tokenizer.chat_template"]?.stringValue {
            config["chat_template"] = .string(t)
        }
        config["clean_up_tokenization_spaces"] = .bool(false)
        if let contextLength { config["model_max_length"] = .int64(Int64(contextLength)) }
        config["tokenizer_class"] = .string("PreTrainedTokenizerFast")
        tokenizerConfig = config
    }

    /// The tokens, their types and the special ids and flags of `tokenizer.ggml.*`.
    struct Vocabulary {
        let metadata: Metadata
        let file: String
        let tokens: [String]
        let types: [Int64]
        /// token → id, as the JSON object `model.vocab`.
        let vocab: Metadata

        init(metadata m: Metadata, file: String) throws(ConvertError) {
            metadata = m
            self.file = file
            guard let list = m["tokenizer.ggml.tokens"]?.arrayValue else {
                throw ConvertError("tokenizer.ggml.tokens: missing", file: file)
            }
            var tokens: [String] = []
            tokens.reserveCapacity(list.count)
            for (i, t) in list.enumerated() {
                guard let s = t.stringValue else {
                    throw ConvertError("tokenizer.ggml.tokens[\(i)]: not a string", file: file)
                }
                tokens.append(s)
            }
            let n = tokens.count
            var types = [Int64](repeating: 1, count: n)
            if let raw = m["tokenizer.ggml.token_type"]?.arrayValue {
                guard raw.count >= n else {
                    throw ConvertError(
                        "tokenizer.ggml.token_type: fewer entries than tokens", file: file)
                }
                for i in 0..<n {
                    guard let v = raw[i].intValue else {
                        throw ConvertError(
                            "tokenizer.ggml.token_type[\(i)]: not an integer", file: file)
                    }
                    types[i] = v
                }
            }
            var vocab = Metadata()
            vocab.reserveCapacity(n)
            for (i, t) in tokens.enumerated() {
                guard vocab.updateValue(.int64(Int64(i)), forKey: t) == nil else {
                    throw ConvertError(
                        "tokenizer.ggml.tokens[\(i)]: duplicate token \(t.debugDescription)",
                        file: file)
                }
            }
            self.tokens = tokens
            self.types = types
            self.vocab = vocab
        }

        func fail(_ key: String, _ why: String) -> ConvertError {
            ConvertError("\(key): \(why)", file: file)
        }

        /// `tokenizer.ggml.<key>` when in range (llama.cpp ignores the others), else `d`.
        func id(_ key: String, default d: Int?) -> Int? {
            if let v = metadata["tokenizer.ggml.\(key)"]?.intValue {
                return v >= 0 && v < tokens.count ? Int(v) : nil
            }
            return d.flatMap { $0 < tokens.count ? $0 : nil }
        }

        func flag(_ key: String) -> Bool? { metadata["tokenizer.ggml.\(key)"]?.boolValue }

        /// Control, unknown and user-defined tokens are matched whole: added tokens.
        func isAdded(_ i: Int) -> Bool {
            [
                GGUFImportTokenizer.control, GGUFImportTokenizer.unknown,
                GGUFImportTokenizer.userDefined,
            ]
            .contains(types[i])
        }
        func isSpecial(_ i: Int) -> Bool { types[i] != GGUFImportTokenizer.userDefined }
    }

    /// What differs between the tokenizer models.
    struct Parts {
        var normalizer: MetadataValue
        var preTokenizer: MetadataValue
        var decoder: MetadataValue
        var model: MetadataValue
        /// The post-processor when no special token is added.
        var plainPostProcessor: MetadataValue
        var bos: Int?, eos: Int?, unk: Int?
        var addBOS: Bool
    }
}
