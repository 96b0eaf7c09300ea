/// A safetensors header's tensor entries, held compactly: fixed-size records over one byte
/// store of names and one array of dimensions.
///
/// Why: opening a file must cost O(header) and little of it (`SafetensorsFile`). An entry as
/// a `TensorInfo` costs a `String` and an `[Int]` of its own, two allocations and their
/// reference counting per tensor, which is most of what opening used to cost. The index is
/// validated as it is (every check of the reference reader) and becomes `[TensorInfo]` only
/// when a caller asks for the tensors.
struct SafetensorsIndex {
    /// One tensor entry. Offsets are absolute file offsets, for errors.
    struct Record {
        /// The name's UTF-8 bytes: `names[nameStart ..< nameStart + nameCount]`.
        var nameStart: Int
        var nameCount: Int
        var dtype: DType
        /// The shape: `dims[shapeStart ..< shapeStart + rank]`.
        var shapeStart: Int
        var rank: Int
        /// `data_offsets`, relative to the byte buffer.
        var begin: Int
        var end: Int
        /// Position among the header's tensor entries (breaks ties between equal offsets).
        var order: Int
        var shapeAt: Int
        var offsetsAt: Int
    }

    /// Name bytes: on the scanner's path the header text itself, names being slices of it.
    var names: [UInt8]
    var records: [Record]
    var dims: [Int]

    init(names: [UInt8], records: [Record], dims: [Int]) {
        self.names = names
        self.records = records
        self.dims = dims
    }

    /// The index of entries parsed by the strict path.
    init(entries: [SafetensorsEntry]) {
        names = []
        records = []
        dims = []
        records.reserveCapacity(entries.count)
        for e in entries {
            let start = names.count
            names.append(contentsOf: e.name.utf8)
            records.append(
                Record(
                    nameStart: start, nameCount: names.count - start, dtype: e.dtype,
                    shapeStart: dims.count, rank: e.shape.count, begin: e.begin, end: e.end,
                    order: e.order, shapeAt: e.shapeAt, offsetsAt: e.offsetsAt))
            dims.append(contentsOf: e.shape)
        }
    }

    func name(_ r: Record) -> String {
        names.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[r.nameStart..<(r.nameStart + r.nameCount)]), as: UTF8.self)
        }
    }

    func shape(_ r: Record) -> [Int] { Array(dims[r.shapeStart..<(r.shapeStart + r.rank)]) }

    /// Element count of the record's shape, nil on overflow (`checkedElementCount`).
    func elementCount(_ r: Record) -> Int? {
        var n = 1
        for k in r.shapeStart..<(r.shapeStart + r.rank) {
            let (p, o) = n.multipliedReportingOverflow(by: dims[k])
            if o { return nil }
            n = p
        }
        return n
    }

    /// Puts the records in file order, by (begin, end, order), and checks that they tile the
    /// byte buffer exactly and that each one's size matches its dtype and shape (formats doc
    /// §1.6 checks 6 to 10, in the Rust reader's order).
    mutating func validate(dataOffset: Int, dataLength: Int, file: String) throws(FormatError) {
        let inOrder = records.indices.dropFirst().allSatisfy {
            let (a, b) = (records[$0 - 1], records[$0])
            return (a.begin, a.end, a.order) < (b.begin, b.end, b.order)
        }
        if !inOrder {
            records.sort { ($0.begin, $0.end, $0.order) < ($1.begin, $1.end, $1.order) }
        }
        var end = 0
        for e in records {
            guard e.begin == end, e.end >= e.begin else {
                let what =
                    e.end < e.begin
                    ? "end before begin"
                    : e.begin > end
                        ? "a gap of \(e.begin - end) bytes before it"
                        : "overlaps the previous tensor"
                throw FormatError(
                    .invalid("data_offsets [\(e.begin), \(e.end)] must start at \(end): \(what)"),
                    file: file, offset: e.offsetsAt, field: "\(name(e)).data_offsets")
            }
            guard let count = elementCount(e) else {
                throw FormatError(
                    .invalid("shape \(shape(e)) element count overflows"), file: file,
                    offset: e.shapeAt, field: "\(name(e)).shape")
            }
            let (bits, overflow) = count.multipliedReportingOverflow(by: e.dtype.bitsPerElement)
            guard !overflow else {
                throw FormatError(
                    .invalid("\(count) elements of \(e.dtype.rawValue) overflow the bit count"),
                    file: file, offset: e.shapeAt, field: "\(name(e)).shape")
            }
            guard bits % 8 == 0 else {
                throw FormatError(
                    .invalid("\(count) elements of \(e.dtype.rawValue) do not end on a byte"),
                    file: file, offset: e.shapeAt, field: "\(name(e)).shape")
            }
            guard e.end - e.begin == bits / 8 else {
                throw FormatError(
                    .invalid(
                        "data_offsets span \(e.end - e.begin) bytes, but \(e.dtype.rawValue) \(shape(e)) needs \(bits / 8)"
                    ),
                    file: file, offset: e.offsetsAt, field: "\(name(e)).data_offsets")
            }
            end = e.end
        }
        guard end == dataLength else {
            if end > dataLength {
                throw FormatError(
                    .truncated(needed: end, available: dataLength), file: file,
                    offset: dataOffset + dataLength, field: "data")
            }
            throw FormatError(
                .invalid("\(dataLength - end) trailing bytes after the last tensor"), file: file,
                offset: dataOffset + end, field: "data")
        }
    }

    /// The validated records as tensors, in file order; `location.offset` absolute.
    /// (`dataOffset + begin` cannot overflow: `validate` checked `end` against the file.)
    func tensors(dataOffset: Int) -> [TensorInfo] {
        records.map { e in
            TensorInfo(
                name: name(e), type: .dense(e.dtype), shape: shape(e), byteCount: e.end - e.begin,
                location: .init(file: 0, offset: dataOffset + e.begin))
        }
    }
}
