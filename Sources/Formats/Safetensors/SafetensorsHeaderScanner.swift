/// One pass over a safetensors header of the common shape, straight into entries.
///
/// Why: opening a file must cost O(header) and little of it. The strict path builds a
/// generic `MetadataValue` tree with `JSON.parse`, re-scans the text with `JSONLocator` for
/// error offsets, then type-checks each entry; for the headers every writer produces that is
/// three passes and many small allocations. This scanner accepts only that common shape:
///
///     { "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, …,
///       "__metadata__": {"key": "value", …} }
///
/// (keys in any order, JSON whitespace anywhere between tokens, names and strings of
/// printable ASCII without escapes, integers as plain digits). On anything else (escapes,
/// non-ASCII, duplicate keys, extra or missing fields, other value types, numbers that are
/// not plain non-negative integers fitting in `Int`, an unknown dtype, malformed JSON) it
/// returns nil and `SafetensorsFile` takes the strict path, so every error and its offset is
/// exactly the strict path's. What it accepts, the strict path accepts with the same result:
/// the entries then go through the same `SafetensorsFile.validate`.
struct SafetensorsHeaderScanner {
    /// What the scan found: `__metadata__` and the tensor entries in header order.
    struct Result {
        var metadata: Metadata
        var entries: [SafetensorsEntry]
    }

    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    /// File offset of the header's first byte (the 8-byte length prefix precedes it).
    private let base: Int

    /// Scans `header` (the JSON text, padding included), which starts at file offset `base`.
    static func scan(_ header: UnsafeRawBufferPointer, base: Int) -> Result? {
        var s = SafetensorsHeaderScanner(bytes: header, base: base)
        return s.document()
    }

    private init(bytes: UnsafeRawBufferPointer, base: Int) {
        self.bytes = bytes
        self.base = base
    }

    // MARK: grammar

    private mutating func document() -> Result? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var metadata: Metadata?
        // An entry of the common shape takes at least ~60 bytes of header: enough room for
        // every entry without regrowing, and no more than the header's size in memory.
        let estimate = bytes.count / 60
        var entries: [SafetensorsEntry] = []
        entries.reserveCapacity(estimate)
        var names = Set<String>(minimumCapacity: estimate)
        if !consume(UInt8(ascii: "}")) {
            repeat {
                guard let name = string() else { return nil }
                guard consume(UInt8(ascii: ":")) else { return nil }
                if name == SafetensorsFile.metadataKey {
                    guard metadata == nil, let m = metadataObject() else { return nil }
                    metadata = m
                } else {
                    guard names.insert(name).inserted,
                        let e = entry(name: name, order: entries.count)
                    else { return nil }
                    entries.append(e)
                }
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { return nil }
        }
        skipWhitespace()
        guard i == bytes.count else { return nil }
        return Result(metadata: metadata ?? [:], entries: entries)
    }

    /// `{"dtype": …, "shape": […], "data_offsets": [b, e]}`, each field exactly once.
    private mutating func entry(name: String, order: Int) -> SafetensorsEntry? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var dtype: DType?
        var shape: [Int]?
        var offsets: (Int, Int)?
        var shapeAt = 0
        var offsetsAt = 0
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            switch key {
            case "dtype":
                guard dtype == nil, let text = string(), let d = DType(rawValue: text) else {
                    return nil
                }
                dtype = d
            case "shape":
                shapeAt = base + i
                guard shape == nil, let dims = integers() else { return nil }
                shape = dims
            case "data_offsets":
                offsetsAt = base + i
                guard offsets == nil, consume(UInt8(ascii: "[")), let b = nextInteger(),
                    consume(UInt8(ascii: ",")), let e = nextInteger(), consume(UInt8(ascii: "]"))
                else { return nil }
                offsets = (b, e)
            default:
                return nil
            }
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")), let dtype, let shape, let offsets else { return nil }
        return SafetensorsEntry(
            name: name, dtype: dtype, shape: shape, begin: offsets.0, end: offsets.1,
            order: order, shapeAt: shapeAt, offsetsAt: offsetsAt)
    }

    /// `{"key": "value", …}` with string values only.
    private mutating func metadataObject() -> Metadata? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var out = Metadata()
        if consume(UInt8(ascii: "}")) { return out }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), let value = string(),
                out.updateValue(.string(value), forKey: key) == nil
            else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? out : nil
    }

    /// `[n, …]` of plain non-negative integers (no sign, fraction, exponent or leading zero).
    private mutating func integers() -> [Int]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var out: [Int] = []
        if consume(UInt8(ascii: "]")) { return out }
        repeat {
            skipWhitespace()
            guard let n = integer() else { return nil }
            out.append(n)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? out : nil
    }

    /// An integer after optional whitespace.
    private mutating func nextInteger() -> Int? {
        skipWhitespace()
        return integer()
    }

    private mutating func integer() -> Int? {
        let start = i
        var value = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = a
            i += 1
        }
        let digits = i - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        // A fraction or exponent would make it a float: the strict path's business.
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] | 0x20 == UInt8(ascii: "e") {
            return nil
        }
        return value
    }

    /// A string of printable ASCII without escapes (whitespace before it skipped).
    private mutating func string() -> String? {
        skipWhitespace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var j = start
        while j < bytes.count {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") { break }
            guard b >= 0x20, b < 0x80, b != UInt8(ascii: "\\") else { return nil }
            j += 1
        }
        guard j < bytes.count else { return nil }
        i = j + 1
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<j]), as: UTF8.self)
    }

    /// Skips whitespace, then takes `byte` if it is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }
}

extension SafetensorsEntry {
    /// An entry whose fields the scanner has already checked.
    init(
        name: String, dtype: DType, shape: [Int], begin: Int, end: Int, order: Int, shapeAt: Int,
        offsetsAt: Int
    ) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end
        self.order = order
        self.shapeAt = shapeAt
        self.offsetsAt = offsetsAt
    }
}
