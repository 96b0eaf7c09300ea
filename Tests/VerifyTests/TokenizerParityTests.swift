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

@Suite("llama.cpp's pre-tokenizer fingerprint")
struct PreTokenizerFingerprintTests {
    /// The check string of convert_hf_to_gguf_update.py (formats-gguf.md §5.4).
    static let checkText =
        "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u{200d}🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"

    @Test(
        "SmolLM2's GGUF vocabulary reproduces the hash llama.cpp records for 'smollm'",
        .enabled(if: Python.available && TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smollmHash() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let tokenizer = try Tokenizers.load(gguf: try GGUFFile(path: path))
        let ids = tokenizer.encode(Self.checkText, addSpecialTokens: true)
        // chkhsh = sha256(str(token_ids)): Python's list repr, ", " separated.
        let repr = "[" + ids.map(String.init).joined(separator: ", ") + "]"
        let r = try Python.run(
            "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", [repr])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249")
    }
}
