import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// The cases `make_tokenizers.py` recorded with Hugging Face `tokenizers`.
struct TokenizerFixture: Sendable {
    struct Case: Sendable {
        var text: String
        var ids: [Int]
        var idsSpecial: [Int]
        var decoded: String
        var decodedSpecial: String
    }
    var name: String
    var file: String
    var cases: [Case]

    static let all: [String: TokenizerFixture] = {
        guard
            let data = FileManager.default.contents(
                atPath: TestPaths.fixture("tokenizers/expected.json")),
            let root = try? JSON.parse(String(decoding: data, as: UTF8.self)),
            let object = root.objectValue
        else { return [:] }
        var out: [String: TokenizerFixture] = [:]
        for (name, entry) in object {
            let cases = (entry["cases"]?.arrayValue ?? []).map { c in
                Case(
                    text: c["text"]?.stringValue ?? "", ids: ints(c["ids"]),
                    idsSpecial: ints(c["ids_special"]),
                    decoded: c["decoded"]?.stringValue ?? "",
                    decodedSpecial: c["decoded_special"]?.stringValue ?? "")
            }
            out[name] = TokenizerFixture(
                name: name, file: entry["file"]?.stringValue ?? "", cases: cases)
        }
        return out
    }()

    static func ints(_ v: MetadataValue?) -> [Int] {
        (v?.arrayValue ?? []).compactMap { $0.intValue.map { Int($0) } }
    }

    static func named(_ name: String) throws -> TokenizerFixture {
        try #require(all[name], "fixture \(name) missing from expected.json")
    }
}

/// Compares every case of `fixture` with `tokenizer`, recording the first few differences.
func expectParity(_ tokenizer: any Tokenizer, _ fixture: TokenizerFixture, decode: Bool = true) {
    #expect(!fixture.cases.isEmpty)
    for c in fixture.cases {
        let ids = tokenizer.encode(c.text, addSpecialTokens: false)
        #expect(ids == c.ids, "\(fixture.name): ids of \(c.text.debugDescription)")
        let special = tokenizer.encode(c.text, addSpecialTokens: true)
        #expect(
            special == c.idsSpecial,
            "\(fixture.name): ids with special tokens of \(c.text.debugDescription)")
        guard decode else { continue }
        #expect(
            tokenizer.decode(c.idsSpecial, skipSpecialTokens: true) == c.decoded,
            "\(fixture.name): decode(skip) of \(c.text.debugDescription)")
        #expect(
            tokenizer.decode(c.idsSpecial, skipSpecialTokens: false) == c.decodedSpecial,
            "\(fixture.name): decode of \(c.text.debugDescription)")
    }
}

@Suite("Tokenizer parity with Hugging Face tokenizers")
struct TokenizerParityTests {
    @Test(
        "tokenizer.json fixtures give the ids and text of tokenizers",
        arguments: [
            "gpt2_bpe", "roberta_bpe", "llama3_bpe", "qwen2_bpe", "llama2_spm", "metaspace_bpe",
            "bert_wordpiece",
            "normalizers_wordpiece", "metaspace_always",
        ])
    func fixture(name: String) throws {
        let fixture = try TokenizerFixture.named(name)
        let tokenizer = try Tokenizers.load(tokenizerJSON: TestPaths.fixture(fixture.file))
        expectParity(tokenizer, fixture)
    }

    @Test(
        "all-MiniLM-L6-v2's tokenizer.json gives the ids of tokenizers",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func miniLM() throws {
        let dir = try #require(TestPaths.model("all-minilm-l6-v2"))
        let tokenizer = try Tokenizers.load(modelDirectory: dir)
        expectParity(tokenizer, try TokenizerFixture.named("all_minilm_l6_v2"))
        #expect(tokenizer.vocabularySize == 30522)
    }

    @Test(
        "SmolLM2's GGUF vocabulary gives the ids of its tokenizer",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smolLM2GGUF() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let tokenizer = try Tokenizers.load(gguf: try GGUFFile(path: path))
        expectParity(tokenizer, try TokenizerFixture.named("smollm2_gguf"))
        #expect(tokenizer.vocabularySize == 49152)
    }
}
