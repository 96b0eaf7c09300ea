import Testing
@testable import Quantize

@Suite("Error report")
struct ErrorReportTests {
    @Test("RMSE, max abs error and relative RMSE of a known difference")
    func known() throws {
        let a: [Float] = [1, -1, 1, -1], b: [Float] = [1.5, -1, 1, -1.5]
        let r = try a.withUnsafeBufferPointer { x in try b.withUnsafeBufferPointer { try ErrorReport(original: x, reconstructed: $0) } }
        #expect(r.count == 4)
        #expect(abs(r.rmse - (0.5 / 4).squareRoot()) < 1e-12)
        #expect(r.maxAbsError == 0.5)
        #expect(r.weightRMS == 1)
        #expect(abs(r.relativeRMSE - r.rmse) < 1e-12)
    }

    @Test("Q8_0 of Gaussian weights has a small relative error; mismatched counts throw")
    func q8() throws {
        let w = randomFloats(4096)
        let back = try dequantize(.Q8_0, try quantize(.Q8_0, w))
        let r = try w.withUnsafeBufferPointer { x in try back.withUnsafeBufferPointer { try ErrorReport(original: x, reconstructed: $0) } }
        #expect(r.relativeRMSE > 0 && r.relativeRMSE < 0.01)
        #expect(throws: QuantizeError.self) {
            try w.withUnsafeBufferPointer { x in try back.dropLast().withUnsafeBufferPointer { try ErrorReport(original: x, reconstructed: $0) } }
        }
    }
}
