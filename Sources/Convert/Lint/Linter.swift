import Formats
import Foundation

/// Finds the packaging mistakes users hit in a checkpoint (`ckpt lint`): stale or missing index
/// entries, missing shards, tensors in two shards, NaN/Inf/all-zero tensors, values that
/// overflow F16, tokenizer files missing or stripped, a quantization config that does not
/// match the tensors, GGUF files llama.cpp would refuse.
///
/// Unlike `Checkpoint.open`, which stops at the first problem, lint reads every part it can
/// and reports each problem with its file and tensor.
///
/// ```swift
/// let report = try Linter.lint("models/smollm2")
/// for f in report.findings { print(f.severity, f.file, f.tensor ?? "", f.message) }
/// ```
public enum Linter {
    /// Lints the file or model directory at `path`.
    /// - Throws: `FormatError` only when `path` does not exist; every problem inside it is a finding.
    public static func lint(_ path: String, options: LintOptions = .init()) throws(FormatError) -> LintReport {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError(.invalid("no such file or directory"), file: path)
        }
        var state = LintState(path: path, options: options)
        if isDir.boolValue {
            state.lintDirectory()
        } else {
            state.lintFile()
        }
        return LintReport(path: path, findings: state.findings, tensorsScanned: state.scanned)
    }
}

/// One tensor found while linting, with the source that reads it and the file holding it.
struct LintedTensor {
    var info: TensorInfo
    var source: any TensorSource
    var file: String
}

/// The findings of one lint run, as its parts add them.
struct LintState {
    let path: String
    let options: LintOptions
    var findings: [LintFinding] = []
    var scanned = 0
    /// Every readable tensor, by name (the first holder, when two shards hold one).
    var tensors: [String: LintedTensor] = [:]
    var order: [String] = []

    init(path: String, options: LintOptions) {
        self.path = path
        self.options = options
    }

    mutating func add(_ severity: LintSeverity, _ code: String, file: String, tensor: String? = nil, _ message: String) {
        findings.append(LintFinding(severity, code, file: file, tensor: tensor, message))
    }

    /// Records `error` as an `unreadable` finding.
    mutating func unreadable(_ error: any Error, file: String) {
        add(.error, "unreadable", file: file, "\(error)")
    }

    mutating func collect(_ source: any TensorSource, file: String) {
        for t in source.tensors where tensors[t.name] == nil {
            order.append(t.name)
            tensors[t.name] = LintedTensor(info: t, source: source, file: file)
        }
    }

    /// A single file: its header through the format's reader, then its values.
    mutating func lintFile() {
        let source: any TensorSource
        do {
            source = try Checkpoint.open(path)
        } catch {
            unreadable(error, file: path)
            return
        }
        collect(source, file: path)
        if source.format == .gguf { lintGGUF(source) }
        if source.format == .safetensors { lintQuantization(config: nil, file: path) }
        scanValues()
    }

    /// A model directory: config, weights (index, shards), quantization, tokenizer, values.
    mutating func lintDirectory() {
        let configPath = path + "/" + ModelDirectory.configurationName
        var config: Metadata?
        if FileManager.default.fileExists(atPath: configPath) {
            do {
                let text = try ByteBuffer(mapping: configPath)
                if case .object(let o) = try JSON.parse(text.all, field: "config") {
                    config = o
                } else {
                    add(.error, "config", file: configPath, "config.json is not a JSON object")
                }
            } catch {
                unreadable(error, file: configPath)
            }
        } else {
            add(.error, "config", file: path, "no config.json: transformers, mlx-lm and ckpt cannot tell the architecture")
        }
        lintWeights()
        lintQuantization(config: config, file: configPath)
        if let config { lintTokenizer(config: config) }
        scanValues()
    }
}

/// Helpers for reading side files.
extension LintState {
    /// The JSON object in `file`, nil when absent; unreadable or non-object content is a finding.
    mutating func jsonObject(_ file: String) -> Metadata? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        do {
            let buffer = try ByteBuffer(mapping: file)
            guard case .object(let o) = try JSON.parse(buffer.all, field: (file as NSString).lastPathComponent) else {
                add(.error, "json", file: file, "not a JSON object")
                return nil
            }
            return o
        } catch {
            unreadable(error, file: file)
            return nil
        }
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + name) }
}
