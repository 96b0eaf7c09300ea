import Formats

/// Builds a `PipelineTokenizer` from GGUF `tokenizer.ggml.*` metadata (formats-gguf.md §5):
/// `gpt2` (byte-level BPE, pre-tokenizer from `tokenizer.ggml.pre`), `llama` (SentencePiece:
/// scores, token types, byte fallback) and `bert` (WordPiece, tokens in llama.cpp's
/// phantom-space form). Defaults for absent keys follow llama.cpp (§5.5).
struct GGUFTokenizerLoader {
    let metadata: Metadata
    let file: String

    /// Longest token (in characters) considered as a merge result in a `llama` vocabulary.
    /// Every split of such a token is tried, so this bounds the work a hostile file can
    /// cause; SentencePiece's `max_piece_length` defaults to 16, real pieces stay far below.
    static let maxMergeablePieceLength = 1024

    /// llama.cpp's token types (llama.h `llama_token_type`).
    enum TokenType: Int64 {
        case undefined = 0, normal, unknown, control, userDefined, unused, byte
    }

    func fail(_ key: String, _ message: String) -> FormatError {
        FormatError(.invalid(message), file: file, field: key)
    }

    func strings(_ key: String) throws(FormatError) -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.arrayValue else { throw fail(key, "expected an array of strings") }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard let s = e.stringValue else { throw fail("\(key)[\(i)]", "expected a string") }
            out.append(s)
        }
        return out
    }

    func numbers(_ key: String, count: Int) throws(FormatError) -> [Double]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.arrayValue, a.count >= count else {
            throw fail(key, "expected \(count) numbers")
        }
        var out: [Double] = []
        out.reserveCapacity(count)
        for (i, e) in a.prefix(count).enumerated() {
            guard let d = e.doubleValue else { throw fail("\(key)[\(i)]", "expected a number") }
            out.append(d)
        }
        return out
    }

    /// An id key, nil when absent or out of range (llama.cpp ignores those with a warning).
    func id(_ key: String, count: Int) throws(FormatError) -> Int? {
        guard let v = metadata["tokenizer.ggml.\(key)"] else { return nil }
        guard let i = v.intValue else { throw fail("tokenizer.ggml.\(key)", "expected an integer") }
        return i >= 0 && i < count ? Int(i) : nil
    }

    func flag(_ key: String) throws(FormatError) -> Bool? {
        guard let v = metadata["tokenizer.ggml.\(key)"] else { return nil }
        guard let b = v.boolValue else { throw fail("tokenizer.ggml.\(key)", "expected a boolean") }
        return b
    }

    func build() throws(FormatError) -> PipelineTokenizer {
        guard let model = metadata["tokenizer.ggml.model"]?.stringValue else {
            throw fail("tokenizer.ggml.model", "missing")
        }
        guard let tokens = try strings("tokenizer.ggml.tokens") else {
            throw fail("tokenizer.ggml.tokens", "missing")
        }
        guard tokens.count <= Tokenizers.maxVocabularySize else {
            throw FormatError(
                .limitExceeded("\(tokens.count) tokens > \(Tokenizers.maxVocabularySize)"),
                file: file,
                field: "tokenizer.ggml.tokens")
        }
        let n = tokens.count
        var types = [TokenType](repeating: .normal, count: n)
        if let v = metadata["tokenizer.ggml.token_type"] {
            guard let raw = v.arrayValue, raw.count >= n else {
                throw fail("tokenizer.ggml.token_type", "expected \(n) integers")
            }
            for i in 0..<n {
                guard let code = raw[i].intValue, let t = TokenType(rawValue: code) else {
                    throw fail("tokenizer.ggml.token_type[\(i)]", "unknown token type")
                }
                types[i] = t
            }
        }
        var vocab: [[UInt8]: Int] = [:]
        vocab.reserveCapacity(n)
        for (i, t) in tokens.enumerated() {
            guard vocab.updateValue(i, forKey: Array(t.utf8)) == nil else {
                throw fail("tokenizer.ggml.tokens[\(i)]", "duplicate token \(t.debugDescription)")
            }
        }
        switch model {
        case "gpt2": return try gpt2(tokens: tokens, types: types, vocab: vocab)
        case "llama": return try llama(tokens: tokens, types: types, vocab: vocab)
        case "bert": return try bert(tokens: tokens, types: types)
        default:
            throw FormatError(
                .unsupported("tokenizer model \(model)"), file: file, field: "tokenizer.ggml.model")
        }
    }

    /// Control / unknown tokens as special added tokens, user-defined ones as plain ones.
    func addedTokens(_ tokens: [String], _ types: [TokenType]) -> [AddedToken] {
        tokens.indices.compactMap { i in
            switch types[i] {
            case .control, .unknown: AddedToken(id: i, content: tokens[i], special: true)
            case .userDefined: AddedToken(id: i, content: tokens[i], special: false)
            default: nil
            }
        }
    }

    func postProcessor(bos: Int?, addBOS: Bool, eos: Int?, addEOS: Bool) -> PostProcessor {
        .wrap(
            prefix: addBOS ? bos.map { [$0] } ?? [] : [],
            suffix: addEOS ? eos.map { [$0] } ?? [] : [])
    }

    func gpt2(tokens: [String], types: [TokenType], vocab: [[UInt8]: Int]) throws(FormatError)
        -> PipelineTokenizer
    {
        guard let mergeList = try strings("tokenizer.ggml.merges") else {
            throw fail("tokenizer.ggml.merges", "missing (required for gpt2)")
        }
        var merges: [UInt64: BPEModel.Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, m) in mergeList.enumerated() {
            let s = Array(m.unicodeScalars)
            guard let k = s.indices.dropFirst().first(where: { s[$0] == " " }),
                let a = vocab[Array(String(String.UnicodeScalarView(s[..<k])).utf8)],
                let b = vocab[Array(String(String.UnicodeScalarView(s[(k + 1)...])).utf8)],
                let merged = vocab[
                    Array(String(String.UnicodeScalarView(s[..<k] + s[(k + 1)...])).utf8)]
            else {
                throw fail(
                    "tokenizer.ggml.merges[\(rank)]", "merge of tokens not in the vocabulary")
            }
            let key = BPEModel.pairKey(a, b)
            if merges[key] == nil { merges[key] = .init(rank: Float(rank), id: merged) }
        }
        let pre = metadata["tokenizer.ggml.pre"]?.stringValue ?? "default"
        let gpt2Split = PreTokenizer.split(.gpt2, .isolated)
        let bytes = PreTokenizer.byteLevel(addPrefixSpace: false, useRegex: false)
        var ignoreMerges = false
        var addBOSDefault = false
        let split: [PreTokenizer]
        // Regex sets of llama-vocab.cpp (llama_vocab::impl::load, pre_type).
        switch pre {
        case "default":
            split = [
                .split(.punctuationRun, .isolated), gpt2Split, .split(.numberRun, .isolated),
                .split(.asciiDigitTriple, .isolated),
            ]
        case "gpt-2", "phi-2", "gpt2": split = [gpt2Split]
        case "smollm": split = [.split(.singleNumber, .isolated), gpt2Split]
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
            split = [.split(.llama3(maxDigits: 3), .isolated)]
            ignoreMerges = true
            addBOSDefault = true
        case "qwen2", "deepseek-r1-qwen", "megrez":
            split = [.split(.llama3(maxDigits: 1), .isolated)]
        default:
            throw FormatError(
                .unsupported("pre-tokenizer \(pre)"), file: file, field: "tokenizer.ggml.pre")
        }
        let n = tokens.count
        let bos = try id("bos_token_id", count: n) ?? (11 < n ? 11 : nil)
        let eos = try id("eos_token_id", count: n) ?? (11 < n ? 11 : nil)
        let model = BPEModel(
            vocab: vocab, merges: merges, unknownID: nil, byteFallback: false, fuseUnknown: false,
            ignoreMerges: ignoreMerges)
        return PipelineTokenizer(
            normalizer: nil, preTokenizer: .sequence(split + [bytes]), model: .bpe(model),
            postProcessor: postProcessor(
                bos: bos, addBOS: try flag("add_bos_token") ?? addBOSDefault, eos: eos,
                addEOS: try flag("add_eos_token") ?? false),
            decoder: .byteLevel, idToToken: tokens, added: addedTokens(tokens, types))
    }

    func llama(tokens: [String], types: [TokenType], vocab: [[UInt8]: Int]) throws(FormatError)
        -> PipelineTokenizer
    {
        let n = tokens.count
        let scores =
            try numbers("tokenizer.ggml.scores", count: n) ?? [Double](repeating: 0, count: n)
        // Every split of a normal token into two vocabulary tokens is a merge ranked by
        // the token's score (best first), as llama.cpp's SPM bigram queue ranks them.
        var merges: [UInt64: BPEModel.Merge] = [:]
        for (i, t) in tokens.enumerated() where types[i] == .normal || types[i] == .userDefined {
            let s = Array(t.unicodeScalars)
            guard s.count > 1, s.count <= Self.maxMergeablePieceLength else { continue }
            for k in 1..<s.count {
                guard let a = vocab[Array(String(String.UnicodeScalarView(s[..<k])).utf8)],
                    let b = vocab[Array(String(String.UnicodeScalarView(s[k...])).utf8)]
                else { continue }
                let key = BPEModel.pairKey(a, b)
                let rank = Float(-scores[i])
                if let old = merges[key], old.rank <= rank { continue }
                merges[key] = .init(rank: rank, id: i)
            }
        }
        let addSpacePrefix = try flag("add_space_prefix") ?? true
        let unknown = try id("unknown_token_id", count: n) ?? (n > 0 ? 0 : nil)
        let model = BPEModel(
            vocab: vocab, merges: merges, unknownID: unknown, byteFallback: true, fuseUnknown: true,
            ignoreMerges: false)
        let replace = Normalizer.replace(pattern: " ", content: "\u{2581}")
        var decoders: [Decoder] = [
            .replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse,
        ]
        if addSpacePrefix { decoders.append(.strip(content: " ", start: 1, stop: 0)) }
        return PipelineTokenizer(
            normalizer: addSpacePrefix ? .sequence([.prepend("\u{2581}"), replace]) : replace,
            preTokenizer: nil, model: .bpe(model),
            postProcessor: postProcessor(
                bos: try id("bos_token_id", count: n) ?? (1 < n ? 1 : nil),
                addBOS: try flag("add_bos_token") ?? true,
                eos: try id("eos_token_id", count: n) ?? (2 < n ? 2 : nil),
                addEOS: try flag("add_eos_token") ?? false),
            decoder: .sequence(decoders), idToToken: tokens, added: addedTokens(tokens, types))
    }

    func bert(tokens: [String], types: [TokenType]) throws(FormatError) -> PipelineTokenizer {
        // llama.cpp's converter writes "▁word" for word starts and "piece" for "##piece";
        // bracketed tokens ([CLS]) are kept as they are.
        let wordPiece = tokens.map { t -> String in
            if t.hasPrefix("[") && t.hasSuffix("]") { return t }
            if t.hasPrefixScalars("\u{2581}") {
                return String(String.UnicodeScalarView(t.unicodeScalars.dropFirst()))
            }
            return "##" + t
        }
        var vocab: [[UInt8]: Int] = [:]
        for (i, t) in wordPiece.enumerated() where vocab[Array(t.utf8)] == nil {
            vocab[Array(t.utf8)] = i
        }
        let n = tokens.count
        guard let unknown = try id("unknown_token_id", count: n) ?? (100 < n ? 100 : nil) else {
            throw fail("tokenizer.ggml.unknown_token_id", "missing")
        }
        let model = WordPieceModel(
            vocab: vocab, unknownID: unknown, prefix: Array("##".utf8), maxCharacters: 100)
        let bosKey = try id("bos_token_id", count: n)
        let cls = bosKey ?? (101 < n ? 101 : nil)
        let sep = try id("seperator_token_id", count: n) ?? (102 < n ? 102 : nil)
        let addSepKey = try flag("add_sep_token")
        let addEOSKey = try flag("add_eos_token")
        let addSep = addSepKey ?? addEOSKey ?? true
        return PipelineTokenizer(
            normalizer: .bert(
                cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true),
            preTokenizer: .bert, model: .wordPiece(model),
            postProcessor: postProcessor(
                bos: cls, addBOS: try flag("add_bos_token") ?? true, eos: sep, addEOS: addSep),
            decoder: .wordPiece(prefix: "##", cleanup: true), idToToken: wordPiece,
            added: addedTokens(wordPiece, types))
    }
}
