/// A token declared in `added_tokens` (or a GGUF control / user-defined token), matched in
/// the text before pre-tokenization and encoded as its id.
struct AddedToken: Sendable {
    var id: Int
    var content: String
    var special: Bool
    /// Also swallow whitespace on the left / right of a match.
    var lstrip = false
    var rstrip = false
    /// Matched in normalized text (else in the raw input).
    var normalized = false
    /// Matched only when not inside a word.
    var singleWord = false
}

/// Finds added tokens in text the way `tokenizers`' AddedVocabulary does: leftmost-longest
/// matches (its Aho-Corasick automaton), single_word matches that touch a word skipped,
/// lstrip / rstrip widening a match over whitespace.
struct AddedTokenMatcher: Sendable {
    /// Candidates by first character, longest first.
    private let byFirst: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: AddedToken)]]

    /// One piece of the input: text to tokenize, or an added token's id.
    enum Segment {
        case text(Range<Int>)
        case token(Int)
    }

    /// A matcher for `tokens`; each is searched for as `pattern(token)` (its content, or the
    /// normalized content for tokens matched after normalization).
    init(_ tokens: [AddedToken], pattern: (AddedToken) -> String) {
        var map: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: AddedToken)]] = [:]
        for t in tokens {
            let p = Array(pattern(t).unicodeScalars)
            guard let first = p.first else { continue }
            map[first, default: []].append((p, t))
        }
        for k in map.keys { map[k]?.sort { $0.pattern.count > $1.pattern.count } }
        byFirst = map
    }

    var isEmpty: Bool { byFirst.isEmpty }

    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        CharClass.isAlphanumeric(c) || c == "_"
    }

    /// `s` cut into text and added-token segments, in order; empty text is left out.
    func split(_ s: [Unicode.Scalar]) -> [Segment] {
        guard !byFirst.isEmpty else { return s.isEmpty ? [] : [.text(0..<s.count)] }
        var out: [Segment] = []
        var textStart = 0
        var i = 0
        while i < s.count {
            guard let candidates = byFirst[s[i]],
                let hit = candidates.first(where: { c in
                    i + c.pattern.count <= s.count
                        && s[i..<(i + c.pattern.count)].elementsEqual(c.pattern)
                })
            else {
                i += 1
                continue
            }
            var start = i
            var stop = i + hit.pattern.count
            let token = hit.token
            i = stop
            if token.singleWord {
                let before = start > 0 && Self.isWordCharacter(s[start - 1])
                let after = stop < s.count && Self.isWordCharacter(s[stop])
                if before || after { continue }
            }
            if token.lstrip {
                while start > textStart && CharClass.isWhitespace(s[start - 1]) { start -= 1 }
            }
            if token.rstrip {
                while stop < s.count && CharClass.isWhitespace(s[stop]) { stop += 1 }
                i = stop
            }
            if textStart < start { out.append(.text(textStart..<start)) }
            out.append(.token(token.id))
            textStart = stop
        }
        if textStart < s.count { out.append(.text(textStart..<s.count)) }
        return out
    }
}
