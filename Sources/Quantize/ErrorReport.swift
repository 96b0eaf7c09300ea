/// How far a quantized tensor's reconstruction is from the original weights (`--report`).
///
/// Accumulated in Double so the figures do not depend on the tensor's size or order of
/// evaluation more than they must; `relativeRMSE` is the RMSE divided by the weights' RMS.
public struct ErrorReport: Sendable, Equatable, CustomStringConvertible {
    /// Number of weights compared.
    public var count: Int
    /// Root mean square of (reconstructed − original).
    public var rmse: Double
    /// Largest |reconstructed − original|.
    public var maxAbsError: Double
    /// Root mean square of the original weights.
    public var weightRMS: Double

    /// RMSE relative to the weights' RMS (0 when the weights are all zero and reproduced exactly).
    public var relativeRMSE: Double { weightRMS > 0 ? rmse / weightRMS : (rmse == 0 ? 0 : .infinity) }

    /// Compares `reconstructed` with `original` (same count; NaN pairs count as equal).
    public init(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>) throws(QuantizeError) {
        guard original.count == reconstructed.count else {
            throw QuantizeError(.shape("error report: \(original.count) original values, \(reconstructed.count) reconstructed"))
        }
        var se = 0.0, ss = 0.0, maxAbs = 0.0
        for i in original.indices {
            let a = Double(original[i]), b = Double(reconstructed[i])
            if a.isNaN && b.isNaN { continue }
            let d = b - a
            se += d * d
            ss += a * a
            maxAbs = Swift.max(maxAbs, d.magnitude)
        }
        let n = Double(Swift.max(original.count, 1))
        count = original.count
        rmse = (se / n).squareRoot()
        maxAbsError = maxAbs
        weightRMS = (ss / n).squareRoot()
    }

    /// One line for `ckpt convert --report`.
    public var description: String {
        "rmse \(rmse), max abs error \(maxAbsError), relative \(relativeRMSE)"
    }
}
