import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// The real SmolLM2-135M-Instruct (GGUF Q4_1, Q/K permuted, Q8_0 tied embedding) against
/// transformers run on the same dequantized weights (make_smollm2_reference.py).
@Suite("SmolLM2-135M from GGUF")
struct ArchitectureSmolLM2Tests {
    static let name = "smollm2-135m-instruct-q4_1.gguf"

    struct Position: Decodable {
        var top5: [Int]
        var top5_logits: [Float]
        var fixed_logits: [Float]
        var max_abs: Float
    }
    struct Reference: Decodable {
        var tokens: [Int32]
        var fixed_ids: [Int]
        var positions: [Position]
        var greedy: [Int32]
    }

    static func reference() throws -> Reference {
        let data = try Data(
            contentsOf: URL(fileURLWithPath: TestPaths.fixture("models/smollm2_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    @Test(
        "Logits agree with transformers on the dequantized weights to 1e-3; greedy tokens match",
        .enabled(if: TestPaths.model(name) != nil))
    func smollm2() throws {
        let ref = try Self.reference()
        let model = try ModelRegistry.load(path: try #require(TestPaths.model(Self.name)))
        #expect(model.vocabularySize == 49152)
        let out = try ForwardPass.run(model, tokens: ref.tokens)
        #expect(out.shape == [ref.tokens.count, 49152])
        let logits = out.floats
        for (t, p) in ref.positions.enumerated() {
            let row = Array(logits[(t * 49152)..<((t + 1) * 49152)])
            let tolerance = 1e-3 * p.max_abs
            for (id, expected) in zip(p.top5, p.top5_logits) {
                #expect(abs(row[id] - expected) <= tolerance, "position \(t), id \(id)")
            }
            for (id, expected) in zip(ref.fixed_ids, p.fixed_logits) {
                #expect(abs(row[id] - expected) <= tolerance, "position \(t), id \(id)")
            }
            let best = row.indices.max { row[$0] < row[$1] } ?? -1
            #expect(best == p.top5[0], "argmax at position \(t)")
        }
        // Greedy decoding, recomputing the whole sequence each step.
        var ids = ref.tokens
        for _ in ref.greedy {
            let last = try model.forward(tokens: ids).slice(
                axis: 0, start: ids.count - 1, end: ids.count)
            ids.append(try last.argmax(axis: -1).int32s()[0])
        }
        #expect(Array(ids.dropFirst(ref.tokens.count)) == ref.greedy)
    }
}
