import Formats

/// A user's rule for some tensors, applied over an ecosystem's defaults: the tensors whose
/// name matches `pattern` (a regular expression, searched anywhere in the name) and, when
/// `layers` is given, whose layer index (the first all-digit part of the name: `blk.3.…`,
/// `model.layers.3.…`) is in it, get `choice`. The first matching rule wins.
///
/// Written `PATTERN[@FIRST-LAST]=CHOICE` on the command line (`--override`), CHOICE being a
/// ggml type (`Q8_0`, `F16`), `affine:BITS[:GROUP]`, or `keep`:
///
/// ```
/// attn_v=Q8_0                 llama-quantize's --tensor-type attn_v=q8_0
/// ^output\.weight$=Q6_K       its --output-tensor-type
/// ffn_down@0-3=Q6_K           only layers 0 to 3
/// lm_head=affine:8            mlx: 8-bit (group from --group-size)
/// embed_tokens=keep           leave it unquantized
/// ```
public struct QuantizationOverride: Sendable, Hashable, CustomStringConvertible {
    public var pattern: String
    public var layers: ClosedRange<Int>?
    public var choice: TensorQuantization

    public init(pattern: String, layers: ClosedRange<Int>? = nil, choice: TensorQuantization)
        throws(QuantizeError)
    {
        guard (try? Regex(pattern)) != nil else {
            throw QuantizeError(.unsupported("override pattern '\(pattern)' is not a valid regular expression"))
        }
        self.pattern = pattern
        self.layers = layers
        self.choice = choice
    }

    /// Parses `PATTERN[@FIRST-LAST]=CHOICE`; `groupSize` completes `affine:BITS`.
    public init(parsing spec: String, groupSize: Int = 64) throws(QuantizeError) {
        guard let eq = spec.lastIndex(of: "=") else {
            throw QuantizeError(.unsupported("override '\(spec)' is not PATTERN[@FIRST-LAST]=CHOICE"))
        }
        var lhs = String(spec[..<eq])
        let rhs = String(spec[spec.index(after: eq)...])
        var layers: ClosedRange<Int>?
        if let at = lhs.lastIndex(of: "@") {
            let range = lhs[lhs.index(after: at)...].split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(range.count), let lo = Int(range[0]), let hi = Int(range.last ?? ""), lo <= hi, lo >= 0
            else {
                throw QuantizeError(.unsupported("override '\(spec)': layers must be N or FIRST-LAST"))
            }
            layers = lo...hi
            lhs = String(lhs[..<at])
        }
        guard !lhs.isEmpty else { throw QuantizeError(.unsupported("override '\(spec)' has an empty pattern")) }
        try self.init(pattern: lhs, layers: layers, choice: Self.parseChoice(rhs, groupSize: groupSize, spec: spec))
    }

    static func parseChoice(_ s: String, groupSize: Int, spec: String) throws(QuantizeError) -> TensorQuantization {
        let lower = s.lowercased()
        if lower == "keep" { return .keep }
        if lower.hasPrefix("affine:") {
            let parts = lower.dropFirst("affine:".count).split(separator: ":")
            guard let bits = parts.first.flatMap({ Int($0) }), TensorQuantization.affineBits.contains(bits) else {
                throw QuantizeError(.unsupported("override '\(spec)': affine bits must be 2, 3, 4, 5, 6 or 8"))
            }
            let group = parts.count > 1 ? Int(parts[1]) ?? -1 : groupSize
            guard TensorQuantization.affineGroupSizes.contains(group) else {
                throw QuantizeError(.unsupported("override '\(spec)': group size must be 32, 64 or 128"))
            }
            return .affine(bits: bits, groupSize: group)
        }
        guard let t = GGMLType(name: s), GGMLCodec.canQuantize(t) else {
            throw QuantizeError(.unsupported("override '\(spec)': '\(s)' is not keep, affine:BITS or a ggml type ckpt quantizes to"))
        }
        return .ggml(t)
    }

    public func matches(_ name: String) -> Bool {
        if let layers {
            guard let i = Self.layerIndex(name), layers.contains(i) else { return false }
        }
        guard let regex = try? Regex(pattern) else { return false }
        return name.contains(regex)
    }

    /// The first all-digit component of a dotted name.
    static func layerIndex(_ name: String) -> Int? {
        for part in name.split(separator: ".") where !part.isEmpty && part.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return Int(part)
        }
        return nil
    }

    public var description: String {
        let l = layers.map { "@\($0.lowerBound)-\($0.upperBound)" } ?? ""
        return "\(pattern)\(l)=\(choice)"
    }

    /// The first rule matching `name`, if any.
    public static func first(in rules: [QuantizationOverride], matching name: String) -> QuantizationOverride? {
        rules.first { $0.matches(name) }
    }
}
