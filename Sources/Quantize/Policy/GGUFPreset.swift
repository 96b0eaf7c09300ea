import Formats

/// A llama-quantize file type (`Q4_K_M`, `Q8_0`, …): a default block type plus mixing rules
/// (formats-gguf.md §3).
public enum GGUFPreset: String, Sendable, CaseIterable {
    case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
    case Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K

    /// Parses a preset or plain type name case-insensitively, with llama-quantize's aliases
    /// (`Q3_K` = Q3_K_M, `Q4_K` = Q4_K_M, `Q5_K` = Q5_K_M).
    public init?(name: String) {
        let n = name.uppercased()
        switch n {
        case "Q3_K": self = .Q3_K_M
        case "Q4_K": self = .Q4_K_M
        case "Q5_K": self = .Q5_K_M
        default:
            guard let p = GGUFPreset(rawValue: n) else { return nil }
            self = p
        }
    }

    /// The type every quantizable tensor starts from (§3.1 step 1).
    public var defaultType: GGMLType {
        switch self {
        case .F32: .F32
        case .F16: .F16
        case .BF16: .BF16
        case .Q4_0: .Q4_0
        case .Q4_1: .Q4_1
        case .Q5_0: .Q5_0
        case .Q5_1: .Q5_1
        case .Q8_0: .Q8_0
        case .Q2_K, .Q2_K_S: .Q2_K
        case .Q3_K_S, .Q3_K_M, .Q3_K_L: .Q3_K
        case .Q4_K_S, .Q4_K_M: .Q4_K
        case .Q5_K_S, .Q5_K_M: .Q5_K
        case .Q6_K: .Q6_K
        }
    }

    /// `general.file_type` (llama_ftype) written with this preset (§3.6).
    public var fileType: UInt32 {
        switch self {
        case .F32: 0
        case .F16: 1
        case .Q4_0: 2
        case .Q4_1: 3
        case .Q8_0: 7
        case .Q5_0: 8
        case .Q5_1: 9
        case .Q2_K: 10
        case .Q3_K_S: 11
        case .Q3_K_M: 12
        case .Q3_K_L: 13
        case .Q4_K_S: 14
        case .Q4_K_M: 15
        case .Q5_K_S: 16
        case .Q5_K_M: 17
        case .Q6_K: 18
        case .Q2_K_S: 21
        case .BF16: 32
        }
    }

    /// True for the block-quantized presets (the mixing rules apply only to them).
    public var isQuantized: Bool { defaultType.denseType == nil }
}

/// The model facts llama-quantize's rules look at (GGUF `{arch}.*` keys).
public struct GGUFModelInfo: Sendable, Hashable {
    /// `general.architecture` (`llama`, `qwen2`, `falcon`, …).
    public var architecture: String
    /// `{arch}.block_count`.
    public var layerCount: Int
    /// `{arch}.attention.head_count`.
    public var headCount: Int
    /// `{arch}.attention.head_count_kv` (= headCount without GQA).
    public var headCountKV: Int
    /// `{arch}.expert_count` (0 for dense models).
    public var expertCount: Int

    /// The facts of one model, as read from its GGUF metadata or config.json.
    public init(architecture: String, layerCount: Int, headCount: Int, headCountKV: Int, expertCount: Int = 0) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
        self.expertCount = expertCount
    }

    /// `n_gqa = n_head / n_head_kv` (1 when head_count_kv is 0).
    var gqa: Int { headCountKV > 0 ? headCount / headCountKV : 1 }
    /// llama.cpp's LLM_TYPE_70B: arch llama, 80 layers, grouped-query attention.
    var is70B: Bool { architecture == "llama" && layerCount == 80 && headCount != headCountKV }
    var isFalcon: Bool { architecture == "falcon" }
}
