import Formats

extension Linter {
    /// Finding codes about the integrity of what a conversion wrote (index, shards,
    /// quantization config, GGUF keys and tensors); the others (tokenizer files, values) are
    /// inherited from the source and reported by `ckpt lint` on it.
    public static let outputCodes: Set<String> = [
        "unreadable", "stale-index", "missing-index-entry", "missing-shard", "duplicate-tensor",
        "index-total-size", "quantization-mismatch", "quantization-config", "gguf-key-type", "gguf-key",
        "gguf-shape", "gguf-extra-tensor", "gguf-missing-tensor", "added-tokens-lost",
    ]

    /// Lints a conversion's output, headers only: the findings with `outputCodes` at warning
    /// level or above. `convert` runs this on everything it writes.
    public static func lintOutput(_ path: String) -> [LintFinding] {
        guard let report = try? lint(path, options: LintOptions(scanValues: false)) else {
            return [LintFinding(.error, "unreadable", file: path, "the output cannot be opened")]
        }
        return report.findings.filter { $0.severity >= .warning && outputCodes.contains($0.code) }
    }
}
