import Formats
import Verify

/// A LLaMA-family GGUF (arch `llama` or `qwen2`: Llama, SmolLM2, Mistral, Qwen2) seen as the
/// Hugging Face checkpoint it was converted from: transformers' tensor names, q/k rows back in
/// Hugging Face's half-split order, `rope_freqs.weight` left out (it becomes config.json's
/// `rope_scaling`, see `GGUFImportConfig`).
///
/// Why a source rather than a step of the pipeline: everything downstream (the planner, the MLX
/// policy, dequantizing and transcoding) then works on Hugging Face names, and a q/k tensor is
/// un-permuted by moving whole rows, which for a block-quantized tensor are whole blocks, so
/// the blocks are not decoded to do it. Tensors that need no reordering are slices of the
/// mapped GGUF; a reordered one is a buffer of its own size, made when it is read.
///
/// ```swift
/// let source = try GGUFImportSource(gguf: try GGUFFile(path: "smollm2.gguf"), file: "smollm2.gguf")
/// source.tensors.map(\.name)    // ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", …]
/// ```
public struct GGUFImportSource: TensorSource {
    /// The GGUF read.
    public let gguf: any TensorSource
    /// Its path, for errors.
    public let file: String
    /// The model the GGUF's hyper-parameters describe.
    public let configuration: LlamaConfiguration
    /// The tensors under their Hugging Face names, in the GGUF's order.
    public let tensors: [TensorInfo]
    /// GGUF tensors left out, with why (`rope_freqs.weight`).
    public let dropped: [String: String]
    /// By Hugging Face name: the GGUF tensor, and the head count whose rows to reorder.
    let origins: [String: Origin]

    struct Origin: Sendable {
        var stored: TensorInfo
        var interleavedHeads: Int?
    }

    public var format: CheckpointFormat { .gguf }
    /// The GGUF's key/values, unchanged.
    public var metadata: Metadata { gguf.metadata }

    /// Whether `source` is a GGUF this type imports (its `general.architecture` is one of
    /// `ModelRegistry.llamaGGUFArchitectures`).
    public static func imports(_ source: any TensorSource) -> Bool {
        guard source.format == .gguf, !(source is GGUFImportSource),
            let arch = source.metadata["general.architecture"]?.stringValue
        else { return false }
        return ModelRegistry.llamaGGUFArchitectures.contains(arch)
    }

    /// Reads the hyper-parameters and maps every tensor.
    /// - Throws: `FormatError` naming `file` and the key or tensor at fault: a tensor without
    ///   a Hugging Face name, two tensors with the same one, q/k rows that are not whole heads.
    public init(gguf: any TensorSource, file: String) throws(FormatError) {
        let config = try LlamaConfiguration(gguf: gguf, file: file)
        // llama.cpp runs arch llama with adjacent-pair RoPE, so its converter interleaved
        // q/k rows; qwen2 keeps the half-split layout (formats-gguf.md §4.3).
        let permuted = config.family != .qwen2
        var tensors: [TensorInfo] = []
        var origins: [String: Origin] = [:]
        var dropped: [String: String] = [:]
        for t in gguf.tensors {
            if t.name == LlamaConfiguration.ggufRopeFrequencies {
                dropped[t.name] = "dropped: Hugging Face models compute it from rope_scaling"
                continue
            }
            guard let name = LlamaConfiguration.huggingFaceName(gguf: t.name) else {
                throw FormatError(
                    .unsupported(
                        "no Hugging Face name for this tensor of a \(config.family.rawValue) model"),
                    file: file, field: t.name)
            }
            var heads: Int?
            if permuted, t.name.hasSuffix(".attn_q.weight") || t.name.hasSuffix(".attn_q.bias") {
                heads = config.headCount
            } else if permuted,
                t.name.hasSuffix(".attn_k.weight") || t.name.hasSuffix(".attn_k.bias")
            {
                heads = config.kvHeadCount
            }
            if let heads {
                guard let rows = t.shape.first, rows > 0, rows % (2 * heads) == 0,
                    t.byteCount % rows == 0
                else {
                    throw FormatError(
                        .invalid(
                            "shape \(t.shape) is not \(heads) heads of an even number of rows"),
                        file: file, field: t.name)
                }
            }
            guard origins[name] == nil else {
                throw FormatError(
                    .invalid("a second tensor named \(name) in Hugging Face terms"), file: file,
                    field: t.name)
            }
            origins[name] = Origin(stored: t, interleavedHeads: heads)
            tensors.append(
                TensorInfo(
                    name: name, type: t.type, shape: t.shape, byteCount: t.byteCount,
                    location: t.location))
        }
        self.gguf = gguf
        self.file = file
        self.configuration = config
        self.tensors = tensors
        self.origins = origins
        self.dropped = dropped
    }

    /// The GGUF tensor behind a Hugging Face name.
    public func stored(_ name: String) -> TensorInfo? { origins[name]?.stored }

    /// The tensor's bytes in Hugging Face layout: the GGUF slice itself, or, for q/k, its rows
    /// put back in half-split order (a buffer of the tensor's size).
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let origin = origins[tensor.name] else {
            throw FormatError(.invalid("no such tensor"), file: file, field: tensor.name)
        }
        let data = try gguf.bytes(of: origin.stored)
        guard let heads = origin.interleavedHeads else { return data }
        let rows = origin.stored.shape[0]  // checked in init: non-empty, whole heads
        let rowBytes = data.count / rows
        let buffer = try ByteBuffer.make(count: data.count, name: "\(file):\(tensor.name)") { out in
            data.withBytes { src in
                Self.unpermuteRows(src, into: out, rows: rows, rowBytes: rowBytes, heads: heads)
            }
        }
        return buffer.all
    }

    /// Undoes `LlamaModel.permute` of convert_hf_to_gguf.py on whole rows: within each head of
    /// `D` rows, Hugging Face row `i·D/2 + j` is GGUF row `2j + i` (formats-gguf.md §4.3).
    /// Rows are moved as bytes, so any block type works (a row is whole blocks).
    static func unpermuteRows(
        _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer, rows: Int,
        rowBytes: Int, heads: Int
    ) {
        let d = rows / heads, half = d / 2
        guard let from = src.baseAddress, let to = dst.baseAddress,
            src.count >= rows * rowBytes, dst.count >= rows * rowBytes
        else { return }
        for h in 0..<heads {
            for i in 0..<2 {
                for j in 0..<half {
                    // Both rows lie inside head h, so inside the `rows * rowBytes` checked above.
                    let out = h * d + i * half + j, stored = h * d + 2 * j + i
                    (to + out * rowBytes).copyMemory(
                        from: from + stored * rowBytes, byteCount: rowBytes)
                }
            }
        }
    }
}
