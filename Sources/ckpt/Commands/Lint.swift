import ArgumentParser
import Convert
import Formats

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find packaging mistakes in a checkpoint.",
        discussion: """
            Reports stale or missing index entries, missing shards, tensors in two shards, NaN/Inf and \
            all-zero tensors, values beyond F16's range, tokenizer files missing or stripped (added tokens \
            lost, no chat template), a quantization config that does not match the tensors, and GGUF \
            files llama.cpp would refuse. Exit status 1 when any finding is an error, 0 otherwise.
            """)

    @Argument(help: "A checkpoint file or model directory.")
    var path: String

    @Option(help: "The dtype you are about to cast to (f16: values beyond F16's range are errors).")
    var dtype: String?

    @Flag(help: "Read headers only; skip the scan of tensor values.")
    var headersOnly = false

    @Flag(help: "Print one JSON document on stdout.")
    var json = false

    func run() throws {
        var target: DType?
        if let dtype {
            guard let d = DType(name: dtype.uppercased()), [.f32, .f16, .bf16].contains(d) else {
                throw ValidationError("--dtype must be f32, f16 or bf16")
            }
            target = d
        }
        let report = try Linter.lint(path, options: LintOptions(targetDType: target, scanValues: !headersOnly))
        if json {
            print(report.json.jsonString())
        } else {
            print(Self.render(report))
        }
        if !report.passed { throw ExitCode(1) }
    }

    static func render(_ report: LintReport) -> String {
        var lines: [String] = []
        let prefix = report.path.hasSuffix("/") ? report.path : report.path + "/"
        for f in report.findings.sorted(by: { $0.severity > $1.severity }) {
            let file = f.file.hasPrefix(prefix) ? String(f.file.dropFirst(prefix.count)) : f.file
            let place = [file, f.tensor].compactMap { $0 }.joined(separator: ": ")
            lines.append("\(f.severity.rawValue): [\(f.code)] \(place): \(f.message)")
        }
        lines.append(
            "\(report.count(.error)) error(s), \(report.count(.warning)) warning(s), \(report.count(.info)) note(s); "
                + "\(report.tensorsScanned) tensors scanned")
        return lines.joined(separator: "\n")
    }
}
