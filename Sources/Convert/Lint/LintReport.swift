import Formats

/// How serious a lint finding is: errors make `ckpt lint` exit non-zero.
public enum LintSeverity: String, Sendable, Hashable, Comparable, CaseIterable {
    case info, warning, error

    var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (a: LintSeverity, b: LintSeverity) -> Bool { a.rank < b.rank }
}

/// One packaging mistake found in a checkpoint, with the file and tensor it concerns.
public struct LintFinding: Sendable, Hashable {
    public var severity: LintSeverity
    /// A stable short name for the kind of finding (`stale-index`, `non-finite`, …), for
    /// scripts that filter findings.
    public var code: String
    /// The file the finding is about (a shard, the index, `tokenizer_config.json`, the GGUF).
    public var file: String
    /// The tensor concerned, when there is one.
    public var tensor: String?
    public var message: String

    public init(_ severity: LintSeverity, _ code: String, file: String, tensor: String? = nil, _ message: String) {
        self.severity = severity
        self.code = code
        self.file = file
        self.tensor = tensor
        self.message = message
    }
}

/// Everything `Linter` found in one checkpoint.
public struct LintReport: Sendable {
    public var path: String
    public var findings: [LintFinding]
    /// Tensors whose values were scanned (NaN/Inf/all-zero/F16 range).
    public var tensorsScanned: Int

    /// True when no finding is an error.
    public var passed: Bool { !findings.contains { $0.severity == .error } }

    public func count(_ severity: LintSeverity) -> Int { findings.filter { $0.severity == severity }.count }

    /// The report as `ckpt lint --json` prints it.
    public var json: MetadataValue {
        .object([
            "path": .string(path),
            "passed": .bool(passed),
            "errors": .int64(Int64(count(.error))),
            "warnings": .int64(Int64(count(.warning))),
            "tensors_scanned": .int64(Int64(tensorsScanned)),
            "findings": .array(findings.map { f in
                var o: Metadata = [
                    "severity": .string(f.severity.rawValue), "code": .string(f.code), "file": .string(f.file),
                ]
                if let t = f.tensor { o["tensor"] = .string(t) }
                o["message"] = .string(f.message)
                return .object(o)
            }),
        ])
    }
}

/// What a lint run checks beyond the packaging itself.
public struct LintOptions: Sendable {
    /// The dtype the checkpoint is about to be cast to: with `.f16`, values beyond F16's range
    /// are errors (they would become Inf) instead of warnings.
    public var targetDType: DType?
    /// Scan tensor values (NaN/Inf/all-zero/F16 range). Off, only headers are read.
    public var scanValues: Bool

    public init(targetDType: DType? = nil, scanValues: Bool = true) {
        self.targetDType = targetDType
        self.scanValues = scanValues
    }
}
