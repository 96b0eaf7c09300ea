import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// Damaged model files: loading and running either works or throws, never traps.
@Suite("Architectures on damaged files")
struct ArchitectureRobustnessTests {
    /// Loads and runs `bytes` as a GGUF; true when it ran, false when it threw a ckpt error.
    static func exercise(_ bytes: [UInt8]) -> Bool {
        do {
            let source = try Checkpoint.open(ByteBuffer(copying: bytes, name: "m.gguf"))
            let model = try ModelRegistry.load(source: source, file: "m.gguf")
            _ = try ForwardPass.run(model, tokens: [1, 2, 3], options: EvalOptions(threads: 1))
            return true
        } catch is FormatError {
            return false
        } catch is ComputeError {
            return false
        } catch {
            Issue.record("unexpected error type: \(error)")
            return false
        }
    }

    @Test("Bytes flipped through the header and truncations of the GGUF never crash")
    func flipsAndTruncations() throws {
        let original = Array(
            try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("models/llama_gqa.gguf"))))
        #expect(Self.exercise(original))
        let gguf = try GGUFFile(buffer: ByteBuffer(copying: original, name: "m.gguf"))
        var refused = 0
        // Every third byte of the header (metadata and tensor infos), a sample of the data.
        let positions =
            Array(stride(from: 0, to: gguf.dataOffset, by: 3))
            + Array(stride(from: gguf.dataOffset, to: original.count, by: 1999))
        for at in positions {
            var b = original
            b[at] ^= 0xFF
            if !Self.exercise(b) { refused += 1 }
        }
        #expect(refused > 0)
        for length in stride(from: 0, to: original.count, by: 1231) {
            #expect(!Self.exercise(Array(original[..<length])), "truncated to \(length)")
        }
    }
}
