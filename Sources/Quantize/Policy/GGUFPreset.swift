import Formats

/// A `--gguf-type` value: a llama-quantize file type (`Q4_K_M`, `Q8_0`, `F16`, …), whose
/// rules pick a type per tensor (formats-gguf.md §3), or used "pure" (llama-quantize's
/// `--pure`: one type for every quantizable tensor).
///
/// Names are llama-quantize's, including its aliases: `Q3_K`, `Q4_K` and `Q5_K` mean the
/// `_M` presets. cli.md's plain-tensor-file rule (every 2-D+ floating tensor whose rows fit
/// the blocks gets the type) is the pure form.
public struct GGUFPreset: Sendable, Hashable, CustomStringConvertible {
    /// The type most tensors get (llama-quantize's "default type" of the file type).
    public let baseType: GGMLType
    /// The size letter of a K-quant preset (`Q4_K_M`), nil for the others.
    public let mix: Mix?

    public enum Mix: String, Sendable, Hashable { case S, M, L }

    public init(baseType: GGMLType, mix: Mix? = nil) {
        self.baseType = baseType
        self.mix = mix
    }

    /// Every name `--gguf-type` accepts.
    public static let names = [
        "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q2_K_S", "Q3_K",
        "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K", "Q4_K_S", "Q4_K_M", "Q5_K", "Q5_K_S", "Q5_K_M", "Q6_K",
    ]

    /// Parses `Q4_K_M`, `q4_k_m`, `Q8_0`, `F16`, … (case-insensitive).
    public init?(name: String) {
        let upper = name.uppercased()
        guard Self.names.contains(upper) else { return nil }
        if let t = GGMLType(name: upper) {
            // llama-quantize's aliases: Q3_K, Q4_K and Q5_K are the _M presets.
            self.init(baseType: t, mix: [.Q3_K, .Q4_K, .Q5_K].contains(t) ? .M : nil)
            return
        }
        guard let last = upper.last, let mix = Mix(rawValue: String(last)),
            let t = GGMLType(name: String(upper.dropLast(2)))
        else { return nil }
        self.init(baseType: t, mix: mix)
    }

    public var description: String { mix.map { "\(baseType.name)_\($0.rawValue)" } ?? baseType.name }

    /// Whether the base type is a block type (the category rules apply only then).
    public var isQuantized: Bool { baseType.denseType == nil }

    /// llama.cpp's `enum llama_ftype` for `general.file_type` (§3.6).
    public var fileType: UInt32 {
        switch (baseType, mix) {
        case (.F16, _): 1
        case (.Q4_0, _): 2
        case (.Q4_1, _): 3
        case (.Q8_0, _): 7
        case (.Q5_0, _): 8
        case (.Q5_1, _): 9
        case (.Q2_K, .S?): 21
        case (.Q2_K, _): 10
        case (.Q3_K, .S?): 11
        case (.Q3_K, .L?): 13
        case (.Q3_K, _): 12
        case (.Q4_K, .S?): 14
        case (.Q4_K, _): 15
        case (.Q5_K, .S?): 16
        case (.Q5_K, _): 17
        case (.Q6_K, _): 18
        case (.BF16, _): 32
        default: 0
        }
    }
}
