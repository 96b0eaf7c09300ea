import Formats
import Testing
import TestSupport

import Verify

@testable import Convert

@Suite("Conversion verification policy")
struct ConversionVerificationTests {
    static let source = TestPaths.fixture("models/llama_gqa")

    func plan(_ destination: String, format: OutputFormat?, bits: Int? = nil) throws -> (
        ConversionPlan, any TensorSource
    ) {
        let src = try Checkpoint.open(Self.source)
        let request = ConversionRequest(
            source: Self.source, destination: destination, format: format, dtype: nil,
            affine: bits.map { .init(bits: $0, groupSize: 64) }, gguf: nil)
        return (try Planner.plan(request, source: src), src)
    }

    @Test("bits of a block type come from its name; dense types have none")
    func bits() {
        #expect(ConversionVerification.bits(of: .Q4_K) == 4)
        #expect(ConversionVerification.bits(of: .Q8_0) == 8)
        #expect(ConversionVerification.bits(of: .IQ2_XS) == 2)
        #expect(ConversionVerification.bits(of: .Q6_K) == 6)
        #expect(ConversionVerification.bits(of: .F16) == nil)
    }

    @Test("fewer bits, looser limits")
    func monotonic() throws {
        let t = (2...8).map { ConversionVerification.defaultThresholds(bits: $0) }
        for (a, b) in zip(t, t.dropFirst()) {
            #expect(try #require(a.maxKL) >= #require(b.maxKL))
            #expect(try #require(a.minTop1) <= #require(b.minTop1))
        }
    }

    @Test("quantized MLX: verified with its bits' limits, overrides win; no-verify skips")
    func quantized() throws {
        let (p, s) = try plan("/tmp/never-written", format: .mlx, bits: 4)
        #expect(ConversionVerification.quantizedBits(p) == 4)
        let d = try ConversionVerification.decide(p, source: s, mode: nil)
        #expect(d == .verify(ConversionVerification.defaultThresholds(bits: 4)))
        let o = try ConversionVerification.decide(
            p, source: s, mode: nil, overrides: .init(maxKL: 0.5))
        #expect(o == .verify(.init(maxKL: 0.5, minTop1: 0.4)))
        #expect(
            try ConversionVerification.decide(p, source: s, mode: false) == .skip("--no-verify"))
    }

    @Test(
        "plain tensor files and unquantized outputs are skipped by default; --verify on a plain file throws"
    )
    func skipped() throws {
        let (file, s) = try plan("/tmp/never.safetensors", format: nil, bits: 4)
        guard case .skip = try ConversionVerification.decide(file, source: s, mode: nil) else {
            Issue.record("a safetensors file was verified")
            return
        }
        #expect(throws: ConvertError.self) {
            try ConversionVerification.decide(file, source: s, mode: true)
        }
        let (hf, s2) = try plan("/tmp/never", format: .hf)
        guard case .skip = try ConversionVerification.decide(hf, source: s2, mode: nil) else {
            Issue.record("an unquantized output was verified by default")
            return
        }
        #expect(
            try ConversionVerification.decide(hf, source: s2, mode: true)
                == .verify(ConversionVerification.unquantizedThresholds))
    }
}
