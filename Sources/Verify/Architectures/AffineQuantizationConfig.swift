import Formats

/// The `quantization` block of an mlx-lm model directory's config.json: default bits and
/// group size, and per-module overrides (`"model.layers.0.mlp.down_proj": {"bits": 8, ...}`,
/// or `false` for a module left unquantized), as mlx-lm's `load_model` reads it.
public struct AffineQuantizationConfig: Sendable, Hashable, Codable {
    /// Bits and group size of one module's affine quantization.
    public struct Setting: Sendable, Hashable, Codable {
        public var bits: Int
        public var groupSize: Int

        enum CodingKeys: String, CodingKey {
            case bits
            case groupSize = "group_size"
        }

        public init(bits: Int, groupSize: Int) {
            self.bits = bits
            self.groupSize = groupSize
        }
    }

    /// The default for every quantized module.
    public var setting: Setting
    /// Per-module entries by module path (the tensor name without `.weight`); nil values mean
    /// the module is stored unquantized.
    public var overrides: [String: Setting?]

    public init(setting: Setting, overrides: [String: Setting?] = [:]) {
        self.setting = setting
        self.overrides = overrides
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        setting = Setting(
            bits: try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "bits")) ?? 4,
            groupSize: try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "group_size")) ?? 64
        )
        if let mode = try c.decodeIfPresent(String.self, forKey: Key(stringValue: "mode")),
            mode != "affine"
        {
            throw DecodingError.dataCorruptedError(
                forKey: Key(stringValue: "mode"), in: c,
                debugDescription: "quantization mode '\(mode)' is not supported (affine only)")
        }
        var overrides: [String: Setting?] = [:]
        for key in c.allKeys where !["bits", "group_size", "mode"].contains(key.stringValue) {
            if let flag = try? c.decode(Bool.self, forKey: key) {
                overrides[key.stringValue] = flag ? .some(setting) : .some(nil)
            } else {
                overrides[key.stringValue] = .some(try c.decode(Setting.self, forKey: key))
            }
        }
        self.overrides = overrides
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(setting.bits, forKey: Key(stringValue: "bits"))
        try c.encode(setting.groupSize, forKey: Key(stringValue: "group_size"))
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) {
            if let v {
                try c.encode(v, forKey: Key(stringValue: k))
            } else {
                try c.encode(false, forKey: Key(stringValue: k))
            }
        }
    }

    /// The setting of module `path` (`model.layers.3.mlp.up_proj`), nil when it is stored
    /// unquantized by an explicit `false`.
    public func setting(for path: String) -> Setting? {
        if let entry = overrides[path] { return entry }
        return setting
    }
}
