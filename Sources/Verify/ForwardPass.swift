import Compute
import Formats

/// `ckpt forward`: one forward pass of a checkpoint on ckpt's engine, written as `.npy`.
///
/// ```swift
/// let out = try ForwardPass.run(model: "SmolLM2-135M", tokens: [1, 2, 3])
/// try ForwardPass.write(out, to: "logits.npy")
/// ```
public enum ForwardPass {
    /// Runs `model` (an hf or mlx directory, or a GGUF) on `tokens`.
    /// - Returns: the float32 output [tokens.count, width].
    /// - Throws: `FormatError` (the checkpoint) or `ComputeError` (e.g. an id out of range).
    public static func run(
        model path: String, tokens: [Int32], options: EvalOptions = EvalOptions()
    )
        throws -> HostArray
    {
        let model = try ModelRegistry.load(path: path)
        return try run(model, tokens: tokens, options: options)
    }

    /// Runs an already built model.
    public static func run(
        _ model: any LanguageModel, tokens: [Int32], options: EvalOptions = EvalOptions()
    ) throws(ComputeError) -> HostArray {
        let out = try model.forward(tokens: tokens).cast(.f32)
        return try eval([out], options: options).arrays[0]
    }

    /// Writes a float32 result as a little-endian `.npy` (temporary file, renamed into place).
    public static func write(_ array: HostArray, to path: String) throws(FormatError) {
        guard array.dtype == .f32 else {
            throw FormatError(.unsupported("writing \(array.dtype.rawValue) output"), file: path)
        }
        guard let info = TensorInfo(name: "logits", type: .dense(.f32), shape: array.shape) else {
            throw FormatError(.invalid("output shape \(array.shape)"), file: path)
        }
        var writer = NPYWriter(path: path)
        try writer.begin(metadata: [:], plan: [info])
        var failure: FormatError?
        array.withUnsafeFloats { floats in
            do throws(FormatError) {
                try writer.write(info, bytes: UnsafeRawBufferPointer(floats))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        try writer.commit()
    }

    /// Parses `1,2,3` (spaces allowed) into ids.
    /// - Throws: `FormatError` (field `--tokens`) for anything but non-negative integers.
    public static func parseTokens(_ text: String) throws(FormatError) -> [Int32] {
        var ids: [Int32] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let s = part.trimmingCharacters(in: .whitespaces)
            guard let v = Int32(s), v >= 0 else {
                throw FormatError(.invalid("'\(s)' is not a token id"), field: "--tokens")
            }
            ids.append(v)
        }
        guard !ids.isEmpty else { throw FormatError(.invalid("no token ids"), field: "--tokens") }
        return ids
    }
}
