/// The regular expressions byte-level BPE tokenizers declare, as hand-written matchers.
///
/// `tokenizers` runs these through Oniguruma; ckpt recognises the exact pattern strings
/// and runs an equivalent matcher (same alternation order, same greedy and backtracking
/// results), so splits agree without a regex engine. An unknown pattern is refused, never
/// approximated.
enum SplitPattern: Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (also the ByteLevel pre-tokenizer's built-in regex).
    case gpt2
    /// Llama-3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3(maxDigits: Int)
    /// `\p{N}`: every number character alone (SmolLM's digit split in llama.cpp).
    case singleNumber
    /// llama.cpp's default set: `[\p{P}\$\+<=>\^~\|]+`, `\p{N}+`, `[0-9][0-9][0-9]`.
    case punctuationRun, numberRun, asciiDigitTriple
    /// A literal string (`{"String": ...}` patterns).
    case literal([Unicode.Scalar])

    static let gpt2Source =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The matcher for a `Regex` pattern string, or nil when ckpt does not know it.
    init?(regex: String) {
        switch regex {
        case Self.gpt2Source,
            #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#:
            self = .gpt2
        case Self.llama3Source: self = .llama3(maxDigits: 3)
        case Self.qwen2Source: self = .llama3(maxDigits: 1)
        case #"\p{N}"#: self = .singleNumber
        default: return nil
        }
    }

    /// The non-overlapping matches in `s`, left to right, as half-open ranges.
    func matches(in s: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            if let end = matchEnd(s, at: i), end > i {
                out.append(i..<end)
                i = end
            } else {
                i += 1
            }
        }
        return out
    }

    /// Where the leftmost alternative matching at `i` ends, or nil when none matches.
    func matchEnd(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        switch self {
        case .gpt2: return Self.gpt2Match(s, i)
        case .llama3(let maxDigits): return Self.llama3Match(s, i, maxDigits: maxDigits)
        case .singleNumber: return CharClass.isNumber(s[i]) ? i + 1 : nil
        case .numberRun:
            return CharClass.isNumber(s[i]) ? Self.run(s, from: i, CharClass.isNumber) : nil
        case .punctuationRun:
            func isP(_ c: Unicode.Scalar) -> Bool {
                switch c.properties.generalCategory {
                case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                    .initialPunctuation, .finalPunctuation, .otherPunctuation:
                    return true
                default: return "$+<=>^~|".unicodeScalars.contains(c)
                }
            }
            return isP(s[i]) ? Self.run(s, from: i, isP) : nil
        case .asciiDigitTriple:
            func d(_ k: Int) -> Bool { k < s.count && s[k].value >= 0x30 && s[k].value <= 0x39 }
            return d(i) && d(i + 1) && d(i + 2) ? i + 3 : nil
        case .literal(let lit):
            guard !lit.isEmpty, i + lit.count <= s.count else { return nil }
            for k in 0..<lit.count where s[i + k] != lit[k] { return nil }
            return i + lit.count
        }
    }

    // MARK: Alternatives

    private static func isL(_ c: Unicode.Scalar) -> Bool { CharClass.isLetter(c) }
    private static func isN(_ c: Unicode.Scalar) -> Bool { CharClass.isNumber(c) }
    private static func isS(_ c: Unicode.Scalar) -> Bool { CharClass.isWhitespace(c) }
    private static func isOther(_ c: Unicode.Scalar) -> Bool { !isS(c) && !isL(c) && !isN(c) }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive (Oniguruma folds `ſ` to `s`).
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int, caseless: Bool) -> Int? {
        guard s[i] == "'", i + 1 < s.count else { return nil }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            guard caseless else { return c }
            if c.value >= 0x41 && c.value <= 0x5A { return Unicode.Scalar(c.value + 32) ?? c }
            if c == "\u{17F}" { return "s" }
            return c
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
        guard i + 2 < s.count else { return nil }
        let b = lower(s[i + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
            return i + 3
        }
        return nil
    }

    private static func run(_ s: [Unicode.Scalar], from i: Int, _ p: (Unicode.Scalar) -> Bool)
        -> Int
    {
        var j = i
        while j < s.count && p(s[j]) { j += 1 }
        return j
    }

    /// `\s+(?!\S)` then `\s+`: a whitespace run, less its last character when a
    /// non-space follows and the run is longer than one.
    private static func whitespace(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        guard isS(s[i]) else { return nil }
        let end = run(s, from: i, isS)
        if end == s.count || end - i == 1 { return end }
        return end - 1
    }

    private static func gpt2Match(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        if let e = contraction(s, i, caseless: false) { return e }
        let j = (s[i] == " " && i + 1 < s.count) ? i + 1 : i
        // ` ?X+` for X = \p{L}, \p{N}, [^\s\p{L}\p{N}], in that order: with the space when
        // X follows it, else X at i itself.
        let c = s[i]
        if j > i {
            let d = s[j]
            if isL(d) { return run(s, from: j, isL) }
            if isN(d) { return run(s, from: j, isN) }
            if isOther(d) { return run(s, from: j, isOther) }
        }
        if isL(c) { return run(s, from: i, isL) }
        if isN(c) { return run(s, from: i, isN) }
        if isOther(c) { return run(s, from: i, isOther) }
        return whitespace(s, i)
    }

    private static func llama3Match(_ s: [Unicode.Scalar], _ i: Int, maxDigits: Int) -> Int? {
        if let e = contraction(s, i, caseless: true) { return e }
        let c = s[i]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if isL(c) { return run(s, from: i, isL) }
        if c != "\r" && c != "\n" && !isN(c) && i + 1 < s.count && isL(s[i + 1]) {
            return run(s, from: i + 1, isL)
        }
        // \p{N}{1,maxDigits}
        if isN(c) {
            var j = i + 1
            while j < s.count && j - i < maxDigits && isN(s[j]) { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = (c == " " && i + 1 < s.count && isOther(s[i + 1])) ? i + 1 : i
        if isOther(s[j]) {
            let k = run(s, from: j, isOther)
            return run(s, from: k) { $0 == "\r" || $0 == "\n" }
        }
        // \s*[\r\n]+: up to the last CR/LF of the whitespace run.
        let end = run(s, from: i, isS)
        var k = end
        while k > i && s[k - 1] != "\r" && s[k - 1] != "\n" { k -= 1 }
        if k > i { return k }
        return whitespace(s, i)
    }
}

/// What `Split` does with a match (`SplitDelimiterBehavior` in `tokenizers`).
enum SplitBehavior: String, Sendable {
    case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// `s` cut at `matches` (sorted, non-overlapping) as this behaviour says; no empty pieces.
    func apply(_ s: [Unicode.Scalar], matches: [Range<Int>]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var last = 0
        var pending: Int? = nil  // start of a piece waiting for what follows (mergedWithNext)
        var lastWasMatch = false
        for m in matches {
            let gap = last..<m.lowerBound
            if !gap.isEmpty { lastWasMatch = false }
            switch self {
            case .isolated:
                if !gap.isEmpty { pieces.append(gap) }
                pieces.append(m)
            case .contiguous:
                if !gap.isEmpty { pieces.append(gap) }
                if gap.isEmpty, lastWasMatch, let prev = pieces.last {
                    pieces[pieces.count - 1] = prev.lowerBound..<m.upperBound
                } else {
                    pieces.append(m)
                }
            case .removed:
                if !gap.isEmpty { pieces.append(gap) }
            case .mergedWithPrevious:
                pieces.append(last..<m.upperBound)
            case .mergedWithNext:
                if let p = pending {
                    pieces.append(p..<m.lowerBound)
                } else if !gap.isEmpty {
                    pieces.append(gap)
                }
                pending = m.lowerBound
            }
            last = m.upperBound
            lastWasMatch = true
        }
        if let p = pending {
            pieces.append(p..<s.count)
        } else if last < s.count {
            pieces.append(last..<s.count)
        }
        return pieces.filter { !$0.isEmpty }
    }
}
