import Foundation

/// Paths and peers shared by the test targets.
public enum TestPaths {
    /// The repository root (this file is Tests/TestSupport/TestSupport.swift).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `Tests/fixtures/<relative>`.
    public static func fixture(_ relative: String) -> String { root + "/Tests/fixtures/" + relative }

    /// `$CKPT_CACHE`, default `~/.cache/ckpt`: the oracle venv and the real models.
    public static let cache: String = {
        let env = ProcessInfo.processInfo.environment
        return env["CKPT_CACHE"] ?? (env["HOME"] ?? NSHomeDirectory()) + "/.cache/ckpt"
    }()

    /// A real model fetched by `make models` ($CKPT_CACHE/models/<name>), or nil when absent.
    public static func model(_ name: String) -> String? {
        let dir = ProcessInfo.processInfo.environment["CKPT_MODELS"] ?? cache + "/models"
        let p = dir + "/" + name
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// A fresh temporary directory under this test process's scratch root. The root goes
    /// when the process exits; a test that writes hundreds of megabytes removes its own
    /// directory as soon as it is done (`removeTemporary`), so that tests running side by
    /// side never hold every real-model output at once.
    public static func temporaryDirectory(_ label: String = "ckpt-test") -> String {
        let p = scratchRoot + "/\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Removes a directory made by `temporaryDirectory` (or anything under it).
    public static func removeTemporary(_ path: String) {
        precondition(path.hasPrefix(scratchRoot + "/"), "not a test scratch path: \(path)")
        try? FileManager.default.removeItem(atPath: path)
    }

    private static let scratchPrefix = "ckpt-tests."

    /// `$TMPDIR/ckpt-tests.<pid>`: made on first use, removed at exit. Roots left by test
    /// processes that died without exiting (killed, crashed) are swept when the next one starts.
    public static let scratchRoot: String = {
        let tmp = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(scratchPrefix) {
            guard let pid = Int32(name.dropFirst(scratchPrefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(atPath: tmp + name) }
        }
        let root = tmp + scratchPrefix + String(getpid())
        try? fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestPaths.scratchRoot) }
        return root
    }()
}

/// The oracle Python ($CKPT_CACHE/venv: numpy, safetensors, gguf, ml-dtypes, mlx), set up by
/// `make test`. Tests that need it are enabled only when it exists.
public enum Python {
    public static let executable: String? = {
        let candidates = [ProcessInfo.processInfo.environment["CKPT_PYTHON"], TestPaths.cache + "/venv/bin/python"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    public static var available: Bool { executable != nil }

    /// Whether the oracle Python can import `module` (e.g. "mlx.core", "torch").
    public static func has(_ module: String) -> Bool {
        guard let r = try? run("import \(module)") else { return false }
        return r.status == 0
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `script` (Python source) with `arguments`; stdout and stderr captured.
    public static func run(_ script: String, _ arguments: [String] = []) throws -> Result {
        guard let executable else { throw CocoaError(.fileNoSuchFile) }
        return try Process.runCapturing(executable, ["-c", script] + arguments)
    }
}

extension Process {
    /// Runs a program to completion, capturing stdout and stderr.
    public static func runCapturing(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Python.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so that neither fills up and blocks the child.
        final class Box: @unchecked Sendable { var data = Data() }  // written before leave(), read after wait()
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Python.Result(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self))
    }
}
