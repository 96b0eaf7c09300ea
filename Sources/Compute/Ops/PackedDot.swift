// swift-format-ignore-file: AlwaysUseLowerCamelCase
import Formats

/// Dot products straight from packed codes, for matrix-vector products (decode-time
/// inference reads each weight byte once): per group, `Σ w·x = scale·Σ q·x + bias·Σ x`, so
/// codes are multiplied as small integers converted in SIMD lanes and never stored as floats.
extension AffineRows {
    func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Float {
        guard bits == 4 || bits == 8 else {
            dequantize(row: row, into: scratch)
            return Compute.dot(x, scratch, columns)
        }
        precondition(row >= 0 && row < rows)
        // In bounds: init checked packed = rows × packedRowBytes, scales = rows × groups.
        let base = UnsafeRawPointer(packed.raw.baseAddress.unsafelyUnwrapped) + row * packedRowBytes
        var total: Float = 0
        for g in 0..<groups {
            let s = scalar(scales, row * groups + g)
            let b = scalar(biases, row * groups + g)
            let xg = x + g * groupSize
            var accQ = SIMD8<Float>(repeating: 0)
            var accX = SIMD8<Float>(repeating: 0)
            if bits == 4 {
                // Bytes j hold codes 2j (low nibble) and 2j+1 (high): x's even and odd lanes.
                let p = base + g * groupSize / 2
                var j = 0
                while j < groupSize / 2 {
                    let v = p.loadUnaligned(fromByteOffset: j, as: SIMD8<UInt8>.self)
                    let xv = UnsafeRawPointer(xg + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
                    let lo = SIMD8<Float>(v & 0xF), hi = SIMD8<Float>(v &>> 4)
                    accQ += xv.evenHalf * lo + xv.oddHalf * hi
                    accX += xv.evenHalf + xv.oddHalf
                    j += 8
                }
            } else {
                let p = base + g * groupSize
                var j = 0
                while j < groupSize {
                    let v = p.loadUnaligned(fromByteOffset: j, as: SIMD8<UInt8>.self)
                    let xv = UnsafeRawPointer(xg + j).loadUnaligned(as: SIMD8<Float>.self)
                    accQ += xv * SIMD8<Float>(v)
                    accX += xv
                    j += 8
                }
            }
            total += s * accQ.sum() + b * accX.sum()
        }
        return total
    }
}

extension GGMLRows {
    func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Float {
        guard type == .Q4_0 || type == .Q4_1 || type == .Q8_0 else {
            dequantize(row: row, into: scratch)
            return Compute.dot(x, scratch, columns)
        }
        precondition(row >= 0 && row < rows)
        // In bounds: init checked bytes.count == rows × bytesPerRow.
        let base = UnsafeRawPointer(bytes.raw.baseAddress.unsafelyUnwrapped) + row * bytesPerRow
        let bpb = type.bytesPerBlock
        var total: Float = 0
        for blk in 0..<(columns / 32) {
            let p = base + blk * bpb
            let xb = x + blk * 32
            let d = GGMLBlocks.half(p, 0)
            let x0 = UnsafeRawPointer(xb).loadUnaligned(as: SIMD16<Float>.self)
            let x1 = UnsafeRawPointer(xb + 16).loadUnaligned(as: SIMD16<Float>.self)
            switch type {
            case .Q8_0:
                let q0 = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
                let q1 = p.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
                total += d * (x0 * SIMD16<Float>(q0) + x1 * SIMD16<Float>(q1)).sum()
            default:
                // Element j < 16 is the low nibble of qs[j], element j + 16 the high one.
                let at = type == .Q4_0 ? 2 : 4
                let q = p.loadUnaligned(fromByteOffset: at, as: SIMD16<UInt8>.self)
                let dotQ = (x0 * SIMD16<Float>(q & 0xF) + x1 * SIMD16<Float>(q &>> 4)).sum()
                let sumX = (x0 + x1).sum()
                if type == .Q4_0 {
                    total += d * (dotQ - 8 * sumX)
                } else {
                    total += d * dotQ + GGMLBlocks.half(p, 2) * sumX
                }
            }
        }
        return total
    }
}
