/// WordPiece (BERT): each word split greedily into the longest vocabulary pieces, pieces
/// after the first carrying the continuation prefix (`##`); a word with any unmatched rest,
/// or longer than `maxCharacters`, is one unknown token.
struct WordPieceModel: Sendable {
    /// Token bytes (UTF-8) → id (bytes, not `String`, see `BPEModel.vocab`).
    let vocab: [[UInt8]: Int]
    let unknownID: Int
    let prefix: [UInt8]
    let maxCharacters: Int

    /// The ids of one pre-tokenized word, appended to `out`.
    func encode(_ word: [Unicode.Scalar], into out: inout [Int]) {
        if word.isEmpty { return }
        if word.count > maxCharacters {
            out.append(unknownID)
            return
        }
        // UTF-8 offset of each character boundary, so candidate pieces are byte slices.
        var bytes: [UInt8] = []
        var bounds = [0]
        for c in word {
            for b in String(c).utf8 { bytes.append(b) }
            bounds.append(bytes.count)
        }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int? = nil
            while end > start {
                var key = start > 0 ? prefix : []
                key.append(contentsOf: bytes[bounds[start]..<bounds[end]])
                if let id = vocab[key] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                out.append(unknownID)
                return
            }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }
}
