import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// GGUF tokenizer metadata made from a fixture's tokenizer.json the way llama.cpp's
/// converter lays it out (formats-gguf.md §5.2, §5.3), so the GGUF path can be checked
/// against the ids `tokenizers` recorded for that same vocabulary.
enum GGUFVocabulary {
    struct Vocabulary {
        var tokens: [String]
        var types: [Int32]
        var merges: [String]
        var mergeRank: [String: Int]
    }

    static func read(_ path: String) throws -> Vocabulary {
        let root = try JSON.parse(try String(contentsOfFile: path, encoding: .utf8))
        let model = try #require(root["model"])
        var byID: [Int: String] = [:]
        for (token, id) in try #require(model["vocab"]?.objectValue) {
            byID[Int(try #require(id.intValue))] = token
        }
        var types: [Int: Int32] = [:]
        for t in root["added_tokens"]?.arrayValue ?? [] {
            let id = Int(try #require(t["id"]?.intValue))
            byID[id] = try #require(t["content"]?.stringValue)
            types[id] = t["special"]?.boolValue == true ? 3 : 4
        }
        let n = (byID.keys.max() ?? -1) + 1
        var merges: [String] = []
        var rank: [String: Int] = [:]
        for (i, m) in (model["merges"]?.arrayValue ?? []).enumerated() {
            let pair = (m.arrayValue ?? []).compactMap { $0.stringValue }
            try #require(pair.count == 2)
            merges.append(pair[0] + " " + pair[1])
            if rank[pair[0] + pair[1]] == nil { rank[pair[0] + pair[1]] = i }
        }
        return Vocabulary(
            tokens: (0..<n).map { byID[$0] ?? "[PAD\($0)]" }, types: (0..<n).map { types[$0] ?? 1 },
            merges: merges,
            mergeRank: rank)
    }

    static func strings(_ a: [String]) -> MetadataValue {
        .array(a.map { .string($0) }, elementType: .string)
    }
    static func int32s(_ a: [Int32]) -> MetadataValue {
        .array(a.map { .int32($0) }, elementType: .int32)
    }
}

@Suite("GGUF tokenizer metadata")
struct GGUFTokenizerTests {
    func cases(_ name: String, where keep: (String) -> Bool) throws -> TokenizerFixture {
        var f = try TokenizerFixture.named(name)
        f.cases = f.cases.filter { keep($0.text) }
        return f
    }

    @Test(
        "gpt2 vocabularies with their pre-tokenizer give the ids of tokenizers",
        arguments: [
            ("gpt2_bpe", "gpt-2"), ("gpt2_default_pre", "default"), ("llama3_bpe", "llama-bpe"),
            ("qwen2_bpe", "qwen2"),
        ])
    func gpt2(fixture: String, pre: String) throws {
        let v = try GGUFVocabulary.read(TestPaths.fixture(try TokenizerFixture.named(fixture).file))
        var metadata: Metadata = [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": GGUFVocabulary.strings(v.tokens),
            "tokenizer.ggml.token_type": GGUFVocabulary.int32s(v.types),
            "tokenizer.ggml.merges": GGUFVocabulary.strings(v.merges),
        ]
        if pre == "llama-bpe" { metadata["tokenizer.ggml.bos_token_id"] = .uint32(0) }
        let tokenizer = try Tokenizers.load(ggufMetadata: metadata)
        // GGUF keeps neither added-token flags (lstrip, single_word...) nor normalizers.
        let flagged = [" world", "[CLS]", "lazy", "<|im_end|>"]
        let fixture = try cases(fixture) { text in
            (pre != "llama-bpe" || !flagged.contains { text.contains($0) })
                && (pre != "qwen2"
                    || Array(text.precomposedStringWithCanonicalMapping.unicodeScalars)
                        == Array(text.unicodeScalars))
        }
        #expect(fixture.cases.count > 60)
        expectParity(tokenizer, fixture, decode: pre == "gpt-2" || pre == "default")
    }

    @Test(
        "a llama (SentencePiece) vocabulary with scores and byte tokens gives the ids of tokenizers"
    )
    func llama() throws {
        let v = try GGUFVocabulary.read(TestPaths.fixture("tokenizers/llama2_spm.json"))
        var types = v.types
        var scores: [MetadataValue] = []
        for (i, t) in v.tokens.enumerated() {
            if Decoder.byteToken(t) != nil { types[i] = 6 }
            if t == "<unk>" { types[i] = 2 }
            scores.append(.float32(-Float(v.mergeRank[t] ?? 0)))
        }
        let metadata: Metadata = [
            "tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.pre": .string("default"),
            "tokenizer.ggml.tokens": GGUFVocabulary.strings(v.tokens),
            "tokenizer.ggml.scores": .array(scores, elementType: .float32),
            "tokenizer.ggml.token_type": GGUFVocabulary.int32s(types),
            "tokenizer.ggml.bos_token_id": .uint32(1), "tokenizer.ggml.eos_token_id": .uint32(2),
            "tokenizer.ggml.unknown_token_id": .uint32(0),
        ]
        let tokenizer = try Tokenizers.load(ggufMetadata: metadata)
        expectParity(tokenizer, try TokenizerFixture.named("llama2_spm"))
    }

    @Test(
        "a bert vocabulary in phantom-space form gives all-MiniLM-L6-v2's ids",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func bert() throws {
        let dir = try #require(TestPaths.model("all-minilm-l6-v2"))
        let v = try GGUFVocabulary.read(dir + "/tokenizer.json")
        // convert_hf_to_gguf.py BertModel: "##x" → "x", "[X]" kept, other "w" → "▁w".
        let tokens = v.tokens.map { t in
            t.hasPrefix("[") && t.hasSuffix("]")
                ? t : t.hasPrefix("##") ? String(t.dropFirst(2)) : "\u{2581}" + t
        }
        let metadata: Metadata = [
            "tokenizer.ggml.model": .string("bert"),
            "tokenizer.ggml.tokens": GGUFVocabulary.strings(tokens),
            "tokenizer.ggml.token_type": GGUFVocabulary.int32s(v.types),
            "tokenizer.ggml.bos_token_id": .uint32(101),
            "tokenizer.ggml.seperator_token_id": .uint32(102),
            "tokenizer.ggml.unknown_token_id": .uint32(100),
        ]
        let tokenizer = try Tokenizers.load(ggufMetadata: metadata)
        expectParity(tokenizer, try TokenizerFixture.named("all_minilm_l6_v2"))
    }
}

@Suite("Tokenizer parity check")
struct TokenizerComparisonTests {
    func gguf(_ fixture: String, pre: String) throws -> any Tokenizer {
        let v = try GGUFVocabulary.read(TestPaths.fixture("tokenizers/\(fixture).json"))
        return try Tokenizers.load(ggufMetadata: [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": GGUFVocabulary.strings(v.tokens),
            "tokenizer.ggml.token_type": GGUFVocabulary.int32s(v.types),
            "tokenizer.ggml.merges": GGUFVocabulary.strings(v.merges),
        ])
    }

    @Test("a tokenizer.json and its faithful GGUF form agree on the probe corpus")
    func agree() throws {
        let json = try Tokenizers.load(tokenizerJSON: TestPaths.fixture("tokenizers/gpt2_bpe.json"))
        #expect(TokenizerComparison.firstMismatch(json, try gguf("gpt2_bpe", pre: "gpt-2")) == nil)
    }

    @Test("the wrong pre-tokenizer is caught on the first text where it matters")
    func disagree() throws {
        let json = try Tokenizers.load(tokenizerJSON: TestPaths.fixture("tokenizers/gpt2_bpe.json"))
        let wrong = try gguf("gpt2_bpe", pre: "smollm")  // digits split one by one
        let m = try #require(TokenizerComparison.firstMismatch(json, wrong))
        #expect(m.text.contains { $0.isNumber })
        #expect(m.reference == json.encode(m.text, addSpecialTokens: false))
        #expect(m.candidate != m.reference)
    }
}
