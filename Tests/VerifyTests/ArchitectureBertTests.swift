import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// all-MiniLM-L6-v2 (BERT) against transformers' `BertModel` (make_bert_reference.py).
@Suite("all-MiniLM-L6-v2")
struct ArchitectureBertTests {
    @Test(
        "The last hidden state is within 1e-4 of transformers'",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func minilm() throws {
        let model = try ModelRegistry.load(path: try #require(TestPaths.model("all-minilm-l6-v2")))
        #expect(model.outputWidth == 384)
        let tokens = try FixtureArrays.int32s(TestPaths.fixture("models/minilm.tokens.npy"))
        let expected = try FixtureArrays.floats(TestPaths.fixture("models/minilm.hidden.npy"))
        let out = try ForwardPass.run(model, tokens: tokens)
        #expect(out.shape == expected.shape)
        let err = FixtureArrays.relativeError(out.floats, expected.values)
        #expect(err < 1e-4, "relative error \(err)")
    }
}
