import Foundation
import Formats
import Testing
import TestSupport

@testable import Verify

/// A copy of `name` (a fixture tokenizer.json) with the merge `pair` removed.
func tokenizerWithoutMerge(_ name: String, _ pair: [String], in dir: String) throws -> String {
    let src = TestPaths.fixture("tokenizers/\(name).json")
    var root = try #require(
        JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src)))
            as? [String: Any])
    var model = try #require(root["model"] as? [String: Any])
    let merges = try #require(model["merges"] as? [[String]])
    let kept = merges.filter { $0 != pair }
    try #require(kept.count == merges.count - 1, "merge \(pair) not in \(name)")
    model["merges"] = kept
    root["model"] = model
    let out = dir + "/\(name)-changed.json"
    try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: out))
    return out
}

@Suite("Tokenizer verification")
struct TokenizerVerificationTests {
    @Test(
        "a tokenizer agrees with itself on every probe text, with and without specials",
        arguments: ["gpt2_bpe", "llama2_spm", "bert_wordpiece"])
    func same(name: String) throws {
        let path = TestPaths.fixture("tokenizers/\(name).json")
        let r = try TokenizerVerification.run(reference: path, candidate: path)
        #expect(r.passed && r.firstMismatch == nil)
        #expect(r.texts == 2 * TokenizerComparison.probeCorpus.count)
        #expect(r.agreeing == r.texts && r.agreement == 1)
        #expect(r.tokens > 100)
    }

    @Test("one merge removed: the first differing text and both id lists are reported")
    func changedMerge() throws {
        let dir = TestPaths.temporaryDirectory()
        let original = TestPaths.fixture("tokenizers/gpt2_bpe.json")
        let changed = try tokenizerWithoutMerge("gpt2_bpe", ["h", "e"], in: dir)
        let r = try TokenizerVerification.run(reference: original, candidate: changed)
        #expect(!r.passed)
        #expect(r.agreeing < r.texts)
        let m = try #require(r.firstMismatch)
        let a = try Tokenizers.load(tokenizerJSON: original)
        let b = try Tokenizers.load(tokenizerJSON: changed)
        #expect(m.reference == a.encode(m.text, addSpecialTokens: false))
        #expect(m.candidate == b.encode(m.text, addSpecialTokens: false))
        #expect(m.reference != m.candidate)
        // It is the first such text of the corpus.
        let first = TokenizerComparison.probeCorpus.first {
            a.encode($0, addSpecialTokens: false) != b.encode($0, addSpecialTokens: false)
        }
        #expect(m.text == first)
        let i = TokenizerVerification.firstDifference(m.reference, m.candidate)
        #expect(
            i < min(m.reference.count, m.candidate.count) ? m.reference[i] != m.candidate[i] : true)
        #expect(m.reference.prefix(i) == m.candidate.prefix(i))
    }

    @Test("firstDifference: a differing id, else the shorter length")
    func firstDifference() {
        #expect(TokenizerVerification.firstDifference([1, 2, 3], [1, 5, 3]) == 1)
        #expect(TokenizerVerification.firstDifference([1, 2], [1, 2, 3]) == 2)
        #expect(TokenizerVerification.firstDifference([], [4]) == 0)
    }
}
