/// Character classes with the meanings the Hugging Face `tokenizers` crate gives them
/// (Oniguruma's `\p{L}`, `\p{N}`, `\s`; Rust's `char::is_whitespace`, `is_numeric`,
/// `is_alphanumeric`, `is_punctuation`), so that splits agree character for character.
enum CharClass {
    /// `\p{L}`: general categories Lu, Ll, Lt, Lm, Lo.
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (c.value | 0x20) >= 0x61 && (c.value | 0x20) <= 0x7A }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default: return false
        }
    }

    /// `\p{N}` and Rust's `char::is_numeric`: Nd, Nl, No.
    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value >= 0x30 && c.value <= 0x39 }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s` (Oniguruma, Unicode) and Rust's `char::is_whitespace`: the White_Space property.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c == " " || (c.value >= 0x09 && c.value <= 0x0D) }
        return c.properties.isWhitespace
    }

    /// Rust's `char::is_alphanumeric` (Alphabetic or Numeric).
    static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        c.properties.isAlphabetic || isNumber(c)
    }

    /// BERT's punctuation: ASCII punctuation or any Unicode P* category.
    static func isBertPunctuation(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            let v = c.value
            return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96)
                || (v >= 123 && v <= 126)
        }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// BERT's "control" (removed by clean_text): Cc, Cf, Cn, Co, Cs except tab, LF, CR.
    static func isBertControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT pads with spaces (`_is_chinese_char` in BERT's
    /// tokenization.py, as `tokenizers`' BertNormalizer copies it).
    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}

/// GPT-2's reversible byte ↔ printable-character table (`bytes_to_unicode` in GPT-2's
/// encoder.py): printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards.
enum ByteLevelTable {
    /// Byte value → character.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable =
                (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// Character → byte value, for decoding.
    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The byte-level form of `text`: each UTF-8 byte as its table character.
    static func encode(_ text: Substring) -> String {
        var view = String.UnicodeScalarView()
        for b in text.utf8 { view.append(byteToScalar[Int(b)]) }
        return String(view)
    }
}
