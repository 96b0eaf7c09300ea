/// The model a pipeline ends in.
enum TokenModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)

    func encode(_ word: [Unicode.Scalar], into out: inout [Int]) {
        switch self {
        case .bpe(let m): m.encode(word, into: &out)
        case .wordPiece(let m): m.encode(word, into: &out)
        }
    }
}

/// `tokenizers`' pipeline: added tokens split out, normalizer, pre-tokenizer, model,
/// post-processor; and decoder for the way back.
struct PipelineTokenizer: Tokenizer {
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var model: TokenModel
    var postProcessor: PostProcessor
    var decoder: Decoder?
    /// Id → token text (model vocabulary, then added tokens over it); nil for holes.
    var idToToken: [String?]
    /// Ids of added tokens marked special (left out by `skipSpecialTokens`).
    var specialIDs: Set<Int>
    /// Added tokens matched in the raw text / in normalized text.
    var rawMatcher: AddedTokenMatcher
    var normalizedMatcher: AddedTokenMatcher

    init(
        normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: TokenModel,
        postProcessor: PostProcessor, decoder: Decoder?, idToToken: [String?], added: [AddedToken]
    ) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        var table = idToToken
        for t in added where t.id < table.count { table[t.id] = t.content }
        self.idToToken = table
        self.specialIDs = Set(added.filter(\.special).map(\.id))
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }) { $0.content }
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized)) { t in
            normalizer?.apply(t.content) ?? t.content
        }
    }

    var vocabularySize: Int { idToToken.count }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        var cache: [[Unicode.Scalar]: [Int]] = [:]
        let raw = Array(text.unicodeScalars)
        for segment in rawMatcher.split(raw) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range):
                let piece = String(String.UnicodeScalarView(raw[range]))
                let normalized = Array((normalizer?.apply(piece) ?? piece).unicodeScalars)
                for inner in normalizedMatcher.split(normalized) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let r):
                        let word = PreTokenizer.Word(
                            scalars: Array(normalized[r]),
                            atStart: range.lowerBound == 0 && r.lowerBound == 0)
                        let words = preTokenizer?.apply([word]) ?? [word]
                        for w in words { encodeWord(w.scalars, into: &ids, cache: &cache) }
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    /// Words longer than this are not memoized (their merges dominate, repeats are rare).
    static let cachedWordLength = 64

    /// One word's ids, memoized for the call: natural text repeats its words, and a word's
    /// ids depend on nothing else.
    private func encodeWord(
        _ word: [Unicode.Scalar], into ids: inout [Int], cache: inout [[Unicode.Scalar]: [Int]]
    ) {
        guard word.count <= Self.cachedWordLength else {
            model.encode(word, into: &ids)
            return
        }
        if let hit = cache[word] {
            ids.append(contentsOf: hit)
            return
        }
        var out: [Int] = []
        model.encode(word, into: &out)
        cache[word] = out
        ids.append(contentsOf: out)
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids where id >= 0 && id < idToToken.count {
            guard let t = idToToken[id] else { continue }
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            tokens.append(t)
        }
        return decoder?.decode(tokens) ?? tokens.joined(separator: " ")
    }
}
