/// A pre-tokenizer as `tokenizers` declares them ("pre_tokenizer"): cuts one normalized
/// segment into the words the model encodes one by one.
enum PreTokenizer: Sendable {
    /// GPT-2's: optional leading space, the GPT-2 regex split, then bytes as characters.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(SplitPattern, SplitBehavior)
    /// Spaces to `replacement`, prepended per `prependScheme`, split before each one.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// Whitespace removed, each punctuation character alone.
    case bert
    /// Number characters split off, one by one or as runs.
    case digits(individual: Bool)
    /// `\w+|[^\w\s]+`.
    case whitespace
    /// Split on whitespace, which is removed.
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case sequence([PreTokenizer])

    /// When Metaspace prepends its replacement character.
    enum PrependScheme: String, Sendable { case always, first, never }

    /// `words` (each a segment's piece; `atStart` true for a piece that begins the input)
    /// cut further by this pre-tokenizer.
    func apply(_ words: [Word]) -> [Word] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(words) { $1.apply($0) }
        default:
            var out: [Word] = []
            out.reserveCapacity(words.count * 2)
            for w in words { cut(w, into: &out) }
            return out
        }
    }

    /// One piece of text, and whether it starts at offset 0 of the original input.
    struct Word {
        var scalars: [Unicode.Scalar]
        var atStart: Bool
    }

    private func cut(_ w: Word, into out: inout [Word]) {
        let s = w.scalars
        func emit(_ ranges: [Range<Int>]) {
            for r in ranges where !r.isEmpty {
                out.append(Word(scalars: Array(s[r]), atStart: w.atStart && r.lowerBound == 0))
            }
        }
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var t = s
            if addPrefixSpace && t.first != " " { t.insert(" ", at: 0) }
            let ranges =
                useRegex
                ? SplitBehavior.isolated.apply(t, matches: SplitPattern.gpt2.matches(in: t))
                : [0..<t.count]
            let table = ByteLevelTable.byteToScalar
            for r in ranges where !r.isEmpty {
                var mapped: [Unicode.Scalar] = []
                mapped.reserveCapacity(r.count)
                for c in t[r] { UTF8.encode(c) { mapped.append(table[Int($0)]) } }
                out.append(Word(scalars: mapped, atStart: w.atStart && r.lowerBound == 0))
            }
        case .split(let pattern, let behavior):
            emit(behavior.apply(s, matches: pattern.matches(in: s)))
        case .metaspace(let replacement, let scheme, let split):
            var t = s.map { $0 == " " ? replacement : $0 }
            let prepend = scheme == .always || (scheme == .first && w.atStart)
            if prepend && t.first != replacement { t.insert(replacement, at: 0) }
            let word = Word(scalars: t, atStart: w.atStart)
            guard split else {
                out.append(word)
                return
            }
            let matches = t.indices.filter { t[$0] == replacement }.map { $0..<($0 + 1) }
            for r in SplitBehavior.mergedWithNext.apply(t, matches: matches) {
                out.append(Word(scalars: Array(t[r]), atStart: w.atStart && r.lowerBound == 0))
            }
        case .bert:
            var ranges: [Range<Int>] = []
            var start = 0
            for (i, c) in s.enumerated() {
                if CharClass.isWhitespace(c) {
                    if start < i { ranges.append(start..<i) }
                    start = i + 1
                } else if CharClass.isBertPunctuation(c) {
                    if start < i { ranges.append(start..<i) }
                    ranges.append(i..<(i + 1))
                    start = i + 1
                }
            }
            if start < s.count { ranges.append(start..<s.count) }
            emit(ranges)
        case .digits(let individual):
            let matches = s.indices.filter { CharClass.isNumber(s[$0]) }.map { $0..<($0 + 1) }
            emit((individual ? SplitBehavior.isolated : .contiguous).apply(s, matches: matches))
        case .whitespace:
            // \w+|[^\w\s]+ with the Rust regex crate's \w: Alphabetic, marks, Nd, Pc,
            // Join_Control (so U+200D is a word character and ² is not).
            func isWordChar(_ c: Unicode.Scalar) -> Bool {
                if c.properties.isAlphabetic || c.properties.isJoinControl { return true }
                switch c.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation,
                    .decimalNumber:
                    return true
                default: return false
                }
            }
            var ranges: [Range<Int>] = []
            var i = 0
            while i < s.count {
                if CharClass.isWhitespace(s[i]) {
                    i += 1
                    continue
                }
                let word = isWordChar(s[i])
                var j = i + 1
                while j < s.count && !CharClass.isWhitespace(s[j]) && isWordChar(s[j]) == word {
                    j += 1
                }
                ranges.append(i..<j)
                i = j
            }
            emit(ranges)
        case .whitespaceSplit:
            let matches = s.indices.filter { CharClass.isWhitespace(s[$0]) }.map { $0..<($0 + 1) }
            emit(SplitBehavior.removed.apply(s, matches: matches))
        case .punctuation(let behavior):
            let matches = s.indices.filter { CharClass.isBertPunctuation(s[$0]) }.map {
                $0..<($0 + 1)
            }
            emit(behavior.apply(s, matches: matches))
        case .sequence:
            out.append(contentsOf: apply([w]))
        }
    }
}
