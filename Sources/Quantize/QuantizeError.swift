import Formats

/// Why a conversion, quantization or dequantization was refused.
///
/// Quantizers see already-validated buffers, so there is no file offset here: the message names
/// the problem (type, bits, shape, element index) and the caller adds the tensor's name.
public struct QuantizeError: CkptError, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// A type, bit width, group size or dtype pair the codec does not handle.
        case unsupported(String)
        /// A shape or buffer size that does not fit the codec (last dim not divisible, short buffer).
        case shape(String)
        /// NaN or ±Inf in the input of a quantizer, at this element index.
        case nonFinite(index: Int)
    }

    /// What went wrong.
    public var reason: Reason
    /// The tensor, when the caller knows it (`model.layers.0.mlp.down_proj.weight`).
    public var tensor: String?

    /// An error, optionally about a named tensor.
    public init(_ reason: Reason, tensor: String? = nil) {
        self.reason = reason
        self.tensor = tensor
    }

    /// A copy naming `tensor`, unless one is already named.
    public func named(_ tensor: String) -> QuantizeError {
        var e = self
        if e.tensor == nil { e.tensor = tensor }
        return e
    }

    /// `tensor: message`, as the command line prints it after `error:`.
    public var description: String {
        let message: String
        switch reason {
        case .unsupported(let s): message = "unsupported: \(s)"
        case .shape(let s): message = s
        case .nonFinite(let i): message = "non-finite value (NaN or Inf) at element \(i)"
        }
        return tensor.map { "\($0): \(message)" } ?? message
    }
}

/// Entry points shared by the quantizers.
public enum Quantize {
    /// Throws `.nonFinite` naming the first NaN/Inf element; quantizers call it unless the caller
    /// passes `allowNonFinite` (an inf weight would make a block scale inf, which llama.cpp's
    /// `ggml_validate_row_data` rejects; formats-gguf.md §2.11).
    public static func checkFinite(_ values: UnsafeBufferPointer<Float>) throws(QuantizeError) {
        for i in values.indices where !values[i].isFinite {
            throw QuantizeError(.nonFinite(index: i))
        }
    }
}
