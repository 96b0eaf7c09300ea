/// A strict JSON reader and a deterministic writer over `MetadataValue`.
///
/// Strict where it matters for untrusted headers: duplicate keys are an error (not last-wins),
/// nesting is capped, invalid UTF-8 and trailing garbage are errors, and every error carries
/// the byte offset. Integers come back as `.int64` (or `.uint64` above Int64.max); numbers
/// with a fraction or exponent as `.float64`.
public enum JSON {
    /// Deepest nesting accepted (serde_json's default recursion limit is 128).
    public static let maxDepth = 128

    /// Parses one JSON value filling `slice` (surrounding whitespace allowed).
    public static func parse(_ slice: ByteSlice, field: String = "json") throws(FormatError) -> MetadataValue {
        var p = Parser(bytes: slice.raw, file: slice.name, base: slice.offset, field: field)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == p.bytes.count else { throw p.fail("trailing characters after JSON value") }
        return v
    }

    public static func parse(_ text: String, name: String = "<json>") throws(FormatError) -> MetadataValue {
        try parse(ByteBuffer(copying: Array(text.utf8), name: name).all)
    }

    struct Parser {
        let bytes: UnsafeRawBufferPointer
        let file: String
        let base: Int
        let field: String
        var i = 0

        func fail(_ message: String, at: Int? = nil) -> FormatError {
            FormatError(.invalid(message), file: file, offset: base + (at ?? i), field: field)
        }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func expect(_ c: UInt8) throws(FormatError) {
            guard i < bytes.count, bytes[i] == c else {
                throw fail("expected '\(Character(Unicode.Scalar(c)))'")
            }
            i += 1
        }

        mutating func literal(_ word: String, _ v: MetadataValue) throws(FormatError) -> MetadataValue {
            for c in word.utf8 { try expect(c) }
            return v
        }

        mutating func value(depth: Int) throws(FormatError) -> MetadataValue {
            guard depth < JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth)") }
            guard i < bytes.count else { throw fail("unexpected end of JSON") }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws(FormatError) -> MetadataValue {
            i += 1
            var out = Metadata()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skipWhitespace()
                let keyAt = i
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected object key") }
                let key = try string()
                guard out[key] == nil else { throw fail("duplicate key \"\(key)\"", at: keyAt) }
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                out[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of JSON object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(FormatError) -> MetadataValue {
            i += 1
            var out: [MetadataValue] = []
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                skipWhitespace()
                out.append(try value(depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of JSON array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func hex4() throws(FormatError) -> UInt32 {
            guard bytes.count - i >= 4 else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws(FormatError) -> String {
            let start = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated string", at: start) }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if (0xD800..<0xDC00).contains(cp) {
                        guard bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"),
                            bytes[i + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate") }
                        i += 2
                        let lo = try hex4()
                        guard (0xDC00..<0xE000).contains(lo) else { throw fail("unpaired surrogate") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(cp) {
                        throw fail("unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(cp) else { throw fail("invalid code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("invalid escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else {
                throw fail("invalid UTF-8 in string", at: start)
            }
            return s
        }

        mutating func number() throws(FormatError) -> MetadataValue {
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
                return p.i - s
            }
            let intStart = i
            let nInt = digits(&self)
            guard nInt > 0 else { throw fail("invalid number", at: start) }
            if nInt > 1, bytes[intStart] == UInt8(ascii: "0") { throw fail("leading zero in number", at: start) }
            var isFloat = false
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw fail("invalid number", at: start) }
                isFloat = true
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw fail("invalid number", at: start) }
                isFloat = true
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            if !isFloat {
                if let v = Int64(text) { return .int64(v) }
                if let v = UInt64(text) { return .uint64(v) }
            }
            guard let d = Double(text) else { throw fail("invalid number", at: start) }
            return .float64(d)
        }
    }
}

extension MetadataValue {
    /// Serializes as JSON. Keys keep their order; `sortKeys` sorts them instead.
    /// Floats print as the shortest text that round-trips; NaN/Inf (possible in GGUF) print
    /// as strings, since JSON has no literal for them.
    /// `indentWidth` spaces per level when pretty (Python's `json.dump(indent=4)` look).
    public func jsonString(pretty: Bool = false, sortKeys: Bool = false, indentWidth: Int = 2) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 0 : nil, sortKeys: sortKeys, unit: String(repeating: " ", count: indentWidth))
        return out
    }

    static func escape(_ s: String, into out: inout String) {
        // Most strings need no escaping: append them whole rather than scalar by scalar.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append("\"")
            out.append(s)
            out.append("\"")
            return
        }
        out.append("\"")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - h.count) + h)
            default: out.unicodeScalars.append(u)
            }
        }
        out.append("\"")
    }

    private static func float(_ d: Double, into out: inout String) {
        if d.isNaN { out.append("\"NaN\"") }
        else if d.isInfinite { out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"") }
        else if d == d.rounded(), abs(d) < 1e15 { out.append(String(Int64(d))) ; out.append(".0") }
        else { out.append("\(d)") }
    }

    func write(into out: inout String, indent: Int?, sortKeys: Bool, unit: String = "  ") {
        let nl: (Int) -> String = { level in
            indent == nil ? "" : "\n" + String(repeating: unit, count: level)
        }
        let level = indent ?? 0
        switch self {
        case .uint8(let v): out.append(String(v))
        case .int8(let v): out.append(String(v))
        case .uint16(let v): out.append(String(v))
        case .int16(let v): out.append(String(v))
        case .uint32(let v): out.append(String(v))
        case .int32(let v): out.append(String(v))
        case .uint64(let v): out.append(String(v))
        case .int64(let v): out.append(String(v))
        case .float32(let v):
            // Print the float32's own shortest text (0.1, not 0.10000000149011612).
            if v.isFinite, !(v == v.rounded() && abs(v) < 1e15) { out.append("\(v)") }
            else { Self.float(Double(v), into: &out) }
        case .float64(let v): Self.float(v, into: &out)
        case .bool(let b): out.append(b ? "true" : "false")
        case .string(let s): Self.escape(s, into: &out)
        case .null: out.append("null")
        case .array(let a, _):
            if a.isEmpty { out.append("[]"); return }
            out.append("[")
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(indent == nil ? ", " : ",") }
                out.append(nl(level + 1))
                v.write(into: &out, indent: indent.map { _ in level + 1 }, sortKeys: sortKeys, unit: unit)
            }
            out.append(nl(level))
            out.append("]")
        case .object(let o):
            if o.isEmpty { out.append("{}"); return }
            out.append("{")
            let keys = sortKeys ? o.keys.sorted() : Array(o.keys)
            for (k, key) in keys.enumerated() {
                if k > 0 { out.append(indent == nil ? ", " : ",") }
                out.append(nl(level + 1))
                Self.escape(key, into: &out)
                out.append(": ")
                o[key]?.write(into: &out, indent: indent.map { _ in level + 1 }, sortKeys: sortKeys, unit: unit)
            }
            out.append(nl(level))
            out.append("}")
        }
    }
}
