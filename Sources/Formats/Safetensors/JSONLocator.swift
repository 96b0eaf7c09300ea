/// Byte offsets of the members of a JSON object, for error messages.
///
/// `JSON.parse` gives values but not where they were; errors about a tensor entry should
/// still name the byte where it lies. The locator walks text that `JSON.parse` has already
/// accepted, so it needs no error handling of its own: the i-th member it reports is the i-th
/// key of the parsed (insertion-ordered, duplicate-free) object.
package struct JSONLocator {
    /// Where one member of an object lies, relative to the text's start.
    package struct Member: Sendable, Equatable {
        package var key: Int
        package var value: Int
    }

    let bytes: UnsafeRawBufferPointer

    package init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The first non-whitespace byte at or after `i`.
    package func skipWhitespace(_ i: Int) -> Int {
        var i = i
        while i < bytes.count, Self.isWhitespace(bytes[i]) { i += 1 }
        return i
    }

    /// The members of the object whose `{` is at `start` (after whitespace); empty when
    /// `start` is not an object.
    package func members(ofObjectAt start: Int) -> [Member] {
        var i = skipWhitespace(start)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return [] }
        i += 1
        var out: [Member] = []
        while true {
            i = skipWhitespace(i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return out }
            let key = i
            i = skipValue(i)
            i = skipWhitespace(i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return out }
            i = skipWhitespace(i + 1)
            out.append(Member(key: key, value: i))
            i = skipWhitespace(skipValue(i))
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return out }
            i += 1
        }
    }

    /// The index just past the value starting at `i` (strings, numbers, literals, and whole
    /// objects or arrays, nesting counted iteratively).
    package func skipValue(_ i: Int) -> Int {
        var i = i
        var depth = 0
        repeat {
            guard i < bytes.count else { return i }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                i += 1
            default:
                // Numbers and literals end at a delimiter; separators between members are
                // single bytes and simply stepped over while inside a container.
                if depth > 0 {
                    i += 1
                } else {
                    while i < bytes.count, !Self.endsScalar(bytes[i]) { i += 1 }
                }
            }
        } while depth > 0
        return i
    }

    static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }

    /// Bytes that end a number or literal: whitespace, `,`, `}` or `]`.
    static func endsScalar(_ b: UInt8) -> Bool {
        isWhitespace(b) || b == UInt8(ascii: ",") || b == UInt8(ascii: "}")
            || b == UInt8(ascii: "]")
    }
}
