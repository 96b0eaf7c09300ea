/// The BPE merges a SentencePiece vocabulary implies, ranked as transformers'
/// `generate_merges(vocab, vocab_scores)` (tokenization_utils_base.py) ranks them, which is
/// how its GGUF loader rebuilds a `llama` vocabulary (integrations/gguf/gguf_tokenizer_mapping.py).
///
/// Every split of a token into two vocabulary tokens is a merge; merges are ordered by the
/// token's score, then the left and right piece lengths, all descending, ties kept in
/// vocabulary order (splits of one token by the ids of their pieces).
enum SentencePieceMerges {
    /// Longest token (in Unicode scalars) whose splits are tried: bounds the work a hostile
    /// vocabulary can cause (SentencePiece's `max_piece_length` defaults to 16).
    static let maxPieceLength = 1024

    static func generate(tokens: [String], scores: [Double]) -> [(String, String)] {
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { ids[t] = i }
        struct Candidate {
            var left: String, right: String, score: Double, leftLength: Int, rightLength: Int,
                order: Int
        }
        var all: [Candidate] = []
        for (i, t) in tokens.enumerated() {
            let s = Array(t.unicodeScalars)
            guard s.count > 1, s.count <= maxPieceLength else { continue }
            var local: [(Int, Int, Candidate)] = []
            for k in 1..<s.count {
                let l = String(String.UnicodeScalarView(s[..<k])),
                    r = String(String.UnicodeScalarView(s[k...]))
                guard let a = ids[l], let b = ids[r] else { continue }
                local.append(
                    (
                        a, b,
                        Candidate(
                            left: l, right: r, score: scores[i], leftLength: k,
                            rightLength: s.count - k, order: 0)
                    ))
            }
            local.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            for (_, _, c) in local {
                var c = c
                c.order = all.count
                all.append(c)
            }
        }
        all.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftLength != b.leftLength { return a.leftLength > b.leftLength }
            if a.rightLength != b.rightLength { return a.rightLength > b.rightLength }
            return a.order < b.order
        }
        return all.map { ($0.left, $0.right) }
    }
}
