import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

@Suite("Hostile tokenizer files")
struct TokenizerRobustnessTests {
    static let minimal = #"""
        {"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},
         "post_processor":null,"decoder":{"type":"ByteLevel"},
         "model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}
        """#

    func load(_ text: String) throws(FormatError) -> any Tokenizer {
        try Tokenizers.load(
            tokenizerJSON: ByteBuffer(copying: Array(text.utf8), name: "tokenizer.json"))
    }

    func error(_ text: String) -> FormatError? {
        do {
            _ = try load(text)
            return nil
        } catch { return error }
    }

    @Test("a minimal file loads and merges")
    func minimalLoads() throws {
        let t = try load(Self.minimal)
        #expect(t.encode("abab", addSpecialTokens: true) == [2, 2])
        #expect(t.decode([2, 0], skipSpecialTokens: false) == "aba")
        #expect(t.vocabularySize == 3)
    }

    @Test(
        "malformed or unsupported parts are refused, naming the field",
        arguments: [
            (#""merges":["a b"]"#, #""merges":["a c"]"#, "model.merges[0]"),
            (#""merges":["a b"]"#, #""merges":["ab"]"#, "model.merges[0]"),
            (#""merges":["a b"]"#, #""merges":[["a"]]"#, "model.merges[0]"),
            (#""ab":2"#, #""ab":-2"#, "model.vocab.ab"),
            (#""ab":2"#, #""ab":99999999999"#, "model.vocab.ab"),
            (#""ab":2"#, #""ab":"2""#, "model.vocab.ab"),
            (#""type":"BPE""#, #""type":"Unigram""#, "model.type"),
            (
                #""type":"ByteLevel","add"#, #""type":"Split","pattern":{"Regex":"\\s+"},"add"#,
                "pre_tokenizer.pattern"
            ),
            (#""type":"ByteLevel","add"#, #""type":"Fancy","add"#, "pre_tokenizer.type"),
            (#""added_tokens":[]"#, #""added_tokens":[{"content":"x"}]"#, "added_tokens[0].id"),
            (
                #""normalizer":null"#,
                #""normalizer":{"type":"Replace","pattern":{"Regex":"x"},"content":""}"#,
                "normalizer.pattern"
            ),
            (
                #""post_processor":null"#,
                #""post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}}],"special_tokens":{}}"#,
                "post_processor.single[0].SpecialToken"
            ),
            (#""decoder":{"type":"ByteLevel"}"#, #""decoder":{"type":"CTC"}"#, "decoder.type"),
        ])
    func refused(original: String, replacement: String, field: String) throws {
        #expect(Self.minimal.contains(original))
        let e = try #require(
            error(Self.minimal.replacingOccurrences(of: original, with: replacement)))
        #expect(e.field == field)
        #expect(e.file == "tokenizer.json")
    }

    @Test("truncated JSON is an error at its offset")
    func truncated() throws {
        let text = String(Self.minimal.prefix(19))
        #expect(text.hasSuffix("[],"))
        let e = try #require(error(text))
        #expect(e.offset == 19)
    }

    @Test("flipped and truncated bytes of a real fixture load or throw, never crash")
    func mutations() throws {
        let bytes = try #require(
            FileManager.default.contents(atPath: TestPaths.fixture("tokenizers/llama3_bpe.json")))
        let original = [UInt8](bytes)
        var loaded = 0, refused = 0
        for position in stride(from: 0, to: original.count, by: max(1, original.count / 300)) {
            for variant in 0..<3 {
                var b = original
                switch variant {
                case 0: b[position] ^= 0x01
                case 1: b[position] = UInt8(ascii: "9")
                default: b = Array(b[..<position])
                }
                do {
                    let t = try Tokenizers.load(
                        tokenizerJSON: ByteBuffer(copying: b, name: "m.json"))
                    let ids = t.encode(
                        "Hello <|im_start|> world 123 😶\u{200d}🌫️", addSpecialTokens: true)
                    _ = t.decode(ids + [-1, Int.max, t.vocabularySize], skipSpecialTokens: false)
                    loaded += 1
                } catch {
                    refused += 1
                }
            }
        }
        #expect(loaded > 0 && refused > 0)
    }
}

@Suite("Hostile GGUF tokenizer metadata")
struct GGUFTokenizerRobustnessTests {
    static let base: Metadata = [
        "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("gpt-2"),
        "tokenizer.ggml.tokens": GGUFVocabulary.strings(["a", "b", "ab"]),
        "tokenizer.ggml.merges": GGUFVocabulary.strings(["a b"]),
    ]

    func error(_ change: (inout Metadata) -> Void) -> FormatError? {
        var m = Self.base
        change(&m)
        do {
            _ = try Tokenizers.load(ggufMetadata: m, file: "model.gguf")
            return nil
        } catch { return error }
    }

    @Test("the base metadata loads")
    func loads() throws {
        let t = try Tokenizers.load(ggufMetadata: Self.base)
        #expect(t.encode("ab", addSpecialTokens: false) == [2])
    }

    @Test(
        "missing, malformed and unknown keys are refused, naming the key",
        arguments: [
            ("tokenizer.ggml.model", MetadataValue?.none),
            ("tokenizer.ggml.model", .string("t5")),
            ("tokenizer.ggml.pre", .string("mystery")),
            ("tokenizer.ggml.tokens", nil),
            ("tokenizer.ggml.tokens", .string("a")),
            ("tokenizer.ggml.merges", nil),
            ("tokenizer.ggml.merges", GGUFVocabulary.strings(["a c"])),
            ("tokenizer.ggml.token_type", GGUFVocabulary.int32s([1, 9, 1])),
            ("tokenizer.ggml.token_type", GGUFVocabulary.int32s([1])),
            ("tokenizer.ggml.add_bos_token", .uint8(1)),
        ])
    func refused(key: String, value: MetadataValue?) throws {
        let e = try #require(error { $0[key] = value })
        #expect(e.field?.hasPrefix(key) == true)
        #expect(e.file == "model.gguf")
    }

    @Test("duplicate tokens are refused (llama.cpp rejects them)")
    func duplicates() throws {
        let e = try #require(
            error { $0["tokenizer.ggml.tokens"] = GGUFVocabulary.strings(["a", "b", "a"]) })
        #expect(e.field == "tokenizer.ggml.tokens[2]")
    }

    @Test("out-of-range special ids are ignored, as llama.cpp does")
    func outOfRangeIDs() throws {
        var m = Self.base
        m["tokenizer.ggml.bos_token_id"] = .uint32(4_000_000_000)
        m["tokenizer.ggml.add_bos_token"] = .bool(true)
        let t = try Tokenizers.load(ggufMetadata: m)
        #expect(t.encode("ab", addSpecialTokens: true) == [2])
    }
}

/// Large inputs (100 KB): correctness only; speed is measured by `make bench`, never here.
@Suite("Tokenizers on large inputs")
struct TokenizerLargeInputTests {
    static let text: String = {
        let sample =
            TokenizerFixture.all["gpt2_bpe"]?.cases.map(\.text).joined(separator: "\n")
            ?? "Hello world. "
        var s = ""
        while s.utf8.count < 100_000 { s += sample }
        return s
    }()

    @Test("100 KB encodes to many tokens and decodes back", arguments: ["llama2_spm", "llama3_bpe"])
    func fixture(name: String) throws {
        let t = try Tokenizers.load(tokenizerJSON: TestPaths.fixture("tokenizers/\(name).json"))
        let ids = t.encode(Self.text, addSpecialTokens: false)
        #expect(ids.count > 10_000)
        #expect(ids.allSatisfy { $0 >= 0 && $0 < t.vocabularySize })
    }

    @Test(
        "100 KB with SmolLM2's 49k vocabulary round-trips through decode",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smolLM2() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let t = try Tokenizers.load(gguf: try GGUFFile(path: path))
        let ids = t.encode(Self.text, addSpecialTokens: false)
        #expect(ids.count > 10_000)
        #expect(t.decode(ids, skipSpecialTokens: false) == Self.text)
    }
}
