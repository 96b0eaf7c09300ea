import Formats
import Quantize

/// The MLX quantization of a checkpoint, from config.json's `quantization` block and the
/// packed `X.weight` / `X.scales` / `X.biases` triples (formats-safetensors-npz-torch-mlx.md §4).
struct MLXQuantization {
    /// Global `bits`, `group_size`, `mode` (default "affine", as mlx-lm loads older files).
    var bits: Int?
    var groupSize: Int?
    var mode: String
    /// Per-layer overrides by module path: bits and group size, or nil for `false` (float).
    var overrides: [String: (bits: Int?, groupSize: Int?)?]
    /// Module paths whose weight is packed (`X.weight` U32 beside `X.scales`).
    var packed: [String: TensorInfo]
    /// `X.scales` tensors by module path.
    var scales: [String: TensorInfo]

    init(config: Metadata, tensors: [TensorInfo]) {
        let q = config["quantization"] ?? config["quantization_config"]
        bits = q?["bits"]?.intValue.flatMap { Int(exactly: $0) }
        groupSize = q?["group_size"]?.intValue.flatMap { Int(exactly: $0) }
        mode = q?["mode"]?.stringValue ?? "affine"
        overrides = [:]
        for (key, value) in q?.objectValue ?? [:] {
            if case .object = value {
                overrides[key] = (
                    value["bits"]?.intValue.flatMap { Int(exactly: $0) },
                    value["group_size"]?.intValue.flatMap { Int(exactly: $0) }
                )
            } else if value.boolValue == false {
                overrides[key] = .some(nil)
            }
        }
        var byName: [String: TensorInfo] = [:]
        for t in tensors { byName[t.name] = t }
        packed = [:]
        scales = [:]
        for t in tensors where t.name.hasSuffix(".scales") {
            let module = String(t.name.dropLast(".scales".count))
            guard let name = AffineNaming.packedWeight(ofModule: module, where: { byName[$0] != nil }),
                let w = byName[name], w.type == .dense(.u32)
            else { continue }
            packed[module] = w
            scales[module] = t
        }
    }

    /// True when nothing is quantized the MLX way.
    var isEmpty: Bool { packed.isEmpty && bits == nil }

    /// `affine 4-bit g64`, with the number of per-layer overrides; nil when not quantized.
    var summary: String? {
        guard !isEmpty else { return nil }
        var s = mode
        if let bits { s += " \(bits)-bit" }
        if let groupSize { s += " g\(groupSize)" }
        if !overrides.isEmpty {
            s += ", \(overrides.count) layer override" + (overrides.count == 1 ? "" : "s")
        }
        return s
    }

    /// The scales and biases of a packed weight: not parameters of the model.
    func isAuxiliary(_ name: String) -> Bool {
        for suffix in [".scales", ".biases"] where name.hasSuffix(suffix) {
            if packed[String(name.dropLast(suffix.count))] != nil { return true }
        }
        return false
    }

    /// The element count of the float weight a packed U32 weight stands for: elements × 32 /
    /// bits (bits from the layer's override, else the global value); without bits, from the
    /// scales' shape and the group size; nil for any other tensor or when neither is known.
    func unpackedElements(of t: TensorInfo) -> Int? {
        let module = AffineNaming.module(ofWeight: t.name)
        guard packed[module]?.name == t.name else { return nil }
        let layer = overrides[module] ?? nil
        if let b = layer?.bits ?? bits, b > 0 {
            let (n, o) = t.elementCount.multipliedReportingOverflow(by: 32)
            return o ? .max : n / b
        }
        // No bits: the input dimension is scales' last dimension × group size.
        guard let g = layer?.groupSize ?? groupSize, let s = scales[module],
            let rows = Array(t.shape.prefix(Swift.max(0, t.shape.count - 1))).checkedElementCount,
            let groups = s.shape.last
        else { return nil }
        let (perRow, o1) = groups.multipliedReportingOverflow(by: g)
        let (n, o2) = rows.multipliedReportingOverflow(by: perRow)
        return o1 || o2 ? .max : n
    }
}
