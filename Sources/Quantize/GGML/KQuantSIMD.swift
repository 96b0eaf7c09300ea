// The K-quant search routines with the independent sub-blocks of one block in the lanes of a
// vector: lane j runs the scalar routine (KQuantHelpers.swift) on sub-block j, every float32
// operation in the same order (the sums stay sequential per lane), so the result is
// bit-identical to ggml while eight latency-bound dependency chains run side by side. Inputs are finite (the callers fall back to the scalar
// routines otherwise); lanes whose scalar routine returns early compute garbage that is
// replaced at the end, without trapping (only float ops and wrapping integer ops).

/// `makeQkx2Quants(32, nmax, …, useMad: false)` on 8 sub-blocks at once: `x[i]` / `w[i]` hold
/// element i of every sub-block; levels go to `L`, `Laux` is scratch (32 vectors each).
@inline(__always)
func makeQkx2Quants8(_ x: UnsafePointer<SIMD8<Float>>, _ w: UnsafePointer<SIMD8<Float>>,
                     _ L: UnsafeMutablePointer<SIMD8<Int32>>, _ Laux: UnsafeMutablePointer<SIMD8<Int32>>,
                     nmax: Int32, rmin: Float, rdelta: Float, nstep: Int) -> (scale: SIMD8<Float>, theMin: SIMD8<Float>) {
    let zero = SIMD8<Float>(repeating: 0)
    var mn = x[0], mx = x[0]
    var sumW = w[0]
    var sumX = sumW * x[0]
    for i in 1..<32 {
        let v = x[i]
        mn = mn.replacing(with: v, where: v .< mn)
        mx = mx.replacing(with: v, where: v .> mx)
        sumW += w[i]
        sumX += w[i] * v
    }
    mn = mn.replacing(with: zero, where: mn .> zero)
    let flat = mx .== mn        // the scalar routine returns L = 0, scale 0, theMin = -min
    let flatMin = mn
    let fnmax = Float(nmax)
    var iscale = fnmax / (mx - mn)
    var scale = 1 / iscale
    var bestError = zero
    for i in 0..<32 {
        let l = clamp(nearestInt(iscale * (x[i] - mn)), 0, nmax)
        L[i] = l
        var diff = scale * floatOf(l) + mn - x[i]
        diff = diff * diff
        bestError += w[i] * diff
    }
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + fnmax) / (mx - mn)  // min moves with the best step
        var sumL = zero, sumL2 = zero, sumXL = zero
        for i in 0..<32 {
            let l = clamp(nearestInt(iscale * (x[i] - mn)), 0, nmax)
            Laux[i] = l
            let wi = w[i], fl = floatOf(l)
            sumL += wi * fl
            sumL2 += wi * fl * fl
            sumXL += wi * fl * x[i]
        }
        let D = sumW * sumL2 - sumL * sumL
        let solvable = D .> zero
        if !any(solvable) { continue }
        var thisScale = (sumW * sumXL - sumX * sumL) / D
        var thisMin = (sumL2 * sumX - sumL * sumXL) / D
        let positive = thisMin .> zero
        thisMin = thisMin.replacing(with: zero, where: positive)
        thisScale = thisScale.replacing(with: sumXL / sumL2, where: positive)
        var curError = zero
        for i in 0..<32 {
            var diff = thisScale * floatOf(Laux[i]) + thisMin - x[i]
            diff = diff * diff
            curError += w[i] * diff
        }
        let better = solvable .& (curError .< bestError)
        if any(better) {
            for i in 0..<32 { L[i] = L[i].replacing(with: Laux[i], where: better) }
            bestError = bestError.replacing(with: curError, where: better)
            scale = scale.replacing(with: thisScale, where: better)
            mn = mn.replacing(with: thisMin, where: better)
        }
    }
    if any(flat) {
        for i in 0..<32 { L[i] = L[i].replacing(with: SIMD8<Int32>(repeating: 0), where: flat) }
        scale = scale.replacing(with: zero, where: flat)
        mn = mn.replacing(with: flatMin, where: flat)
    }
    return (scale, -mn)
}

/// `makeQxQuants(16, 32, …, rmseType: 1)` on 8 sub-blocks at once: `x[i]` holds element i of
/// every sub-block; levels (+ nmax) go to `L`, `Lt` is scratch (16 vectors each).
@inline(__always)
func makeQxQuants8(_ x: UnsafePointer<SIMD8<Float>>, _ L: UnsafeMutablePointer<SIMD8<Int32>>,
                   _ Lt: UnsafeMutablePointer<SIMD8<Int32>>) -> SIMD8<Float> {
    let nmax: Int32 = 32
    let fnmax: Float = 32
    let zero = SIMD8<Float>(repeating: 0)
    var mx = zero, amax = zero
    for i in 0..<16 {
        let a = magnitude(x[i])
        let greater = a .> amax
        amax = amax.replacing(with: a, where: greater)
        mx = mx.replacing(with: x[i], where: greater)
    }
    let allZero = amax .< SIMD8(repeating: groupMaxEps)   // scalar routine: L = 0, scale 0
    var iscale = -fnmax / mx
    var sumlx = zero, suml2 = zero
    for i in 0..<16 {
        let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
        L[i] = l &+ nmax
        let w = x[i] * x[i], fl = floatOf(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    var scale = (sumlx / suml2).replacing(with: zero, where: suml2 .== zero)
    var best = scale * sumlx
    for step in -9...9 where step != 0 {
        iscale = -(fnmax + 0.1 * Float(step)) / mx
        sumlx = zero
        suml2 = zero
        for i in 0..<16 {
            let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
            Lt[i] = l
            let w = x[i] * x[i], fl = floatOf(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        let better = (suml2 .> zero) .& (sumlx * sumlx .> best * suml2)
        if any(better) {
            for i in 0..<16 { L[i] = L[i].replacing(with: Lt[i] &+ nmax, where: better) }
            scale = scale.replacing(with: sumlx / suml2, where: better)
            best = best.replacing(with: scale * sumlx, where: better)
        }
    }
    if any(allZero) {
        for i in 0..<16 { L[i] = L[i].replacing(with: SIMD8<Int32>(repeating: 0), where: allZero) }
        scale = scale.replacing(with: zero, where: allZero)
    }
    return scale
}
