import Foundation
import Testing
import Formats
import TestSupport
@testable import Convert

/// Damaged tokenizer files and configurations: the export view either opens or throws
/// `FormatError`; it never crashes and never writes half a file.
@Suite("HF to GGUF export: damaged inputs")
struct GGUFExportRobustnessTests {
    /// A copy of the smollm fixture in a fresh directory.
    static func copy() throws -> String {
        let dir = TestPaths.temporaryDirectory("ckpt-ggufout-damaged") + "/smollm"
        try FileManager.default.copyItem(
            atPath: TestPaths.fixture("gguf_export/smollm"), toPath: dir)
        return dir
    }

    static func open(_ dir: String) -> Result<GGUFExportSource, FormatError> {
        Result { () throws(FormatError) in
            try GGUFExportSource(directory: try ModelDirectory(path: dir))
        }
    }

    @Test(
        "flipped and truncated bytes of tokenizer.json, tokenizer_config.json and config.json",
        arguments: [
            "tokenizer.json", "tokenizer_config.json", "config.json",
        ])
    func damagedFiles(file: String) throws {
        let dir = try Self.copy()
        let path = dir + "/" + file
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var opened = 0, refused = 0
        // Truncations and byte changes spread over the file (structure, strings, numbers).
        let positions = stride(from: 0, to: original.count, by: max(1, original.count / 60)).map {
            $0
        }
        for (k, i) in positions.enumerated() {
            var damaged = original
            if k % 3 == 0 {
                damaged = Array(original[..<i])
            } else {
                damaged[i] = k % 3 == 1 ? damaged[i] ^ 0x20 : UInt8(ascii: "9")
            }
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            // Typed throws: the only error that can come out is a FormatError.
            switch Self.open(dir) {
            case .success: opened += 1
            case .failure: refused += 1
            }
        }
        #expect(opened + refused == positions.count)
        #expect(refused > 0)
    }

    @Test("a tokenizer.json that is not byte-level BPE is refused with its field")
    func wordPieceRefused() throws {
        let dir = try Self.copy()
        try #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}"#
            .write(toFile: dir + "/tokenizer.json", atomically: true, encoding: .utf8)
        let error = #expect(throws: FormatError.self) {
            _ = try GGUFExportSource(directory: try ModelDirectory(path: dir))
        }
        #expect(error?.field == "model.type")
    }

    @Test("a directory without tokenizer.json is refused, nothing is written")
    func missingTokenizer() throws {
        let dir = try Self.copy()
        try FileManager.default.removeItem(atPath: dir + "/tokenizer.json")
        let out = dir + ".gguf"
        #expect(throws: FormatError.self) {
            _ = try Converter.convert(ConversionRequest(source: dir, destination: out))
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
