/// A ggml tensor type, by its stable id in `enum ggml_type` (ggml.h; formats-gguf.md §2.1).
///
/// Covers every id a GGUF file may carry, so any GGUF opens and reports its sizes; which of
/// them can be decoded is the business of `Quantize`.
public enum GGMLType: UInt32, Sendable, Hashable, CaseIterable, Codable {
    case F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9
    case Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15
    case IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21
    case IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28
    case IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40
    case Q1_0 = 41, Q2_0 = 42

    /// The ggml name (`Q4_K`), as cli.md spells block types.
    public var name: String { String(describing: self) }

    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.name == name.uppercased() }) else {
            return nil
        }
        self = t
    }

    /// Elements per block (1 for plain element types).
    public var blockSize: Int {
        switch self {
        case .F32, .F16, .BF16, .F64, .I8, .I16, .I32, .I64: 1
        case .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q8_1, .IQ4_NL, .MXFP4: 32
        case .NVFP4, .Q2_0: 64
        case .Q1_0: 128
        case .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K, .Q8_K, .IQ2_XXS, .IQ2_XS, .IQ3_XXS, .IQ1_S,
            .IQ3_S, .IQ2_S, .IQ4_XS, .IQ1_M, .TQ1_0, .TQ2_0:
            256
        }
    }

    /// Bytes per block (ggml's `type_size`).
    public var bytesPerBlock: Int {
        switch self {
        case .F32: 4
        case .F16, .BF16: 2
        case .F64: 8
        case .I8: 1
        case .I16: 2
        case .I32: 4
        case .I64: 8
        case .Q4_0: 18
        case .Q4_1: 20
        case .Q5_0: 22
        case .Q5_1: 24
        case .Q8_0: 34
        case .Q8_1: 36
        case .Q2_K: 84
        case .Q3_K: 110
        case .Q4_K: 144
        case .Q5_K: 176
        case .Q6_K: 210
        case .Q8_K: 292
        case .IQ2_XXS: 66
        case .IQ2_XS: 74
        case .IQ3_XXS: 98
        case .IQ1_S: 50
        case .IQ4_NL: 18
        case .IQ3_S: 110
        case .IQ2_S: 82
        case .IQ4_XS: 136
        case .IQ1_M: 56
        case .TQ1_0: 54
        case .TQ2_0: 66
        case .MXFP4: 17
        case .NVFP4: 36
        case .Q1_0: 18
        case .Q2_0: 18
        }
    }

    /// The dense dtype this ggml type stores, for the non-block types.
    public var denseType: DType? {
        switch self {
        case .F32: .f32
        case .F16: .f16
        case .BF16: .bf16
        case .F64: .f64
        case .I8: .i8
        case .I16: .i16
        case .I32: .i32
        case .I64: .i64
        default: nil
        }
    }

    /// The ggml type storing a dense dtype, where GGUF has one.
    public init?(dense: DType) {
        switch dense {
        case .f32: self = .F32
        case .f16: self = .F16
        case .bf16: self = .BF16
        case .f64: self = .F64
        case .i8: self = .I8
        case .i16: self = .I16
        case .i32: self = .I32
        case .i64: self = .I64
        default: return nil
        }
    }

    /// Byte size of a row of `elements` values, or nil if not a whole number of blocks or
    /// the product overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (n, o) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return o ? nil : n
    }
}

/// How a tensor's elements are encoded: a dense dtype, or ggml blocks along the last axis.
public enum TensorType: Sendable, Hashable, CustomStringConvertible {
    case dense(DType)
    case ggml(GGMLType)

    /// The name cli.md uses: `F32`, `BF16`, `Q4_K`.
    public var description: String {
        switch self {
        case .dense(let d): d.rawValue
        case .ggml(let g): g.name
        }
    }

    public init?(name: String) {
        if let d = DType(name: name) { self = .dense(d) }
        else if let g = GGMLType(name: name) {
            self = g.denseType.map(TensorType.dense) ?? .ggml(g)
        } else { return nil }
    }

    public var dense: DType? { if case .dense(let d) = self { d } else { nil } }
    public var isQuantized: Bool { if case .ggml = self { true } else { false } }

    /// Bytes taken by a tensor of this type and shape (row-major; blocks run along the last
    /// axis). Nil when a product overflows or the last axis is not a whole number of blocks.
    public func byteCount(shape: [Int]) -> Int? {
        guard let n = shape.checkedElementCount else { return nil }
        switch self {
        case .dense(let d): return d.byteCount(elements: n)
        case .ggml(let g):
            if let last = shape.last, last % g.blockSize != 0 { return nil }
            return g.byteCount(elements: n)
        }
    }
}

extension Array where Element == Int {
    /// Product of the dimensions, nil on overflow or a negative dimension; 1 for a scalar.
    public var checkedElementCount: Int? {
        var n = 1
        for d in self {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }
}
