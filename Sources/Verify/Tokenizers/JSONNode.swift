import Formats

/// A JSON value with its path, so that every error names the file and the field
/// (`tokenizer.json: model.merges[12]: ...`).
struct JSONNode {
    let value: MetadataValue
    let path: String
    let file: String

    func fail(_ message: String) -> FormatError {
        FormatError(.invalid(message), file: file, field: path)
    }

    func unsupported(_ what: String) -> FormatError {
        FormatError(.unsupported(what), file: file, field: path)
    }

    /// The member `key`, nil when absent or null.
    func optional(_ key: String) throws(FormatError) -> JSONNode? {
        guard let object = value.objectValue else { throw fail("expected an object") }
        guard let v = object[key], v != .null else { return nil }
        return JSONNode(value: v, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    func required(_ key: String) throws(FormatError) -> JSONNode {
        guard let n = try optional(key) else {
            throw FormatError(
                .invalid("missing"), file: file, field: path.isEmpty ? key : "\(path).\(key)")
        }
        return n
    }

    func string() throws(FormatError) -> String {
        guard let s = value.stringValue else { throw fail("expected a string") }
        return s
    }

    func bool() throws(FormatError) -> Bool {
        guard let b = value.boolValue else { throw fail("expected a boolean") }
        return b
    }

    /// A token id: an integer in 0..<Tokenizers.maxVocabularySize.
    func id() throws(FormatError) -> Int {
        guard let v = value.intValue else { throw fail("expected an integer") }
        guard v >= 0, v < Int64(Tokenizers.maxVocabularySize) else {
            throw FormatError(
                .limitExceeded("token id \(v) outside 0..<\(Tokenizers.maxVocabularySize)"),
                file: file,
                field: path)
        }
        return Int(v)
    }

    func int() throws(FormatError) -> Int {
        guard let v = value.intValue, let i = Int(exactly: v) else {
            throw fail("expected an integer")
        }
        return i
    }

    func array() throws(FormatError) -> [JSONNode] {
        guard let a = value.arrayValue else { throw fail("expected an array") }
        return a.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    /// Members in file order.
    func members() throws(FormatError) -> [(String, JSONNode)] {
        guard let o = value.objectValue else { throw fail("expected an object") }
        return o.map { ($0.key, JSONNode(value: $0.value, path: "\(path).\($0.key)", file: file)) }
    }

    /// `type`, the discriminator of every component.
    func type() throws(FormatError) -> String { try required("type").string() }

    /// A single-character string (replacement characters).
    func character() throws(FormatError) -> Unicode.Scalar {
        let s = try string()
        guard s.unicodeScalars.count == 1, let c = s.unicodeScalars.first else {
            throw fail("expected one character")
        }
        return c
    }
}
