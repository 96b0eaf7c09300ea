import Formats

/// The byte-level BPE and SentencePiece halves of `GGUFImportTokenizer`.
extension GGUFImportTokenizer {
    /// `gpt2`: vocabulary and merges as stored, the pre-tokenizer `tokenizer.ggml.pre` names.
    static func byteLevel(_ v: Vocabulary) throws(ConvertError) -> Parts {
        guard let mergeList = v.metadata["tokenizer.ggml.merges"]?.arrayValue else {
            throw v.fail("tokenizer.ggml.merges", "missing (required for gpt2)")
        }
        let pre = v.metadata["tokenizer.ggml.pre"]?.stringValue ?? "default"
        guard let (normalizer, preTokenizer, ignoreMerges, addBOSDefault) = byteLevelPre(pre) else {
            throw v.fail(
                "tokenizer.ggml.pre",
                "pre-tokenizer '\(pre)' has no tokenizer.json equivalent in ckpt")
        }
        var merges: [MetadataValue] = []
        merges.reserveCapacity(mergeList.count)
        for (rank, m) in mergeList.enumerated() {
            // llama.cpp splits at the first space at position ≥ 1.
            guard let s = m.stringValue,
                let k = s.unicodeScalars.indices.dropFirst().first(where: {
                    s.unicodeScalars[$0] == " "
                })
            else { throw v.fail("tokenizer.ggml.merges[\(rank)]", "not 'left right'") }
            let left = String(s.unicodeScalars[..<k])
            let right = String(s.unicodeScalars[s.unicodeScalars.index(after: k)...])
            merges.append(.array([.string(left), .string(right)]))
        }
        let byteLevel: MetadataValue = .object([
            "type": .string("ByteLevel"), "add_prefix_space": .bool(true),
            "trim_offsets": .bool(false), "use_regex": .bool(true),
        ])
        return Parts(
            normalizer: normalizer, preTokenizer: preTokenizer,
            decoder: .object([
                "type": .string("ByteLevel"), "add_prefix_space": .bool(true),
                "trim_offsets": .bool(true), "use_regex": .bool(true),
            ]),
            model: bpe(
                vocab: v.vocab, merges: merges, unknown: nil, byteFallback: false,
                ignoreMerges: ignoreMerges),
            plainPostProcessor: byteLevel,
            bos: v.id("bos_token_id", default: nil), eos: v.id("eos_token_id", default: nil),
            unk: v.id("unknown_token_id", default: nil),
            addBOS: v.flag("add_bos_token") ?? addBOSDefault)
    }

    /// `llama`: BPE with byte fallback over merges recovered from the scores, and Llama 2's
    /// `▁` normalizer (llama.cpp's `add_space_prefix`) and decoder.
    static func sentencePiece(_ v: Vocabulary) throws(ConvertError) -> Parts {
        let n = v.tokens.count
        var scores = [Double](repeating: 0, count: n)
        if let raw = v.metadata["tokenizer.ggml.scores"]?.arrayValue {
            guard raw.count >= n else {
                throw v.fail("tokenizer.ggml.scores", "fewer entries than tokens")
            }
            for i in 0..<n {
                guard let x = raw[i].doubleValue else {
                    throw v.fail("tokenizer.ggml.scores[\(i)]", "not a number")
                }
                scores[i] = x
            }
        }
        let prefix = v.flag("add_space_prefix") ?? true
        let replace: MetadataValue = .object([
            "type": .string("Replace"), "pattern": .object(["String": .string(" ")]),
            "content": .string("\u{2581}"),
        ])
        let normalizer: MetadataValue =
            prefix
            ? .object([
                "type": .string("Sequence"),
                "normalizers": .array([
                    .object(["type": .string("Prepend"), "prepend": .string("\u{2581}")]), replace,
                ]),
            ]) : replace
        var decoders: [MetadataValue] = [
            .object([
                "type": .string("Replace"), "pattern": .object(["String": .string("\u{2581}")]),
                "content": .string(" "),
            ]),
            .object(["type": .string("ByteFallback")]), .object(["type": .string("Fuse")]),
        ]
        if prefix {
            decoders.append(
                .object([
                    "type": .string("Strip"), "content": .string(" "), "start": .int64(1),
                    "stop": .int64(0),
                ]))
        }
        let unk = v.id("unknown_token_id", default: 0)
        let merges = SentencePieceMerges.generate(tokens: v.tokens, scores: scores)
        return Parts(
            normalizer: normalizer, preTokenizer: .null,
            decoder: .object(["type": .string("Sequence"), "decoders": .array(decoders)]),
            model: bpe(
                vocab: v.vocab, merges: merges.map { .array([.string($0.0), .string($0.1)]) },
                unknown: unk.map { v.tokens[$0] }, byteFallback: true, ignoreMerges: false),
            plainPostProcessor: .null,
            bos: v.id("bos_token_id", default: 1), eos: v.id("eos_token_id", default: 2), unk: unk,
            addBOS: v.flag("add_bos_token") ?? true)
    }

    static func addedToken(_ id: Int, _ content: String, special: Bool) -> MetadataValue {
        .object([
            "id": .int64(Int64(id)), "content": .string(content), "single_word": .bool(false),
            "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false),
            "special": .bool(special),
        ])
    }

    static func bpe(
        vocab: Metadata, merges: [MetadataValue], unknown: String?, byteFallback: Bool,
        ignoreMerges: Bool
    ) -> MetadataValue {
        .object([
            "type": .string("BPE"), "dropout": .null,
            "unk_token": unknown.map { .string($0) } ?? .null,
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
                "type": .string("ByteLevel"), "add_prefix_space": .bool(false),
                "trim_offsets": .bool(true),
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
            let digits: MetadataValue = .object([
                "type": .string("Digits"), "individual_digits": .bool(true),
            ])
            return (
                .null,
                .object([
                    "type": .string("Sequence"),
                    "pretokenizers": .array([digits, byteLevel(useRegex: true)]),
                ]), false, false
            )
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
            return (.null, split(llama3Split), true, true)
        case "qwen2", "deepseek-r1-qwen", "megrez":
            return (.object(["type": .string("NFC")]), split(qwen2Split), false, false)
        default:
            return nil
        }
    }
}
