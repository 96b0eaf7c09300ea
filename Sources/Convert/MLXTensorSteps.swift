import Formats
import Quantize

/// The pipeline steps of MLX conversions that read more than one tensor or move axes:
/// dequantizing an affine triple and permuting a convolution weight.
enum MLXTensorSteps {
    /// Decodes `t` (packed codes in `packed`, scales and biases read from its companions)
    /// into `to`, and hands the bytes to `write`. The values equal `mx.dequantize`'s (in the
    /// scales' dtype, then widened, or cast when `to` is another dtype).
    static func dequantizeAffine(
        _ t: PlannedTensor, packed: UnsafeRawBufferPointer, bits: Int, groupSize: Int,
        scales: DType,
        to: DType, source: any TensorSource, scratch: ScratchBuffers,
        write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard t.companions.count == 2 else {
            throw ConvertError(
                "tensor '\(t.source.name)': an affine triple needs scales and biases")
        }
        let s = try source.bytes(of: t.companions[0])
        let b = try source.bytes(of: t.companions[1])
        defer {
            s.evict()
            b.evict()
        }
        let floats = scratch.floats(t.output.elementCount)
        try s.withBytes { sRaw throws in
            try b.withBytes { bRaw throws in
                // A QuantizeError is named with the tensor by the pipeline.
                try Affine.dequantize(
                    packed: packed, scales: sRaw, biases: bRaw, dtype: scales,
                    shape: t.output.shape,
                    bits: bits, groupSize: groupSize, into: floats)
            }
        }
        if to == .f32 {
            try write(UnsafeRawBufferPointer(floats))
        } else {
            let out = scratch.output(t.output.byteCount)
            try Transform.cast(UnsafeRawBufferPointer(floats), from: .f32, to: to, into: out)
            try write(UnsafeRawBufferPointer(out))
        }
    }

    /// Permutes the axes of `t` (a convolution weight), casting first when asked.
    static func permute(
        _ t: PlannedTensor, _ raw: UnsafeRawBufferPointer, permutation: [Int], from: DType,
        to: DType,
        scratch: ScratchBuffers, write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let values = try Transform.dense(raw, type: .dense(from), as: to, scratch: scratch)
        guard let size = to.byteSize else {
            throw ConvertError("cannot permute \(to.rawValue) elements")
        }
        // `values` may live in the scratch output buffer; permute into a buffer of its own.
        let out = UnsafeMutableRawBufferPointer.allocate(
            byteCount: t.output.byteCount, alignment: 64)
        defer { out.deallocate() }
        try ConvLayout.permute(
            values, shape: t.source.shape, elementSize: size, permutation: permutation, into: out)
        try write(UnsafeRawBufferPointer(out))
    }
}
