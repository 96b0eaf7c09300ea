import Foundation

/// Accumulates cli.md's `verify` statistics position by position, so that a long text run in
/// windows gives the same numbers as one pass over all positions would.
///
/// Everything is summed in Double: a softmax over a 49k-token vocabulary in float32 loses the
/// small probabilities that KL and perplexity are made of.
public struct OutputComparison: Sendable {
    /// Whether rows are logits (KL, top-1, perplexity) or hidden states (errors, cosine only).
    public let logits: Bool
    /// The width of each row (vocabulary or hidden size).
    public let width: Int

    private(set) var positions = 0
    private(set) var elements = 0
    private(set) var maxAbsError = 0.0
    private(set) var sumAbsError = 0.0
    private(set) var cosineMin = Double.infinity
    private(set) var klSum = 0.0
    private(set) var klMax = -Double.infinity
    private(set) var top1Agree = 0
    private(set) var predictions = 0
    private(set) var nllRef = 0.0
    private(set) var nllCand = 0.0
    private(set) var nonFinite = false

    /// An empty comparison of rows `width` wide.
    public init(width: Int, logits: Bool) {
        precondition(width > 0, "rows must not be empty")
        self.width = width
        self.logits = logits
    }

    /// Adds `rows` positions of both outputs (row-major `[rows, width]`). `targets[i]`, when
    /// given, is the token that position `i` predicts (the next token), for perplexity.
    public mutating func add(
        reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>,
        targets: [Int?]
    ) {
        precondition(reference.count == candidate.count, "outputs differ in size")
        precondition(reference.count == targets.count * width, "targets do not match rows")
        for row in 0..<targets.count {
            // Slices of the caller's buffers: row * width + width <= count, checked above.
            let r = UnsafeBufferPointer(rebasing: reference[row * width..<(row + 1) * width])
            let c = UnsafeBufferPointer(rebasing: candidate[row * width..<(row + 1) * width])
            addRow(r, c, target: targets[row])
        }
    }

    private mutating func addRow(
        _ r: UnsafeBufferPointer<Float>, _ c: UnsafeBufferPointer<Float>, target: Int?
    ) {
        positions += 1
        elements += width
        var dot = 0.0
        var nr = 0.0
        var nc = 0.0
        for i in 0..<width {
            let a = Double(r[i])
            let b = Double(c[i])
            if !a.isFinite || !b.isFinite { nonFinite = true }
            let d = abs(a - b)
            // A NaN sticks (nothing compares greater than it): the result shows it.
            if d.isNaN || d > maxAbsError { maxAbsError = d }
            sumAbsError += d
            dot += a * b
            nr += a * a
            nc += b * b
        }
        let cosine: Double
        if nr == 0 || nc == 0 {
            cosine = (nr == 0 && nc == 0) ? 1 : 0
        } else {
            cosine = dot / (nr.squareRoot() * nc.squareRoot())
        }
        cosineMin = cosine.isNaN ? .nan : min(cosineMin, cosine)
        guard logits else { return }

        let lseR = Self.logSumExp(r)
        let lseC = Self.logSumExp(c)
        var kl = 0.0
        for i in 0..<width {
            let lp = Double(r[i]) - lseR
            let lq = Double(c[i]) - lseC
            let p = exp(lp)
            // p == 0 contributes nothing (0 · log 0 = 0), whatever q is.
            if p > 0 { kl += p * (lp - lq) }
        }
        klSum += kl
        klMax = kl.isNaN ? .nan : max(klMax, kl)
        if Self.argmax(r) == Self.argmax(c) { top1Agree += 1 }
        if let t = target, t >= 0, t < width {
            predictions += 1
            nllRef -= Double(r[t]) - lseR
            nllCand -= Double(c[t]) - lseC
        }
    }

    /// log Σ exp(x), shifted by the maximum so that no term overflows.
    static func logSumExp(_ x: UnsafeBufferPointer<Float>) -> Double {
        var m = -Double.infinity
        for v in x where Double(v) > m { m = Double(v) }
        guard m.isFinite else { return m }
        var s = 0.0
        for v in x { s += exp(Double(v) - m) }
        return m + log(s)
    }

    /// The first index of the largest value (numpy's `argmax` tie rule).
    static func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return best
    }

    /// The statistics of all positions added so far.
    public var statistics: VerificationStatistics {
        let n = Double(max(positions, 1))
        var s = VerificationStatistics(
            tokens: positions, outputsLogits: logits,
            maxAbsError: maxAbsError, meanAbsError: sumAbsError / Double(max(elements, 1)),
            cosineMin: positions == 0 ? 1 : cosineMin)
        s.nonFinite = nonFinite
        if logits {
            s.klMean = klSum / n
            s.klMax = positions == 0 ? 0 : klMax
            s.top1Agreement = Double(top1Agree) / n
            if predictions > 0 {
                s.pplRef = exp(nllRef / Double(predictions))
                s.pplCand = exp(nllCand / Double(predictions))
            }
        }
        return s
    }
}
