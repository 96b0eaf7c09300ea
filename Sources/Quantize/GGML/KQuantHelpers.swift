// Ports of the K-quant helper routines of ggml-quants.c (ggml@d99724f2; formats-gguf.md §2.5).
// Strict float32, left to right, no fused multiply-add: `w*x*l` is `(w*x)*l`.

/// ggml's GROUP_MAX_EPS: below this |max| a group is treated as all zero.
let groupMaxEps: Float = 1e-15

/// `make_qx_quants(n, nmax, x, L, rmse_type, NULL)` (weights from rmse_type); levels + nmax in L.
func makeQxQuants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                  rmseType: Int) -> Float {
    var max: Float = 0, amax: Float = 0
    for i in 0..<n where x[i].magnitude > amax {
        amax = x[i].magnitude
        max = x[i]
    }
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    let fnmax = Float(nmax)
    var iscale = -fnmax / max
    if rmseType == 0 {
        for i in 0..<n {
            L[i] = Int8(truncatingIfNeeded: nmax + Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i]))))
        }
        return 1 / iscale
    }
    @inline(__always) func weight(_ v: Float) -> Float {
        switch rmseType {
        case 1: v * v
        case 2: 1
        case 3: v.magnitude
        default: v.magnitude.squareRoot()
        }
    }
    var sumlx: Float = 0, suml2: Float = 0
    for i in 0..<n {
        let l = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i])))
        L[i] = Int8(truncatingIfNeeded: l + nmax)
        let w = weight(x[i]), fl = Float(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
    var best = scale * sumlx
    for step in -9...9 where step != 0 {
        iscale = -(fnmax + 0.1 * Float(step)) / max
        sumlx = 0
        suml2 = 0
        for i in 0..<n {
            let fl = Float(Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i]))))
            let w = weight(x[i])
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        if suml2 > 0 && sumlx * sumlx > best * suml2 {
            for i in 0..<n {
                L[i] = Int8(truncatingIfNeeded: nmax + Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i]))))
            }
            scale = sumlx / suml2
            best = scale * sumlx
        }
    }
    return scale
}

/// `make_q3_quants(n, nmax, x, L, do_rmse: true)`; levels + nmax in L.
func makeQ3Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
    var max: Float = 0, amax: Float = 0
    for i in 0..<n where x[i].magnitude > amax {
        amax = x[i].magnitude
        max = x[i]
    }
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    let iscale = -Float(nmax) / max
    var sumlx: Float = 0, suml2: Float = 0
    for i in 0..<n {
        let l = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i])))
        L[i] = Int8(truncatingIfNeeded: l)
        let w = x[i] * x[i], fl = Float(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    for _ in 0..<5 {
        var changed = 0
        for i in 0..<n {
            let w = x[i] * x[i]
            let li = Float(L[i])
            var slx = sumlx - w * x[i] * li
            if slx > 0 {
                var sl2 = suml2 - w * li * li
                let newL = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(x[i] * sl2 / slx)))
                if newL != Int(L[i]) {
                    let fn = Float(newL)
                    slx += w * x[i] * fn
                    sl2 += w * fn * fn
                    if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        L[i] = Int8(truncatingIfNeeded: newL)
                        sumlx = slx
                        suml2 = sl2
                        changed += 1
                    }
                }
            }
        }
        if changed == 0 { break }
    }
    for i in 0..<n { L[i] = Int8(truncatingIfNeeded: Int(L[i]) + nmax) }
    return suml2 > 0 ? sumlx / suml2 : 0
}

/// `make_qkx2_quants`: asymmetric levels 0...nmax (value ≈ scale·L − theMin); returns scale.
func makeQkx2Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                    _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                    rmin: Float, rdelta: Float, nstep: Int, useMad: Bool) -> Float {
    var min = x[0], max = x[0]
    var sumW = weights[0]
    var sumX = sumW * x[0]
    for i in 1..<n {
        if x[i] < min { min = x[i] }
        if x[i] > max { max = x[i] }
        let w = weights[i]
        sumW += w
        sumX += w * x[i]
    }
    if min > 0 { min = 0 }
    if max == min {
        for i in 0..<n { L[i] = 0 }
        theMin = -min
        return 0
    }
    let fnmax = Float(nmax)
    var iscale = fnmax / (max - min)
    var scale = 1 / iscale
    var bestError: Float = 0
    for i in 0..<n {
        let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min))))
        L[i] = UInt8(truncatingIfNeeded: l)
        var diff = scale * Float(l) + min - x[i]
        diff = useMad ? diff.magnitude : diff * diff
        bestError += weights[i] * diff
    }
    if nstep < 1 {
        theMin = -min
        return scale
    }
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + fnmax) / (max - min)
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min))))
            Laux[i] = UInt8(truncatingIfNeeded: l)
            let w = weights[i], fl = Float(l)
            sumL += w * fl
            sumL2 += w * fl * fl
            sumXL += w * fl * x[i]
        }
        let D = sumW * sumL2 - sumL * sumL
        if D > 0 {
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var curError: Float = 0
            for i in 0..<n {
                var diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                diff = useMad ? diff.magnitude : diff * diff
                curError += weights[i] * diff
            }
            if curError < bestError {
                for i in 0..<n { L[i] = Laux[i] }
                bestError = curError
                scale = thisScale
                min = thisMin
            }
        }
    }
    theMin = -min
    return scale
}

/// `get_scale_min_k4`: the 6-bit scale and min of sub-block j from the 12 packed bytes at `s`.
@inline(__always) func scaleMinK4(_ j: Int, _ s: UnsafeRawBufferPointer, _ base: Int) -> (sc: UInt8, m: UInt8) {
    if j < 4 {
        return (s[base + j] & 63, s[base + j + 4] & 63)
    }
    let sc = (s[base + j + 4] & 0xF) | ((s[base + j - 4] >> 6) << 4)
    let m = (s[base + j + 4] >> 4) | ((s[base + j] >> 6) << 4)
    return (sc, m)
}

/// Runs `body` with stack scratch of `count` zeroed elements.
@inline(__always) func withScratch<T, R>(_: T.Type, _ count: Int, _ zero: T,
                                         _ body: (UnsafeMutablePointer<T>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: T.self, capacity: count) { buf in
        buf.initialize(repeating: zero)
        return body(buf.baseAddress!)
    }
}
