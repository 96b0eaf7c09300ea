/// Turns tokens back into text ("decoder"); each step maps the token list to a new one,
/// as `tokenizers`' `decode_chain` does, and the result is concatenated.
enum Decoder: Sendable {
    /// GPT-2's byte characters back to bytes, then UTF-8 (invalid bytes → U+FFFD).
    case byteLevel
    /// Drop the continuation prefix, join other pieces with a space, optional cleanup.
    case wordPiece(prefix: String, cleanup: Bool)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PreTokenizer.PrependScheme)
    case replace(pattern: String, content: String)
    /// Runs of `<0xNN>` tokens to their UTF-8 text (one U+FFFD per byte when invalid).
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case sequence([Decoder])

    func decode(_ tokens: [String]) -> String { chain(tokens).joined() }

    func chain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                let mapped = t.unicodeScalars.map { ByteLevelTable.scalarToByte[$0.value] }
                if mapped.allSatisfy({ $0 != nil }) {
                    bytes.append(contentsOf: mapped.compactMap { $0 })
                } else {
                    bytes.append(contentsOf: t.utf8)
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, token in
                var t = token
                if i != 0 {
                    if t.hasPrefixScalars(prefix) {
                        t = String(
                            String.UnicodeScalarView(
                                t.unicodeScalars.dropFirst(prefix.unicodeScalars.count)))
                    } else {
                        t = " " + t
                    }
                }
                return cleanup ? Self.cleanup(t) : t
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                var view = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c == replacement {
                        if i == 0 && scheme != .never { continue }
                        view.append(" ")
                    } else {
                        view.append(c)
                    }
                }
                return String(view)
            }
        case .replace(let pattern, let content):
            return tokens.map { Normalizer.replacing(pattern, with: content, in: $0) }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.byteToken(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                var s = Substring(t).unicodeScalars[...]
                var n = 0
                while n < start, s.first == content {
                    s.removeFirst()
                    n += 1
                }
                n = 0
                while n < stop, s.last == content {
                    s.removeLast()
                    n += 1
                }
                return String(String.UnicodeScalarView(s))
            }
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.chain($0) }
        }
    }

    /// The byte of a `<0xNN>` token.
    static func byteToken(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else {
            return nil
        }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// `tokenizers`' `cleanup`: the spaces WordPiece put before punctuation and contractions.
    static func cleanup(_ s: String) -> String {
        var out = s
        for (a, b) in [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ] {
            out = Normalizer.replacing(a, with: b, in: out)
        }
        return out
    }
}

extension String {
    func hasPrefixScalars(_ prefix: String) -> Bool {
        unicodeScalars.starts(with: prefix.unicodeScalars)
    }
}
