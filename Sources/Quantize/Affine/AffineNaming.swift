/// How an MLX affine triple is named: the packed codes keep the weight's name, and the scales
/// and biases sit beside it under the weight's module (`x.weight` → `x.scales`, `x.biases`,
/// as mlx-lm writes them), or under the tensor's own name when it has no `.weight` suffix (a
/// plain tensor file's `w` → `w.scales`, `w.biases`). Writer, readers and linter share it.
public enum AffineNaming {
    /// The module a packed weight belongs to: its name without `.weight`, or the name itself.
    public static func module(ofWeight name: String) -> String {
        name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
    }

    /// The name of `module`'s packed weight among the names for which `exists` holds:
    /// `module.weight`, else `module` itself; nil when neither exists.
    public static func packedWeight(ofModule module: String, where exists: (String) -> Bool) -> String? {
        if exists(module + ".weight") { return module + ".weight" }
        return exists(module) ? module : nil
    }
}
