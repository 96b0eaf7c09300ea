import Formats

/// Builds a `PipelineTokenizer` from a parsed `tokenizer.json` (the serialization of
/// Hugging Face `tokenizers`' `Tokenizer`), component by component. A component or option
/// ckpt does not implement is an `unsupported` error naming its field.
struct TokenizerJSON {
    let root: JSONNode

    init(root: MetadataValue, file: String) {
        self.root = JSONNode(value: root, path: "", file: file)
    }

    func build() throws(FormatError) -> PipelineTokenizer {
        let normalizer = try root.optional("normalizer").map { n throws(FormatError) in
            try Self.normalizer(n)
        }
        let pre = try root.optional("pre_tokenizer").map { n throws(FormatError) in
            try Self.preTokenizer(n)
        }
        let decoder = try root.optional("decoder").map { n throws(FormatError) in
            try Self.decoder(n)
        }
        let post = try root.optional("post_processor").map { n throws(FormatError) in
            try Self.postProcessor(n)
        }
        var added: [AddedToken] = []
        if let list = try root.optional("added_tokens") {
            for t in try list.array() {
                added.append(
                    AddedToken(
                        id: try t.required("id").id(), content: try t.required("content").string(),
                        special: try t.optional("special")?.bool() ?? false,
                        lstrip: try t.optional("lstrip")?.bool() ?? false,
                        rstrip: try t.optional("rstrip")?.bool() ?? false,
                        normalized: try t.optional("normalized")?.bool() ?? false,
                        singleWord: try t.optional("single_word")?.bool() ?? false))
            }
        }
        let (model, vocab) = try Self.model(try root.required("model"))
        var size = 0
        for (_, id) in vocab { size = max(size, id + 1) }
        for t in added { size = max(size, t.id + 1) }
        var table = [String?](repeating: nil, count: size)
        for (token, id) in vocab where table[id] == nil {
            table[id] = String(decoding: token, as: UTF8.self)
        }
        return PipelineTokenizer(
            normalizer: normalizer, preTokenizer: pre, model: model, postProcessor: post ?? .none,
            decoder: decoder, idToToken: table, added: added)
    }

    // MARK: Model

    static func vocabulary(_ node: JSONNode) throws(FormatError) -> [[UInt8]: Int] {
        let members = try node.members()
        guard members.count <= Tokenizers.maxVocabularySize else {
            throw FormatError(
                .limitExceeded("\(members.count) tokens > \(Tokenizers.maxVocabularySize)"),
                file: node.file,
                field: node.path)
        }
        var vocab: [[UInt8]: Int] = [:]
        vocab.reserveCapacity(members.count)
        for (token, value) in members { vocab[Array(token.utf8)] = try value.id() }
        return vocab
    }

    static func model(_ node: JSONNode) throws(FormatError) -> (TokenModel, [[UInt8]: Int]) {
        let hasMerges = try node.optional("merges") != nil
        let type = try node.optional("type")?.string() ?? (hasMerges ? "BPE" : "WordPiece")
        let vocab = try vocabulary(try node.required("vocab"))
        func unknown() throws(FormatError) -> Int? {
            guard let n = try node.optional("unk_token") else { return nil }
            guard let id = vocab[Array(try n.string().utf8)] else {
                throw n.fail("not in the vocabulary")
            }
            return id
        }
        switch type {
        case "BPE":
            for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
                if let n = try node.optional(key), !(try n.string()).isEmpty {
                    throw n.unsupported("BPE \(key)")
                }
            }
            if let n = try node.optional("dropout"), (n.value.doubleValue ?? 0) > 0 {
                throw n.unsupported("BPE dropout")
            }
            var merges: [UInt64: BPEModel.Merge] = [:]
            let list = try node.required("merges").array()
            merges.reserveCapacity(list.count)
            for (rank, m) in list.enumerated() {
                let a: String, b: String
                if let s = m.value.stringValue {
                    let scalars = Array(s.unicodeScalars)
                    // Split at the first space at position >= 1 (as llama.cpp and tokenizers).
                    guard let k = scalars.indices.dropFirst().first(where: { scalars[$0] == " " })
                    else {
                        throw m.fail("merge without a space")
                    }
                    a = String(String.UnicodeScalarView(scalars[..<k]))
                    b = String(String.UnicodeScalarView(scalars[(k + 1)...]))
                } else {
                    let pair = try m.array()
                    guard pair.count == 2 else { throw m.fail("expected a pair") }
                    a = try pair[0].string()
                    b = try pair[1].string()
                }
                guard let ia = vocab[Array(a.utf8)], let ib = vocab[Array(b.utf8)],
                    let merged = vocab[Array(a.utf8) + Array(b.utf8)]
                else { throw m.fail("merge of tokens not in the vocabulary") }
                let key = BPEModel.pairKey(ia, ib)
                if merges[key] == nil { merges[key] = .init(rank: Float(rank), id: merged) }
            }
            let model = BPEModel(
                vocab: vocab, merges: merges, unknownID: try unknown(),
                byteFallback: try node.optional("byte_fallback")?.bool() ?? false,
                fuseUnknown: try node.optional("fuse_unk")?.bool() ?? false,
                ignoreMerges: try node.optional("ignore_merges")?.bool() ?? false)
            return (.bpe(model), vocab)
        case "WordPiece":
            guard let unk = try unknown() else {
                throw try node.required("unk_token").fail("missing")
            }
            let model = WordPieceModel(
                vocab: vocab, unknownID: unk,
                prefix: Array(
                    (try node.optional("continuing_subword_prefix")?.string() ?? "##").utf8),
                maxCharacters: try node.optional("max_input_chars_per_word")?.int() ?? 100)
            return (.wordPiece(model), vocab)
        default:
            throw try node.required("type").unsupported("tokenizer model \(type)")
        }
    }

    // MARK: Components

    /// A `{"String": s}` pattern's text; a `{"Regex": r}` pattern is returned as regex.
    static func pattern(_ node: JSONNode) throws(FormatError) -> (literal: String?, regex: String?)
    {
        if let s = try node.optional("String") { return (try s.string(), nil) }
        if let r = try node.optional("Regex") { return (nil, try r.string()) }
        throw node.fail("expected {\"String\": ...} or {\"Regex\": ...}")
    }

    static func normalizer(_ n: JSONNode) throws(FormatError) -> Normalizer {
        let type = try n.type()
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Strip":
            return .strip(
                left: try n.optional("strip_left")?.bool() ?? true,
                right: try n.optional("strip_right")?.bool() ?? true)
        case "Prepend": return .prepend(try n.required("prepend").string())
        case "Replace":
            let p = try pattern(try n.required("pattern"))
            guard let literal = p.literal else {
                throw try n.required("pattern").unsupported("Replace with a regex")
            }
            return .replace(pattern: literal, content: try n.required("content").string())
        case "BertNormalizer":
            let lowercase = try n.optional("lowercase")?.bool() ?? true
            return .bert(
                cleanText: try n.optional("clean_text")?.bool() ?? true,
                handleChineseChars: try n.optional("handle_chinese_chars")?.bool() ?? true,
                stripAccents: try n.optional("strip_accents")?.bool() ?? lowercase,
                lowercase: lowercase)
        case "Sequence":
            var steps: [Normalizer] = []
            for s in try n.required("normalizers").array() { steps.append(try normalizer(s)) }
            return .sequence(steps)
        default:
            throw try n.required("type").unsupported("normalizer \(type)")
        }
    }

    static func behavior(_ n: JSONNode?) throws(FormatError) -> SplitBehavior {
        guard let n else { return .isolated }
        guard let b = SplitBehavior(rawValue: try n.string()) else {
            throw n.unsupported("split behavior")
        }
        return b
    }

    static func prependScheme(_ n: JSONNode) throws(FormatError) -> PreTokenizer.PrependScheme {
        if let s = try n.optional("prepend_scheme") {
            guard let scheme = PreTokenizer.PrependScheme(rawValue: try s.string()) else {
                throw s.unsupported("prepend_scheme")
            }
            return scheme
        }
        return (try n.optional("add_prefix_space")?.bool() ?? true) ? .always : .never
    }

    static func preTokenizer(_ n: JSONNode) throws(FormatError) -> PreTokenizer {
        let type = try n.type()
        switch type {
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: try n.optional("add_prefix_space")?.bool() ?? true,
                useRegex: try n.optional("use_regex")?.bool() ?? true)
        case "Split":
            let node = try n.required("pattern")
            let p = try pattern(node)
            if try n.optional("invert")?.bool() ?? false {
                throw try n.required("invert").unsupported("inverted Split")
            }
            let split: SplitPattern
            if let literal = p.literal {
                split = .literal(Array(literal.unicodeScalars))
            } else if let regex = p.regex, let known = SplitPattern(regex: regex) {
                split = known
            } else {
                throw node.unsupported("split regex \(p.regex ?? "")")
            }
            return .split(split, try behavior(try n.optional("behavior")))
        case "Metaspace":
            return .metaspace(
                replacement: try n.optional("replacement")?.character() ?? "\u{2581}",
                prependScheme: try prependScheme(n), split: try n.optional("split")?.bool() ?? true)
        case "BertPreTokenizer": return .bert
        case "Digits":
            return .digits(individual: try n.optional("individual_digits")?.bool() ?? false)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Punctuation": return .punctuation(try behavior(try n.optional("behavior")))
        case "Sequence":
            var steps: [PreTokenizer] = []
            for s in try n.required("pretokenizers").array() { steps.append(try preTokenizer(s)) }
            return .sequence(steps)
        default:
            throw try n.required("type").unsupported("pre-tokenizer \(type)")
        }
    }

    static func postProcessor(_ n: JSONNode) throws(FormatError) -> PostProcessor {
        let type = try n.type()
        switch type {
        case "ByteLevel": return PostProcessor.none
        case "BertProcessing", "RobertaProcessing":
            func id(_ key: String) throws(FormatError) -> Int {
                let pair = try n.required(key).array()
                guard pair.count == 2 else {
                    throw try n.required(key).fail("expected [token, id]")
                }
                return try pair[1].id()
            }
            return .wrap(prefix: [try id("cls")], suffix: [try id("sep")])
        case "TemplateProcessing":
            let specials = try n.required("special_tokens")
            var pieces: [PostProcessor.TemplatePiece] = []
            for p in try n.required("single").array() {
                if let s = try p.optional("SpecialToken") {
                    let name = try s.required("id").string()
                    guard let entry = try specials.optional(name) else {
                        throw s.fail("\(name) not in special_tokens")
                    }
                    var ids: [Int] = []
                    for i in try entry.required("ids").array() { ids.append(try i.id()) }
                    pieces.append(.special(ids))
                } else if let s = try p.optional("Sequence") {
                    guard try s.required("id").string() == "A" else {
                        throw s.fail("single template uses $B")
                    }
                    pieces.append(.sequence)
                } else {
                    throw p.fail("expected SpecialToken or Sequence")
                }
            }
            return .template(pieces)
        case "Sequence":
            var steps: [PostProcessor] = []
            for s in try n.required("processors").array() { steps.append(try postProcessor(s)) }
            return .sequence(steps)
        default:
            throw try n.required("type").unsupported("post-processor \(type)")
        }
    }

    static func decoder(_ n: JSONNode) throws(FormatError) -> Decoder {
        let type = try n.type()
        switch type {
        case "ByteLevel": return .byteLevel
        case "WordPiece":
            return .wordPiece(
                prefix: try n.optional("prefix")?.string() ?? "##",
                cleanup: try n.optional("cleanup")?.bool() ?? true)
        case "Metaspace":
            return .metaspace(
                replacement: try n.optional("replacement")?.character() ?? "\u{2581}",
                prependScheme: try prependScheme(n))
        case "Replace":
            let p = try pattern(try n.required("pattern"))
            guard let literal = p.literal else {
                throw try n.required("pattern").unsupported("Replace with a regex")
            }
            return .replace(pattern: literal, content: try n.required("content").string())
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(
                content: try n.required("content").character(),
                start: try n.required("start").int(),
                stop: try n.required("stop").int())
        case "Sequence":
            var steps: [Decoder] = []
            for s in try n.required("decoders").array() { steps.append(try decoder(s)) }
            return .sequence(steps)
        default:
            throw try n.required("type").unsupported("decoder \(type)")
        }
    }
}
