#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
/// the entries then go through the same `SafetensorsIndex.validate`.
///
/// It allocates per header, not per tensor: names stay slices of the header text, keys and
/// dtypes are matched as bytes, shapes go into one shared array, duplicate names are found
/// with one hash table of record indices.
struct SafetensorsHeaderScanner {
    /// What the scan found: `__metadata__` and the tensor entries in header order.
    struct Result {
        var metadata: Metadata
        var index: SafetensorsIndex
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i: Int
    private let end: Int
    /// File offset of `bytes[0]`.
    private let base: Int

    /// Scans the JSON header `text[start...]` (padding included), whose first byte is at
    /// file offset `base`. Names in the result are slices of `text`.
    static func scan(_ text: [UInt8], from start: Int, base: Int) -> Result? {
        guard start <= text.count else { return nil }
        let found = text.withUnsafeBufferPointer { b -> (Metadata, [SafetensorsIndex.Record], [Int])? in
            var s = SafetensorsHeaderScanner(bytes: b, start: start, base: base - start)
            return s.document()
        }
        guard let (metadata, records, dims) = found else { return nil }
        return Result(metadata: metadata, index: SafetensorsIndex(names: text, records: records, dims: dims))
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, start: Int, base: Int) {
        self.bytes = bytes
        self.i = start
        self.end = bytes.count
        self.base = base
    }

    // MARK: grammar

    private mutating func document() -> (Metadata, [SafetensorsIndex.Record], [Int])? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var metadata: Metadata?
        // An entry of the common shape takes at least ~60 bytes of header: enough room for
        // every entry without regrowing, and no more than the header's size in memory.
        let estimate = (end - i) / 60 + 1
        var records: [SafetensorsIndex.Record] = []
        records.reserveCapacity(estimate)
        var dims: [Int] = []
        dims.reserveCapacity(estimate * 2)
        if !consume(UInt8(ascii: "}")) {
            repeat {
                guard let name = string() else { return nil }
                guard consume(UInt8(ascii: ":")) else { return nil }
                if matches(name, Self.metadataKey) {
                    guard metadata == nil, let m = metadataObject() else { return nil }
                    metadata = m
                } else {
                    guard let r = entry(name: name, order: records.count, dims: &dims) else { return nil }
                    records.append(r)
                }
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { return nil }
        }
        skipWhitespace()
        guard i == end, !hasDuplicateNames(records) else { return nil }
        return (metadata ?? [:], records, dims)
    }

    /// `{"dtype": …, "shape": […], "data_offsets": [b, e]}`, each field exactly once.
    private mutating func entry(name: Range<Int>, order: Int, dims: inout [Int])
        -> SafetensorsIndex.Record?
    {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var dtype: DType?
        var shape: (start: Int, rank: Int)?
        var offsets: (Int, Int)?
        var shapeAt = 0
        var offsetsAt = 0
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            if matches(key, Self.dtypeKey) {
                guard dtype == nil, let text = string(), let d = Self.dtype(bytes, text) else {
                    return nil
                }
                dtype = d
            } else if matches(key, Self.shapeKey) {
                shapeAt = base + i
                let start = dims.count
                guard shape == nil, integers(into: &dims) else { return nil }
                shape = (start, dims.count - start)
            } else if matches(key, Self.offsetsKey) {
                offsetsAt = base + i
                guard offsets == nil, consume(UInt8(ascii: "[")), let b = nextInteger(),
                    consume(UInt8(ascii: ",")), let e = nextInteger(), consume(UInt8(ascii: "]"))
                else { return nil }
                offsets = (b, e)
            } else {
                return nil
            }
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")), let dtype, let shape, let offsets else { return nil }
        return SafetensorsIndex.Record(
            nameStart: name.lowerBound, nameCount: name.count, dtype: dtype,
            shapeStart: shape.start, rank: shape.rank, begin: offsets.0, end: offsets.1,
            order: order, shapeAt: shapeAt, offsetsAt: offsetsAt)
    }

    /// `{"key": "value", …}` with string values only.
    private mutating func metadataObject() -> Metadata? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var out = Metadata()
        if consume(UInt8(ascii: "}")) { return out }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), let value = string(),
                out.updateValue(.string(text(value)), forKey: text(key)) == nil
            else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? out : nil
    }

    /// `[n, …]` of plain non-negative integers (no sign, fraction, exponent or leading
    /// zero), appended to `out`.
    private mutating func integers(into out: inout [Int]) -> Bool {
        guard consume(UInt8(ascii: "[")) else { return false }
        if consume(UInt8(ascii: "]")) { return true }
        repeat {
            skipWhitespace()
            guard let n = integer() else { return false }
            out.append(n)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]"))
    }

    /// An integer after optional whitespace.
    private mutating func nextInteger() -> Int? {
        skipWhitespace()
        return integer()
    }

    private mutating func integer() -> Int? {
        let start = i
        var value = 0
        // Up to 18 digits cannot overflow an Int: no checks in the loop, one after it.
        while i < end {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { break }
            value = value &* 10 &+ Int(d)
            i += 1
        }
        let digits = i - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if digits > 18 {
            // Longer: parsed again with overflow checks (an overflow declines the header).
            value = 0
            for j in start..<i {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(bytes[j] &- UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                value = a
            }
        }
        // A fraction or exponent would make it a float: the strict path's business.
        if i < end, bytes[i] == UInt8(ascii: ".") || bytes[i] | 0x20 == UInt8(ascii: "e") {
            return nil
        }
        return value
    }

    /// A string of printable ASCII without escapes (whitespace before it skipped): the range
    /// of its bytes, quotes excluded.
    private mutating func string() -> Range<Int>? {
        skipWhitespace()
        guard i < end, bytes[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var j = start
        while j < end {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") { break }
            guard b >= 0x20, b < 0x80, b != UInt8(ascii: "\\") else { return nil }
            j += 1
        }
        guard j < end else { return nil }
        i = j + 1
        return start..<j
    }

    private func text(_ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    private func matches(_ r: Range<Int>, _ word: StaticString) -> Bool {
        r.count == word.utf8CodeUnitCount
            && memcmp(bytes.baseAddress.unsafelyUnwrapped + r.lowerBound, word.utf8Start, r.count) == 0
    }

    private static let metadataKey: StaticString = "__metadata__"
    private static let dtypeKey: StaticString = "dtype"
    private static let shapeKey: StaticString = "shape"
    private static let offsetsKey: StaticString = "data_offsets"

    /// The dtype names of at most 8 bytes (all but two rare FP8 variants) packed
    /// little-endian into a word, with their length: matched without making a string or
    /// touching a reference count.
    private static let dtypeWords: [(word: UInt64, count: Int, dtype: DType)] =
        DType.allCases.compactMap { d in
            let utf8 = Array(d.rawValue.utf8)
            guard utf8.count <= 8 else { return nil }
            return (utf8.reversed().reduce(0) { $0 << 8 | UInt64($1) }, utf8.count, d)
        }

    private static func dtype(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> DType? {
        guard r.count <= 8 else {
            return DType(rawValue: String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self))
        }
        var word: UInt64 = 0
        for j in r.reversed() { word = word << 8 | UInt64(bytes[j]) }
        return dtypeWords.withUnsafeBufferPointer { table in
            for e in table where e.word == word && e.count == r.count { return e.dtype }
            return nil
        }
    }

    /// A quick multiplicative hash of `count` bytes at `p`, 8 bytes at a time.
    private static func hash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var h = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        var k = 0
        while k + 8 <= count {
            h = (h ^ UnsafeRawPointer(p + k).loadUnaligned(as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            k += 8
        }
        var tail: UInt64 = 0
        while k < count {
            tail = tail << 8 | UInt64(p[k])
            k += 1
        }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        return h ^ (h >> 32)
    }

    /// Whether two records share a name: each name hashed into an open-addressed table of
    /// record indices, equal slots compared byte for byte.
    private func hasDuplicateNames(_ records: [SafetensorsIndex.Record]) -> Bool {
        guard records.count > 1 else { return false }
        var size = 16
        while size < records.count * 2 { size <<= 1 }
        let mask = size - 1
        let base = bytes.baseAddress.unsafelyUnwrapped
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: size) { table in
            table.initialize(repeating: -1)
            for (k, r) in records.enumerated() {
                let h = Self.hash(base + r.nameStart, r.nameCount)
                var slot = Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
                while table[slot] >= 0 {
                    let other = records[Int(table[slot])]
                    if other.nameCount == r.nameCount,
                        memcmp(base + other.nameStart, base + r.nameStart, r.nameCount) == 0
                    {
                        return true
                    }
                    slot = (slot + 1) & mask
                }
                table[slot] = Int32(k)
            }
            return false
        }
    }

    /// Skips whitespace, then takes `byte` if it is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard i < end, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    private mutating func skipWhitespace() {
        while i < end {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }
}
