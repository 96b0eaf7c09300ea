import Foundation
import TestSupport

/// Runs the built `ckpt` binary (`swift build` puts it in .build/debug).
enum CLI {
    static let binary: String = {
        let env = ProcessInfo.processInfo.environment["CKPT_BINARY"]
        return env ?? TestPaths.root + "/.build/debug/ckpt"
    }()

    static func run(_ arguments: [String]) throws -> Python.Result {
        var env = ProcessInfo.processInfo.environment
        env["CKPT_CATALOG"] = TestPaths.scratchRoot + "/cli-test-catalog.sqlite"
        return try Process.runCapturing(binary, arguments, environment: env)
    }

    /// Parses stdout as one JSON document.
    static func json(_ r: Python.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed])
    }
}

/// Files left in `dir` other than `expected` (temporary outputs must never remain).
func strayFiles(in dir: String, expected: Set<String>) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return names.filter { !expected.contains($0) }
}
