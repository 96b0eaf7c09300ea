import Compute
import Foundation
import Formats
import Testing
import TestSupport

@testable import Verify

/// A model whose output row is a fixed function of the token alone (no position): windows
/// cannot change its statistics, and its vocabulary can be anything.
private struct TableModel: LanguageModel {
    var vocabularySize: Int
    var outputWidth: Int { vocabularySize }
    var table: [Float]

    init(vocabulary: Int, seed: Float, scale: Float = 1) {
        vocabularySize = vocabulary
        table = (0..<vocabulary * vocabulary).map { i in
            scale * sin(Float(i) * 0.37 + seed) * 3
        }
    }

    func forward(tokens: [Int32]) throws(ComputeError) -> Tensor {
        let t = try Tensor(table, shape: [vocabularySize, vocabularySize])
        return try t.take(Tensor(int32s: tokens, shape: [tokens.count]), axis: 0)
    }
}

@Suite("Verification")
struct VerificationTests {
    static let models = TestPaths.fixture("models")
    static let ids: [Int32] = [1, 5, 17, 100, 42, 99, 3, 127, 64, 8, 77, 31, 2, 90, 45, 12]

    @Test("a model against itself: KL 0, top-1 1, no error, equal perplexities, passed")
    func identical() throws {
        let model = try ModelRegistry.load(path: Self.models + "/llama_gqa")
        let r = try Verification.run(
            reference: model, candidate: model, tokens: Self.ids,
            options: .init(thresholds: .init(maxKL: 0, minTop1: 1)))
        let s = r.statistics
        #expect(s.tokens == Self.ids.count)
        #expect(s.klMean == 0 && s.klMax == 0)
        #expect(s.top1Agreement == 1)
        #expect(s.maxAbsError == 0 && s.meanAbsError == 0)
        #expect(abs(s.cosineMin - 1) < 1e-12)
        #expect(s.pplRef == s.pplCand && (s.pplRef ?? 0) > 1)
        #expect(r.passed && r.failures.isEmpty)
    }

    @Test(
        "statistics equal numpy's from the two logits arrays (MLX 4-bit against F32)",
        .enabled(if: Python.available))
    func numpyOracle() throws {
        let ref = try ModelRegistry.load(path: Self.models + "/llama_gqa")
        let cand = try ModelRegistry.load(path: Self.models + "/llama_gqa_mlx")
        let r = try Verification.run(reference: ref, candidate: cand, tokens: Self.ids)
        let dir = TestPaths.temporaryDirectory()
        try ForwardPass.write(ForwardPass.run(ref, tokens: Self.ids), to: dir + "/r.npy")
        try ForwardPass.write(ForwardPass.run(cand, tokens: Self.ids), to: dir + "/c.npy")
        let py = try Python.run(
            """
            import sys, json, numpy as np
            r = np.load(sys.argv[1]).astype(np.float64); c = np.load(sys.argv[2]).astype(np.float64)
            ids = [int(x) for x in sys.argv[3].split(',')]
            def logsoftmax(x):
                m = x.max(-1, keepdims=True); return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
            lp, lq = logsoftmax(r), logsoftmax(c)
            kl = (np.exp(lp) * (lp - lq)).sum(-1)
            t = np.array(ids[1:])
            cos = (r * c).sum(-1) / np.sqrt((r * r).sum(-1) * (c * c).sum(-1))
            print(json.dumps({
              "kl_mean": kl.mean(), "kl_max": kl.max(),
              "top1": float((r.argmax(-1) == c.argmax(-1)).mean()),
              "ppl_ref": float(np.exp(-lp[np.arange(len(t)), t].mean())),
              "ppl_cand": float(np.exp(-lq[np.arange(len(t)), t].mean())),
              "max_abs": float(np.abs(r - c).max()), "mean_abs": float(np.abs(r - c).mean()),
              "cos_min": float(cos.min())}))
            """,
            [dir + "/r.npy", dir + "/c.npy", Self.ids.map(String.init).joined(separator: ",")])
        try #require(py.status == 0, "\(py.stderr)")
        let o = try #require(
            JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: Double])
        let s = r.statistics
        func close(_ a: Double?, _ key: String) -> Bool {
            guard let a, let b = o[key] else { return false }
            return abs(a - b) <= 1e-9 * max(1, abs(b))
        }
        #expect(close(s.klMean, "kl_mean"))
        #expect(close(s.klMax, "kl_max"))
        #expect(close(s.top1Agreement, "top1"))
        #expect(close(s.pplRef, "ppl_ref"))
        #expect(close(s.pplCand, "ppl_cand"))
        #expect(close(s.maxAbsError, "max_abs"))
        #expect(close(s.meanAbsError, "mean_abs"))
        #expect(close(s.cosineMin, "cos_min"))
        // The quantized candidate really differs: the check above compared non-trivial values.
        #expect((s.klMean ?? 0) > 0.01)
    }

    @Test(
        "windows cover every position once and predict across window borders",
        arguments: [1, 3, 5, 16, 512])
    func windows(size: Int) throws {
        let a = TableModel(vocabulary: 40, seed: 0)
        let b = TableModel(vocabulary: 40, seed: 0.2)
        let tokens: [Int32] = (0..<16).map { Int32($0 * 7 % 40) }
        let whole = try Verification.run(
            reference: a, candidate: b, tokens: tokens, options: .init(windowSize: 10_000))
        let split = try Verification.run(
            reference: a, candidate: b, tokens: tokens, options: .init(windowSize: size))
        #expect(split.windows == (16 + size - 1) / size)
        #expect(split.statistics.tokens == 16)
        let x = whole.statistics
        let y = split.statistics
        #expect(abs((x.klMean ?? 0) - (y.klMean ?? 1)) < 1e-12)
        #expect(x.top1Agreement == y.top1Agreement)
        #expect(abs((x.pplRef ?? 0) - (y.pplRef ?? 1)) < 1e-9)
        #expect(abs((x.pplCand ?? 0) - (y.pplCand ?? 1)) < 1e-9)
        #expect(x.maxAbsError == y.maxAbsError && x.cosineMin == y.cosineMin)
    }

    @Test("thresholds: a missed one fails with a sentence; NaN never passes")
    func thresholds() throws {
        var s = VerificationStatistics(
            tokens: 4, outputsLogits: true, maxAbsError: 1, meanAbsError: 0.1, cosineMin: 0.9)
        s.klMean = 0.2
        s.top1Agreement = 0.75
        let t = VerificationThresholds(maxKL: 0.1, minTop1: 0.8, minCosine: 0.95)
        let f = t.failures(s)
        #expect(f.count == 3)
        #expect(f[0].hasPrefix("kl_mean 0.2 > 0.1"))
        #expect(VerificationThresholds(maxKL: 0.3, minTop1: 0.7).failures(s).isEmpty)
        s.klMean = .nan
        #expect(VerificationThresholds(maxKL: 1e9).failures(s).count == 1)
        s.nonFinite = true
        #expect(!VerificationThresholds().failures(s).isEmpty)
    }

    @Test("a candidate that outputs NaN is reported non-finite and fails")
    func nonFinite() throws {
        let a = TableModel(vocabulary: 8, seed: 0)
        var b = a
        b.table[3] = .nan
        let r = try Verification.run(reference: a, candidate: b, tokens: [0, 1, 2])
        #expect(r.statistics.nonFinite)
        #expect(!r.passed)
        #expect(r.statistics.klMean?.isNaN == true)
    }

    @Test("different vocabularies are refused before anything runs")
    func vocabularyMismatch() throws {
        let a = TableModel(vocabulary: 8, seed: 0)
        let b = TableModel(vocabulary: 9, seed: 0)
        #expect {
            try Verification.run(reference: a, candidate: b, tokens: [1, 2], names: ("A", "B"))
        } throws: { e in
            "\(e)".contains("vocabulary mismatch: A has 8 tokens") && "\(e)".contains("B has 9")
        }
    }

    @Test("without a tokenizer the probe falls back to fixed ids spread over the vocabulary")
    func syntheticProbe() throws {
        let (ids, from) = try Verification.resolve(
            .probe, reference: Self.models + "/llama_gqa", candidate: Self.models + "/llama_tied",
            vocabularySize: 128)
        #expect(from == "synthetic ids")
        #expect(ids == Verification.syntheticTokens(vocabularySize: 128))
        #expect(ids.count == 128 && Set(ids).count > 100 && ids.allSatisfy { $0 >= 0 && $0 < 128 })
        #expect(throws: FormatError.self) {
            try Verification.resolve(
                .text("hi"), reference: Self.models + "/llama_gqa",
                candidate: Self.models + "/llama_tied", vocabularySize: 128)
        }
    }

    @Test(
        "a GGUF with a vocabulary: the probe text is tokenized with it",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func probeText() throws {
        let gguf = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let (ids, from) = try Verification.resolve(
            .probe, reference: gguf, candidate: gguf, vocabularySize: 49152)
        #expect(from == "probe text")
        #expect(ids.count > 100 && ids.count < 512)
    }

    @Test(
        "an encoder (BERT): hidden-state metrics only; KL thresholds are refused",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func encoder() throws {
        let path = try #require(TestPaths.model("all-minilm-l6-v2"))
        let model = try ModelRegistry.load(path: path)
        let r = try Verification.run(
            reference: model, candidate: model, tokens: [101, 7592, 2088, 102],
            options: .init(thresholds: .init(minCosine: 0.999)))
        #expect(!r.statistics.outputsLogits)
        #expect(r.statistics.klMean == nil && r.statistics.top1Agreement == nil)
        #expect(r.statistics.maxAbsError == 0 && r.passed)
        #expect(r.windowSize == 512)
        #expect(throws: FormatError.self) {
            try Verification.run(
                reference: model, candidate: model, tokens: [101, 102],
                options: .init(thresholds: .init(maxKL: 0.1)))
        }
    }
}
