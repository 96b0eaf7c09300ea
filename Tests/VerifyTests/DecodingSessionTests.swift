import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// Incremental decoding against the whole-sequence forward pass: with a causal mask, row i
/// of `forward(tokens)` is what decoding must give after token i.
@Suite("Decoding session (KV cache)")
struct DecodingSessionTests {
    static let models = TestPaths.fixture("models")
    static let fixtures = [
        "llama_gqa", "llama_tied", "mistral", "qwen2", "llama_gqa_mlx", "llama_gqa.gguf",
    ]

    static func llama(_ path: String) throws -> LlamaModel {
        try #require(try ModelRegistry.load(path: path) as? LlamaModel)
    }

    /// Decodes `tokens` as a prefill of `chunks[0]` tokens, then further calls of the
    /// following sizes (1 is a step), and checks every call's logits against `reference`.
    static func check(
        _ model: LlamaModel, tokens: [Int32], chunks: [Int], reference: [Float],
        tolerance: Float = 1e-4
    ) throws {
        let v = model.vocabularySize
        let session = try DecodingSession(model: model, maxLength: tokens.count)
        var at = 0
        for n in chunks {
            let logits =
                n == 1
                ? try session.step(tokens[at]) : try session.prefill(Array(tokens[at..<(at + n)]))
            at += n
            #expect(session.position == at)
            let row = Array(reference[((at - 1) * v)..<(at * v)])
            let err = FixtureArrays.relativeError(logits, row)
            #expect(err < tolerance, "after \(at) tokens (chunks \(chunks)): \(err)")
        }
        #expect(at == tokens.count)
    }

    @Test(
        "Prefill + one-token steps give the full forward's logits at every position (1e-4)",
        arguments: fixtures)
    func stepsMatchForward(model name: String) throws {
        let model = try Self.llama(Self.models + "/" + name)
        let tokens = try FixtureArrays.int32s(Self.models + "/tokens.npy")
        let reference = try ForwardPass.run(model, tokens: tokens).floats
        let n = tokens.count
        try #require(n >= 8)
        // Steps only; a prefill then steps; a long prefill then a short chunked one.
        try Self.check(
            model, tokens: tokens, chunks: Array(repeating: 1, count: n), reference: reference)
        try Self.check(
            model, tokens: tokens, chunks: [3] + Array(repeating: 1, count: n - 3),
            reference: reference)
        try Self.check(model, tokens: tokens, chunks: [5, 2, n - 7], reference: reference)
        try Self.check(model, tokens: tokens, chunks: [n], reference: reference)
    }

    @Test(
        "Greedy generation equals argmax over repeated full forwards",
        arguments: ["llama_gqa", "qwen2"])
    func greedyMatchesForward(model name: String) throws {
        let model = try Self.llama(Self.models + "/" + name)
        let prompt: [Int32] = [1, 5, 17, 100]
        let session = try DecodingSession(model: model, maxLength: 16)
        let result = try session.generate(prompt: prompt, maxTokens: 8)
        var ids = prompt
        for _ in 0..<8 {
            let logits = try ForwardPass.run(model, tokens: ids).floats
            ids.append(DecodingSession.argmax(Array(logits.suffix(model.vocabularySize))))
        }
        #expect(result.ids == Array(ids.dropFirst(prompt.count)))
        #expect(result.steps == 7)
        #expect(result.promptCount == 4)
        // A second generation resets the cache and gives the same ids.
        #expect(try session.generate(prompt: prompt, maxTokens: 8).ids == result.ids)
        // Early stop on a stop token (included).
        let stopped = try session.generate(prompt: prompt, maxTokens: 8, stop: [result.ids[2]])
        #expect(stopped.ids == Array(result.ids.prefix(3)))
    }

    @Test("Overflowing the cache or a bad id throws and leaves the cache as it was")
    func errors() throws {
        let model = try Self.llama(Self.models + "/llama_gqa")
        let session = try DecodingSession(model: model, maxLength: 4)
        _ = try session.prefill([1, 2, 3])
        #expect(throws: ComputeError.self) { try session.prefill([4, 5]) }
        #expect(throws: ComputeError.self) { try session.step(Int32(model.vocabularySize)) }
        #expect(throws: ComputeError.self) { try session.prefill([]) }
        #expect(session.position == 3)
        _ = try session.step(4)
        #expect(session.position == 4)
        #expect(throws: ComputeError.self) { try session.step(1) }
        #expect(throws: ComputeError.self) { try session.generate(prompt: [1, 2], maxTokens: 3) }
        #expect(throws: ComputeError.self) { try DecodingSession(model: model, maxLength: 0) }
        session.reset()
        #expect(session.position == 0)
    }

    @Test(
        "SmolLM2-135M (GGUF Q4_1): steps match the forward pass and greedy ids match transformers",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smollm2() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let model = try Self.llama(path)
        let ref = try ArchitectureSmolLM2Tests.reference()
        let tokens = ref.tokens + Array(ref.greedy.prefix(3))
        let reference = try ForwardPass.run(model, tokens: tokens).floats
        try Self.check(
            model, tokens: tokens, chunks: [ref.tokens.count, 1, 1, 1], reference: reference)
        let session = try DecodingSession(model: model, maxLength: 64)
        let result = try session.generate(prompt: ref.tokens, maxTokens: ref.greedy.count)
        #expect(result.ids == ref.greedy)
        #expect(result.prefillTokensPerSecond > 0 && result.decodeTokensPerSecond > 0)
    }
}
