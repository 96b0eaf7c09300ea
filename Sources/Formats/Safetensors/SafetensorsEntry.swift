/// One tensor entry of a safetensors header, its fields type-checked and located.
///
/// Mirrors serde's derive for the Rust `TensorInfo` (`dtype`, `shape`, `data_offsets`):
/// each must be present with the right JSON type, integers must be non-negative and whole
/// (Rust parses them as `usize`), and unknown fields are ignored as serde ignores them.
struct SafetensorsEntry {
    var name: String
    var dtype: DType
    var shape: [Int]
    var begin: Int
    var end: Int
    /// Position among the header's tensor entries (breaks ties between equal offsets).
    var order: Int
    /// Absolute file offsets of the `shape` and `data_offsets` values, for errors.
    var shapeAt: Int
    var offsetsAt: Int

    /// Parses the entry `value` of tensor `name`, whose JSON value starts at file `offset`.
    /// `members` locates the entry's own members (relative to the header; `offset - 8 +`).
    init(
        name: String, value: MetadataValue, members places: [JSONLocator.Member], file: String,
        offset: Int, order: Int
    ) throws(FormatError) {
        guard case .object(let o) = value else {
            throw FormatError(
                .invalid("tensor entry must be an object, found \(value.jsonKind)"), file: file,
                offset: offset, field: name)
        }
        let headerBase = 8
        func at(_ key: String) -> Int {
            guard let k = o.index(forKey: key), k < places.count else { return offset }
            return headerBase + places[k].value
        }
        func require(_ key: String) throws(FormatError) -> MetadataValue {
            guard let v = o[key] else {
                throw FormatError(
                    .invalid("missing field `\(key)`"), file: file, offset: offset, field: name)
            }
            return v
        }
        self.name = name
        self.order = order
        shapeAt = at("shape")
        offsetsAt = at("data_offsets")

        let dtypeValue = try require("dtype")
        guard let text = dtypeValue.stringValue else {
            throw FormatError(
                .invalid("dtype must be a string, found \(dtypeValue.jsonKind)"), file: file,
                offset: at("dtype"), field: "\(name).dtype")
        }
        // Case-sensitive, as serde's enum: `f32` is unknown.
        guard let dtype = DType(rawValue: text) else {
            throw FormatError(
                .invalid("unknown dtype \"\(text)\""), file: file, offset: at("dtype"),
                field: "\(name).dtype")
        }
        self.dtype = dtype

        let shapeValue = try require("shape")
        guard let dims = shapeValue.arrayValue else {
            throw FormatError(
                .invalid("shape must be an array, found \(shapeValue.jsonKind)"), file: file,
                offset: shapeAt, field: "\(name).shape")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, d) in dims.enumerated() {
            shape.append(
                try Self.index(d, file: file, offset: shapeAt, field: "\(name).shape[\(i)]"))
        }
        self.shape = shape

        let offsetsValue = try require("data_offsets")
        guard let pair = offsetsValue.arrayValue, pair.count == 2 else {
            throw FormatError(
                .invalid(
                    "data_offsets must be an array of 2 integers, found \(offsetsValue.jsonKind)"),
                file: file, offset: offsetsAt, field: "\(name).data_offsets")
        }
        begin = try Self.index(
            pair[0], file: file, offset: offsetsAt, field: "\(name).data_offsets[0]")
        end = try Self.index(
            pair[1], file: file, offset: offsetsAt, field: "\(name).data_offsets[1]")
    }

    /// A JSON number that must be a non-negative integer fitting in `Int` (Rust: `usize`).
    static func index(_ v: MetadataValue, file: String, offset: Int, field: String)
        throws(FormatError) -> Int
    {
        switch v {
        case .int64(let x) where x >= 0: return Int(x)
        case .uint64(let x):
            guard let i = Int(exactly: x) else {
                throw FormatError(
                    .invalid("\(x) exceeds \(Int.max)"), file: file, offset: offset, field: field)
            }
            return i
        default:
            throw FormatError(
                .invalid("expected a non-negative integer, found \(v.jsonKind)"), file: file,
                offset: offset, field: field)
        }
    }
}
