import Foundation

/// A text normalizer as `tokenizers` declares them in `tokenizer.json` ("normalizer").
///
/// Only the normalized text matters for ids (offsets are not tracked), so each case is a
/// plain `String → String` function with the crate's semantics.
enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase
    case strip(left: Bool, right: Bool)
    /// Combining marks removed (meant to follow NFD).
    case stripAccents
    /// A literal replacement (`{"String": ...}` patterns only).
    case replace(pattern: String, content: String)
    /// Prepends `String` to non-empty text (Llama-2's `▁`).
    case prepend(String)
    /// BERT's: clean text, pad CJK ideographs, strip accents, lowercase.
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case sequence([Normalizer])

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase: return Self.lowercased(text)
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars[...]
            if left {
                while let f = scalars.first, CharClass.isWhitespace(f) { scalars.removeFirst() }
            }
            if right {
                while let l = scalars.last, CharClass.isWhitespace(l) { scalars.removeLast() }
            }
            return String(String.UnicodeScalarView(scalars))
        case .stripAccents:
            // StripAccents removes every combining mark (Mn, Mc, Me) and, unlike BERT's,
            // does not decompose first (tokenizers pairs it with an NFD normalizer).
            var view = String.UnicodeScalarView()
            for c in text.unicodeScalars {
                switch c.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: continue
                default: view.append(c)
                }
            }
            return String(view)
        case .replace(let pattern, let content):
            return Self.replacing(pattern, with: content, in: text)
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .bert(let clean, let chinese, let strip, let lower):
            var view = String.UnicodeScalarView()
            for c in text.unicodeScalars {
                if clean {
                    if c.value == 0 || c.value == 0xFFFD || CharClass.isBertControl(c) { continue }
                    if CharClass.isWhitespace(c) {
                        view.append(" ")
                        continue
                    }
                }
                if chinese && CharClass.isCJK(c) {
                    view.append(" ")
                    view.append(c)
                    view.append(" ")
                } else {
                    view.append(c)
                }
            }
            var out = String(view)
            if strip { out = Self.removingMarks(out) }
            if lower { out = Self.lowercased(out) }
            return out
        case .sequence(let steps):
            return steps.reduce(text) { $1.apply($0) }
        }
    }

    /// Rust's `char::to_lowercase` on every character (no context-dependent final sigma).
    static func lowercased(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.lowercased() }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            if c.properties.changesWhenLowercased {
                out += c.properties.lowercaseMapping
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Every occurrence of `pattern`, compared scalar by scalar (not by canonical
    /// equivalence, as Swift's `==` would), replaced by `content`, left to right.
    static func replacing(_ pattern: String, with content: String, in text: String) -> String {
        let p = Array(pattern.unicodeScalars)
        guard !p.isEmpty else { return text }
        let s = Array(text.unicodeScalars)
        var view = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == p[0], i + p.count <= s.count, s[i..<(i + p.count)].elementsEqual(p) {
                view.append(contentsOf: content.unicodeScalars)
                i += p.count
            } else {
                view.append(s[i])
                i += 1
            }
        }
        return String(view)
    }

    /// NFD, then every nonspacing mark (Mn) removed (BertNormalizer's `strip_accents`).
    static func removingMarks(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        for c in text.decomposedStringWithCanonicalMapping.unicodeScalars
        where c.properties.generalCategory != .nonspacingMark {
            view.append(c)
        }
        return String(view)
    }
}
