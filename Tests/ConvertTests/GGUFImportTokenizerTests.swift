import Foundation
import Formats
import TestSupport
import Testing

@testable import Convert
@testable import Verify

/// Tokenizer fixtures (Tests/fixtures/tokenizers, made by make_tokenizers.py) put into GGUF
/// metadata the way llama.cpp's converter lays a vocabulary out (formats-gguf.md §5.2, §5.3),
/// rebuilt into a tokenizer.json by `GGUFImportTokenizer`, and compared with the original.
@Suite("GGUF import: tokenizer.json from the vocabulary")
struct GGUFImportTokenizerTests {
    struct Vocabulary {
        var tokens: [String] = []
        var types: [Int32] = []
        var merges: [String] = []
        var mergeRank: [String: Int] = [:]
    }

    /// The GGUF view of a tokenizer.json: tokens by id, CONTROL/USER_DEFINED for added tokens,
    /// merges as "a b".
    static func vocabulary(_ fixture: String) throws -> Vocabulary {
        let root = try JSON.parse(
            try String(
                contentsOfFile: TestPaths.fixture("tokenizers/\(fixture).json"), encoding: .utf8))
        var byID: [Int: String] = [:]
        for (token, id) in try #require(root["model"]?["vocab"]?.objectValue) {
            byID[Int(try #require(id.intValue))] = token
        }
        var types: [Int: Int32] = [:]
        for t in root["added_tokens"]?.arrayValue ?? [] {
            let id = Int(try #require(t["id"]?.intValue))
            byID[id] = try #require(t["content"]?.stringValue)
            types[id] = t["special"]?.boolValue == true ? 3 : 4
        }
        var v = Vocabulary()
        let n = (byID.keys.max() ?? -1) + 1
        v.tokens = (0..<n).map { byID[$0] ?? "[PAD\($0)]" }
        v.types = (0..<n).map { types[$0] ?? 1 }
        for (i, m) in (root["model"]?["merges"]?.arrayValue ?? []).enumerated() {
            let pair = (m.arrayValue ?? []).compactMap(\.stringValue)
            try #require(pair.count == 2)
            v.merges.append(pair[0] + " " + pair[1])
            if v.mergeRank[pair[0] + pair[1]] == nil { v.mergeRank[pair[0] + pair[1]] = i }
        }
        return v
    }

    static func strings(_ a: [String]) -> MetadataValue {
        .array(a.map { .string($0) }, elementType: .string)
    }

    /// GGUF metadata of a fixture: `gpt2` with merges and `pre`, or `llama` with scores that
    /// rank merges as the fixture's merge list does.
    static func metadata(_ fixture: String, model: String, pre: String) throws -> Metadata {
        let v = try vocabulary(fixture)
        var m: Metadata = [
            "tokenizer.ggml.model": .string(model), "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": strings(v.tokens),
        ]
        var types = v.types
        if model == "llama" {
            var scores: [MetadataValue] = []
            for (i, t) in v.tokens.enumerated() {
                if Verify.Decoder.byteToken(t) != nil { types[i] = 6 }
                if t == "<unk>" { types[i] = 2 }
                scores.append(.float32(-Float(v.mergeRank[t] ?? 0)))
            }
            m["tokenizer.ggml.scores"] = .array(scores, elementType: .float32)
            m["tokenizer.ggml.bos_token_id"] = .uint32(1)
            m["tokenizer.ggml.eos_token_id"] = .uint32(2)
            m["tokenizer.ggml.unknown_token_id"] = .uint32(0)
        } else {
            m["tokenizer.ggml.merges"] = strings(v.merges)
            if pre == "llama-bpe" { m["tokenizer.ggml.bos_token_id"] = .uint32(0) }
        }
        m["tokenizer.ggml.token_type"] = .array(types.map { .int32($0) }, elementType: .int32)
        return m
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var fixture: String, model: String, pre: String
        var testDescription: String { "\(fixture) as \(model)/\(pre)" }
    }

    static let cases = [
        Case(fixture: "gpt2_bpe", model: "gpt2", pre: "gpt-2"),
        Case(fixture: "llama3_bpe", model: "gpt2", pre: "llama-bpe"),
        Case(fixture: "qwen2_bpe", model: "gpt2", pre: "qwen2"),
        Case(fixture: "llama2_spm", model: "llama", pre: "default"),
    ]

    /// Texts of the fixture's recorded cases; for llama3_bpe, without those that hit added
    /// tokens with lstrip/rstrip/single-word flags (a GGUF does not keep those flags).
    static func texts(_ fixture: String) throws -> [String] {
        let root = try JSON.parse(
            try String(
                contentsOfFile: TestPaths.fixture("tokenizers/expected.json"), encoding: .utf8))
        let all = (root[fixture]?["cases"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        guard fixture == "llama3_bpe" else { return all }
        return all.filter { t in
            ![" world", "[CLS]", "lazy", "<|im_end|>"].contains { t.contains($0) }
        }
    }

    @Test(
        "ckpt's own tokenizer reads the rebuilt tokenizer.json and gives the GGUF vocabulary's ids",
        arguments: cases)
    func swiftParity(_ c: Case) throws {
        let m = try Self.metadata(c.fixture, model: c.model, pre: c.pre)
        let rebuilt = try GGUFImportTokenizer(metadata: m, contextLength: 128, file: "mem.gguf")
        let text = MetadataValue.object(rebuilt.tokenizer).jsonString()
        let ours = try Tokenizers.load(tokenizerJSON: ByteBuffer(copying: Array(text.utf8)))
        let gguf = try Tokenizers.load(ggufMetadata: m)
        let texts = try Self.texts(c.fixture)
        #expect(texts.count > 50)
        // qwen2's tokenizer.json normalizes to NFC (as the original does); llama.cpp does not.
        for t in texts
        where c.pre != "qwen2"
            || Array(t.precomposedStringWithCanonicalMapping.unicodeScalars)
                == Array(t.unicodeScalars)
        {
            #expect(
                ours.encode(t, addSpecialTokens: true) == gguf.encode(t, addSpecialTokens: true),
                "\(t.debugDescription)")
        }
    }

    @Test(
        "tokenizers gives the original tokenizer.json's ids and text with the rebuilt one",
        .enabled(if: Python.has("tokenizers")), arguments: cases)
    func pythonParity(_ c: Case) throws {
        let m = try Self.metadata(c.fixture, model: c.model, pre: c.pre)
        let rebuilt = try GGUFImportTokenizer(metadata: m, contextLength: 128, file: "mem.gguf")
        let dir = TestPaths.temporaryDirectory("gguf-import-tokenizer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MetadataValue.object(rebuilt.tokenizer).jsonString()
            .write(toFile: dir + "/tokenizer.json", atomically: true, encoding: .utf8)
        try MetadataValue.array(try Self.texts(c.fixture).map { .string($0) }).jsonString()
            .write(toFile: dir + "/texts.json", atomically: true, encoding: .utf8)
        let script = #"""
            import sys, json
            from tokenizers import Tokenizer
            original = Tokenizer.from_file(sys.argv[1]); ours = Tokenizer.from_file(sys.argv[2])
            bad = 0
            for s in json.load(open(sys.argv[3])):
                for special in (False, True):
                    a = original.encode(s, add_special_tokens=special).ids
                    b = ours.encode(s, add_special_tokens=special).ids
                    if a != b: bad += 1; print("ids", special, repr(s), a, b)
                    if original.decode(a, skip_special_tokens=False) != ours.decode(a, skip_special_tokens=False):
                        bad += 1; print("text", repr(s))
            print("mismatches", bad)
            """#
        let r = try Python.run(
            script,
            [
                TestPaths.fixture("tokenizers/\(c.fixture).json"), dir + "/tokenizer.json",
                dir + "/texts.json",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("mismatches 0"), "\(r.stdout)")
    }

    @Test("Missing or unknown pieces are refused with the key named, never guessed")
    func refused() throws {
        var m = try Self.metadata("gpt2_bpe", model: "gpt2", pre: "gpt-2")
        m["tokenizer.ggml.pre"] = .string("default")
        #expect(throws: ConvertError.self) {
            try GGUFImportTokenizer(metadata: m, contextLength: nil, file: "x")
        }
        m["tokenizer.ggml.pre"] = .string("gpt-2")
        m["tokenizer.ggml.merges"] = .array([.string("nospace")])
        #expect { try GGUFImportTokenizer(metadata: m, contextLength: nil, file: "x") } throws: {
            e in
            "\(e)".contains("tokenizer.ggml.merges[0]")
        }
        m.removeValue(forKey: "tokenizer.ggml.model")
        #expect { try GGUFImportTokenizer(metadata: m, contextLength: nil, file: "x") } throws: {
            e in
            "\(e)".contains("tokenizer.ggml.model")
        }
    }

    @Test("Flipped or cut tokenizer metadata is either rebuilt or refused, never a crash")
    func robustness() throws {
        let base = try Self.metadata("llama2_spm", model: "llama", pre: "default")
        let keys = Array(base.keys)
        for (k, key) in keys.enumerated() {
            for variant in 0..<4 {
                var m = base
                switch variant {
                case 0: m.removeValue(forKey: key)
                case 1: m[key] = .string("x")
                case 2: m[key] = .array([.int32(-1), .string("a b")])
                default: m[key] = .uint32(UInt32(k * 1000))
                }
                _ = try? GGUFImportTokenizer(metadata: m, contextLength: nil, file: "x")
            }
        }
    }
}
