/// A strict scanner for the tiny subset of Python literals an npy header uses: a dict of
/// string keys whose values are strings, `True`/`False`, and tuples of non-negative ints.
///
/// numpy reads the header with `ast.literal_eval`; ckpt accepts what numpy and MLX write
/// (`(2, 3)`, `(5,)`, `(5, )`, `()`), with any spacing, single or double quotes, and a
/// trailing comma, and refuses everything else (escapes, expressions, `(5)` which is an int,
/// leading zeros, signs) with the offset of the offending token.
struct PythonLiteralScanner {
    let text: [UInt8]
    /// Absolute file offset of `text[0]`, for error messages.
    let base: Int
    let file: String
    var position = 0

    init(text: [UInt8], base: Int, file: String) {
        self.text = text
        self.base = base
        self.file = file
    }

    var atEnd: Bool { position >= text.count }
    var peek: UInt8? { atEnd ? nil : text[position] }

    func error(_ reason: FormatError.Reason, _ field: String, at: Int? = nil) -> FormatError {
        FormatError(reason, file: file, offset: base + (at ?? position), field: field)
    }

    /// Skips the whitespace Python allows between tokens inside brackets.
    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
            position += 1
        }
    }

    mutating func expect(_ c: Character, _ field: String) throws(FormatError) {
        guard let ascii = c.asciiValue, peek == ascii else {
            throw error(.invalid("expected '\(c)'\(describeNext)"), field)
        }
        position += 1
    }

    var describeNext: String {
        guard let c = peek else { return " but the header ends" }
        return (0x21..<0x7F).contains(c)
            ? ", found '\(Character(Unicode.Scalar(c)))'" : ", found byte 0x\(String(c, radix: 16))"
    }

    /// A quoted string without escapes or line breaks, decoded as UTF-8.
    mutating func string(_ field: String) throws(FormatError) -> String {
        let start = position
        guard let quote = peek, quote == 0x27 || quote == 0x22 else {
            throw error(.invalid("expected a quoted string\(describeNext)"), field)
        }
        position += 1
        let contentStart = position
        while let c = peek, c != quote {
            guard c != 0x5C, c != 0x0A, c != 0x0D else {
                throw error(.invalid("escape or line break inside a string"), field)
            }
            position += 1
        }
        guard !atEnd else { throw error(.invalid("unterminated string"), field, at: start) }
        let content = text[contentStart..<position]
        position += 1
        guard let s = String(validating: content, as: UTF8.self) else {
            throw error(.invalid("string is not valid UTF-8"), field, at: start)
        }
        return s
    }

    /// `True` or `False` (numpy requires a bool, so `0`/`1` are refused).
    mutating func bool(_ field: String) throws(FormatError) -> Bool {
        for (word, value) in [("True", true), ("False", false)] {
            let w = Array(word.utf8)
            if text.count - position >= w.count, Array(text[position..<position + w.count]) == w {
                let after = position + w.count
                if after == text.count || !isIdentifier(text[after]) {
                    position = after
                    return value
                }
            }
        }
        throw error(.invalid("expected True or False\(describeNext)"), field)
    }

    /// A non-negative decimal int: `0` or a digit string without a leading zero.
    mutating func int(_ field: String) throws(FormatError) -> Int {
        let start = position
        var value = 0
        while let c = peek, (0x30...0x39).contains(c) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 0x30))
            guard !o1, !o2 else {
                throw error(.limitExceeded("integer does not fit in 64 bits"), field, at: start)
            }
            value = a
            position += 1
        }
        guard position > start else {
            let sign = peek == 0x2D ? " (dimensions cannot be negative)" : ""
            throw error(.invalid("expected a non-negative integer\(describeNext)\(sign)"), field)
        }
        guard text[start] != 0x30 || position - start == 1 else {
            throw error(.invalid("integer with a leading zero"), field, at: start)
        }
        if let c = peek, isIdentifier(c) || c == 0x2E {
            throw error(.invalid("expected an integer\(describeNext)"), field)
        }
        return value
    }

    /// A tuple of ints: `()`, `(n,)`, `(a, b)`, `(a, b, )`. `(n)` is an int in Python and is
    /// refused, as numpy refuses it.
    mutating func intTuple(_ field: String, maxCount: Int) throws(FormatError) -> [Int] {
        let open = position
        try expect("(", field)
        var values: [Int] = []
        var sawComma = false
        skipSpace()
        while peek != 0x29 {
            guard values.count < maxCount else {
                throw error(.limitExceeded("more than \(maxCount) dimensions"), field)
            }
            values.append(try int("\(field)[\(values.count)]"))
            skipSpace()
            if peek == 0x2C {
                position += 1
                sawComma = true
                skipSpace()
            } else {
                guard peek == 0x29 else {
                    throw error(.invalid("expected ',' or ')' in a tuple\(describeNext)"), field)
                }
            }
        }
        position += 1
        guard values.count != 1 || sawComma else {
            throw error(.invalid("'(n)' is an int, not a tuple (write '(n,)')"), field, at: open)
        }
        return values
    }

    private func isIdentifier(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
            || c == 0x5F || c >= 0x80
    }
}
