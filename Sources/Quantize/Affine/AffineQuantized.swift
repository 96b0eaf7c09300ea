import Formats

/// One tensor in MLX's affine format, as mlx-lm writes it: `x.weight` (packed U32 codes),
/// `x.scales` and `x.biases` (one per group, in the weight's dtype).
public struct AffineQuantized: Sendable, Equatable {
    /// Codes as an LSB-first bit stream per row, in little-endian u32 words.
    public var packed: [UInt32]
    /// Raw bytes of the per-group scales, elements of `dtype` (little-endian).
    public var scales: [UInt8]
    /// Raw bytes of the per-group biases, elements of `dtype`.
    public var biases: [UInt8]
    /// `(..., K * bits / 32)`.
    public var packedShape: [Int]
    /// `(..., K / groupSize)`; also the biases' shape.
    public var scalesShape: [Int]
    /// The dtype of scales and biases (the original weight's: F32, F16 or BF16).
    public var dtype: DType
    /// Bits per code: 2, 3, 4, 5, 6 or 8.
    public var bits: Int
    /// Weights per group (32, 64 or 128), consecutive along the last axis.
    public var groupSize: Int

    /// Wraps already-packed parts (for instance read from an mlx-lm safetensors file).
    public init(packed: [UInt32], scales: [UInt8], biases: [UInt8], packedShape: [Int],
                scalesShape: [Int], dtype: DType, bits: Int, groupSize: Int) {
        self.packed = packed
        self.scales = scales
        self.biases = biases
        self.packedShape = packedShape
        self.scalesShape = scalesShape
        self.dtype = dtype
        self.bits = bits
        self.groupSize = groupSize
    }
}

/// The bit widths, group sizes and dtypes MLX's affine mode accepts (formats doc §4.1).
public enum AffineLimits {
    /// Bit widths MLX's affine mode accepts.
    public static let bits: Set<Int> = [2, 3, 4, 5, 6, 8]
    /// Group sizes MLX's affine mode accepts.
    public static let groupSizes: Set<Int> = [32, 64, 128]
    /// Weight dtypes (and so scale/bias dtypes) MLX quantizes.
    public static let dtypes: Set<DType> = [.f32, .f16, .bf16]

    /// Validates a quantization request; returns (rows, K, groups per row).
    static func check(shape: [Int], dtype: DType, bits: Int, groupSize: Int) throws(QuantizeError)
        -> (rows: Int, k: Int, groupsPerRow: Int)
    {
        guard Self.bits.contains(bits) else {
            throw QuantizeError(.unsupported("affine bits \(bits) (supported: 2, 3, 4, 5, 6, 8)"))
        }
        guard groupSizes.contains(groupSize) else {
            throw QuantizeError(.unsupported("affine group size \(groupSize) (supported: 32, 64, 128)"))
        }
        guard dtypes.contains(dtype) else {
            throw QuantizeError(.unsupported("affine quantization of \(dtype.rawValue) weights (F32, F16, BF16 only)"))
        }
        guard shape.count >= 2, let count = shape.checkedElementCount, let k = shape.last else {
            throw QuantizeError(.shape("affine quantization needs a tensor of rank ≥ 2, got shape \(shape)"))
        }
        // Every later size (bits of codes, bytes of F32 weights) is at most 8 × count.
        guard !count.multipliedReportingOverflow(by: 8).overflow else {
            throw QuantizeError(.shape("shape \(shape) is too large"))
        }
        guard k > 0, k % groupSize == 0 else {
            throw QuantizeError(.shape("last dimension \(k) of shape \(shape) is not divisible by group size \(groupSize)"))
        }
        return (count / k, k, k / groupSize)
    }
}
